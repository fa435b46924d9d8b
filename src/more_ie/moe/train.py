"""Train and evaluate the gate, average pooling and the single experts; write ``moe_f1.json``.

The experts are frozen: only their exported dev/test distributions are read. The gate is fit on
the dev split (the experts have seen train, so their train outputs are over-confident): a seeded
80 % of dev trains it, the other 20 % selects the epoch by mixture NLL, and test is reported.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow.parquet as pq
import torch

from more_ie.experts.metrics import PRF, ner_scores, re_scores
from more_ie.moe.features import read_gate_features
from more_ie.moe.gate import Gate, average, mix, mixture_nll
from more_ie.utils import write_json

logger = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass
class MoeConfig:
    gate: str = "per_label"
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    holdout: float = 0.2


@dataclass
class SplitData:
    sample_ids: list[int]
    gold: list  # NER: list of tag lists; RE: list of relation names
    features: np.ndarray  # [N, F]
    dists: dict[str, list[np.ndarray]]  # expert -> per sample [T, L] or [L]


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_expert(path: Path, task: str) -> tuple[list[str], dict[int, np.ndarray]]:
    table = pq.read_table(path)
    labels = json.loads(table.schema.metadata[b"more_ie.labels"])
    column = "marginals" if task == "ner" else "probs"
    dists = {sid: np.asarray(d, dtype=np.float32)
             for sid, d in zip(table.column("sample_id").to_pylist(), table.column(column).to_pylist())}
    return labels, dists


def load_split(task: str, split_path: Path, features_path: Path, experts: dict[str, Path], split: str) -> tuple[list[str], SplitData]:
    rows = pq.read_table(split_path).to_pylist()
    sample_ids = [r["sample_id"] for r in rows]
    gold = [r["tags"] if task == "ner" else r["relation"] for r in rows]
    feature_ids, features = read_gate_features(features_path)
    if feature_ids != sample_ids:
        raise ValueError(f"{features_path}: sample ids do not match {split_path}")
    labels: list[str] | None = None
    dists: dict[str, list[np.ndarray]] = {}
    for name, folder in experts.items():
        path = folder / f"{split}.marginals.parquet"
        expert_labels, by_id = _read_expert(path, task)
        if labels is not None and expert_labels != labels:
            raise ValueError(f"{path}: label order {expert_labels} differs from the other experts' {labels}")
        labels = expert_labels
        missing = set(sample_ids) - set(by_id)
        if missing:
            raise ValueError(f"{path}: no output for samples {sorted(missing)[:5]}")
        dists[name] = [by_id[s] for s in sample_ids]
    assert labels is not None
    return labels, SplitData(sample_ids, gold, features, dists)


def _pad(dists: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """NER: [N, T, L] padded with uniform rows and a mask; RE: [N, L] and no mask."""
    if dists[0].ndim == 1:
        return torch.tensor(np.stack(dists)), torch.ones(len(dists), dtype=torch.bool)
    width, n_labels = max(len(d) for d in dists), dists[0].shape[1]
    out = np.full((len(dists), width, n_labels), 1.0 / n_labels, dtype=np.float32)
    mask = np.zeros((len(dists), width), dtype=bool)
    for i, d in enumerate(dists):
        out[i, : len(d)] = d
        mask[i, : len(d)] = True
    return torch.tensor(out), torch.tensor(mask)


def _gold_tensor(task: str, gold: list, labels: list[str], width: int) -> torch.Tensor:
    index = {label: i for i, label in enumerate(labels)}
    if task == "re":
        return torch.tensor([index[g] for g in gold])
    out = torch.zeros((len(gold), width), dtype=torch.long)
    for i, tags in enumerate(gold):
        out[i, : len(tags)] = torch.tensor([index[t] for t in tags])
    return out


def _score(task: str, gold: list, mixed: torch.Tensor, mask: torch.Tensor, labels: list[str]) -> PRF:
    best = mixed.argmax(-1)
    if task == "ner":
        pred = [[labels[j] for j in row[: int(m.sum())].tolist()] for row, m in zip(best, mask)]
        return ner_scores(gold, pred)["micro"]
    return re_scores(gold, [labels[j] for j in best.tolist()])["micro"]


def _per_label(task: str, gold: list, mixed: torch.Tensor, mask: torch.Tensor, labels: list[str]) -> dict:
    best = mixed.argmax(-1)
    if task == "ner":
        pred = [[labels[j] for j in row[: int(m.sum())].tolist()] for row, m in zip(best, mask)]
        return {k: v.to_dict() for k, v in ner_scores(gold, pred)["per_label"].items()}
    scores = re_scores(gold, [labels[j] for j in best.tolist()])
    return {k: v.to_dict() for k, v in scores["per_entity_type"].items()}


def train_gate(task: str, dev: SplitData, a: str, b: str, labels: list[str], cfg: MoeConfig) -> tuple[Gate, dict]:
    torch.manual_seed(cfg.seed)
    p_a, mask = _pad(dev.dists[a])
    p_b, _ = _pad(dev.dists[b])
    gold = _gold_tensor(task, dev.gold, labels, p_a.shape[1] if task == "ner" else 0)
    features = torch.tensor(dev.features)
    order = torch.randperm(len(dev.sample_ids), generator=torch.Generator().manual_seed(cfg.seed))
    n_hold = max(1, int(round(cfg.holdout * len(order))))
    hold, fit = order[:n_hold], order[n_hold:]
    gate = Gate(features.shape[1], len(labels), cfg.gate)
    optimizer = torch.optim.AdamW(gate.parameters(), lr=cfg.lr)
    token_mask = mask.float() if task == "ner" else None

    def nll(idx: torch.Tensor) -> torch.Tensor:
        mixed = mix(gate(features[idx]), p_a[idx], p_b[idx])
        return mixture_nll(mixed, gold[idx], token_mask[idx] if token_mask is not None else None)

    best_loss, best_state, best_epoch = float("inf"), copy.deepcopy(gate.state_dict()), 0
    for epoch in range(1, cfg.epochs + 1):
        gate.train()
        shuffled = fit[torch.randperm(len(fit), generator=torch.Generator().manual_seed(cfg.seed + epoch))]
        for start in range(0, len(shuffled), cfg.batch_size):
            loss = nll(shuffled[start : start + cfg.batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        gate.eval()
        with torch.no_grad():
            held = nll(hold).item()
        if held < best_loss:
            best_loss, best_state, best_epoch = held, copy.deepcopy(gate.state_dict()), epoch
    gate.load_state_dict(best_state)
    return gate, {"best_epoch": best_epoch, "holdout_nll": best_loss, "fit_samples": len(fit), "holdout_samples": n_hold}


def evaluate_pair(task: str, data: SplitData, a: str, b: str, labels: list[str], gate: Gate | None) -> tuple[PRF, dict, np.ndarray | None]:
    p_a, mask = _pad(data.dists[a])
    p_b, _ = _pad(data.dists[b])
    with torch.no_grad():
        if gate is None:
            mixed, weights = average(p_a, p_b), None
        else:
            g = gate(torch.tensor(data.features))
            mixed, weights = mix(g, p_a, p_b), g.mean(-1).numpy()
    return _score(task, data.gold, mixed, mask, labels), _per_label(task, data.gold, mixed, mask, labels), weights


def run_moe(
    task: str, experts: dict[str, Path], variants: dict[str, tuple[str, str]], splits: dict[str, Path],
    features: dict[str, Path], out: Path, cfg: MoeConfig, config_digest: str, dataset: str,
) -> dict:
    labels, dev = load_split(task, splits["dev"], features["dev"], experts, "dev")
    _, test = load_split(task, splits["test"], features["test"], experts, "test")
    result: dict = {
        "schema_version": SCHEMA_VERSION, "dataset": dataset, "task": task, "labels": labels,
        "config_hash": config_digest, "moe_config": asdict(cfg),
        "experts": {}, "variants": {},
        "note": "F1 is entity-level micro for NER; for RE micro over relations other than None (None excluded).",
    }
    for name in experts:
        metrics = json.loads((experts[name] / "metrics.json").read_text())
        result["experts"][name] = {
            "dir": str(experts[name]), "dev_f1": metrics["dev"]["micro"]["f1"], "test": metrics["test"]["micro"],
            "test_per_label": metrics["test"].get("per_label", metrics["test"].get("per_entity_type", {})),
            "test_marginal_argmax": metrics["test"].get("marginal_argmax_micro"),
        }
    for variant, (a, b) in variants.items():
        entry: dict = {"experts": [a, b]}
        for method in ("average", "moe"):
            gate, gate_info = (None, None) if method == "average" else train_gate(task, dev, a, b, labels, cfg)
            dev_prf, _, _ = evaluate_pair(task, dev, a, b, labels, gate)
            test_prf, per_label, weights = evaluate_pair(task, test, a, b, labels, gate)
            entry[method] = {"dev_f1": dev_prf.f1, "test": test_prf.to_dict(), "test_per_label": per_label}
            if gate_info is not None:
                entry[method]["gate"] = gate_info
                entry[method]["test_gate_weights"] = [round(float(w), 5) for w in weights]
            logger.info("%s %s %s: dev F1 %.4f, test F1 %.4f", dataset, variant, method, dev_prf.f1, test_prf.f1)
        result["variants"][variant] = entry
    main = "text+image" if "text+image" in variants else next(iter(variants))
    result["moe"] = {"variant": main, **result["variants"][main]["moe"]["test"],
                     "dev_f1": result["variants"][main]["moe"]["dev_f1"]}
    write_json(out, result)
    return result
