"""Dataset split + retrieval cache -> encoded examples -> padded batches."""

from __future__ import annotations

import json
import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pyarrow.parquet as pq
import torch

from more_ie.experts.context import EncodedInput, InputBuilder
from more_ie.experts.model import Batch
from more_ie.wiki.sentences import strip_anchors

logger = logging.getLogger(__name__)


@dataclass
class Example:
    sample_id: int
    words: list[str]
    with_context: EncodedInput
    alone: EncodedInput  # the sentence-alone view (cross-view alignment)
    label: list[int] | int  # indices into the training label set (an unknown gold label -> O / no relation)
    gold: list[str] | str  # the gold labels as written, for scoring: unknown ones count as missed


def read_labels(split_path: str | Path, task: str, none_label: str = "None") -> list[str]:
    """The label set of a (training) split: BIO tags over its entity types (NER), or its relation
    names with the no-relation label first (RE). Index 0 is always O / no relation."""
    meta = pq.read_metadata(split_path).metadata or {}
    names = json.loads(meta.get(b"more_ie.labels", b"[]"))
    if task == "ner":
        return ["O"] + [f"{p}-{t}" for t in sorted(names) for p in ("B", "I")]
    if none_label not in names:
        raise ValueError(
            f"{split_path}: no {none_label!r} (no-relation) label among the relations {sorted(names)}"
        )
    return [none_label] + sorted(n for n in names if n != none_label)


def read_contexts(
    retrieval_path: str | Path | None,
    anchors: str = "tagged",
    dedup: bool = True,
) -> dict[int, list[str]]:
    """sample_id -> retrieved values in rank order.

    ``anchors``: ``tagged`` keeps the knowledge corpus's ``<e: Title> surface </e>`` form (the
    paper: the model sees which spans are entities and what they link to); ``surface`` reduces an
    anchor to its surface text. ``dedup`` drops a value equal to a higher-ranked one (two top-k
    sentences of one paragraph share their value), so the subtoken budget goes to new text.
    """
    if anchors not in ("tagged", "surface"):
        raise ValueError(f"anchors must be 'tagged' or 'surface', got {anchors!r}")
    if retrieval_path is None:
        return {}
    table = pq.read_table(retrieval_path, columns=["sample_id", "rank", "text"]).to_pandas()
    out: dict[int, list[str]] = defaultdict(list)
    dropped = 0
    for sample_id, _, text in sorted(zip(table.sample_id, table["rank"], table.text)):
        value = strip_anchors(text) if anchors == "surface" else text
        if dedup and value in out[int(sample_id)]:
            dropped += 1
            continue
        out[int(sample_id)].append(value)
    logger.info(
        "%s: %d retrieved values, %d duplicates dropped, anchors %s",
        retrieval_path,
        len(table),
        dropped,
        anchors,
    )
    return out


def load_examples(
    split_path: str | Path,
    retrieval_path: str | Path | None,
    builder: InputBuilder,
    task: str,
    labels: Sequence[str],
    dedup: bool = True,
    anchors: str = "tagged",
) -> list[Example]:
    """Encoded examples of one split. ``labels`` is the training label set: a gold label outside it
    is logged (name, file, count), can never be predicted, and is kept as gold so that it counts as missed."""
    table = pq.read_table(split_path).to_pylist()
    contexts = read_contexts(retrieval_path, anchors=anchors, dedup=dedup)
    index = {label: i for i, label in enumerate(labels)}
    unknown: Counter[str] = Counter()
    examples = []
    for row in table:
        where = f"{split_path}: sample {row['sample_id']}"
        ctx = contexts.get(row["sample_id"], [])
        if task == "ner":
            gold: list[str] | str = list(row["tags"])
            unknown.update(t for t in gold if t not in index)
            label: list[int] | int = [index.get(t, 0) for t in gold]  # index 0 is O
            full, alone = builder.ner(row["tokens"], ctx, where), builder.ner(row["tokens"], (), where)
        else:
            gold = row["relation"]
            if gold not in index:
                unknown[gold] += 1
            label = index.get(gold, 0)  # index 0 is the no-relation label
            head, tail = tuple(row["head"]), tuple(row["tail"])
            full = builder.re(row["tokens"], head, tail, ctx, where)
            alone = builder.re(row["tokens"], head, tail, (), where)
        examples.append(Example(row["sample_id"], row["tokens"], full, alone, label, gold))
    for name, count in sorted(unknown.items()):
        logger.warning(
            "%s: label %r occurs %d times but not in train: it can never be predicted and counts as missed",
            split_path,
            name,
            count,
        )
    with_ctx = sum(1 for e in examples if e.with_context.context_subtokens)
    logger.info("%s: %d examples, %d with retrieved context", split_path, len(examples), with_ctx)
    return examples


def collate(examples: Sequence[Example], task: str, pad_id: int, use_context: bool = True) -> Batch:
    inputs = [e.with_context if use_context else e.alone for e in examples]
    width = max(len(x.input_ids) for x in inputs)
    ids = torch.full((len(inputs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(inputs), width), dtype=torch.long)
    for i, x in enumerate(inputs):
        ids[i, : len(x.input_ids)] = torch.tensor(x.input_ids)
        attention[i, : len(x.input_ids)] = 1
    if task == "ner":
        n_words = max(len(x.word_starts) for x in inputs)
        starts = torch.zeros((len(inputs), n_words), dtype=torch.long)
        mask = torch.zeros((len(inputs), n_words), dtype=torch.bool)
        labels = torch.zeros((len(inputs), n_words), dtype=torch.long)
        for i, (x, e) in enumerate(zip(inputs, examples)):
            starts[i, : len(x.word_starts)] = torch.tensor(x.word_starts)
            mask[i, : len(x.word_starts)] = True
            labels[i, : len(x.word_starts)] = torch.tensor(e.label)
        return Batch(ids, attention, word_starts=starts, word_mask=mask, labels=labels)
    markers = torch.tensor([x.marker_positions for x in inputs], dtype=torch.long)
    labels = torch.tensor([e.label for e in examples], dtype=torch.long)
    return Batch(ids, attention, markers=markers, labels=labels)


def subsample(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded subsample of ``limit`` examples in their original order (all when limit is None)."""
    if limit is None or limit >= len(examples):
        return examples
    keep = sorted(random.Random(f"subsample:{seed}").sample(range(len(examples)), limit))
    logger.info("training on a seeded subsample of %d of %d samples", limit, len(examples))
    return [examples[i] for i in keep]


def fold_members(sample_ids: Sequence[int], fold: int, folds: int) -> list[int]:
    """The sample ids of ``fold`` (0-based) of ``folds``: a permutation seeded by the fold count
    alone, dealt round-robin, so every view and seed of a dataset splits train the same way (the two
    experts of a pair must hold out the same posts)."""
    if folds < 2 or not 0 <= fold < folds:
        raise ValueError(f"fold {fold} of {folds}: need folds >= 2 and 0 <= fold < folds")
    order = sorted(sample_ids)
    random.Random(f"folds:{folds}").shuffle(order)
    return sorted(order[fold::folds])
