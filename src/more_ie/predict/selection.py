"""Which models of a trained run serve a prediction: the settings of ``MoRe.load`` resolved
against the run's manifest into a mode, the experts (or the student) to run and, for ``moe``,
the saved gate.

Modes: ``moe`` (the saved gate of a variant's pair), ``average`` (average pooling of the pair),
``no_retrieval`` (one CVA-trained expert on the sentence alone) and ``student`` (the distilled
student of a variant, also on the sentence alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from more_ie.moe.pairs import expert_view, variant_pairs
from more_ie.predict.layout import RETRIEVAL_VIEWS, RunError, RunLayout, SavedGate, imported_views, load_gate
from more_ie.predict.settings import PredictSettings

# modes with one model reading the sentence alone: no retrieval, no gate, Viterbi decoding
ALONE_MODES = ("no_retrieval", "student")


@dataclass(frozen=True)
class Selection:
    """The models of a run that serve one prediction mode."""

    mode: str  # moe, average, no_retrieval or student
    names: list[str]  # the experts to run, in mixing order, or the one student
    variant: str  # the MoE variant; a student's: the variant that taught it
    gate: SavedGate | None = None  # mode moe only
    folder: Path | None = None  # a student's model folder; None: each expert's own


def select_models(layout: RunLayout, chosen: PredictSettings) -> Selection:
    """The mode and models ``chosen`` names in ``layout``'s run (defaults as
    :meth:`more_ie.predict.api.MoRe.load` documents them); an error if the run lacks them or an
    expert's view cannot be computed for a new post."""
    variant, pair, mixing, expert = chosen.variant, chosen.pair, chosen.mixing, chosen.expert
    no_retrieval = chosen.no_retrieval
    variant = variant or layout.default_variant()
    seeds = layout.manifest["experts"]["seeds"]
    pairs = variant_pairs(variant, seeds) if mixing == "average" or no_retrieval else None
    if pairs is not None and not 0 <= pair < len(pairs):
        raise RunError(
            f"variant {variant}: pair {pair} does not exist ({len(pairs)} pairs over seeds {seeds})"
        )
    gate = None
    folder = None
    if chosen.student:
        if no_retrieval:
            raise ValueError("student and no_retrieval are two different fast paths: choose one")
        variant, seed, folder = layout.student(chosen.variant, chosen.student_seed)
        names, mode = [f"student:{variant}-s{seed}"], "student"
    elif no_retrieval:
        if expert is None:
            candidates = [
                n
                for n in (pairs or [])[pair]
                if expert_view(n) in RETRIEVAL_VIEWS or expert_view(n) in imported_views(layout)
            ]
            if not candidates:
                raise RunError(
                    f"variant {variant} pair {pair} has no retrieval expert; name one with expert="
                )
            expert = candidates[0]
        names, mode = [expert], "no_retrieval"
    elif mixing == "moe":
        gate = load_gate(layout.gate_dir(variant, pair))
        names, mode = list(gate.experts), "moe"
    elif mixing == "average":
        names, mode = list((pairs or [])[pair]), "average"
    else:
        raise ValueError(f"mixing must be moe or average, got {mixing!r}")
    for name in names:
        view = expert_view(name)
        servable = view in RETRIEVAL_VIEWS + ("none",) or view in imported_views(layout)
        if mode not in ALONE_MODES and not servable:
            raise RunError(
                f"expert {name}: the {view} view is an ablation with no retrieval "
                "for new posts; choose a variant of none/text/image or imported-view experts"
            )
    return Selection(mode, names, variant, gate, folder)
