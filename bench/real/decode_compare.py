"""MoE and average pooling under both NER decoders, against the best single expert (issue 21).

    python bench/real/decode_compare.py results/real twitter2017 --variants pgim+caption text+text text+none

Refits the MoE stage on the experts a run already trained, with the run's own moe settings
(``moe_config`` of its moe_f1.json) and ``decode`` set to each of ``constrained`` and ``argmax``,
and prints, per variant and decoder, average pooling and MoE test F1 (mean ± sd over pairs) with
the one-sided p-values of "MoE > average pooling" and "MoE > best single view" (t-test over seeds
or disjoint pairs, paired bootstrap over posts), as the moe stage computes them. The single experts
are decoded by their own Viterbi. Nothing under the run folder is written.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import fields, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate_sweep import run  # noqa: E402  (the same refit, into a temporary folder)

from more_ie.moe.settings import MoeConfig  # noqa: E402
from more_ie.moe.stats import format_p  # noqa: E402


def pm(values: list[float]) -> str:
    values = [100 * v for v in values]
    sd = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.2f}{sd}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("dataset")
    parser.add_argument("--variants", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    args = parser.parse_args()
    saved = json.loads((args.run_dir / args.dataset / "moe_f1.json").read_text())["moe_config"]
    base = MoeConfig(**{f.name: saved[f.name] for f in fields(MoeConfig) if f.name in saved})
    print(
        "| decode | variant | average | MoE | p MoE > average (t / boot) | best single | p MoE > best (t / boot) |"
    )
    print("|---|---|---|---|---|---|---|")
    for decode in ("constrained", "argmax"):
        result = run(
            args.run_dir, args.dataset, args.variants, replace(base, decode=decode), "zero", args.seeds
        )
        claims = {c["claim"]: c for c in result["significance"]}
        for name, v in result["variants"].items():
            vs_avg = claims[f"MoE {name} > average pooling {name}"]
            best = next(c for c in claims.values() if c["claim"].startswith(f"MoE {name} > best single view"))
            b = best["bootstrap_resamples"]
            print(
                f"| {decode} | {name} | {pm(v['average']['test_f1'])} | {pm(v['moe']['test_f1'])} | "
                f"{format_p(vs_avg['t_test_p'])} / {format_p(vs_avg['bootstrap_p'], b)} | "
                f"{best['b']} {pm(best['b_f1'])} | {format_p(best['t_test_p'])} / {format_p(best['bootstrap_p'], b)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
