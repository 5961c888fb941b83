"""Per-day percentile bands in memory that does not grow with the number of replications.

Each recorded measure keeps, for every day, a histogram over fixed bins (log-spaced for
strengths, ratios and days of supply; linear for fractions; one bin per count for routes).
Histograms of different blocks add up exactly, so the bands do not depend on how
replications are split into blocks; percentiles are read off by interpolating within a bin
(relative resolution about 1 % for the log measures, 0.001 for fractions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class MeasureSpec:
    """A recorded measure: name, unit and binning (``log``, ``linear`` or ``count``)."""

    name: str
    unit: str
    kind: str
    low: float
    high: float
    bins: int

    def edges(self) -> NDArray[np.float64]:
        """Bin edges, length ``bins + 1`` (a log measure's first bin holds zero and below)."""
        if self.kind == "log":
            inner = np.geomspace(self.low, self.high, self.bins)
            return np.concatenate([[0.0], inner])
        if self.kind == "count":
            return np.arange(self.bins + 1, dtype=float) - 0.5
        return np.linspace(self.low, self.high, self.bins + 1)

    def index(self, values: NDArray[np.float64]) -> NDArray[np.intp]:
        """Bin of each value (values outside the range go to the end bins; NaN to -1)."""
        v = np.asarray(values, dtype=float)
        if self.kind == "log":
            # fast path (this runs every simulated day): one log, one truncation
            inv_step = (self.bins - 1) / np.log(self.high / self.low)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                x = np.log(np.maximum(v, self.low) * (1.0 / self.low)) * inv_step + 1.0
                x = np.where(v < self.low, 0.0, np.minimum(x, self.bins - 1))
            nan = np.isnan(x)
            if nan.any():
                return np.where(nan, -1, np.nan_to_num(x)).astype(np.intp)
            return x.astype(np.intp)
        nan = np.isnan(v)
        if self.kind == "count":
            raw = np.rint(np.where(nan, 0, v))
        else:
            width = (self.high - self.low) / self.bins
            raw = np.floor((np.where(nan, self.low, v) - self.low) / width)
        idx = np.clip(np.where(nan, 0, raw), 0, self.bins - 1).astype(np.intp)
        return np.where(nan, -1, idx)


class BandAccumulator:
    """Histograms of each measure on each day 0..n_days, shape ``(m, n_days + 1, bins)``."""

    def __init__(self, specs: list[MeasureSpec], n_days: int) -> None:
        self.specs = specs
        self.n_days = n_days
        self.bins = max(s.bins for s in specs) if specs else 1
        # int32: a (day, bin) count never exceeds the replications of one run
        self.counts = np.zeros((len(specs), n_days + 1, self.bins), dtype=np.int32)
        self.n_active = np.zeros(n_days + 1, dtype=np.int64)

    def __getstate__(self) -> dict[str, object]:
        """Pickle sparsely: most bins are empty, and blocks travel between processes."""
        flat = self.counts.reshape(-1)
        index = np.flatnonzero(flat)
        return {
            "specs": self.specs,
            "n_days": self.n_days,
            "bins": self.bins,
            "n_active": self.n_active,
            "index": index.astype(np.int64),
            "values": flat[index],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.specs = state["specs"]
        self.n_days = state["n_days"]
        self.bins = state["bins"]
        self.n_active = state["n_active"]
        self.counts = np.zeros((len(self.specs), self.n_days + 1, self.bins), dtype=np.int32)
        self.counts.reshape(-1)[state["index"]] = state["values"]

    def add(self, day: int, values: list[NDArray[np.float64]]) -> None:
        """Add the values of every measure on one day (one array ``(n,)`` per measure)."""
        if day > self.n_days:
            return
        n = values[0].shape[0] if values else 0
        self.n_active[day] += n
        for m, (spec, v) in enumerate(zip(self.specs, values, strict=True)):
            idx = spec.index(v)
            idx = idx[idx >= 0]
            self.counts[m, day, : spec.bins] += np.bincount(idx, minlength=spec.bins)

    def merge(self, other: BandAccumulator) -> None:
        """Add another accumulator's counts (same specs and days)."""
        self.counts += other.counts
        self.n_active += other.n_active

    def quantiles(self, percentiles: tuple[int, ...] = PERCENTILES) -> NDArray[np.float64]:
        """Percentiles of every measure on every day, shape ``(m, n_days + 1, len(p))``;
        NaN on days with no value."""
        out = np.full((len(self.specs), self.n_days + 1, len(percentiles)), np.nan)
        for m, spec in enumerate(self.specs):
            edges = spec.edges()
            counts = self.counts[m, :, : spec.bins]
            cum = np.cumsum(counts, axis=1)
            total = cum[:, -1]
            for j, p in enumerate(percentiles):
                target = p / 100.0 * total
                for d in np.nonzero(total > 0)[0]:
                    k = int(np.searchsorted(cum[d], target[d], side="left"))
                    k = min(k, spec.bins - 1)
                    before = cum[d, k - 1] if k > 0 else 0
                    inside = counts[d, k]
                    frac = (target[d] - before) / inside if inside > 0 else 0.5
                    lo, hi = edges[k], edges[k + 1]
                    if spec.kind == "count":
                        out[m, d, j] = float(k)
                    elif spec.kind == "log" and lo > 0:
                        out[m, d, j] = lo * (hi / lo) ** frac
                    else:
                        out[m, d, j] = lo + (hi - lo) * frac
        return out
