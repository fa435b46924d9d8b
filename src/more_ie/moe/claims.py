"""Seed aggregates (mean, sd, n) of views and variants, and the significance of the paper's claims.

Claims tested, each one-sided ("a scores higher than b"), with a t-test over seeds and a paired
bootstrap over test posts (:mod:`more_ie.moe.stats`):

1. every retrieval view > ``none`` (retrieval helps);
2. ``text`` > ``random_text`` and ``image`` > ``random_image`` (the retrieved content matters);
3. MoE > average pooling, for each variant;
4. MoE > the best single expert view, for each variant. The best view is chosen by mean *dev*
   F1, never by test F1, so that the choice does not peek at the numbers being compared.

An A+A variant (text+text) pairs seed i with seed i+1 cyclically, so every expert sits in two
pairs and the pair scores are not independent draws. Its t-test uses only pairs that share no
expert ((s1, s2), (s3, s4)...; :func:`more_ie.moe.pairs.disjoint_pairs`) and is not computed
with fewer than 2 of them. Thinning to disjoint pairs is chosen over corrections for correlated
pairs because with 3-5 seeds the correlation cannot be estimated, and a t-test over fewer
independent units stays exact. The bootstrap still uses every pair: it holds the experts fixed
and resamples test posts, so pairs sharing an expert do not break it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from more_ie.moe.pairs import disjoint_pairs
from more_ie.moe.stats import TestResult, format_p, mean_sd, paired_bootstrap_greater, t_test_greater

logger = logging.getLogger(__name__)
BASELINE = "none"
RANDOM_OF = {"text": "random_text", "image": "random_image"}


def _spread(prefix: str, values: Sequence[float]) -> dict:
    s = mean_sd(values)
    return {f"{prefix}_mean": s.mean, f"{prefix}_sd": s.sd}


def aggregate_views(experts: dict[str, dict]) -> dict[str, dict]:
    """``views[view]``: the view's experts (by seed), per-seed test F1, and mean/sd/n of its scores."""
    by_view: dict[str, list[str]] = {}
    for name in sorted(experts, key=lambda n: (experts[n]["view"], experts[n]["seed"])):
        by_view.setdefault(experts[name]["view"], []).append(name)
    views = {}
    for view, names in by_view.items():
        entries = [experts[n] for n in names]
        test_f1 = [e["test"]["f1"] for e in entries]
        alone = [e["test_alone"]["f1"] for e in entries if e.get("test_alone")]
        views[view] = {
            "experts": names,
            "test_f1": test_f1,
            **_spread("test_f1", test_f1),
            "n": len(names),
            **_spread("dev_f1", [e["dev_f1"] for e in entries]),
            "test_alone_f1": alone,
            # all seeds or none: a partial mean would not compare with test_f1_mean
            "test_alone_f1_mean": mean_sd(alone).mean if len(alone) == len(entries) else None,
            "test_alone_f1_sd": mean_sd(alone).sd if len(alone) == len(entries) else None,
        }
    return views


def aggregate_method(per_pair: list[dict]) -> dict:
    """``M`` of a variant's average pooling or MoE: per-pair entries plus mean/sd/n over pairs."""
    return {
        "per_pair": per_pair,
        "n": len(per_pair),
        "test_f1": [p["test"]["f1"] for p in per_pair],
        **_spread("test_f1", [p["test"]["f1"] for p in per_pair]),
        **_spread("test_precision", [p["test"]["precision"] for p in per_pair]),
        **_spread("test_recall", [p["test"]["recall"] for p in per_pair]),
        **_spread("dev_holdout_f1", [p["dev_holdout_f1"] for p in per_pair]),
    }


def best_single_view(views: dict[str, dict]) -> str:
    """The view whose experts have the highest mean dev F1 (ties: the first in name order)."""
    return max(sorted(views), key=lambda v: views[v]["dev_f1_mean"])


@dataclass
class Thinning:
    """The t-test's pairs of a variant whose pairs share experts: ``kept`` of ``total`` pair
    indices, on side a and/or b of a claim (the side(s) whose scores are that variant's pairs)."""

    variant: str
    kept: list[int]
    total: int
    a: bool = True
    b: bool = False

    def pick(self, values: Sequence[float], side: bool) -> list[float]:
        return [values[i] for i in self.kept] if side else list(values)


def thinning(variant: str, pairs: Sequence[Sequence[str]]) -> Thinning | None:
    """None when the variant's pairs share no expert (A != B): every pair is an independent unit."""
    kept = disjoint_pairs(pairs)
    return None if len(kept) == len(pairs) else Thinning(variant, kept, len(pairs))


