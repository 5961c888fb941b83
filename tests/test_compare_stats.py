"""The statistics of `siege compare`, checked against SciPy computed independently and against
known answers (identical inputs, shifted copies, paired vs unpaired)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from siege.analysis.stats import (
    anderson_ksample,
    bootstrap_difference,
    bootstrap_interval,
    chi_square,
    cliffs_delta,
    ks_statistic,
    newcombe_interval,
    newcombe_paired_interval,
    replications_needed,
    two_sample_tests,
)
from siege.results.summary import wilson_interval


@pytest.mark.parametrize("statistic", ["mean", "median"])
def test_bootstrap_interval_matches_scipy_percentile_bootstrap(statistic: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 10.0, size=400)
    b = 4000
    ours = bootstrap_interval(x, statistic, n_resamples=b, rng=2)
    fn = np.mean if statistic == "mean" else np.median
    ref = stats.bootstrap((x,), fn, n_resamples=b, method="percentile", random_state=3)
    # Each endpoint is a 2.5 % quantile of B resamples: its Monte Carlo sd is about
    # sqrt(p(1-p)/B) / phi(1.96) = 0.042 bootstrap standard errors; allow 6 sd of the
    # difference of two such estimates (0.36 se).
    se = float(ref.standard_error)
    tol = 6 * math.sqrt(2) * math.sqrt(0.025 * 0.975 / b) / stats.norm.pdf(1.96) * se
    assert ours.estimate == pytest.approx(float(fn(x)))
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=tol)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=tol)


def test_bootstrap_interval_is_reproducible_with_a_seed_and_changes_without() -> None:
    x = np.random.default_rng(5).normal(size=300)
    a = bootstrap_interval(x, "mean", rng=9)
    assert a == bootstrap_interval(x, "mean", rng=9)
    assert a != bootstrap_interval(x, "mean", rng=10)


def test_ks_statistic_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(2)
    a = rng.poisson(20, size=300).astype(float)
    b = rng.poisson(22, size=250).astype(float)
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_cliffs_delta_is_brute_force_dominance_and_rank_biserial_of_mann_whitney() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 30, size=200).astype(float)  # many ties
    b = rng.integers(3, 33, size=150).astype(float)
    brute = np.mean(np.sign(a[:, None] - b[None, :]))
    u = stats.mannwhitneyu(a, b).statistic
    assert cliffs_delta(a, b) == pytest.approx(brute, abs=1e-12)
    assert cliffs_delta(a, b) == pytest.approx(2 * u / (a.size * b.size) - 1, abs=1e-12)


def test_two_sample_tests_report_scipy_statistics_and_p_values() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.3, 1, 200), rng.normal(0, 1, 200)
    t = two_sample_tests(a, b, paired=True)
    ks = stats.ks_2samp(a, b)
    mw = stats.mannwhitneyu(a, b, alternative="two-sided")
    with warnings.catch_warnings():  # p-value floor/cap and API-change notices
        warnings.simplefilter("ignore")
        ad = stats.anderson_ksamp([a, b])
    w = stats.wilcoxon(a - b)
    assert (t["ks_statistic"], t["ks_pvalue"]) == pytest.approx((ks.statistic, ks.pvalue))
    assert (t["mannwhitney_u"], t["mannwhitney_pvalue"]) == pytest.approx(
        (mw.statistic, mw.pvalue))
    assert t["anderson_statistic"] == pytest.approx(ad.statistic)
    assert (t["wilcoxon_statistic"], t["wilcoxon_pvalue"]) == pytest.approx(
        (w.statistic, w.pvalue))
    assert math.isnan(two_sample_tests(a, b)["wilcoxon_pvalue"])  # unpaired: no signed-rank


def test_identical_inputs_show_no_difference() -> None:
    x = np.random.default_rng(6).exponential(5.0, size=500)
    for stat in ("mean", "median"):
        paired = bootstrap_difference(x, x.copy(), stat, paired=True, rng=1)
        assert (paired.estimate, paired.low, paired.high) == (0.0, 0.0, 0.0)
        unpaired = bootstrap_difference(x, x.copy(), stat, rng=1)
        assert unpaired.estimate == 0.0 and unpaired.low < 0 < unpaired.high
    t = two_sample_tests(x, x.copy(), paired=True)
    assert t["ks_statistic"] == 0 and t["cliffs_delta"] == 0 and t["ks_pvalue"] == 1.0
    assert t["mannwhitney_pvalue"] == pytest.approx(1.0) and t["wilcoxon_pvalue"] == 1.0


def test_shifted_copy_gives_the_shift() -> None:
    x = np.random.default_rng(7).normal(100, 15, size=800)
    shift = 4.25
    for stat in ("mean", "median"):
        paired = bootstrap_difference(x + shift, x, stat, paired=True, rng=2)
        assert paired.estimate == pytest.approx(shift)
        assert paired.low == pytest.approx(shift) and paired.high == pytest.approx(shift)
        unpaired = bootstrap_difference(x + shift, x, stat, rng=2)
        assert unpaired.low < shift < unpaired.high


def test_paired_interval_never_wider_than_unpaired_on_positively_correlated_data() -> None:
    for seed in range(15):
        rng = np.random.default_rng(seed)
        rho = rng.uniform(0.3, 0.95)
        common = rng.normal(size=400)
        a = 50 + 10 * common
        b = 52 + 10 * (rho * common + math.sqrt(1 - rho**2) * rng.normal(size=400))
        paired = bootstrap_difference(b, a, "mean", paired=True, rng=seed)
        unpaired = bootstrap_difference(b, a, "mean", rng=seed)
        assert paired.high - paired.low <= unpaired.high - unpaired.low, (seed, rho)


def test_wilson_interval_matches_scipy_binomtest() -> None:
    for count, n in ((0, 50), (3, 50), (25, 50), (50, 50), (137, 1000)):
        ci = stats.binomtest(count, n).proportion_ci(method="wilson")
        assert wilson_interval(count, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_newcombe_interval_is_built_from_wilson_limits() -> None:
    c1, n1, c2, n2 = 56, 70, 48, 80
    l1, u1 = (lambda ci: (ci.low, ci.high))(stats.binomtest(c1, n1).proportion_ci(method="wilson"))
    l2, u2 = (lambda ci: (ci.low, ci.high))(stats.binomtest(c2, n2).proportion_ci(method="wilson"))
    p1, p2 = c1 / n1, c2 / n2
    iv = newcombe_interval(c1, n1, c2, n2)
    assert iv.estimate == pytest.approx(p1 - p2)
    assert iv.low == pytest.approx(p1 - p2 - math.hypot(p1 - l1, u2 - p2))
    assert iv.high == pytest.approx(p1 - p2 + math.hypot(u1 - p1, p2 - l2))
    # Newcombe (1998), Stat Med 17:873, example (a), method 10: 0.0524 to 0.3339
    assert (iv.low, iv.high) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    # example (b), 9/10 - 3/10: 0.1705 to 0.8090
    iv = newcombe_interval(9, 10, 3, 10)
    assert (iv.low, iv.high) == pytest.approx((0.1705, 0.8090), abs=5e-4)


def test_paired_newcombe_equals_independent_when_uncorrelated_and_narrows_when_correlated() -> None:
    # a = b = c = d = 10: phi = 0, so the paired interval is the independent one
    x = np.array([1] * 10 + [1] * 10 + [0] * 10 + [0] * 10, dtype=bool)
    y = np.array([1] * 10 + [0] * 10 + [1] * 10 + [0] * 10, dtype=bool)
    paired = newcombe_paired_interval(x, y)
    indep = newcombe_interval(int(x.sum()), x.size, int(y.sum()), y.size)
    assert (paired.low, paired.high) == pytest.approx((indep.low, indep.high))
    # strongly concordant pairs: narrower than the independent interval
    x = np.r_[np.ones(40), np.zeros(50), np.ones(8), np.zeros(2)].astype(bool)
    y = np.r_[np.ones(40), np.zeros(50), np.zeros(8), np.ones(2)].astype(bool)
    paired = newcombe_paired_interval(x, y)
    indep = newcombe_interval(int(x.sum()), x.size, int(y.sum()), y.size)
    assert paired.estimate == pytest.approx(0.06)
    assert paired.high - paired.low < indep.high - indep.low
    assert paired.low < 0.06 < paired.high


def test_chi_square_matches_an_independent_computation() -> None:
    counts = np.array([[620, 380, 0, 0, 0], [700, 250, 50, 0, 0], [1000, 0, 0, 0, 0]])
    kept = counts[:, counts.sum(axis=0) > 0].astype(float)
    expected = kept.sum(axis=1, keepdims=True) * kept.sum(axis=0) / kept.sum()
    statistic = float(((kept - expected) ** 2 / expected).sum())
    dof = (kept.shape[0] - 1) * (kept.shape[1] - 1)
    res = chi_square(counts)
    assert res.statistic == pytest.approx(statistic)
    assert res.dof == dof
    assert res.pvalue == pytest.approx(stats.chi2.sf(statistic, dof))
    assert res.cramers_v == pytest.approx(math.sqrt(statistic / (kept.sum() * 2)))
    assert math.isnan(chi_square(np.array([[10, 0], [20, 0]])).statistic)


def test_anderson_ksample_of_identical_values_is_undefined_not_an_error() -> None:
    stat, p = anderson_ksample([np.zeros(10), np.zeros(12)])
    assert math.isnan(stat) and math.isnan(p)


def test_replications_needed_follows_the_square_root_law() -> None:
    assert replications_needed(2.0, 1000, 1.0) == 4000
    assert replications_needed(2.0, 1000, 4.0) == 250
    assert replications_needed(math.nan, 1000, 1.0) is None
    # and the law holds for the bootstrap: four times the replications, half the width
    rng = np.random.default_rng(8)
    small = bootstrap_interval(rng.normal(size=500), "mean", rng=1)
    large = bootstrap_interval(rng.normal(size=2000), "mean", rng=1)
    assert large.half_width == pytest.approx(small.half_width / 2, rel=0.2)
