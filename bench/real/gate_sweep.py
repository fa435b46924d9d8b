"""Choose the gate's defaults on held-out dev, never on test (issue 21): refit the MoE stage on the
experts a real run already trained, under each gate setting, and print held-out dev F1 (what the
choice is made on) beside test F1 (reported, not used).

    python bench/real/gate_sweep.py results/real twitter2017 --variants text+text text+none pgim+caption

Each setting reruns :func:`more_ie.moe.run_moe` (bootstrap off: significance is not what is chosen
here) into a temporary folder; nothing under the run folder is written.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from more_ie.moe import run_moe
from more_ie.moe import train as moe_train
from more_ie.moe.gate import Gate
from more_ie.moe.pairs import variant_pairs
from more_ie.moe.settings import MoeConfig


class RandomInitGate(Gate):
    """The gate started from small random weights instead of zeros (average pooling)."""

    def __init__(self, feature_dim: int, num_labels: int, kind: str):
        super().__init__(feature_dim, num_labels, kind)
        torch.nn.init.normal_(self.linear.weight, std=0.05)


def run(
    run_dir: Path, dataset: str, variants: list[str], cfg: MoeConfig, init: str, seeds: list[int]
) -> dict:
    root = run_dir / dataset
    experts = {p.name: p for p in sorted((root / "experts").iterdir()) if (p / "metrics.json").is_file()}
    pairs = {v: [(a, b) for a, b in variant_pairs(v, seeds)] for v in variants}
    moe_train.Gate = RandomInitGate if init == "random" else Gate  # type: ignore[misc]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_moe(
            json.loads((root / "moe_f1.json").read_text())["task"],
            experts,
            pairs,
            {s: root / "data" / f"{s}.parquet" for s in ("dev", "test")},
            {s: root / "moe" / "features" / f"{s}.parquet" for s in ("dev", "test")},
            Path(tmp) / "moe_f1.json",
            cfg,
            "sweep",
            dataset,
        )
    moe_train.Gate = Gate  # type: ignore[misc]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("dataset")
    parser.add_argument("--variants", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--lrs", nargs="+", type=float, default=[1e-3, 1e-2, 5e-2, 2e-1])
    parser.add_argument("--epochs", nargs="+", type=int, default=[50, 200])
    parser.add_argument("--gates", nargs="+", default=["per_label", "scalar"])
    parser.add_argument("--inits", nargs="+", default=["zero", "random"])
    parser.add_argument("--decode", default="constrained")
    parser.add_argument("--out", type=Path, help="also write every row as JSON lines")
    args = parser.parse_args()
    rows = []
    grid = itertools.product(args.gates, args.inits, args.lrs, args.epochs)
    for gate, init, lr, epochs in grid:
        cfg = replace(MoeConfig(), gate=gate, lr=lr, epochs=epochs, bootstrap_resamples=1, decode=args.decode)
        result = run(args.run_dir, args.dataset, args.variants, cfg, init, args.seeds)
        for name, v in result["variants"].items():
            moe = v["moe"]["per_pair"]
            rows.append(
                {
                    "gate": gate,
                    "init": init,
                    "lr": lr,
                    "epochs": epochs,
                    "variant": name,
                    "moe_dev": statistics.mean(p["dev_holdout_f1"] for p in moe),
                    "avg_dev": statistics.mean(p["dev_holdout_f1"] for p in v["average"]["per_pair"]),
                    "moe_test": v["moe"]["test_f1_mean"],
                    "avg_test": v["average"]["test_f1_mean"],
                    "weight_sd": statistics.mean(p["gate"]["test_weight_sd"] for p in moe),
                    "best_epochs": [p["gate"]["best_epoch"] for p in moe],
                }
            )
            r = rows[-1]
            print(
                f"{gate:9s} {init:6s} lr {lr:<6g} ep {epochs:<4d} {name:14s} dev MoE {100 * r['moe_dev']:.2f} "
                f"avg {100 * r['avg_dev']:.2f} | test MoE {100 * r['moe_test']:.2f} avg {100 * r['avg_test']:.2f}"
                f" | weight sd {r['weight_sd']:.3f} best epochs {r['best_epochs']}",
                flush=True,
            )
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # the choice: the setting with the best mean held-out dev F1 over the variants (test not used)
    by_setting: dict[tuple, list[float]] = {}
    for r in rows:
        by_setting.setdefault((r["gate"], r["init"], r["lr"], r["epochs"]), []).append(r["moe_dev"])
    best = max(by_setting, key=lambda k: statistics.mean(by_setting[k]))
    print(f"best on held-out dev: gate {best[0]}, init {best[1]}, lr {best[2]}, epochs {best[3]}")


if __name__ == "__main__":
    main()
