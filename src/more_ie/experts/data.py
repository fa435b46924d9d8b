"""Dataset split + retrieval cache -> encoded examples -> padded batches."""
from __future__ import annotations

import json
import logging
from collections import defaultdict
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
    label: list[int] | int


def read_labels(split_path: str | Path, task: str) -> list[str]:
    """The label set: BIO tags over the types in the file metadata (NER) or the relation names (RE)."""
    meta = pq.read_metadata(split_path).metadata or {}
    names = json.loads(meta.get(b"more_ie.labels", b"[]"))
    if task == "ner":
        return ["O"] + [f"{p}-{t}" for t in names for p in ("B", "I")]
    return list(names)


def read_contexts(retrieval_path: str | Path | None, strip: bool = True) -> dict[int, list[str]]:
    """sample_id -> retrieved texts in rank order (anchors reduced to their surface by default)."""
    if retrieval_path is None:
        return {}
    table = pq.read_table(retrieval_path, columns=["sample_id", "rank", "text"]).to_pandas()
    out: dict[int, list[str]] = defaultdict(list)
    for sample_id, _, text in sorted(zip(table.sample_id, table["rank"], table.text)):
        out[int(sample_id)].append(strip_anchors(text) if strip else text)
    return out


def load_examples(
    split_path: str | Path, retrieval_path: str | Path | None, builder: InputBuilder, task: str, labels: Sequence[str],
) -> list[Example]:
    table = pq.read_table(split_path).to_pylist()
    contexts = read_contexts(retrieval_path)
    index = {label: i for i, label in enumerate(labels)}
    examples = []
    for row in table:
        where = f"{split_path}: sample {row['sample_id']}"
        ctx = contexts.get(row["sample_id"], [])
        if task == "ner":
            unknown = {t for t in row["tags"] if t not in index}
            if unknown:
                raise ValueError(f"{where}: tags {sorted(unknown)} are not in the training label set")
            label: list[int] | int = [index[t] for t in row["tags"]]
            full, alone = builder.ner(row["tokens"], ctx, where), builder.ner(row["tokens"], (), where)
        else:
            if row["relation"] not in index:
                raise ValueError(f"{where}: relation {row['relation']!r} is not in the training label set")
            label = index[row["relation"]]
            head, tail = tuple(row["head"]), tuple(row["tail"])
            full = builder.re(row["tokens"], head, tail, ctx, where)
            alone = builder.re(row["tokens"], head, tail, (), where)
        examples.append(Example(row["sample_id"], row["tokens"], full, alone, label))
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
