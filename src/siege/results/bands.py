"""Per-day percentile bands in memory that does not grow with the number of replications.

Each recorded measure keeps, for every day, a histogram over fixed bins (64 per octave for
strengths, ratios and days of supply; linear for fractions; one bin per count for routes).
Histograms of different blocks add up exactly, so the bands do not depend on how
replications are split into blocks; percentiles are read off by interpolating within a bin
(bins 0.8-1.6 % wide for the log measures, 0.001 for fractions) and clamped to the day's
exact least and greatest values, so a day on which every replication has the same value
reports that value. Beside them, exact means and standard deviations
(:mod:`siege.results.moments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.model.measures import BandColumn, band_columns
from siege.model.params import ModelParams
from siege.results.moments import Moments

PERCENTILES = (5, 25, 50, 75, 95)


LOG_BITS = 6  # log measures: 2**6 = 64 bins per octave (bin widths 0.8-1.6 % of the value)
_SHIFT = 52 - LOG_BITS  # float64 mantissa bits below a log measure's bin key
_INF_KEY = int(np.array(np.inf).view(np.uint64)) >> _SHIFT  # keys above this: NaN or < 0


def _key(value: float) -> int:
    """Bin key of a positive float: its exponent and top LOG_BITS mantissa bits."""
    return int(np.array(value, dtype=np.float64).view(np.uint64)) >> _SHIFT


@dataclass(frozen=True)
class MeasureSpec:
    """A recorded measure: name, unit and binning (``log``, ``linear`` or ``count``).

    Log measures span powers of two, ``low`` to ``high``, in 64 bins per octave (make them
    with :meth:`log`): a value's bin is read off the bits of its floating-point
    representation, so binning needs no logarithm. Their first bin holds zero up to
    ``low``; values at or above ``high`` go to the last bin, as do values above a linear
    measure's range."""

    name: str
    unit: str
    kind: str
    low: float
    high: float
    bins: int

    @classmethod
    def log(cls, name: str, unit: str, low: float, high: float) -> MeasureSpec:
        """A log measure from ``low`` to ``high`` (powers of two)."""
        octaves = np.log2(high / low)
        if np.frexp(low)[0] != 0.5 or np.frexp(high)[0] != 0.5 or octaves < 1:
            raise ValueError(f"log measure {name}: low and high must be powers of two")
        return cls(name, unit, "log", low, high, int(octaves) * 2**LOG_BITS + 1)

    def resolution(self) -> dict[str, object]:
        """How finely the histogram resolves a percentile (written into the bands file): the
        bins and their width, relative for log bins (widest at the bottom of an octave),
        absolute for linear ones; counts are exact."""
        if self.kind == "log":
            return {"bins": "log", "per_octave": 2**LOG_BITS, "relative_width": 2.0**-LOG_BITS,
                    "low": self.low, "high": self.high}
        if self.kind == "count":
            return {"bins": "count", "width": 1}
        return {"bins": "linear", "width": (self.high - self.low) / self.bins,
                "low": self.low, "high": self.high}

    def edges(self) -> NDArray[np.float64]:
        """Bin edges, length ``bins + 1`` (a log measure's first bin holds zero and below)."""
        if self.kind == "log":
            keys = (_key(self.low) + np.arange(self.bins, dtype=np.uint64)) << np.uint64(_SHIFT)
            return np.concatenate([[0.0], keys.view(np.float64)])
        if self.kind == "count":
            return np.arange(self.bins + 1, dtype=float) - 0.5
        return np.linspace(self.low, self.high, self.bins + 1)

    def index(self, values: NDArray[np.float64]) -> NDArray[np.intp]:
        """Bin of each value (values outside the range go to the end bins; NaN to -1)."""
        v = np.asarray(values, dtype=np.float64)
        out = np.empty(v.shape, dtype=np.intp)
        self.bin_into(v, out, 0, -1)
        return out

    def bin_into(
        self, v: NDArray[np.float64], out: NDArray[np.intp], offset: int, nan_bin: int
    ) -> None:
        """Write ``offset`` + the bin of each value of ``v`` into ``out`` (``nan_bin`` for NaN).
        This runs for every measure on every simulated day, so it makes as few passes over
        ``v`` as it can."""
        if self.kind == "log":
            key = (v.view(np.uint64) >> np.uint64(_SHIFT)).view(np.int64)
            if int(key.max(initial=0)) > _INF_KEY:  # NaN or negative: rare
                self._slow_into(v, out, offset, nan_bin)
                return
            key -= _key(self.low) - 1 - offset
            np.clip(key, offset, offset + self.bins - 1, out=out)
            return
        if self.kind == "count":  # bin k holds the count k
            x = v + 0.5
        else:
            scale = self.bins / (self.high - self.low)
            x = v * scale
            if self.low:
                x -= self.low * scale
        np.clip(x, 0.0, self.bins - 1, out=x)
        if not x.max(initial=0.0) <= self.bins - 1:  # NaN: rare
            self._slow_into(v, out, offset, nan_bin)
            return
        if offset:
            x += offset
        np.copyto(out, x, casting="unsafe")  # truncation: the bin

    def _slow_into(
        self, v: NDArray[np.float64], out: NDArray[np.intp], offset: int, nan_bin: int
    ) -> None:
        """Bins with NaN and negative values (those go to the first bin)."""
        nan = np.isnan(v)
        clean = np.where(nan | (v < 0), 0.0, v)
        if self.kind == "log":
            clean = np.where(clean < self.low, 0.0, clean)  # also -0.0
        self.bin_into(clean, out, offset, nan_bin)
        out[nan] = nan_bin


