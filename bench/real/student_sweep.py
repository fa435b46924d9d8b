"""Distillation settings of the student (issue 23), measured on a real run's teachers: each grid
point trains one student per seed from the teacher tables the run already has, into
``{run}/{dataset}/student_sweep/`` (the run's own students are left alone), and prints test F1
mean ± sd beside ``none`` and the MoE, with one-sided t-tests over seeds.

    python bench/real/student_sweep.py results/real twitter2017 --grid 0.25:1 0.5:2 --seeds 1 2 3

A grid point is ``alpha:temperature``. The training settings are those of the run's student of the
same seed (its ``metrics.json`` ``train_config``), so only alpha and T differ. A point already
trained (its ``metrics.json`` exists) is read back, not retrained. Other students to compare (for
example the run's in-sample students kept aside) are read with ``--extra NAME=DIR``: DIR holds
``{variant}-s{seed}/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from more_ie.moe.stats import format_p, mean_sd, t_test_greater
from more_ie.student.settings import teacher_pair


def _f1(metrics_path: Path) -> float:
    return json.loads(metrics_path.read_text())["test"]["micro"]["f1"] * 100


def train_point(
    root: Path,
    variant: str,
    fit: str,
    alpha: float,
    temperature: float,
    seed: int,
    expert_seeds: list[int],
    threads: int,
) -> Path:
    """One student of the grid (trained unless already there); returns its metrics.json."""
    out = root / "student_sweep" / f"{variant}-{fit}-a{alpha:g}-T{temperature:g}-s{seed}"
    if (out / "metrics.json").is_file():
        return out / "metrics.json"
    own = json.loads((root / "student" / f"{variant}-s{seed}" / "metrics.json").read_text())
    settings = {k: v for k, v in own["train_config"].items() if k != "seed"}
    settings.update(alpha=alpha, temperature=temperature)
    pair = teacher_pair(expert_seeds, [seed], seed)
    teacher = root / "student" / "teacher" / f"{variant}-pair{pair}.train.parquet"
    command = [
        sys.executable, "-m", "more_ie", "train-student", "--task", own["task"], "--variant", variant,
        *(arg for s in ("train", "dev", "test") for arg in (f"--{s}", str(root / "data" / f"{s}.parquet"))),
        "--teacher", str(teacher), "--out-dir", str(out), "--settings", json.dumps(settings),
        "--seed", str(seed), "--threads", str(threads), "--log", str(out.with_suffix(".log")),
    ]  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(command, check=True)
    return out / "metrics.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("dataset")
    parser.add_argument("--variant", default=None, help="the teaching variant (default: the run's students')")
    parser.add_argument("--grid", nargs="+", default=[], help="alpha:temperature points")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--extra", nargs="*", default=[], help="NAME=DIR: other students to list")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    root = args.run_dir / args.dataset
    moe = json.loads((root / "moe_f1.json").read_text())
    summary = json.loads((root / "student" / "summary.json").read_text())
    variant = args.variant or summary["variant"]
    expert_seeds = sorted({int(p.name.rsplit("-s", 1)[1]) for p in (root / "experts").glob("none-s*")})
    fit = "in-sample" if summary.get("teacher_in_sample", True) else "cross-fitted"
    rows: dict[str, list[float]] = {
        "none": [_f1(root / "experts" / f"none-s{s}" / "metrics.json") for s in args.seeds],
        f"run's student ({fit} teacher)": [
            _f1(root / "student" / f"{variant}-s{s}" / "metrics.json") for s in args.seeds
        ],
    }
    for item in args.extra:
        name, _, folder = item.partition("=")
        rows[name] = [_f1(Path(folder) / f"{variant}-s{s}" / "metrics.json") for s in args.seeds]
    for point in args.grid:
        alpha, temperature = (float(x) for x in point.split(":"))
        name = f"{fit} teacher, alpha {alpha:g}, T {temperature:g}"
        rows[name] = [
            _f1(train_point(root, variant, fit, alpha, temperature, s, expert_seeds, args.threads))
            for s in args.seeds
        ]
    method = moe["variants"][variant]["moe"]
    print(
        f"{args.dataset}, teacher {variant}; MoE test F1 {method['test_f1_mean'] * 100:.2f}; seeds {args.seeds}"
    )
    print("| student | test F1 | per seed | > none, t-test p | gap to MoE |")
    print("|---|---|---|---|---|")
    for name, values in rows.items():
        spread = mean_sd(values)
        p = t_test_greater(values, rows["none"]).p if name != "none" else None
        print(
            f"| {name} | {spread.mean:.2f} ± {spread.sd or 0:.2f} | {' / '.join(f'{v:.2f}' for v in values)} "
            f"| {format_p(p) if name != 'none' else ''} | {method['test_f1_mean'] * 100 - spread.mean:.2f} |"
        )


if __name__ == "__main__":
    main()