def _claim(
    kind: str,
    claim: str,
    a: str,
    b: str,
    a_f1: Sequence[float],
    b_f1: Sequence[float],
    counts: dict[str, list[np.ndarray]],
    resamples: int,
    seed: int,
    note: str | None = None,
    thin: Thinning | None = None,
) -> dict:
    if thin is None:
        t = t_test_greater(a_f1, b_f1)
    elif len(thin.kept) < 2:
        t = TestResult(
            None,
            f"{thin.variant}'s cyclic pairs share experts, which leaves {len(thin.kept)} disjoint pair(s) of "
            f"{thin.total}: a t-test over independent pairs needs 2 (4 seeds or more)",
        )
    else:
        t = t_test_greater(thin.pick(a_f1, thin.a), thin.pick(b_f1, thin.b))
    boot = paired_bootstrap_greater(counts[a], counts[b], resamples=resamples, seed=seed)
    entry = {
        "kind": kind,
        "claim": claim,
        "a": a,
        "b": b,
        "a_mean": float(np.mean(a_f1)),
        "b_mean": float(np.mean(b_f1)),
        "a_f1": list(a_f1),
        "b_f1": list(b_f1),
        "n": min(len(a_f1), len(b_f1)),
        "n_a": len(a_f1),
        "n_b": len(b_f1),
        "t_test_p": t.p,
        "t_test_note": t.reason,
        "bootstrap_p": boot.p,
        "bootstrap_note": boot.reason,
        "bootstrap_resamples": resamples,
        "bootstrap_seed": seed,
    }
    if thin is not None:
        entry["t_test_pairs"] = thin.kept
        if len(thin.kept) >= 2:
            note = "; ".join(
                x
                for x in (
                    note,
                    f"t-test over the disjoint pairs {thin.kept} only ({len(thin.kept)} of {thin.total}: "
                    f"{thin.variant}'s cyclic pairs share experts); bootstrap over all {thin.total}",
                )
                if x
            )
    if note:
        entry["note"] = note
    logger.info(
        "claim %s: means %.4f vs %.4f, t-test p %s, bootstrap p %s",
        claim,
        entry["a_mean"],
        entry["b_mean"],
        format_p(t.p),
        format_p(boot.p, resamples),
    )
    return entry


def significance(
    views: dict[str, dict],
    variants: dict[str, dict],
    counts: dict[str, list[np.ndarray]],
    resamples: int = 1000,
    seed: int = 0,
) -> list[dict]:
    """Every claim this dataset's results can test. ``counts`` holds each system's per-sentence
    test counts, one array per seed/pair, keyed by view name or ``"{method}:{variant}"``."""
    out = []
    if BASELINE in views:
        for view in sorted(views):
            if view != BASELINE:
                out.append(
                    _claim(
                        "retrieval_vs_none",
                        f"{view} > {BASELINE}",
                        view,
                        BASELINE,
                        views[view]["test_f1"],
                        views[BASELINE]["test_f1"],
                        counts,
                        resamples,
                        seed,
                    )
                )
    # X > random_X for every view with its random ablation: text, image, and imported views
    for real, random in sorted({v: RANDOM_OF.get(v, f"random_{v}") for v in views}.items()):
        if random in views:
            out.append(
                _claim(
                    "real_vs_random",
                    f"{real} > {random}",
                    real,
                    random,
                    views[real]["test_f1"],
                    views[random]["test_f1"],
                    counts,
                    resamples,
                    seed,
                )
            )
    best = best_single_view(views) if views else None
    for variant, entry in variants.items():
        moe, avg = f"moe:{variant}", f"average:{variant}"
        thin = thinning(variant, entry["pairs"])
        out.append(
            _claim(
                "moe_vs_average",
                f"MoE {variant} > average pooling {variant}",
                moe,
                avg,
                entry["moe"]["test_f1"],
                entry["average"]["test_f1"],
                counts,
                resamples,
                seed,
                thin=None if thin is None else Thinning(variant, thin.kept, thin.total, a=True, b=True),
            )
        )
        if best is not None:
            out.append(
                _claim(
                    "moe_vs_best_single",
                    f"MoE {variant} > best single view ({best})",
                    moe,
                    best,
                    entry["moe"]["test_f1"],
                    views[best]["test_f1"],
                    counts,
                    resamples,
                    seed,
                    note=f"best single view chosen by mean dev F1 ({views[best]['dev_f1_mean']:.4f}), not test",
                    thin=thin,  # side b, the view's experts (one per seed), is independent already
                )
            )
    return out