#: bins of a non-negative amount, by unit: powers of two from low to high
LOG_RANGES: dict[str, tuple[float, float]] = {
    "personnel": (1.0, 2.0**27),  # to 1.3e8
    "days": (2.0**-7, 2.0**14),  # 0.008 to 16384
}
RATIO_RANGE = (2.0**-10, 2.0**10)  # ratios: 0.001 to 1024
FRACTION_BINS = 1000  # fractions: bins 0.001 wide


def band_spec(column: BandColumn) -> MeasureSpec:
    """The bins of a recorded measure, from the kind of value it is and its unit: one bin per
    count, linear bins for fractions, 64 per octave for ratios and amounts."""
    name, measure, counted = column
    kind, unit = measure.kind, measure.unit
    if kind == "count":
        return MeasureSpec(name, unit, "count", 0, counted, counted + 1)
    if kind == "fraction":
        return MeasureSpec(name, unit, "linear", 0.0, 1.0, FRACTION_BINS)
    if kind == "ratio":
        return MeasureSpec.log(name, unit, *RATIO_RANGE)
    if kind == "amount" and unit in LOG_RANGES:
        return MeasureSpec.log(name, unit, *LOG_RANGES[unit])
    raise ValueError(f"no bins for measure {name}: a {kind} in {unit}")


def band_specs(params: ModelParams) -> list[MeasureSpec]:
    """The bins of every measure recorded as bands, in file order."""
    return [band_spec(c) for c in band_columns(params)]


