"""Mean and sd over seeds, and the two one-sided tests of a claim "system a scores higher than b".

- Student's t-test over seeds (the paper's test): ``scipy.stats.ttest_ind`` with equal variances,
  alternative "greater", on the per-seed (per-pair) test F1 of a and b. Its draws must be
  independent, so an A+A variant's cyclic pairs are thinned to disjoint ones by the caller
  (:func:`more_ie.moe.pairs.disjoint_pairs`).
- A paired bootstrap over test posts: each resample draws the test posts with replacement (the
  same draw for a and b), recomputes each seed's micro F1 from per-post true-positive / predicted
  / gold counts, averages over seeds, and compares; p is the share of resamples where a <= b. A
  post is the unit that was sampled: an NER sentence, or for RE all relation instances of one
  post together (:func:`sum_by_unit`). Counts are summed with one matrix product per system, so
  1,000 resamples of a few thousand posts take well under a second. A p of 0 only says p is
  below the test's resolution, 1 / (resamples + 1) (:func:`format_p`).

sd is the sample standard deviation (ddof=1); it is undefined (None) for a single seed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats

COUNT_COLUMNS = ("tp", "n_pred", "n_gold")


@dataclass
class Spread:
    mean: float
    sd: float | None
    n: int


def mean_sd(values: Sequence[float]) -> Spread:
    if len(values) == 0:
        raise ValueError("mean_sd: no values")
    array = np.asarray(values, dtype=float)
    sd = float(np.std(array, ddof=1)) if len(array) > 1 else None
    return Spread(float(array.mean()), sd, len(array))


@dataclass
class TestResult:
    p: float | None
    reason: str | None = None  # why p is None

    def to_dict(self) -> dict:
        return asdict(self)


def t_test_greater(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """One-sided Student's t-test (equal variances) of mean(a) > mean(b) over seeds."""
    if len(a) < 2 or len(b) < 2:
        return TestResult(None, f"a t-test needs at least 2 seeds per system (got {len(a)} and {len(b)})")
    a_arr, b_arr = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a_arr) == 0 and np.ptp(b_arr) == 0:
        return TestResult(None, "zero variance in both systems: the t statistic is undefined")
    with warnings.catch_warnings():
        # scipy warns about precision loss when one side's seeds are (nearly) equal; the pooled
        # variance is still defined by the other side, so the p-value stands.
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        result = stats.ttest_ind(a_arr, b_arr, equal_var=True, alternative="greater")
    p = float(result.pvalue)
    if math.isnan(p):
        return TestResult(None, "zero variance in both systems: the t statistic is undefined")
    return TestResult(p)


def format_p(p: float | None, resamples: int | None = None) -> str:
    """A p-value for a table: "-" when not computed (the claim's note says why), 3 decimals,
    "<0.001" below that.

    With ``resamples`` (a bootstrap p) a p of 0 means no resample went against the claim, which a
    bootstrap of B resamples cannot tell from any p below 1 / (B + 1): it prints as ``<`` that
    bound (2 significant digits), so B = 100 gives "<0.0099", never "<0.001".
    """
    if p is None:
        return "-"
    if resamples is not None and p == 0:
        bound = 1.0 / (resamples + 1)
        return "<0.001" if bound <= 0.001 else f"<{bound:.2g}"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def sum_by_unit(counts: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Sum per-row counts [N, 3] into per-unit counts [U, 3]; ``units[i]`` is row i's unit in 0..U-1.

    The bootstrap must resample the units that were sampled independently: MNRE has several
    entity pairs (rows) from one post, and drawing them separately would treat them as
    independent evidence and shrink the p-values.
    """
    units = np.asarray(units, dtype=np.int64)
    if len(units) != len(counts):
        raise ValueError(f"{len(counts)} count rows but {len(units)} unit ids")
    out = np.zeros((int(units.max()) + 1 if len(units) else 0, 3), dtype=np.asarray(counts).dtype)
    np.add.at(out, units, counts)
    return out


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """F1 from summed counts ``[..., 3]`` (tp, n_pred, n_gold); 0 where nothing was predicted or gold.

    2tp / (n_pred + n_gold) equals 2PR / (P + R) whenever either is defined.
    """
    tp, denominator = counts[..., 0], counts[..., 1] + counts[..., 2]
    return np.divide(2.0 * tp, denominator, out=np.zeros(np.shape(tp), dtype=float), where=denominator > 0)


def _check_counts(name: str, counts: Sequence[np.ndarray]) -> np.ndarray:
    if len(counts) == 0:
        raise ValueError(f"bootstrap: system {name} has no seeds")
    array = np.stack([np.asarray(c, dtype=float) for c in counts])  # [K, N, 3]
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            f"bootstrap: system {name}: expected per-sentence counts [N, 3], got {array.shape[1:]}"
        )
    return array


def resample_weights(n_sentences: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, N]: how often each sentence is drawn in each resample (a multinomial draw)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_sentences, np.full(n_sentences, 1.0 / n_sentences), size=resamples).astype(float)


def bootstrap_f1(counts: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Mean over seeds of each resample's micro F1: [resamples]."""
    array = _check_counts("?", counts)
    k, n, _ = array.shape
    totals = (weights @ array.transpose(1, 0, 2).reshape(n, 3 * k)).reshape(
        -1, k, 3
    )  # [R, K, 3], one BLAS call
    return micro_f1(totals).mean(axis=1)


def paired_bootstrap_greater(
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    resamples: int = 1000,
    seed: int = 0,
) -> TestResult:
    """One-sided paired bootstrap p of "a > b": the share of resamples where a's F1 <= b's.

    ``a`` and ``b`` hold one [N, 3] count array per seed (pair), one row per resampled unit
    (post), in the same order.
    """
    a_counts, b_counts = _check_counts("a", a), _check_counts("b", b)
    if a_counts.shape[1] != b_counts.shape[1]:
        raise ValueError(f"bootstrap: a has {a_counts.shape[1]} sentences, b {b_counts.shape[1]}")
    n = a_counts.shape[1]
    if n == 0:
        return TestResult(None, "no test posts")
    weights = resample_weights(n, resamples, seed)
    a_f1, b_f1 = bootstrap_f1(list(a_counts), weights), bootstrap_f1(list(b_counts), weights)
    return TestResult(float(np.mean(a_f1 <= b_f1)))
