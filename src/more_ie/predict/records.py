"""Output records of ``MoRe.predict``: a batch's mixed distributions decoded into entities (NER)
or relation labels (RE), with what was retrieved, the gate's weights and, with ``details``, the
retrieved values and each expert's own decoding.

NER mixtures are decoded by the run's ``moe.decode`` (the decoder its MoE was scored with) and
spans are read with the seqeval-compatible reader; an entity's confidence is the mean mixture
probability of its decoded tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from more_ie.experts.spans import bio_to_spans
from more_ie.moe.decode import decode_marginals
from more_ie.predict.experts import ExpertRunner, Item, Output
from more_ie.predict.io import Post
from more_ie.predict.layout import SavedGate
from more_ie.predict.retrieval import Hit
from more_ie.predict.selection import ALONE_MODES


@dataclass
class PostBatch:
    """One ``predict`` call's posts and what retrieval found for them."""

    posts: list[Post]
    hits: dict[str, list[list[Hit]]] = field(default_factory=dict)  # view -> per post
    image_status: list[str] = field(default_factory=list)
    features: np.ndarray | None = None  # [P, F] gate features


class RecordSource(Protocol):
    """What the records read of a loaded model (:class:`more_ie.predict.api.MoRe`); read at each
    call, so a ``decode`` changed on the model takes effect."""

    task: str
    mode: str
    decode: str
    labels: list[str]
    views: list[str]
    experts: list[ExpertRunner]
    gate: SavedGate | None


def decoded_path(dist: np.ndarray, single: Output | None, labels: Sequence[str], decode: str) -> list[int]:
    """A mixture is decoded as the MoE stage scored it (``moe.decode``); a single expert keeps
    its own Viterbi path, as its scores do."""
    if single is not None:
        return list(single.decoded)  # type: ignore[arg-type]
    return decode_marginals(dist, labels, decode)


def entity_records(words: list[str], dist: np.ndarray, path: list[int], labels: Sequence[str]) -> list[dict]:
    tags = [labels[t] for t in path]
    out = []
    for start, end, kind in bio_to_spans(tags):
        confidence = float(np.mean([dist[t, path[t]] for t in range(start, end)]))
        out.append(
            {
                "start": start,
                "end": end,
                "text": " ".join(words[start:end]),
                "type": kind,
                "confidence": round(confidence, 4),
            }
        )
    return out


def assemble_records(
    model: RecordSource,
    batch: PostBatch,
    items: list[Item],
    owners: list[tuple[int, int]],
    outputs: list[list[Output]],
    mixed: list[np.ndarray],
    weights: np.ndarray | None,
    details: bool,
) -> list[dict]:
    """One record per post of ``batch``, in order; ``owners`` maps each item (and its ``outputs``
    and ``mixed`` row) to its (post index, pair index)."""
    records: list[dict] = []
    for i, post in enumerate(batch.posts):
        record: dict = {
            "id": post.id,
            "tokens": post.tokens,
            "image": {"path": post.image_name, "status": batch.image_status[i]},
            "views": [v for v in model.views if v != "image" or batch.image_status[i] == "ok"],
            "retrieved": {view: [h.summary() for h in hits[i]] for view, hits in batch.hits.items()},
        }
        if weights is not None:
            record["gate"] = {
                "experts": list(model.gate.experts),
                "weight_first": round(float(weights[i].mean()), 4),
            }
        if details:
            record["retrieved_values"] = {v: [h.text for h in hits[i]] for v, hits in batch.hits.items()}
            if weights is not None:
                record["gate"]["per_label"] = [round(float(w), 4) for w in weights[i]]
            record["experts"] = {}
        records.append(record)
    for k, ((i, _j), item) in enumerate(zip(owners, items)):
        record = records[i]
        if model.task == "ner":
            single = outputs[0][k] if model.mode in ALONE_MODES else None
            path = decoded_path(mixed[k], single, model.labels, model.decode)
            record["entities"] = entity_records(item.words, mixed[k], path, model.labels)
            if details:
                record["mixed_tags"] = [model.labels[t] for t in path]
                for runner, out in zip(model.experts, outputs):
                    record["experts"][runner.name] = [model.labels[t] for t in out[k].decoded]  # type: ignore[union-attr]
        else:
            head, tail = item.pair  # type: ignore[misc]
            best = int(mixed[k].argmax())
            relation = {
                "head": list(head),
                "tail": list(tail),
                "head_text": " ".join(item.words[head[0] : head[1]]),
                "tail_text": " ".join(item.words[tail[0] : tail[1]]),
                "label": model.labels[best],
                "probability": round(float(mixed[k][best]), 4),
            }
            if details:
                relation["experts"] = {
                    r.name: model.labels[int(outputs[n][k].decoded)] for n, r in enumerate(model.experts)
                }
            record.setdefault("relations", []).append(relation)
    for record in records:
        if model.task == "re":
            record.setdefault("relations", [])
    return records