class BandAccumulator:
    """Histograms of each measure on each day 0..n_days, shape ``(m, n_days + 1, bins)``."""

    def __init__(self, specs: list[MeasureSpec], n_days: int) -> None:
        self.specs = specs
        self.n_days = n_days
        self.bins = max(s.bins for s in specs) if specs else 1
        # int32: a (day, bin) count never exceeds the replications of one run
        self._counts: NDArray[np.int32] | None = self._zeros()
        self._sparse: tuple[NDArray[np.integer[Any]], NDArray[np.int32]] | None = None
        self.n_active = np.zeros(n_days + 1, dtype=np.int64)
        self.moments = Moments(len(specs), n_days + 1)

    @classmethod
    def from_sparse(
        cls,
        specs: list[MeasureSpec],
        n_days: int,
        index: NDArray[np.integer[Any]],
        values: NDArray[np.int32],
        n_active: NDArray[np.int64],
        moments: Moments,
    ) -> BandAccumulator:
        """An accumulator from the non-empty bins of :meth:`sparse` (made dense only when
        its counts are read; merging it into another touches only those bins)."""
        acc = cls.__new__(cls)
        acc.specs = specs
        acc.n_days = n_days
        acc.bins = max(s.bins for s in specs) if specs else 1
        acc.n_active = np.array(n_active, dtype=np.int64)
        acc._counts = None
        acc._sparse = (index, values)
        acc.moments = moments
        return acc

    def sparse(self) -> tuple[NDArray[np.integer[Any]], NDArray[np.int32]]:
        """The non-empty bins: flat indices into :attr:`counts` and their counts (how blocks
        travel between processes)."""
        if self._sparse is not None:
            return self._sparse
        flat = self.counts.reshape(-1)
        index = np.flatnonzero(flat)
        return index, flat[index]

    def _zeros(self) -> NDArray[np.int32]:
        return np.zeros((len(self.specs), self.n_days + 1, self.bins), dtype=np.int32)

    @property
    def counts(self) -> NDArray[np.int32]:
        """Counts ``(measures, days, bins)`` (made dense on first use after unpickling)."""
        if self._counts is None:
            self._counts = self._zeros()
            assert self._sparse is not None
            index, values = self._sparse
            self._counts.reshape(-1)[index] = values
            self._sparse = None
        return self._counts

    def __getstate__(self) -> dict[str, object]:
        """Pickle sparsely: most bins are empty, and blocks travel between processes."""
        index, values = self.sparse()
        return {"specs": self.specs, "n_days": self.n_days, "n_active": self.n_active,
                "index": index, "values": values, "moments": self.moments}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Stay sparse until the counts are needed (see :meth:`from_sparse`)."""
        made = self.from_sparse(
            state["specs"], state["n_days"], state["index"], state["values"], state["n_active"],
            state["moments"],
        )
        self.__dict__.update(made.__dict__)

    def add(
        self,
        day: int,
        values: list[NDArray[np.float64]],
        rep: NDArray[np.int64],
        span: tuple[int, int],
    ) -> None:
        """Add the values of every measure on one day (one array ``(n,)`` per measure) of
        replications ``rep`` (ids, ascending): all the values of that day of the replications
        with ids in ``span`` ``[first, end)`` (which fixes the order of the sums)."""
        if day > self.n_days:
            return
        n = values[0].shape[0] if values else 0
        self.n_active[day] += n
        if n == 0:
            return
        self.moments.add(day, values, rep, span)
        # one histogram over all measures: measure m's bins start at m * self.bins, and NaN
        # values (no bin) go to one last bin that is dropped
        m = len(self.specs)
        nan_bin = m * self.bins
        idx = np.empty((m, n), dtype=np.intp)
        for j, (spec, v) in enumerate(zip(self.specs, values, strict=True)):
            spec.bin_into(np.asarray(v, dtype=np.float64), idx[j], j * self.bins, nan_bin)
        counts = np.bincount(idx.reshape(-1), minlength=nan_bin + 1)
        self.counts[:, day, :] += counts[:nan_bin].reshape(m, self.bins)

    def add_trajectory(
        self, days: NDArray[np.int64], values: NDArray[np.float64], rep: int
    ) -> None:
        """Add one replication's values ``(m, len(days))`` on several days: the same as one
        :meth:`add` a day, in one go (the mean engine's single trajectory)."""
        keep = days <= self.n_days
        days, values = days[keep], values[:, keep]
        self.n_active[days] += 1
        self.moments.add_trajectory(days, values, rep)
        binned = np.empty(days.shape[0], dtype=np.intp)
        for j, spec in enumerate(self.specs):
            spec.bin_into(np.ascontiguousarray(values[j]), binned, 0, -1)
            some = binned >= 0  # NaN: no bin
            np.add.at(self.counts[j], (days[some], binned[some]), 1)

    def merge(self, other: BandAccumulator) -> None:
        """Add another accumulator's counts (same specs and days)."""
        if other._sparse is not None:
            index, values = other._sparse
            self.counts.reshape(-1)[index] += values  # each index once (see sparse())
        else:
            np.add(self.counts, other.counts, out=self.counts)
        self.n_active += other.n_active
        self.moments.merge(other.moments)

    def counted(self) -> NDArray[np.int64]:
        """Values that are not NaN, per measure and day ``(m, n_days + 1)``."""
        return np.asarray(self.counts.sum(axis=2, dtype=np.int64))

    def mean_sd(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Exact mean and standard deviation (divisor n) of every measure on every day,
        ``(m, n_days + 1)`` each; NaN on days with no value."""
        return self.moments.mean_sd(self.counted())

    def quantiles(self, percentiles: tuple[int, ...] = PERCENTILES) -> NDArray[np.float64]:
        """Percentiles of every measure on every day, shape ``(m, n_days + 1, len(p))``;
        NaN on days with no value. Read off the histogram within a bin, then clamped to the
        day's least and greatest values."""
        out = np.full((len(self.specs), self.n_days + 1, len(percentiles)), np.nan)
        for m, spec in enumerate(self.specs):
            edges = spec.edges()
            counts = self.counts[m, :, : spec.bins]
            cum = np.cumsum(counts, axis=1)
            total = cum[:, -1]
            days = np.flatnonzero(total > 0)
            cum, counts, total = cum[days], counts[days], total[days]
            rows = np.arange(days.size)
            for j, p in enumerate(percentiles):
                target = p / 100.0 * total
                # the first bin whose cumulative count reaches the target, on every day at once
                k = np.minimum((cum < target[:, None]).sum(axis=1), spec.bins - 1)
                before = np.where(k > 0, cum[rows, np.maximum(k - 1, 0)], 0)
                inside = counts[rows, k]
                with np.errstate(invalid="ignore", divide="ignore"):
                    frac = np.where(inside > 0, (target - before) / inside, 0.5)
                lo, hi = edges[k], edges[k + 1]
                if spec.kind == "count":
                    value = k.astype(np.float64)
                elif spec.kind == "log":
                    with np.errstate(invalid="ignore", divide="ignore"):
                        value = np.where(lo > 0, lo * (hi / lo) ** frac, lo + (hi - lo) * frac)
                else:
                    value = lo + (hi - lo) * frac
                low, high = self.moments.low[m, days], self.moments.high[m, days]
                out[m, days, j] = np.minimum(np.maximum(value, low), high)
        return out
