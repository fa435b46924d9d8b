"""The teacher: a MoE variant's mixture of its two experts' distributions on the training split.

The MoE stage only ever mixes dev and test outputs (the experts export no train marginals). Here the
pair's two saved experts are run on train as they were trained to read it (the context view: the
sentence, ``[X]`` and the view's cached retrieval, ``results/{dataset}/retrieval/train.{view}.parquet``,
cleaned as the expert's own ``metrics.json`` says), and the pair's fitted gate (fit on dev) mixes
them on train's gate features exactly as :func:`more_ie.moe.gate.mix` does for dev and test.

**In-sample or cross-fitted** (``student.teacher_fit``). ``in_sample``: both experts were trained on
these posts, so their train distributions are sharper and more often right than on unseen posts.
``cross_fit``: train is dealt into ``student.teacher_folds`` folds (the same for every view and seed,
:func:`more_ie.experts.data.fold_members`), and each expert of the pair is retrained once per fold
without it (``results/{dataset}/student/folds/...``); a post's distribution then comes from the
models that never saw it, as the MoE's are on test. The gate (fit on dev) is the MoE's in both
cases. The log, the Parquet metadata and the student's ``metrics.json`` say which, and the
teacher's own train F1 is recorded beside it so that any optimism is visible.

Output (one row per train sample): ``sample_id`` and ``marginals`` ([T, L] per-token mixtures, NER)
or ``probs`` ([L], RE), with the labels, the pair, the gate and the note in the metadata. It is its
own file so that changing a student setting never recomputes it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from more_ie.experts.context import InputBuilder
from more_ie.experts.data import collate, load_examples
from more_ie.experts.model import Expert
from more_ie.moe.features import read_feature_spec, read_gate_features
from more_ie.moe.gate import load_gate, mix
from more_ie.moe.scoring import pad, predictions, score
from more_ie.moe.settings import MoeConfig
from more_ie.student.settings import CROSS_FIT_NOTE, IN_SAMPLE_NOTE
from more_ie.utils import write_parquet

logger = logging.getLogger(__name__)
TEACHER_KEY = "more_ie.teacher"


@dataclass
class Teacher:
    """A teacher table read back: labels and one distribution per training sample."""

    task: str
    labels: list[str]
    dists: dict[int, np.ndarray]  # sample_id -> [T, L] (NER) or [L] (RE)
    info: dict

    def batch(self, sample_ids: list[int], width: int) -> torch.Tensor:
        """The rows of ``sample_ids``: NER [B, width, L] zero-padded; RE [B, L]."""
        missing = [s for s in sample_ids if s not in self.dists]
        if missing:
            raise ValueError(f"the teacher has no distribution for training samples {missing[:5]}")
        rows = [self.dists[s] for s in sample_ids]
        if self.task == "re":
            return torch.tensor(np.stack(rows))
        out = np.zeros((len(rows), width, len(self.labels)), dtype=np.float32)
        for i, row in enumerate(rows):
            out[i, : len(row)] = row[:width]
        return torch.tensor(out)


def read_teacher(path: str | Path) -> Teacher:
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    task = meta.get(b"more_ie.task", b"").decode()
    labels = json.loads(meta.get(b"more_ie.labels", b"null") or b"null")
    if task not in ("ner", "re") or not labels:
        raise ValueError(f"{path}: not a teacher table (no more_ie.task / more_ie.labels metadata)")
    column = "marginals" if task == "ner" else "probs"
    ids = table.column("sample_id").to_pylist()
    dists = {int(s): np.asarray(d, dtype=np.float32) for s, d in zip(ids, table.column(column).to_pylist())}
    info = json.loads(meta.get(TEACHER_KEY.encode(), b"{}"))
    return Teacher(task, labels, dists, info)


@torch.inference_mode()
def expert_train_distributions(
    task: str,
    folder: Path,
    split: Path,
    retrieval: Path | None,
    batch_size: int,
    device: torch.device,
) -> tuple[list[str], list[int], list[np.ndarray], list]:
    """(labels, sample ids, distributions, gold) of one saved expert on ``split``, context view."""
    model, tokenizer = Expert.load(folder / "model", device)
    metrics_path = folder / "metrics.json"
    train_config = (
        json.loads(metrics_path.read_text()).get("train_config", {}) if metrics_path.is_file() else {}
    )
    labels = list(model.config.labels)
    examples = load_examples(
        split,
        retrieval,
        InputBuilder(tokenizer, model.config.max_subtokens),
        task,
        labels,
        # as prediction reads them (predict.experts): experts from before these settings existed
        # reduced anchors to their surface and kept repeats
        dedup=bool(train_config.get("dedup_contexts", False)),
        anchors=train_config.get("context_anchors", "surface"),
    )
    pad_id = tokenizer.pad_token_id or 0
    dists: list[np.ndarray] = []
    for first in range(0, len(examples), batch_size):
        chunk = examples[first : first + batch_size]
        batch = collate(chunk, task, pad_id, use_context=True).to(device)
        dist = model.distribution(model.scores(batch), batch).float().cpu().numpy()
        dists += [d[: len(e.words)] for d, e in zip(dist, chunk)] if task == "ner" else list(dist)
    logger.info(
        "%s: %d training samples through its context view (%s)", folder.name, len(examples), retrieval
    )
    return labels, [e.sample_id for e in examples], dists, [e.gold for e in examples]


def heldout_train_distributions(
    task: str, files: list[Path], split: Path
) -> tuple[list[str], list[int], list[np.ndarray], list]:
    """(labels, sample ids, distributions, gold) on ``split`` assembled from one expert's held-out
    fold exports (``heldout.train.parquet``): every training sample exactly once, in split order."""
    column = "marginals" if task == "ner" else "probs"
    labels: list[str] | None = None
    by_id: dict[int, np.ndarray] = {}
    for path in files:
        table = pq.read_table(path)
        own = json.loads((table.schema.metadata or {}).get(b"more_ie.labels", b"null") or b"null")
        if labels is None:
            labels = own
        elif own != labels:
            raise ValueError(f"{path}: labels {own} differ from the other folds' {labels}")
        for sample_id, dist in zip(table.column("sample_id").to_pylist(), table.column(column).to_pylist()):
            if int(sample_id) in by_id:
                raise ValueError(f"{path}: training sample {sample_id} is in two folds")
            by_id[int(sample_id)] = np.asarray(dist, dtype=np.float32)
    rows = pq.read_table(split, columns=["sample_id", "tags" if task == "ner" else "relation"]).to_pylist()
    ids = [int(r["sample_id"]) for r in rows]
    missing = [s for s in ids if s not in by_id]
    if missing or labels is None:
        raise ValueError(f"{split}: no held-out distribution for training samples {missing[:5]} in {files}")
    gold = [list(r["tags"]) if task == "ner" else r["relation"] for r in rows]
    logger.info("%d training samples from %d held-out folds (out of sample)", len(ids), len(files))
    return labels, ids, [by_id[s] for s in ids], gold


def build_teacher(
    task: str,
    variant: str,
    pair_index: int,
    experts: dict[str, Path],
    retrieval: dict[str, Path],
    split: Path,
    gate_dir: Path,
    features: Path,
    out: Path,
    batch_size: int = 32,
    device: str = "cpu",
    heldout: dict[str, list[Path]] | None = None,
) -> dict:
    """Write the teacher table of ``variant``'s pair ``pair_index`` on ``split`` (train) to ``out``.

    ``experts``: the pair's two expert names -> folders, in the gate's order; ``retrieval``: view ->
    train retrieval cache (the ``none`` view has none). ``heldout`` (cross-fitting): the same names ->
    their held-out fold exports, read instead of running the experts on train."""
    torch_device = torch.device(
        "cuda" if device == "auto" and torch.cuda.is_available() else "cpu" if device == "auto" else device
    )
    gate, gate_info = load_gate(gate_dir)
    pair = [str(n) for n in gate_info.get("pair", [])]
    if pair != list(experts):
        raise ValueError(f"{gate_dir}: the gate mixes {pair}, but the experts given are {list(experts)}")
    in_sample = heldout is None
    if in_sample:
        logger.warning(IN_SAMPLE_NOTE)
        outputs = [
            expert_train_distributions(
                task, folder, split, retrieval.get(name.rsplit("-s", 1)[0]), batch_size, torch_device
            )
            for name, folder in experts.items()
        ]
    else:
        if list(heldout) != list(experts):
            raise ValueError(f"the held-out folds are of {list(heldout)}, the pair is {list(experts)}")
        logger.info(CROSS_FIT_NOTE)
        outputs = [heldout_train_distributions(task, heldout[name], split) for name in experts]
    (labels, ids, p_a, gold), (labels_b, ids_b, p_b, _) = outputs
    if labels != labels_b or labels != list(gate_info.get("labels", labels)):
        raise ValueError(f"{gate_dir}: the experts' and the gate's label orders differ")
    if ids != ids_b:
        raise ValueError(f"{split}: the two experts read different samples")
    feature_ids, feature_rows = read_gate_features(features)
    spec = read_feature_spec(features)
    if gate_info.get("feature_spec") is not None and spec != gate_info["feature_spec"]:
        raise ValueError(
            f"{features}: gate features {spec} differ from those the gate was fit on ({gate_info['feature_spec']})"
        )
    by_id = dict(zip(feature_ids, feature_rows))
    missing = [s for s in ids if s not in by_id]
    if missing:
        raise ValueError(f"{features}: no gate features for samples {missing[:5]}")
    with torch.no_grad():
        g = gate(torch.tensor(np.stack([by_id[s] for s in ids]), dtype=torch.float32))
        mixed = [
            mix(g[i : i + 1], torch.tensor(a[None]), torch.tensor(b[None]))[0].numpy()
            for i, (a, b) in enumerate(zip(p_a, p_b))
        ]
    padded, mask = pad(mixed)
    prf, _ = score(task, gold, predictions(task, padded, mask, labels, MoeConfig.decode))
    info = {
        "variant": variant,
        "pair_index": pair_index,
        "experts": {name: str(folder) for name, folder in experts.items()},
        "gate": str(gate_dir),
        "in_sample": in_sample,
        "folds": None if in_sample else {name: [str(f) for f in files] for name, files in heldout.items()},
        "note": IN_SAMPLE_NOTE if in_sample else CROSS_FIT_NOTE,
        "train_f1": prf.f1,
        "train_f1_decode": MoeConfig.decode if task == "ner" else "argmax",
        "mean_gate_weight_first": float(g.mean()),
    }
    column = "marginals" if task == "ner" else "probs"
    table = pa.table({"sample_id": ids, column: [m.tolist() for m in mixed]})
    meta = {
        "more_ie.task": task,
        "more_ie.labels": json.dumps(labels),
        TEACHER_KEY: json.dumps(info, sort_keys=True),
    }
    write_parquet(table, out, metadata=meta)
    logger.info(
        "teacher %s pair %d on %d training samples: train F1 %.4f (%s), mean gate weight of %s %.3f; wrote %s",
        variant,
        pair_index,
        len(ids),
        prf.f1,
        "in-sample, optimistic: the experts trained on these posts"
        if in_sample
        else "cross-fitted: out of sample",
        pair[0],
        info["mean_gate_weight_first"],
        out,
    )
    return info
