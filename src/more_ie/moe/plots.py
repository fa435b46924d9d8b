"""The report's plots: F1 per variant and label, with sd-over-seeds error bars, and the gate weights.

Legends sit outside the axes (to the right), so they never cover a bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from more_ie.moe.stats import mean_sd
from more_ie.utils import atomic_path


def _mean_sd100(values: Sequence[float]) -> tuple[float, float]:
    s = mean_sd([100 * v for v in values])
    return s.mean, s.sd or 0.0  # no error bar for a single seed


def _grouped_bars(ax, groups: list[str], series: dict[str, list[tuple[float, float]]]) -> None:  # type: ignore[no-untyped-def]
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    for i, (name, points) in enumerate(series.items()):
        means, sds = zip(*points) if points else ((), ())
        ax.bar(x + (i - (len(series) - 1) / 2) * width, means, width, yerr=sds, capsize=3, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=30, ha="right", fontsize=8)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8)


def write_plots(results: Sequence[dict], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    groups, series = [], {"average": [], "MoE": []}
    for r in results:
        for name, v in r["variants"].items():
            groups.append(f"{r['dataset']}\n{name}")
            series["average"].append(_mean_sd100(v["average"]["test_f1"]))
            series["MoE"].append(_mean_sd100(v["moe"]["test_f1"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) + 2), 4))
    _grouped_bars(ax, groups, series)
    ax.set_ylabel("test F1 (mean ± sd over seed pairs)")
    ax.set_title("F1 per variant: average pooling and MoE")
    _save(fig, folder / "f1_variants.png")

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for r in results:
        pairs = r["variants"][r["moe"]["variant"]]["moe"]["per_pair"]
        weights = [w for p in pairs for w in p.get("test_gate_weights", [])]
        ax.hist(
            weights,
            bins=20,
            range=(0, 1),
            alpha=0.6,
            label=f"{r['dataset']} ({r['moe']['variant']}, {len(pairs)} gates)",
        )
    ax.set_xlabel("gate weight of the first expert (mean over labels)")
    ax.set_ylabel("test samples x gates")
    ax.set_title("Gate weights per dataset")
    if results:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8)
    _save(fig, folder / "gate_weights.png")

    groups, series = [], {"none expert": [], "MoE": []}
    for r in results:
        pairs = r["variants"][r["moe"]["variant"]]["moe"]["per_pair"]
        baseline = [r["experts"][n] for n in (r["views"].get("none") or {}).get("experts", [])]
        for label in sorted({label for p in pairs for label in p["test_per_label"]}):
            base = [
                e["test_per_label"][label]["f1"] for e in baseline if label in e.get("test_per_label", {})
            ]
            groups.append(f"{r['dataset']}:{label}")
            series["none expert"].append(_mean_sd100(base) if base else (np.nan, 0.0))
            series["MoE"].append(
                _mean_sd100([p["test_per_label"][label]["f1"] for p in pairs if label in p["test_per_label"]])
            )
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(groups) + 2), 4))
    _grouped_bars(ax, groups, series)
    ax.set_ylabel("test F1 (mean ± sd)")
    ax.set_title("Label-wise F1 (main variant)")
    _save(fig, folder / "labelwise_f1.png")


def _save(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")  # "tight" keeps the outside legend
    plt.close(fig)
