"""Scores of a forecast of documented sieges: how much probability the model gave the observed
end reason, and where the observed end day falls in the predicted end-day distribution.

Per siege, from the simulated end reasons and end days of its replications:

* ``p_end_reason``: the share of replications that end with the observed reason (0 for a
  reason the model cannot produce);
* ``log_score``: the natural logarithm of the predicted probability of the observed reason,
  estimated with add-one (Laplace) smoothing over the model's end reasons,
  ``(count + 1) / (n + K)``, so that a reason no replication produced scores
  ``ln(1 / (n + K))`` rather than minus infinity (higher is better, 0 is a sure forecast);
* ``end_day_percentile``: the percentile (0 to 100) of the observed end day among the
  simulated ones, ties counted half (mid-rank);
* ``crps``: the continuous ranked probability score of the end day (days; lower is better),
  for the empirical distribution of the ``n`` simulated days ``x_i`` and the observed day
  ``y``: ``CRPS = (1/n) Σ|x_i - y| - (1/(2 n²)) Σ_i Σ_j |x_i - x_j|`` (Gneiting and Raftery
  2007, "Strictly proper scoring rules, prediction, and estimation", JASA 102, eq. 21), the
  integral of ``(F_n(x) - 1{x >= y})²`` over ``x``; computed in ``O(n log n)`` by sorting.

A siege is a hit when ``p_end_reason >= 0.3`` and the observed end day lies in the central
80 % interval of the simulated end days (their 10th to 90th percentiles), the goal of
issue 15.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
HIT_PROBABILITY = 0.3  # least probability of the observed end reason for a hit
CENTRAL = 0.8  # share of the end-day distribution in the interval a hit's end day lies in


def crps_sample(samples: ArrayLike, observed: float) -> float:
    """CRPS of the empirical distribution of ``samples`` ``(n,)`` for the observation
    ``observed`` (same unit as the samples): ``mean|x - y| - mean|x - x'| / 2`` over all
    pairs (Gneiting and Raftery 2007, eq. 21)."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    if n == 0:
        raise ValueError("the CRPS needs at least one sample")
    spread = 2.0 * np.dot(2.0 * np.arange(n) - n + 1.0, x) / (n * n)  # mean |x_i - x_j|
    return float(np.mean(np.abs(x - observed)) - 0.5 * spread)


def percentile_of(samples: ArrayLike, observed: float) -> float:
    """Percentile (0 to 100) of ``observed`` among ``samples``, ties counted half."""
    x = np.asarray(samples, dtype=np.float64)
    return float(100.0 * (np.mean(x < observed) + 0.5 * np.mean(x == observed)))


def log_score(count: int, n: int, categories: int) -> float:
    """``ln((count + 1) / (n + categories))``: the log probability of an outcome seen
    ``count`` times in ``n``, with add-one smoothing over ``categories`` outcomes."""
    return math.log((count + 1) / (n + categories))


@dataclass(frozen=True)
class SiegeScore:
    """A siege's observed end and its scores (see the module), with what the forecast was:
    the share of each end reason, the median and central 80 % interval of the end day."""

    name: str
    observed_end_reason: str
    observed_end_day: float
    p_end_reason: float
    end_day_percentile: float
    crps: float
    log_score: float
    replications: int
    end_reasons: dict[str, float]
    end_day_median: float
    end_day_low: float
    end_day_high: float

    @property
    def reason_hit(self) -> bool:
        return self.p_end_reason >= HIT_PROBABILITY

    @property
    def day_hit(self) -> bool:
        return self.end_day_low <= self.observed_end_day <= self.end_day_high

    @property
    def hit(self) -> bool:
        return self.reason_hit and self.day_hit

    def scores(self) -> dict[str, str | float]:
        """The scores under their JSON keys."""
        return {"name": self.name, "observed_end_reason": self.observed_end_reason,
                "observed_end_day": self.observed_end_day, "p_end_reason": self.p_end_reason,
                "end_day_percentile": self.end_day_percentile, "crps": self.crps,
                "log_score": self.log_score}


def score_siege(
    name: str, observed_end_reason: str, observed_end_day: float, end_reasons: ArrayLike,
    end_days: ArrayLike, reasons: Sequence[str],
) -> SiegeScore:
    """Score one siege's replications: their end reasons ``(n,)`` (text) and end days
    ``(n,)`` (days from day 0) against the observed end; ``reasons``: every end reason a
    forecast spreads over (the smoothing's categories)."""
    simulated = np.asarray(end_reasons, dtype=object)
    days = np.asarray(end_days, dtype=np.float64)
    n = simulated.size
    if n == 0 or days.shape != (n,):
        raise ValueError("give one end reason and one end day per replication, at least one")
    count = int(np.sum(simulated == observed_end_reason))
    shares = {r: float(np.mean(simulated == r)) for r in reasons if np.any(simulated == r)}
    low, median, high = np.quantile(days, [(1 - CENTRAL) / 2, 0.5, (1 + CENTRAL) / 2])
    return SiegeScore(
        name=name, observed_end_reason=observed_end_reason,
        observed_end_day=float(observed_end_day), p_end_reason=count / n,
        end_day_percentile=percentile_of(days, observed_end_day),
        crps=crps_sample(days, observed_end_day),
        log_score=log_score(count, n, len(reasons)), replications=n, end_reasons=shares,
        end_day_median=float(median), end_day_low=float(low), end_day_high=float(high),
    )


@dataclass(frozen=True)
class BacktestSummary:
    """The summary row: sieges, hits (both conditions), each condition's count, and the mean
    CRPS (days) and log score."""

    sieges: int
    hits: int
    reason_hits: int
    day_hits: int
    mean_crps: float
    mean_log_score: float

    def to_dict(self) -> dict[str, float | int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def summarize_scores(scores: Sequence[SiegeScore]) -> BacktestSummary:
    """The summary row of ``scores``."""
    return BacktestSummary(
        sieges=len(scores), hits=sum(s.hit for s in scores),
        reason_hits=sum(s.reason_hit for s in scores), day_hits=sum(s.day_hit for s in scores),
        mean_crps=float(np.mean([s.crps for s in scores])) if scores else math.nan,
        mean_log_score=float(np.mean([s.log_score for s in scores])) if scores else math.nan,
    )
