"""Train and evaluate the gates, average pooling and the single experts; write ``moe_f1.json``.

The experts are frozen: only their exported dev/test distributions are read. Each variant has one
pair of experts per seed (:mod:`more_ie.moe.pairs`) and one gate per pair. A gate is fit on the
dev split (the experts have seen train, so their train outputs are over-confident): a seeded share
of dev (``moe.holdout``, seeded by the pair's seed) is held out to select the epoch by mixture
NLL, the rest trains it. Dev F1 is reported on the held-out rows only (``dev_holdout_f1``), for
average pooling too, on the same rows, so the two compare; test F1 is on the whole test split.
The experts chose their own epoch on all of dev, so with more than one expert epoch
``dev_holdout_f1`` is optimistic; the note says which case a result is in (:mod:`more_ie.moe.notes`).
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from more_ie.moe.claims import aggregate_method, aggregate_views, significance
from more_ie.moe.decode import decode_batch
from more_ie.moe.features import read_feature_spec, read_gate_features
from more_ie.moe.gate import Gate, average, mix, mixture_nll, save_gate
from more_ie.moe.notes import AA_T_TEST, bootstrap_note, dev_holdout_note, expert_epochs, selected_on_dev
from more_ie.moe.pairs import expert_seed, expert_view, headline_variant
from more_ie.moe.scoring import gold_tensor, pad, post_units, predictions, score, sentence_counts
from more_ie.moe.settings import MoeConfig, config_hash  # noqa: F401 (part of this module's API)
from more_ie.moe.stats import sum_by_unit
from more_ie.utils import atomic_dir, write_json

logger = logging.getLogger(__name__)
SCHEMA_VERSION = 2


@dataclass
class SplitData:
    sample_ids: list[int]
    gold: list  # NER: list of tag lists; RE: list of relation names
    features: np.ndarray  # [N, F]
    dists: dict[str, list[np.ndarray]]  # expert -> per sample [T, L] or [L]
    preds: dict[str, list]  # expert -> its own decoded prediction per sample (NER Viterbi, RE argmax)
    posts: np.ndarray | None = None  # [N] post of each sample (scoring.post_units): the bootstrap's unit


def _read_expert(path: Path, task: str) -> tuple[list[str], dict[int, np.ndarray], dict[int, object]]:
    table = pq.read_table(path)
    if table.num_rows == 0:
        raise ValueError(f"{path}: no rows")
    labels = json.loads((table.schema.metadata or {}).get(b"more_ie.labels", b"null"))
    if not labels:
        raise ValueError(f"{path}: no more_ie.labels in the Parquet metadata")
    ids = table.column("sample_id").to_pylist()
    column = "marginals" if task == "ner" else "probs"
    dists = {sid: np.asarray(d, dtype=np.float32) for sid, d in zip(ids, table.column(column).to_pylist())}
    if task == "ner":  # the expert's own Viterbi path, as scored in its metrics.json
        preds = dict(zip(ids, table.column("viterbi").to_pylist()))
    else:  # RE decodes by argmax, so the argmax of its probabilities is its prediction
        preds = {sid: labels[int(np.argmax(d))] for sid, d in dists.items()}
    return labels, dists, preds


def load_split(
    task: str, split_path: Path, features_path: Path, experts: dict[str, Path], split: str
) -> tuple[list[str], SplitData]:
    rows = pq.read_table(split_path).to_pylist()
    if not rows:
        raise ValueError(f"{split_path}: no samples")
    sample_ids = [r["sample_id"] for r in rows]
    gold = [r["tags"] if task == "ner" else r["relation"] for r in rows]
    feature_ids, features = read_gate_features(features_path)
    if feature_ids != sample_ids:
        raise ValueError(f"{features_path}: sample ids do not match {split_path}")
    labels: list[str] | None = None
    dists: dict[str, list[np.ndarray]] = {}
    preds: dict[str, list] = {}
    for name, folder in experts.items():
        path = folder / f"{split}.marginals.parquet"
        expert_labels, by_id, pred_by_id = _read_expert(path, task)
        if labels is not None and expert_labels != labels:
            raise ValueError(f"{path}: label order {expert_labels} differs from the other experts' {labels}")
        labels = expert_labels
        missing = set(sample_ids) - set(by_id)
        if missing:
            raise ValueError(f"{path}: no output for samples {sorted(missing)[:5]}")
        dists[name] = [by_id[s] for s in sample_ids]
        preds[name] = [pred_by_id[s] for s in sample_ids]
    assert labels is not None
    unknown = sorted({t for g in gold for t in (g if task == "ner" else [g])} - set(labels))
    if unknown:
        logger.warning(
            "%s: labels %s are not in the experts' (train) label set: never predicted, counted as missed",
            split_path,
            unknown,
        )
    return labels, SplitData(sample_ids, gold, features, dists, preds, post_units(task, rows))


def holdout_split(n: int, holdout: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit rows, held-out rows) of dev: a seeded permutation, the first ``holdout`` share held out."""
    if n < 2:
        raise ValueError(f"the dev split has {n} sample(s); the gate needs at least 2 (fit + held out)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_hold = min(n - 1, max(1, int(round(holdout * n))))
    return order[n_hold:], order[:n_hold]


def train_gate(
    task: str,
    dev: SplitData,
    a: str,
    b: str,
    labels: list[str],
    cfg: MoeConfig,
    seed: int,
) -> tuple[Gate, dict, torch.Tensor]:
    """Fit a gate on the seeded 80 % of dev; pick the epoch on the rest. Returns the held-out rows too."""
    torch.manual_seed(seed)
    p_a, mask = pad(dev.dists[a])
    p_b, _ = pad(dev.dists[b])
    gold = gold_tensor(task, dev.gold, labels, p_a.shape[1] if task == "ner" else 0)
    features = torch.tensor(dev.features)
    fit, hold = holdout_split(len(dev.sample_ids), cfg.holdout, seed)
    gate = Gate(features.shape[1], len(labels), cfg.gate)
    optimizer = torch.optim.AdamW(gate.parameters(), lr=cfg.lr)
    token_mask = mask.float() if task == "ner" else None

    def nll(idx: torch.Tensor) -> torch.Tensor:
        mixed = mix(gate(features[idx]), p_a[idx], p_b[idx])
        return mixture_nll(mixed, gold[idx], token_mask[idx] if token_mask is not None else None)

    hold_gold = [dev.gold[i] for i in hold.tolist()]

    def held_out() -> dict:
        """The held-out rows' NLL and F1 under the gate as it is (the curve a user reads to see
        whether the gate moved and when it stopped helping)."""
        with torch.no_grad():
            mixed = mix(gate(features[hold]), p_a[hold], p_b[hold])
            loss = mixture_nll(mixed, gold[hold], token_mask[hold] if token_mask is not None else None)
            pred = predictions(task, mixed, mask[hold], labels, cfg.decode)
        return {"nll": round(loss.item(), 6), "f1": round(score(task, hold_gold, pred)[0].f1, 6)}

    # Epoch 0 (the zero-initialised gate: average pooling) is a candidate too: a gate that never
    # beats it on held-out dev stays average pooling instead of taking its least-bad epoch.
    gate.eval()
    curve = [{"epoch": 0, **held_out()}]
    best_loss, best_state, best_epoch = curve[0]["nll"], copy.deepcopy(gate.state_dict()), 0
    for epoch in range(1, cfg.epochs + 1):
        gate.train()
        shuffled = fit[torch.randperm(len(fit), generator=torch.Generator().manual_seed(seed + epoch))]
        for start in range(0, len(shuffled), cfg.batch_size):
            loss = nll(shuffled[start : start + cfg.batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        gate.eval()
        curve.append({"epoch": epoch, **held_out()})
        held = curve[-1]["nll"]
        if held < best_loss:
            best_loss, best_state, best_epoch = held, copy.deepcopy(gate.state_dict()), epoch
    gate.load_state_dict(best_state)
    gate.eval()
    info = {
        "best_epoch": best_epoch,
        "holdout_nll": best_loss,
        "fit_samples": len(fit),
        "holdout_samples": len(hold),
        "seed": seed,
        "holdout_curve": curve,  # NLL and F1 of the held-out rows after each epoch (0: average pooling)
    }
    return gate, info, hold


def evaluate_pair(
    task: str,
    data: SplitData,
    a: str,
    b: str,
    labels: list[str],
    gate: Gate | None,
    rows: torch.Tensor | None = None,
    decode: str = MoeConfig.decode,
) -> tuple[dict, np.ndarray | None]:
    """Scores of average pooling (``gate`` None) or the gate's mixture on ``rows`` (default all);
    a NER mixture is decoded by ``decode`` (:mod:`more_ie.moe.decode`), the same for both."""
    idx = torch.arange(len(data.sample_ids)) if rows is None else rows
    p_a, mask = pad([data.dists[a][i] for i in idx.tolist()])
    p_b, _ = pad([data.dists[b][i] for i in idx.tolist()])
    gold = [data.gold[i] for i in idx.tolist()]
    with torch.no_grad():
        if gate is None:
            mixed, weights = average(p_a, p_b), None
        else:
            g = gate(torch.tensor(data.features[idx.numpy()]))
            mixed, weights = mix(g, p_a, p_b), g.mean(-1).numpy()
    pred = predictions(task, mixed, mask, labels, decode)
    prf, per_label = score(task, gold, pred)
    return {"prf": prf, "per_label": per_label, "counts": sentence_counts(task, gold, pred)}, weights


def _feature_spec(features: dict[str, Path]) -> dict | None:
    specs = {split: read_feature_spec(path) for split, path in features.items()}
    if specs["dev"] != specs["test"]:
        raise ValueError(
            f"gate features differ between {features['dev']} ({specs['dev']}) and "
            f"{features['test']} ({specs['test']})"
        )
    return specs["dev"]


def _expert_entry(name: str, folder: Path) -> dict:
    path = folder / "metrics.json"
    metrics = json.loads(path.read_text())
    try:
        alone = metrics.get("test_alone")
        return {
            "dir": str(folder),
            "view": expert_view(name),
            "seed": expert_seed(name),
            "dev_f1": metrics["dev"]["micro"]["f1"],
            "test": metrics["test"]["micro"],
            "test_per_label": metrics["test"].get("per_label", metrics["test"].get("per_entity_type", {})),
            "test_marginal_argmax": metrics["test"].get("marginal_argmax_micro"),
            # older experts have no retrieval-free student score; None rather than a made-up one
            "test_alone": alone["micro"] if alone else None,
            # > 1: the expert kept its best-dev-F1 epoch, which biases dev_holdout_f1 upwards
            "epochs": expert_epochs(metrics),
        }
    except KeyError as err:
        raise ValueError(f"{path}: missing key {err}") from err


def _constrained_entry(task: str, test: SplitData, name: str, labels: list[str]) -> dict:
    """NER: test scores of the expert's own marginals under constrained decoding (Table 6, beside
    its Viterbi and marginal argmax): what the MoE's decoder does to one expert without mixing."""
    if task != "ner":
        return {"test_marginal_constrained": None}
    lengths = [len(d) for d in test.dists[name]]
    paths = decode_batch(pad(test.dists[name])[0].numpy(), lengths, labels, "constrained")
    prf, _ = score(task, test.gold, [[labels[j] for j in path] for path in paths])
    return {"test_marginal_constrained": prf.to_dict()}


def run_moe(
    task: str,
    experts: dict[str, Path],
    variants: dict[str, list[tuple[str, str]]],
    splits: dict[str, Path],
    features: dict[str, Path],
    out: Path,
    cfg: MoeConfig,
    config_digest: str,
    dataset: str,
    gates_dir: Path | None = None,
    imported_views: dict | None = None,
) -> dict:
    """Everything of one dataset -> ``out`` (moe_f1.json v2), and each fitted gate under ``gates_dir``."""
    labels, dev = load_split(task, splits["dev"], features["dev"], experts, "dev")
    _, test = load_split(task, splits["test"], features["test"], experts, "test")
    feature_spec = _feature_spec(features)
    result: dict = {
        "schema_version": SCHEMA_VERSION,
        "dataset": dataset,
        "task": task,
        "labels": labels,
        "config_hash": config_digest,
        "moe_config": asdict(cfg),
        # how every NER mixture here was decoded (also in moe_config; "argmax" is the paper's)
        "decode": cfg.decode,
        "gate_features": feature_spec,
        # views whose contexts were computed elsewhere: where each came from (more_ie.contexts)
        "imported_views": imported_views or {},
        "experts": {
            name: _expert_entry(name, folder) | _constrained_entry(task, test, name, labels)
            for name, folder in experts.items()
        },
        "variants": {},
        "note": (
            "F1 is entity-level micro for NER; for RE micro over relations other than None (None excluded). "
            "sd is the sample standard deviation (ddof=1) over seeds (views) or pairs (variants)."
        ),
    }
    selected = selected_on_dev(result["experts"])
    result["dev_holdout_optimistic"] = selected
    result["note"] = " ".join(
        (
            result["note"],
            dev_holdout_note(cfg.holdout, selected),
            bootstrap_note(task, cfg.bootstrap_resamples),
            AA_T_TEST,
        )
    )
    # per-sentence test counts of every system, for the paired bootstrap
    counts: dict[str, list[np.ndarray]] = {}
    for name in experts:
        view = expert_view(name)
        counts.setdefault(view, []).append(sentence_counts(task, test.gold, test.preds[name]))
    result["views"] = aggregate_views(result["experts"])
    gates: list[tuple[Path, Gate, dict]] = []
    for variant, pairs in variants.items():
        per_pair: dict[str, list[dict]] = {"average": [], "moe": []}
        for i, (a, b) in enumerate(pairs):
            seed = expert_seed(a)
            gate, gate_info, hold = train_gate(task, dev, a, b, labels, cfg, seed)
            for method, g in (("average", None), ("moe", gate)):
                dev_scores, _ = evaluate_pair(task, dev, a, b, labels, g, hold, cfg.decode)
                test_scores, weights = evaluate_pair(task, test, a, b, labels, g, decode=cfg.decode)
                entry = {
                    "pair": [a, b],
                    "seed": seed,
                    "dev_holdout_f1": dev_scores["prf"].f1,
                    "test": test_scores["prf"].to_dict(),
                    "test_per_label": test_scores["per_label"],
                }
                if g is not None:
                    entry["gate"] = gate_info
                    entry["test_gate_weights"] = [round(float(w), 5) for w in weights]
                    # how far the gate moved from average pooling (0.5): a user sees at a glance
                    entry["gate"]["test_weight_mean"] = float(np.mean(weights))
                    entry["gate"]["test_weight_sd"] = float(np.std(weights))
                    entry["gate_dir"] = f"{variant}/pair{i}"
                per_pair[method].append(entry)
                counts.setdefault(f"{method}:{variant}", []).append(test_scores["counts"])
                logger.info(
                    "%s %s pair %d (%s, %s) %s: dev held-out F1 %.4f, test F1 %.4f",
                    dataset,
                    variant,
                    i,
                    a,
                    b,
                    method,
                    dev_scores["prf"].f1,
                    test_scores["prf"].f1,
                )
            gates.append(
                (
                    Path(variant) / f"pair{i}",
                    gate,
                    {
                        "dataset": dataset,
                        "task": task,
                        "variant": variant,
                        "pair": [a, b],
                        "seed": seed,
                        "labels": labels,
                        "feature_spec": feature_spec,
                        "fit": gate_info,
                        "experts": {name: str(experts[name]) for name in (a, b)},
                    },
                )
            )
        result["variants"][variant] = {
            "pairs": [list(p) for p in pairs],
            **{m: aggregate_method(per_pair[m]) for m in ("average", "moe")},
        }
    # the bootstrap resamples posts: an RE post's relation instances are drawn together
    posts = test.posts if test.posts is not None else np.arange(len(test.sample_ids))
    counts = {k: [sum_by_unit(c, posts) for c in v] for k, v in counts.items()}
    result["bootstrap_units"] = {"rows": len(posts), "posts": int(posts.max()) + 1}
    logger.info(
        "%s: the bootstrap resamples %d test posts (%d %s)",
        dataset,
        result["bootstrap_units"]["posts"],
        len(posts),
        "sentences" if task == "ner" else "relation instances, grouped by image and tokens",
    )
    result["significance"] = significance(
        result["views"], result["variants"], counts, cfg.bootstrap_resamples, cfg.bootstrap_seed
    )
    main = headline_variant(list(variants))
    moe = result["variants"][main]["moe"]
    result["moe"] = {
        "variant": main,
        "f1": moe["test_f1_mean"],
        "f1_sd": moe["test_f1_sd"],
        "n": moe["n"],
        "precision": moe["test_precision_mean"],
        "recall": moe["test_recall_mean"],
        "dev_holdout_f1": moe["dev_holdout_f1_mean"],
    }
    if gates_dir is not None:
        with atomic_dir(gates_dir) as tmp:
            for folder, gate, info in gates:
                save_gate(gate, tmp / folder, info)
    write_json(out, result)
    return result
