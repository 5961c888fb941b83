"""Statistics between result sets: bootstrap intervals, two-sample tests with effect sizes,
proportion intervals (Wilson, Newcombe) and replications needed for a given precision.

Pure functions over arrays that return named results; nothing here reads files or prints.
Samples are 1-D arrays of outcome values, shape ``(n_reps,)``; paired samples share their
index (replication ``i`` of one variant is replication ``i`` of the other).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from siege.results.summary import wilson_interval

# Upper bound on resample elements held at once (n_resamples * n_reps), to bound memory.
_CHUNK_ELEMENTS = 4_000_000

Statistic = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def _median(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.median(x, axis=-1))


def _mean(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.mean(x, axis=-1))


STATISTICS: dict[str, Statistic] = {"median": _median, "mean": _mean}


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval (same units as the estimate)."""

    estimate: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def _percentile_interval(
    point: float, replicates: NDArray[np.float64], confidence: float
) -> Interval:
    alpha = (1 - confidence) / 2
    if replicates.size == 0 or not np.all(np.isfinite(replicates)):
        return Interval(point, math.nan, math.nan)
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    return Interval(point, float(low), float(high))


def _resample_chunks(
    n: int, n_resamples: int, rng: np.random.Generator
) -> list[NDArray[np.intp]]:
    """Bootstrap index arrays, shape ``(chunk, n)``, ``n_resamples`` rows in all."""
    per_chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    chunks = []
    done = 0
    while done < n_resamples:
        size = min(per_chunk, n_resamples - done)
        chunks.append(rng.integers(0, n, size=(size, n)))
        done += size
    return chunks


def bootstrap_interval(
    sample: NDArray[np.float64],
    statistic: str = "median",
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: np.random.Generator | int | None = None,
) -> Interval:
    """Percentile bootstrap interval of a statistic (``"median"`` or ``"mean"``) of one sample.

    Parameters
    ----------
    sample : (n_reps,) values (NaN removed by the caller).
    statistic : name in :data:`STATISTICS`.
    """
    x = np.asarray(sample, dtype=float)
    fn = STATISTICS[statistic]
    point = float(fn(x)) if x.size else math.nan
    if x.size == 0:
        return Interval(point, math.nan, math.nan)
    gen = np.random.default_rng(rng)
    reps = np.concatenate([fn(x[idx]) for idx in _resample_chunks(x.size, n_resamples, gen)])
    return _percentile_interval(point, reps, confidence)


def bootstrap_difference(
    sample: NDArray[np.float64],
    reference: NDArray[np.float64],
    statistic: str = "median",
    *,
    paired: bool = False,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: np.random.Generator | int | None = None,
) -> Interval:
    """Percentile bootstrap interval of ``statistic(sample) - statistic(reference)``.

    With ``paired=True`` the two samples (same shape ``(n_reps,)``) are resampled by the same
    replication indices, which keeps the correlation that common random numbers create; with
    ``paired=False`` each is resampled on its own.
    """
    a = np.asarray(sample, dtype=float)
    b = np.asarray(reference, dtype=float)
    fn = STATISTICS[statistic]
    if a.size == 0 or b.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    point = float(fn(a) - fn(b))
    gen = np.random.default_rng(rng)
    if paired:
        if a.shape != b.shape:
            raise ValueError("paired samples must have the same shape")
        reps = np.concatenate(
            [fn(a[idx]) - fn(b[idx]) for idx in _resample_chunks(a.size, n_resamples, gen)]
        )
    else:
        ra = np.concatenate([fn(a[idx]) for idx in _resample_chunks(a.size, n_resamples, gen)])
        rb = np.concatenate([fn(b[idx]) for idx in _resample_chunks(b.size, n_resamples, gen)])
        reps = ra - rb
    return _percentile_interval(point, reps, confidence)


# ------------------------------------------------------------------------------------------
# two-sample tests with effect sizes


@dataclass(frozen=True)
class TwoSampleTests:
    """Distribution tests of one variant against the reference, with effect sizes.

    ``ks_statistic`` is the Kolmogorov–Smirnov D (largest gap between the ECDFs, 0..1);
    ``cliffs_delta`` is P(X > Y) − P(X < Y) for X from the variant and Y from the reference
    (−1..1, equal to the rank-biserial correlation of the Mann–Whitney U);
    ``anderson_pvalue`` is SciPy's, floored at 0.001 and capped at 0.25.
    ``wilcoxon_*`` (signed-rank test of paired differences) are NaN when unpaired.
    """

    ks_statistic: float
    ks_pvalue: float
    mannwhitney_u: float
    mannwhitney_pvalue: float
    cliffs_delta: float
    anderson_statistic: float
    anderson_pvalue: float
    wilcoxon_statistic: float = math.nan
    wilcoxon_pvalue: float = math.nan


def ks_statistic(sample: NDArray[np.float64], reference: NDArray[np.float64]) -> float:
    """Two-sample Kolmogorov–Smirnov D: the largest vertical gap between the two ECDFs."""
    a = np.sort(np.asarray(sample, dtype=float))
    b = np.sort(np.asarray(reference, dtype=float))
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def cliffs_delta(sample: NDArray[np.float64], reference: NDArray[np.float64]) -> float:
    """Cliff's delta, P(X > Y) − P(X < Y), from sorted counts (O(n log n), ties count 0)."""
    a = np.asarray(sample, dtype=float)
    b = np.sort(np.asarray(reference, dtype=float))
    below = np.searchsorted(b, a, side="left")  # reference values < each a
    above = b.size - np.searchsorted(b, a, side="right")  # reference values > each a
    return float((below.sum() - above.sum()) / (a.size * b.size))


