"""The significance tests: t-test over seeds and paired bootstrap over sentences, on constructed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from more_ie.experts.metrics import PRF
from more_ie.moe.stats import (
    bootstrap_f1,
    mean_sd,
    micro_f1,
    paired_bootstrap_greater,
    resample_weights,
    t_test_greater,
)


def test_mean_and_sample_sd() -> None:
    spread = mean_sd([0.8, 0.82, 0.84])
    assert spread.mean == pytest.approx(0.82) and spread.sd == pytest.approx(0.02) and spread.n == 3
    assert mean_sd([0.5]).sd is None
    with pytest.raises(ValueError):
        mean_sd([])


def test_t_test_is_one_sided_and_scipys() -> None:
    better, worse = [0.80, 0.81, 0.82], [0.70, 0.71, 0.72]
    assert t_test_greater(better, worse).p < 0.001
    assert t_test_greater(worse, better).p > 0.999
    a, b = [0.80, 0.83, 0.79], [0.79, 0.81, 0.80]
    two_sided = stats.ttest_ind(a, b).pvalue
    assert t_test_greater(a, b).p == pytest.approx(two_sided / 2)  # mean(a) > mean(b): half the two-sided p
    assert t_test_greater(a, b).p + t_test_greater(b, a).p == pytest.approx(1.0)


def test_t_test_needs_two_seeds_and_some_variance() -> None:
    single = t_test_greater([0.9], [0.8, 0.81])
    assert single.p is None and "2 seeds" in single.reason
    flat = t_test_greater([0.8, 0.8], [0.7, 0.7])
    assert flat.p is None and "zero variance" in flat.reason


def test_micro_f1_equals_prf() -> None:
    for tp, n_pred, n_gold in ((3, 5, 7), (0, 0, 4), (0, 0, 0), (10, 10, 10)):
        assert micro_f1(np.array([tp, n_pred, n_gold])) == pytest.approx(
            PRF.from_counts(tp, n_pred, n_gold).f1
        )


def _system(rng: np.random.Generator, n: int, hit_rate: float) -> np.ndarray:
    """Per-sentence counts: 2 gold entities and 2 predictions per sentence, each right with hit_rate."""
    tp = rng.binomial(2, hit_rate, size=n)
    return np.stack([tp, np.full(n, 2), np.full(n, 2)], axis=1)


def test_bootstrap_finds_a_clearly_better_system() -> None:
    rng = np.random.default_rng(0)
    good = [_system(rng, 500, 0.8) for _ in range(3)]
    bad = [_system(rng, 500, 0.6) for _ in range(3)]
    assert paired_bootstrap_greater(good, bad, resamples=1000, seed=1).p < 0.01
    assert paired_bootstrap_greater(bad, good, resamples=1000, seed=1).p > 0.99


def test_bootstrap_of_identical_systems_is_not_significant() -> None:
    rng = np.random.default_rng(0)
    system = [_system(rng, 300, 0.7) for _ in range(2)]
    assert paired_bootstrap_greater(system, [s.copy() for s in system], resamples=500, seed=0).p == 1.0
    # two systems with the same skill but independent errors: p somewhere in the middle
    other = [_system(rng, 300, 0.7) for _ in range(2)]
    assert 0.02 < paired_bootstrap_greater(system, other, resamples=1000, seed=0).p < 0.98


def test_bootstrap_is_seeded_and_resamples_sentences() -> None:
    weights = resample_weights(50, 200, seed=3)
    assert weights.shape == (200, 50) and (weights.sum(1) == 50).all()
    assert np.array_equal(weights, resample_weights(50, 200, seed=3))
    rng = np.random.default_rng(2)
    counts = [_system(rng, 50, 0.5)]
    # a resample's F1 equals the F1 of the counts summed over the drawn sentences
    drawn = np.repeat(np.arange(50), weights[0].astype(int))
    assert bootstrap_f1(counts, weights)[0] == pytest.approx(micro_f1(counts[0][drawn].sum(0)))
    with pytest.raises(ValueError, match="sentences"):
        paired_bootstrap_greater(counts, [_system(rng, 40, 0.5)])
