"""The summary of one run: end-reason probabilities with Wilson intervals, and quantiles of
the outcome measures. Pure functions over arrays; no printing."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from siege.model.outcomes import SUMMARY_UNITS
from siege.model.rules import END_REASONS

# The outcome measures summarized, with their units (from the model's outcome table): the list
# that the comparison, the figures and the sensitivity analysis take theirs from.
SUMMARY_MEASURES: dict[str, str] = dict(SUMMARY_UNITS)
# compared and drawn: the summary's, less days_held (end_day and the withdrawal say the same)
COMPARE_MEASURES: dict[str, str] = {
    name: unit for name, unit in SUMMARY_MEASURES.items() if name != "days_held"
}
# measures that can be infinite (a ratio over no defender losses): a sweep point is summed up
# by their median rather than their mean
CAN_BE_INFINITE: frozenset[str] = frozenset({"exchange_ratio"})


@dataclass(frozen=True)
class Proportion:
    """A probability estimate with its 95 % Wilson score interval."""

    count: int
    n: int
    p: float
    low: float
    high: float


@dataclass(frozen=True)
class Spread:
    """Median and 90 % interval (5th and 95th percentiles) and mean of a measure."""

    unit: str
    n: int
    mean: float
    median: float
    p5: float
    p95: float


@dataclass(frozen=True)
class Summary:
    replications: int
    end_reasons: dict[str, Proportion]
    measures: dict[str, Spread]

    def to_dict(self) -> dict[str, object]:
        return {
            "replications": self.replications,
            "end_reasons": {k: asdict(v) for k, v in self.end_reasons.items()},
            "measures": {k: asdict(v) for k, v in self.measures.items()},
        }


def wilson_interval(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return (math.nan, math.nan)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = count / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if count == 0 else max(0.0, centre - half)
    high = 1.0 if count == n else min(1.0, centre + half)
    return (low, high)


def spread(values: NDArray[np.float64], unit: str) -> Spread:
    """Mean, median and 5th/95th percentiles over the finite values (inf kept in quantiles)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return Spread(unit, 0, math.nan, math.nan, math.nan, math.nan)
    finite = v[np.isfinite(v)]
    mean = float(finite.mean()) if finite.size == v.size else math.inf
    p5, p50, p95 = np.quantile(v, [0.05, 0.5, 0.95])
    return Spread(unit, int(v.size), mean, float(p50), float(p5), float(p95))


def summarize(
    end_reason: NDArray[np.str_] | NDArray[np.object_] | list[str],
    columns: dict[str, NDArray[np.float64]],
) -> Summary:
    """Summary of a run from its end reasons and outcome columns."""
    reasons = np.asarray(end_reason)
    n = int(reasons.size)
    props = {}
    for r in END_REASONS:
        c = int(np.count_nonzero(reasons == r))
        lo, hi = wilson_interval(c, n)
        props[r] = Proportion(c, n, c / n if n else math.nan, lo, hi)
    measures = {
        name: spread(columns[name], unit)
        for name, unit in SUMMARY_MEASURES.items()
        if name in columns
    }
    return Summary(n, props, measures)