def _anderson(samples: Sequence[NDArray[np.float64]]) -> tuple[float, float]:
    pooled = np.concatenate(samples)
    if np.unique(pooled).size < 2:
        return (math.nan, math.nan)
    import warnings

    with warnings.catch_warnings():  # SciPy warns when the p-value is floored or capped
        warnings.simplefilter("ignore")
        res = stats.anderson_ksamp(list(samples))
    return (float(res.statistic), float(res.pvalue))


def anderson_ksample(samples: Sequence[NDArray[np.float64]]) -> tuple[float, float]:
    """Anderson–Darling k-sample statistic and p-value (NaN when every value is the same)."""
    return _anderson([np.asarray(s, dtype=float) for s in samples])


def two_sample_tests(
    sample: NDArray[np.float64], reference: NDArray[np.float64], *, paired: bool = False
) -> TwoSampleTests:
    """KS, Mann–Whitney, Anderson–Darling (and Wilcoxon signed-rank if paired) with effects."""
    a = np.asarray(sample, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.size == 0 or b.size == 0:
        nan = math.nan
        return TwoSampleTests(nan, nan, nan, nan, nan, nan, nan)
    ks = stats.ks_2samp(a, b)
    if np.unique(np.concatenate([a, b])).size < 2:
        mw_u, mw_p = a.size * b.size / 2, 1.0
    else:
        mw = stats.mannwhitneyu(a, b, alternative="two-sided")
        mw_u, mw_p = float(mw.statistic), float(mw.pvalue)
    ad_stat, ad_p = _anderson([a, b])
    w_stat = w_p = math.nan
    if paired:
        d = a - b
        d = d[np.isfinite(d)]
        if np.any(d != 0):
            w = stats.wilcoxon(d)
            w_stat, w_p = float(w.statistic), float(w.pvalue)
        else:
            w_stat, w_p = 0.0, 1.0
    return TwoSampleTests(
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        mannwhitney_u=mw_u,
        mannwhitney_pvalue=mw_p,
        cliffs_delta=cliffs_delta(a, b),
        anderson_statistic=ad_stat,
        anderson_pvalue=ad_p,
        wilcoxon_statistic=w_stat,
        wilcoxon_pvalue=w_p,
    )


# ------------------------------------------------------------------------------------------
# proportions


def newcombe_interval(
    count: int, n: int, ref_count: int, ref_n: int, confidence: float = 0.95
) -> Interval:
    """Newcombe's hybrid score interval (method 10) of ``count/n − ref_count/ref_n``,
    independent samples."""
    if n == 0 or ref_n == 0:
        return Interval(math.nan, math.nan, math.nan)
    p1, p2 = count / n, ref_count / ref_n
    l1, u1 = wilson_interval(count, n, confidence)
    l2, u2 = wilson_interval(ref_count, ref_n, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, low, high)


def newcombe_paired_interval(
    event: NDArray[np.bool_], ref_event: NDArray[np.bool_], confidence: float = 0.95
) -> Interval:
    """Newcombe's score interval (1998, method 10) of a difference of paired proportions.

    ``event`` and ``ref_event`` (shape ``(n_reps,)``) say whether each replication ended in
    the outcome, in the variant and in the reference. The correlation of the pairs (phi)
    narrows the interval when it is positive; with phi = 0 it equals the independent one.
    """
    x = np.asarray(event, dtype=bool)
    y = np.asarray(ref_event, dtype=bool)
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan)
    a = int(np.count_nonzero(x & y))
    b = int(np.count_nonzero(x & ~y))
    c = int(np.count_nonzero(~x & y))
    d_ = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, confidence)
    l2, u2 = wilson_interval(a + c, n, confidence)
    denom = (a + b) * (c + d_) * (a + c) * (b + d_)
    phi = (a * d_ - b * c) / math.sqrt(denom) if denom > 0 else 0.0
    dl1, du1, dl2, du2 = p1 - l1, u1 - p1, p2 - l2, u2 - p2
    diff = p1 - p2
    low = diff - math.sqrt(max(dl1**2 - 2 * phi * dl1 * du2 + du2**2, 0.0))
    high = diff + math.sqrt(max(du1**2 - 2 * phi * du1 * dl2 + dl2**2, 0.0))
    return Interval(diff, max(low, -1.0), min(high, 1.0))


@dataclass(frozen=True)
class ChiSquare:
    """Chi-square test of independence of end reason and variant, with Cramér's V (0..1)."""

    statistic: float
    dof: int
    pvalue: float
    cramers_v: float


def chi_square(counts: NDArray[np.int64]) -> ChiSquare:
    """Chi-square test on a contingency table ``(n_variants, n_reasons)`` of counts.

    Reasons that no variant reached are dropped; with fewer than two reasons left the test
    is undefined and every field is NaN.
    """
    table = np.asarray(counts, dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table.shape[0] < 2:
        return ChiSquare(math.nan, 0, math.nan, math.nan)
    res = stats.chi2_contingency(table, correction=False)
    n = table.sum()
    v = math.sqrt(float(res.statistic) / (n * (min(table.shape) - 1)))
    return ChiSquare(float(res.statistic), int(res.dof), float(res.pvalue), v)


# ------------------------------------------------------------------------------------------
# precision


def replications_needed(half_width: float, n: int, target: float) -> int | None:
    """Replications for an interval of half-width ``target``, from one of ``half_width`` at
    ``n``: half-widths shrink as ``1/sqrt(n)``, so ``n * (half_width / target) ** 2``.

    None when it cannot be estimated (no interval, or a target that is not positive).
    """
    if not (math.isfinite(half_width) and target > 0 and n > 0):
        return None
    return max(1, math.ceil(n * (half_width / target) ** 2))
