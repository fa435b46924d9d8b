"""Decoding a NER mixture of CRF marginals into a label sequence.

The MoE mixes the two experts' per-token CRF marginals; a mixture of marginals is no longer the
marginal of any CRF, so there is no Viterbi to run. The paper decodes it by per-token argmax
(``"argmax"``), which can emit illegal BIO (``O I-PER``, ``B-LOC I-PER``, ``I-PER`` first) that the
lenient span reader then repairs in its own way. ``"constrained"`` (the default of ``moe.decode``)
instead returns the sequence maximising ``sum_t log marginal[t, y_t]`` among those the experts'
CRF allows: a Viterbi over the log marginals with no learned transitions, only the experts'
allowed-transition and allowed-start masks (:func:`more_ie.experts.crf.bio_transition_mask` /
:func:`~more_ie.experts.crf.bio_start_mask`, reused rather than copied so the two can never
disagree). A forbidden move scores ``-inf`` (not the CRF's large finite penalty), so the result is
exactly the best *legal* sequence however long the sentence is.

Everything here is pure numpy on the inputs (the masks are built once per label set by the
experts' torch functions and cached as numpy arrays).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

DECODE_METHODS = ("constrained", "argmax")
# Marginals can be exactly 0 (a CRF forbidding a label, float underflow): clamp before the log so
# that a legal path through such a cell stays finite and comparable with the others.
EPS = 1e-12


@lru_cache(maxsize=32)
def _masks(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(transition penalty [L, L], start penalty [L]): 0 where allowed, -inf where forbidden."""
    from more_ie.experts.crf import bio_start_mask, bio_transition_mask

    allowed = bio_transition_mask(labels).numpy()
    start = bio_start_mask(labels).numpy()
    transition = np.where(allowed, 0.0, -np.inf)
    start_penalty = np.where(start, 0.0, -np.inf)
    transition.setflags(write=False)
    start_penalty.setflags(write=False)
    return transition, start_penalty


def _check(method: str) -> None:
    if method not in DECODE_METHODS:
        raise ValueError(f"decode method must be one of {DECODE_METHODS}, got {method!r}")


def constrained_decode_batch(
    marginals: np.ndarray, lengths: Sequence[int], labels: Sequence[str]
) -> list[list[int]]:
    """Best legal label sequence of each row of ``marginals`` [N, T, L], cut to ``lengths[i]``.

    Padded positions (``t >= lengths[i]``) are ignored whatever they hold: the row's scores are
    carried through them unchanged with identity back-pointers. Ties go to the lower label index.
    """
    marginals = np.asarray(marginals, dtype=np.float64)
    if marginals.ndim != 3 or marginals.shape[-1] != len(labels):
        raise ValueError(f"marginals must be [N, T, {len(labels)}], got {marginals.shape}")
    n, width, n_labels = marginals.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (n,) or (lengths < 0).any() or (lengths > width).any():
        raise ValueError(f"lengths must be {n} values in [0, {width}], got {lengths.tolist()}")
    if n == 0 or width == 0:
        return [[] for _ in range(n)]
    transition, start = _masks(tuple(labels))
    emit = np.log(np.clip(marginals, EPS, None))
    score = emit[:, 0] + start  # [N, L]
    back = np.empty((n, width, n_labels), dtype=np.int64)
    back[:, 0] = np.arange(n_labels)
    identity = np.broadcast_to(np.arange(n_labels), (n, n_labels))
    for t in range(1, width):
        candidates = score[:, :, None] + transition[None]  # [N, from, to]
        best_prev = candidates.argmax(1)
        step = np.take_along_axis(candidates, best_prev[:, None, :], 1)[:, 0] + emit[:, t]
        live = (t < lengths)[:, None]
        score = np.where(live, step, score)
        back[:, t] = np.where(live, best_prev, identity)
    if np.isneginf(score.max(-1))[lengths > 0].any():
        raise ValueError(f"no label sequence obeys the BIO constraints over labels {list(labels)}")
    paths = []
    for i in range(n):
        if lengths[i] == 0:
            paths.append([])
            continue
        label = int(score[i].argmax())
        path = [label]
        # padded steps point to themselves, so walking back from the last column is safe
        for t in range(width - 1, 0, -1):
            label = int(back[i, t, label])
            if t <= lengths[i] - 1:
                path.append(label)
        path.reverse()
        paths.append(path[: lengths[i]])
    return paths


def constrained_decode(marginals: np.ndarray, labels: Sequence[str]) -> list[int]:
    """The label indices maximising ``sum_t log(marginals[t, y_t])`` (marginals clamped at
    :data:`EPS`) among the sequences obeying the experts' BIO constraints: no ``I-X`` first, and
    ``I-X`` only after ``B-X`` or ``I-X``. ``marginals`` is [T, L]."""
    marginals = np.asarray(marginals)
    if marginals.ndim != 2:
        raise ValueError(f"marginals must be [T, L], got {marginals.shape}")
    return constrained_decode_batch(marginals[None], [len(marginals)], labels)[0]


def decode_marginals(marginals: np.ndarray, labels: Sequence[str], method: str) -> list[int]:
    """One sentence's [T, L] marginals (or a mixture of them) decoded by ``method``:
    ``"constrained"`` (:func:`constrained_decode`) or ``"argmax"`` (per token, the paper's)."""
    _check(method)
    marginals = np.asarray(marginals)
    if method == "argmax":
        if marginals.ndim != 2 or marginals.shape[-1] != len(labels):
            raise ValueError(f"marginals must be [T, {len(labels)}], got {marginals.shape}")
        return [int(j) for j in marginals.argmax(-1)]
    return constrained_decode(marginals, labels)


def decode_batch(
    marginals: np.ndarray, lengths: Sequence[int], labels: Sequence[str], method: str
) -> list[list[int]]:
    """Every row of a padded [N, T, L] batch decoded by ``method``, each cut to its length (what
    the MoE stage's scoring uses)."""
    _check(method)
    marginals = np.asarray(marginals)
    if method == "argmax":
        best = marginals.argmax(-1)
        return [[int(j) for j in row[:length]] for row, length in zip(best, lengths)]
    return constrained_decode_batch(marginals, lengths, labels)
