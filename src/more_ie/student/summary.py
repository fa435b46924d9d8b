"""``results/{dataset}/student/summary.json``: the students of one teaching variant over seeds,
beside the MoE they learned from and the retrieval-free baselines of the same run.

Every spread is mean, sample sd (ddof=1; None for one seed) and n, as in ``moe_f1.json``. The gap
is the MoE's mean test F1 minus the students' (positive: the student is behind). No p-value is
computed here: the student and the MoE are scored on the same test posts, and ``bench/RESULTS.md``
is where the comparison with its tests belongs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

from more_ie.moe.pairs import parse_variant
from more_ie.moe.stats import mean_sd
from more_ie.student.settings import CROSS_FIT_NOTE, IN_SAMPLE_NOTE
from more_ie.utils import write_json

logger = logging.getLogger(__name__)


def _spread(values: Sequence[float]) -> dict:
    s = mean_sd(values)
    return {"mean": s.mean, "sd": s.sd, "n": s.n}


def summarize_students(
    variant: str, metrics_paths: Sequence[Path], moe_result: Path | None, out: Path
) -> dict:
    students = []
    for path in metrics_paths:
        metrics = json.loads(Path(path).read_text())
        about = metrics.get("student", {})
        students.append(
            {
                "dir": str(Path(path).parent),
                "seed": about.get("seed"),
                "pair_index": about.get("pair_index"),
                "test_f1": metrics["test"]["micro"]["f1"],
                "dev_f1": metrics["dev"]["micro"]["f1"],
                "test_sentences_per_s": metrics["test"].get("inference_sentences_per_s"),
                "teacher_in_sample": bool(about.get("teacher_in_sample", True)),
            }
        )
    if not students:
        raise ValueError("no student metrics given")
    result: dict = {
        "variant": variant,
        "students": students,
        "test_f1": _spread([s["test_f1"] for s in students]),
        "dev_f1": _spread([s["dev_f1"] for s in students]),
        "test_sentences_per_s": _spread([s["test_sentences_per_s"] or 0.0 for s in students]),
        "teacher_in_sample": all(s["teacher_in_sample"] for s in students),
        "note": IN_SAMPLE_NOTE if all(s["teacher_in_sample"] for s in students) else CROSS_FIT_NOTE,
    }
    if moe_result is not None and Path(moe_result).is_file():
        moe = json.loads(Path(moe_result).read_text())
        method = moe.get("variants", {}).get(variant, {}).get("moe")
        if method:
            result["moe"] = {k: method.get(f"test_f1_{k}") for k in ("mean", "sd")} | {"n": method.get("n")}
            result["gap_to_moe"] = result["moe"]["mean"] - result["test_f1"]["mean"]
        views = moe.get("views", {})
        baselines = {}
        if "none" in views:
            baselines["none"] = views["none"].get("test_f1_mean")
        for view in dict.fromkeys(parse_variant(variant)):
            if view in views and view != "none":
                baselines[f"{view} (sentence alone)"] = views[view].get("test_alone_f1_mean")
        result["baselines_test_f1"] = baselines
    write_json(out, result)
    logger.info(
        "students of %s: test F1 %.4f (sd %s, n=%d)%s",
        variant,
        result["test_f1"]["mean"],
        result["test_f1"]["sd"],
        result["test_f1"]["n"],
        f"; the MoE {result['moe']['mean']:.4f}, gap {result['gap_to_moe']:.4f}" if "moe" in result else "",
    )
    return result
