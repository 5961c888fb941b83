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

Reduction = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def _median(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.median(x, axis=-1))


def _mean(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.mean(x, axis=-1))


@dataclass(frozen=True)
class Statistic:
    """A statistic of an outcome measure that ``compare`` estimates for every result set (and
    as a difference from the reference), with a bootstrap interval.

    ``function`` reduces the last axis, so that one call evaluates a whole chunk of bootstrap
    resamples ``(n_resamples, n_reps) -> (n_resamples,)``; ``description`` says what it is.
    """

    function: Reduction
    description: str


#: The statistics ``compare`` reports, by name: a new one is a function and an entry here.
STATISTICS: dict[str, Statistic] = {
    "median": Statistic(_median, "median (50th percentile)"),
    "mean": Statistic(_mean, "mean (infinite when a value is)"),
}


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
    """Percentile bootstrap interval of a statistic (a name in :data:`STATISTICS`) of one
    sample.

    Parameters
    ----------
    sample : (n_reps,) values (NaN removed by the caller).
    statistic : name in :data:`STATISTICS`.
    """
    x = np.asarray(sample, dtype=float)
    fn = STATISTICS[statistic].function
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
    fn = STATISTICS[statistic].function
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


def _ks(a: NDArray[np.float64], b: NDArray[np.float64], paired: bool) -> tuple[float, ...]:
    """Kolmogorov–Smirnov D (largest gap between the ECDFs, 0..1) and its p-value."""
    ks = stats.ks_2samp(a, b)
    return float(ks.statistic), float(ks.pvalue)


def _mannwhitney(a: NDArray[np.float64], b: NDArray[np.float64], paired: bool
                 ) -> tuple[float, ...]:
    """Mann–Whitney U and its two-sided p-value (1 when every value is the same)."""
    if np.unique(np.concatenate([a, b])).size < 2:
        return a.size * b.size / 2, 1.0
    mw = stats.mannwhitneyu(a, b, alternative="two-sided")
    return float(mw.statistic), float(mw.pvalue)


def _cliffs(a: NDArray[np.float64], b: NDArray[np.float64], paired: bool) -> tuple[float, ...]:
    """Cliff's delta, P(X > Y) − P(X < Y) (−1..1; the rank-biserial correlation of U)."""
    return (cliffs_delta(a, b),)


def _anderson2(a: NDArray[np.float64], b: NDArray[np.float64], paired: bool
               ) -> tuple[float, ...]:
    """Anderson–Darling k-sample statistic and SciPy's p-value (floored at 0.001, capped at
    0.25)."""
    return _anderson([a, b])


def _wilcoxon(a: NDArray[np.float64], b: NDArray[np.float64], paired: bool
              ) -> tuple[float, ...]:
    """Wilcoxon signed-rank test of the paired differences (NaN when unpaired)."""
    if not paired:
        return math.nan, math.nan
    d = a - b
    d = d[np.isfinite(d)]
    if not np.any(d != 0):
        return 0.0, 1.0
    w = stats.wilcoxon(d)
    return float(w.statistic), float(w.pvalue)


@dataclass(frozen=True)
class TwoSampleTest:
    """A distribution test (or effect size) of a variant against the reference:
    ``function(sample, reference, paired)`` returns one value per name in ``results``."""

    results: tuple[str, ...]
    function: Callable[[NDArray[np.float64], NDArray[np.float64], bool], tuple[float, ...]]


#: The tests ``compare`` runs on every measure, by name: a new one is a function and an entry.
TWO_SAMPLE_TESTS: dict[str, TwoSampleTest] = {
    "ks": TwoSampleTest(("ks_statistic", "ks_pvalue"), _ks),
    "mannwhitney": TwoSampleTest(("mannwhitney_u", "mannwhitney_pvalue"), _mannwhitney),
    "cliffs_delta": TwoSampleTest(("cliffs_delta",), _cliffs),
    "anderson": TwoSampleTest(("anderson_statistic", "anderson_pvalue"), _anderson2),
    "wilcoxon": TwoSampleTest(("wilcoxon_statistic", "wilcoxon_pvalue"), _wilcoxon),
}


def two_sample_tests(
    sample: NDArray[np.float64], reference: NDArray[np.float64], *, paired: bool = False
) -> dict[str, float]:
    """Every test of :data:`TWO_SAMPLE_TESTS` of ``sample`` against ``reference`` (both
    ``(n_reps,)``, index-aligned when ``paired``): ``{result name: value}``, NaN when either
    sample is empty."""
    a = np.asarray(sample, dtype=float)
    b = np.asarray(reference, dtype=float)
    out: dict[str, float] = {}
    for test in TWO_SAMPLE_TESTS.values():
        values = (test.function(a, b, paired) if a.size and b.size
                  else (math.nan,) * len(test.results))
        out.update(zip(test.results, (float(v) for v in values), strict=True))
    return out


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
