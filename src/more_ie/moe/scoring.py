"""Scores of a mixture (or an expert) on a split: micro PRF, per-label PRF, and per-sentence counts.

Per-sentence counts (true positives, predicted, gold; one row per sentence or RE sample), summed
per post (:func:`post_units`), are what the paired bootstrap resamples. Their column sums equal
the corpus-level counts of :func:`more_ie.experts.metrics.ner_scores` / ``re_scores``: seqeval
reads a corpus as one sequence with an "O" after every sentence, so no entity crosses a sentence
boundary.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from more_ie.experts.metrics import PRF, ner_scores, re_scores
from more_ie.experts.spans import bio_to_spans
from more_ie.moe.decode import decode_batch

NONE_RELATION = "None"


def pad(dists: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """NER: [N, T, L] padded with uniform rows and a mask; RE: [N, L] and an all-true mask."""
    if dists[0].ndim == 1:
        return torch.tensor(np.stack(dists)), torch.ones(len(dists), dtype=torch.bool)
    width, n_labels = max(len(d) for d in dists), dists[0].shape[1]
    out = np.full((len(dists), width, n_labels), 1.0 / n_labels, dtype=np.float32)
    mask = np.zeros((len(dists), width), dtype=bool)
    for i, d in enumerate(dists):
        out[i, : len(d)] = d
        mask[i, : len(d)] = True
    return torch.tensor(out), torch.tensor(mask)


def gold_tensor(task: str, gold: list, labels: list[str], width: int) -> torch.Tensor:
    """Gold label indices for the gate's NLL.

    The experts' label set comes from train, so a dev label can be unknown to them; it can never
    be predicted, and the nearest outcome the experts can reach is "O" (NER) / "None" (RE), so it
    trains the gate as that label. Scores are computed on the label strings (see :func:`score`),
    where it still counts as missed.
    """
    index = {label: i for i, label in enumerate(labels)}
    fallback = index.get("O" if task == "ner" else NONE_RELATION, 0)
    if task == "re":
        return torch.tensor([index.get(g, fallback) for g in gold])
    out = torch.zeros((len(gold), width), dtype=torch.long)
    for i, tags in enumerate(gold):
        out[i, : len(tags)] = torch.tensor([index.get(t, fallback) for t in tags], dtype=torch.long)
    return out


def predictions(task: str, mixed: torch.Tensor, mask: torch.Tensor, labels: list[str], decode: str) -> list:
    """Predicted labels: NER decodes each sentence's mixed marginals by ``decode`` (see
    :mod:`more_ie.moe.decode`), cut to its length; RE takes the argmax per sample (one label, no
    sequence to constrain)."""
    if task == "ner":
        lengths = mask.sum(-1).tolist()
        paths = decode_batch(mixed.detach().cpu().numpy(), lengths, labels, decode)
        return [[labels[j] for j in path] for path in paths]
    return [labels[j] for j in mixed.argmax(-1).tolist()]


def score(task: str, gold: list, pred: list) -> tuple[PRF, dict[str, dict]]:
    """Micro PRF and per-label PRF dicts (NER: entity type; RE: entity type of the relation)."""
    if task == "ner":
        scores = ner_scores(gold, pred)
        return scores["micro"], {k: v.to_dict() for k, v in scores["per_label"].items()}
    scores = re_scores(gold, pred, none_label=NONE_RELATION)
    return scores["micro"], {k: v.to_dict() for k, v in scores["per_entity_type"].items()}


def post_units(task: str, rows: Sequence[dict]) -> np.ndarray:
    """Which post each row of a prepared split comes from: ``[N]`` ids 0..U-1, in first-seen order.

    The prepared splits have no post id column. An NER row is one sentence (one post). An RE row
    is one entity pair, and MNRE lists every entity pair of a tweet as its own row with the same
    tokens and image, so rows with equal (image, tokens) are one post. Two distinct posts with the
    same text and image would be merged; that only makes the bootstrap coarser (more conservative).
    """
    if task == "ner":
        return np.arange(len(rows), dtype=np.int64)
    ids: dict[tuple, int] = {}
    return np.array(
        [ids.setdefault((r.get("image"), tuple(r["tokens"])), len(ids)) for r in rows], dtype=np.int64
    )


def sentence_counts(task: str, gold: list, pred: list) -> np.ndarray:
    """[N, 3] int array of (tp, n_pred, n_gold) per sentence (NER) or per sample (RE)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold rows but {len(pred)} predicted")
    out = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred)):
        if task == "ner":
            gold_spans, pred_spans = set(bio_to_spans(g)), set(bio_to_spans(p))
            out[i] = (len(gold_spans & pred_spans), len(pred_spans), len(gold_spans))
        else:
            out[i] = (int(g == p and g != NONE_RELATION), int(p != NONE_RELATION), int(g != NONE_RELATION))
    return out
