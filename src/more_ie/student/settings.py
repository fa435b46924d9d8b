"""The student stage's settings and the pure config answers its rules need (light: no torch).

:class:`StudentSettings` is the single source of the ``student`` block's defaults and help texts
(tests/test_settings.py checks the schema against it). The block also holds three keys that choose
*what* runs rather than how one student trains (``enabled``, ``seeds``, ``train``), as
``experts.seeds`` and ``experts.views`` do for the experts.

Which pair teaches which student (:func:`teacher_pair`): a MoE variant has one expert pair, and one
fitted gate, per expert seed (:func:`more_ie.moe.pairs.variant_pairs`; pair i has seed
``experts.seeds[i]``). The student of seed s learns from the pair whose seed is s, so that student
seeds and teacher pairs line up one to one and the spread over student seeds includes the spread
of their teachers. A student seed that no pair has (more student seeds than expert seeds) takes
pair ``j mod n``, j its position in ``student.seeds``: the log and ``metrics.json`` name the pair.

A student's training settings are the experts' (``experts``, with the dataset's own ``experts``
overrides), then ``student.train`` over them, then ``student.encoder`` when set: a student may
use a smaller encoder or fewer epochs than the experts without retraining any expert.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from more_ie.moe.pairs import headline_variant
from more_ie.utils.settings import setting

# student keys that choose what runs (which seeds, whether by default) or hold other settings
STUDENT_SELECTION_KEYS = ("enabled", "seeds", "train")
# experts keys that are not TrainConfig fields (they choose which experts exist)
_EXPERT_SELECTION_KEYS = ("seeds", "views")
IN_SAMPLE_NOTE = (
    "The teacher is in-sample on train: its experts were trained on these very training posts (the "
    "gate was fit on dev), so its train distributions are more confident, and more often right, "
    "than its distributions on unseen posts. The student learns from those."
)
CROSS_FIT_NOTE = (
    "The teacher is cross-fitted on train: each training post's distributions come from experts "
    "retrained without that post's fold (student.teacher_fit: cross_fit), so they are out of sample, "
    "as the MoE's are on test; the gate is the MoE's, fit on dev."
)
TEACHER_FITS = ("in_sample", "cross_fit")


@dataclass
class StudentSettings:
    """The ``student`` block's settings: the single source of their defaults."""

    variant: Optional[str] = setting(
        None,
        "MoE variant that teaches (A+B of the dataset's variants); null = the dataset's headline variant, "
        "as moe_f1.json names it (text+image when configured, else the first).",
    )
    alpha: float = setting(
        0.5, "Weight of distillation: (1 - alpha) * gold loss + alpha * T^2 * KL(teacher || student)."
    )
    temperature: float = setting(
        1.0,
        "T: the student's scores (NER: emissions and CRF transitions; RE: logits) are divided by T, and "
        "the teacher's probabilities raised to 1/T and renormalised; 1 = the distributions as they are.",
    )
    encoder: Optional[str] = setting(
        None, "The student's encoder (it may be smaller than the experts'); null = experts.encoder."
    )
    teacher_fit: str = setting(
        "in_sample",
        "in_sample: the teacher is the pair's experts run on train, which they were trained on (cheap, "
        "optimistic); cross_fit: each expert of the pair is retrained once per fold without it "
        "(teacher_folds extra trainings per expert) and each post's distribution comes from the "
        "models that never saw it.",
        choices=TEACHER_FITS,
    )
    teacher_folds: int = setting(
        2, "Folds of train for teacher_fit: cross_fit (each fold's models train on the others)."
    )


def student_block(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The ``student`` block with the dataset's own ``student`` overrides applied (``train``
    merged key by key)."""
    block = copy.deepcopy(config.get("student", {}))
    own = config["datasets"][dataset].get("student", {})
    for key, value in own.items():
        if key == "train":
            block["train"] = {**block.get("train", {}), **value}
        else:
            block[key] = value
    return block


def student_variant(config: dict[str, Any], dataset: str) -> str:
    """The teaching variant: ``student.variant``, else the dataset's headline MoE variant."""
    from more_ie.config.views import dataset_variants

    chosen = student_block(config, dataset).get("variant")
    return chosen if chosen else headline_variant(dataset_variants(config, dataset))


def teacher_pair(expert_seeds: Sequence[int], student_seeds: Sequence[int], seed: int) -> int:
    """Index of the variant's pair (``pair{i}``) that teaches the student of ``seed`` (see the
    module docstring)."""
    expert_seeds, student_seeds = list(expert_seeds), list(student_seeds)
    if seed in expert_seeds:
        return expert_seeds.index(seed)
    if seed not in student_seeds:
        raise ValueError(f"student seed {seed} is not among student.seeds {student_seeds}")
    return student_seeds.index(seed) % len(expert_seeds)


def student_train_settings(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """TrainConfig values of the dataset's students: the experts' (with the dataset's own
    overrides), ``student.train`` over them, and ``student.encoder`` when set."""
    own = config["datasets"][dataset].get("experts", {})
    values = {k: v for k, v in config["experts"].items() if k not in _EXPERT_SELECTION_KEYS}
    values.update({k: v for k, v in own.items() if k not in _EXPERT_SELECTION_KEYS})
    block = student_block(config, dataset)
    values.update(block.get("train", {}))
    if block.get("encoder"):
        values["encoder"] = block["encoder"]
    return values


def check_student(config: dict[str, Any], dataset: str) -> list[str]:
    """Problems with a dataset's student block, each naming its key (the config validator's)."""
    from more_ie.config.views import dataset_variants

    block = student_block(config, dataset)
    variant = block.get("variant")
    variants = dataset_variants(config, dataset)
    if variant and variant not in variants:
        where = (
            "student"
            if not config["datasets"][dataset].get("student", {}).get("variant")
            else (f"datasets.{dataset}.student")
        )
        return [f"{where}.variant: {variant} is not one of {dataset}'s MoE variants {variants}"]
    return []
