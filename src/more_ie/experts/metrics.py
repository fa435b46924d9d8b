"""Precision / recall / F1 for NER (entity level, as seqeval) and RE (None excluded, as MNRE).

All scores are fractions in [0, 1]; an undefined ratio (0/0) is 0, as seqeval's default
``zero_division`` does, so an F1 is never NaN.

RE per-entity-type scores (the paper's per-type breakdown) read the types from MNRE labels
``/<head type>/<tail type>/<relation>``: a relation instance counts once for each *distinct*
type among its head and tail, so ``/per/org/member_of`` counts for ``per`` and for ``org``,
and ``/per/per/peer`` counts once (not twice) for ``per``. Thus each type's row answers "of
the relations involving a ``per`` entity, how many were found", and a type's tp/pred/gold are
never inflated by symmetric labels. A label without that shape contributes to no type.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Sequence

from more_ie.datasets.readers import NO_RELATION
from more_ie.experts.spans import bio_to_spans


@dataclass
class PRF:
    precision: float
    recall: float
    f1: float
    tp: int
    n_pred: int
    n_gold: int

    @classmethod
    def from_counts(cls, tp: int, n_pred: int, n_gold: int) -> "PRF":
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        # The same expression as seqeval (2PR / (P + R)), so the floats agree bit for bit.
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision, recall, f1, tp, n_pred, n_gold)

    def to_dict(self) -> dict:
        return asdict(self)


def _prf_by_key(tp: Counter[str], n_pred: Counter[str], n_gold: Counter[str]) -> dict[str, PRF]:
    keys = sorted(set(n_pred) | set(n_gold))
    return {k: PRF.from_counts(tp[k], n_pred[k], n_gold[k]) for k in keys}


# -- NER -------------------------------------------------------------------------------------
def _entities(sentences: Sequence[Sequence[str]]) -> set[tuple[int, int, str]]:
    # seqeval reads a corpus as one sequence with an "O" after every sentence; doing the same
    # (rather than sentence by sentence) keeps even its handling of malformed tags identical.
    flat: list[str] = []
    for sentence in sentences:
        flat.extend(sentence)
        flat.append("O")
    return set(bio_to_spans(flat))


def ner_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Entity-level exact-match scores: ``{"micro": PRF, "per_label": {type: PRF}}``.

    Equal to seqeval's default mode (``f1_score`` etc. and ``classification_report``): a
    predicted entity is correct when its type, start and end all match a gold entity.
    ``per_label`` covers every type seen in gold or predictions (the paper's Table 4).
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
    gold_entities, pred_entities = _entities(gold), _entities(pred)
    correct = gold_entities & pred_entities
    tp = Counter(t for _, _, t in correct)
    n_pred = Counter(t for _, _, t in pred_entities)
    n_gold = Counter(t for _, _, t in gold_entities)
    return {
        "micro": PRF.from_counts(len(correct), len(pred_entities), len(gold_entities)),
        "per_label": _prf_by_key(tp, n_pred, n_gold),
    }


# -- RE --------------------------------------------------------------------------------------
def entity_types(label: str) -> tuple[str, ...]:
    """The distinct entity types of an MNRE label: ``/per/org/member_of`` -> ("per", "org")."""
    parts = label.split("/")
    if len(parts) < 4 or parts[0] != "" or not parts[1] or not parts[2]:
        return ()
    return tuple(dict.fromkeys(parts[1:3]))  # dedupe, keep order


def _count(labels: Iterable[str], key_fn: Callable[[str], Iterable[str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for label in labels:
        counts.update(key_fn(label))
    return counts


def re_scores(gold: Sequence[str], pred: Sequence[str], none_label: str = NO_RELATION) -> dict:
    """Relation-classification scores with ``none_label`` excluded (MNRE's convention).

    Dataset preparation renames every configured spelling of "no relation" (``none``, ``NA``,
    ``no_relation``..., case-insensitively) to :data:`NO_RELATION`, so the default is right for
    every prepared split.

    A prediction counts when it is not ``none_label``; it is a true positive when it equals a
    gold label that is not ``none_label``. So predicting a relation for a None pair costs
    precision, and predicting None for a related pair costs recall.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predicted")
    hits = [g for g, p in zip(gold, pred) if g == p and g != none_label]
    gold_pos = [g for g in gold if g != none_label]
    pred_pos = [p for p in pred if p != none_label]

    def per_relation(label: str) -> tuple[str, ...]:
        return (label,)

    return {
        "micro": PRF.from_counts(len(hits), len(pred_pos), len(gold_pos)),
        "none_excluded": True,
        "per_relation": _prf_by_key(*(_count(x, per_relation) for x in (hits, pred_pos, gold_pos))),
        "per_entity_type": _prf_by_key(*(_count(x, entity_types) for x in (hits, pred_pos, gold_pos))),
    }
