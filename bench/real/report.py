"""The real-data run's table in the paper's form (issue 10), for bench/RESULTS.md.

    python bench/real/report.py [--results results/real] [--ablation no_dedup=results/real_no_dedup ...]

Prints Markdown: per dataset, the test F1 (x100, mean ± sd over 3 seeds) of the none, text and
random_text experts and of the text view's retrieval-free student; average pooling and MoE of each
variant; the p-values of the paper's claims (one-sided t-test over seeds, paired bootstrap over test
sentences, both from moe_f1.json); the ablations of the text view (same seeds, same everything else)
with a t-test against the main run's text experts; and the wall time of each stage from the
Snakemake `benchmark:` files.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean, stdev

import pandas as pd
from scipy import stats


def pm(values: list[float]) -> str:
    values = [100 * v for v in values]
    sd = f" ± {stdev(values):.2f}" if len(values) > 1 else ""
    return f"{mean(values):.2f}{sd}"


def p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def expert_f1(results: Path, dataset: str, view: str, key: str = "test") -> list[float]:
    folders = sorted((results / dataset / "experts").glob(f"{view}-s*"))
    return [
        json.loads((f / "metrics.json").read_text())[key]["micro"]["f1"]
        for f in folders
        if (f / "metrics.json").exists()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/real")
    parser.add_argument("--ablation", nargs="*", default=[], metavar="NAME=DIR")
    args = parser.parse_args()
    results = Path(args.results)
    out: list[str] = []
    for moe_path in sorted(results.glob("*/moe_f1.json")):
        r = json.loads(moe_path.read_text())
        ds = r["dataset"]
        out += [
            f"### {ds} ({r['task'].upper()}), test F1 x100, mean ± sd over seeds",
            "",
            "| system | test F1 | n |",
            "|---|---|---|",
        ]
        for view, v in r["views"].items():
            out.append(f"| expert `{view}` | {pm(v['test_f1'])} | {v['n']} |")
        alone = expert_f1(results, ds, "text", "test_alone")
        if alone:
            out.append(
                f"| `text` expert fed the sentence alone (retrieval-free student) | {pm(alone)} | {len(alone)} |"
            )
        for name, v in r["variants"].items():
            for method in ("average", "moe"):
                out.append(
                    f"| {name} {'average pooling' if method == 'average' else 'MoE'} "
                    f"| {pm(v[method]['test_f1'])} | {v[method]['n']} |"
                )
        out += ["", "| claim | a | b | t-test p | bootstrap p |", "|---|---|---|---|---|"]
        for c in r["significance"]:
            out.append(
                f"| {c['claim']} | {100 * c['a_mean']:.2f} | {100 * c['b_mean']:.2f} "
                f"| {p(c['t_test_p'])} | {p(c['bootstrap_p'])} |"
            )
        out.append("")
    for item in args.ablation:
        name, _, folder = item.partition("=")
        base, other = (
            expert_f1(results, "twitter2017", "text"),
            expert_f1(Path(folder), "twitter2017", "text"),
        )
        if not other:
            continue
        test = stats.ttest_ind(base, other, equal_var=True) if len(base) > 1 and len(other) > 1 else None
        out.append(
            f"* ablation `{name}` (Twitter-2017 text experts): {pm(other)} vs the main run's {pm(base)}; "
            f"two-sided t-test p = {p(test.pvalue if test is not None else None)}"
        )
    times: dict[str, list[float]] = defaultdict(list)
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        stage = str(tsv.relative_to(results / "benchmarks").parent)
        times[stage].append(float(pd.read_csv(tsv, sep="\t")["s"].iloc[0]))
    if times:
        out += ["", "| stage (benchmark files) | jobs | total s | max s |", "|---|---|---|---|"]
        for stage, secs in sorted(times.items()):
            out.append(f"| {stage} | {len(secs)} | {sum(secs):.0f} | {max(secs):.0f} |")
        out.append(
            f"| **all** | {sum(len(s) for s in times.values())} | {sum(sum(s) for s in times.values()):.0f} | |"
        )
    print("\n".join(out))


if __name__ == "__main__":
    main()
