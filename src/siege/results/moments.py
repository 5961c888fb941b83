"""Exact moments of the band measures, the same whatever the blocks and workers.

For every measure and day the accumulator keeps the least and the greatest value, the number of
infinite values and the sum and sum of squares of the finite ones (NaN values are left out, as
in the histograms). Floating-point sums depend on the order of the additions, so the order is
fixed by the replication ids alone. Ids fall into cells of :data:`CELL` consecutive ids; a
cell's sum is ``numpy.add.reduceat`` over its values in id order (one call, whose order
depends only on those values); cells are added in the pairwise tree over cell numbers (cells
2i and 2i + 1 first, then pairs of pairs, ...), a cell with no value counting 0. A block sums
the aligned subtrees of cells its ids cover; merging adds sibling subtrees into their parent.
Whatever the blocks, the workers or the order blocks finish in, every addition is the same, so
the sums are bit for bit the same; least, greatest and counts are exact anyway. Blocks must
therefore start on a cell (engines' blocks are whole cells: see
:data:`siege.engines.Engine.granularity`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

CELL = 64  # replication ids per cell (a power of two, dividing the batch engine's stream block)
SMALL = 1024  # up to this many values a day, all measures are summed in one call
_CELL_BITS = CELL.bit_length() - 1


def aligned_subtrees(first: int, end: int) -> list[tuple[int, int]]:
    """The largest aligned subtrees ``(level, index)`` covering cells ``[first, end)``; subtree
    ``(level, index)`` holds cells ``[index * 2**level, (index + 1) * 2**level)``."""
    out = []
    while first < end:
        level = (first & -first).bit_length() - 1 if first else (end - first).bit_length()
        while 1 << level > end - first:
            level -= 1
        out.append((level, first >> level))
        first += 1 << level
    return out


def pairwise(values: F64) -> F64:
    """Sums of the rows of ``values`` ``(r, 2**k)`` in the pairwise tree order, ``(r,)``."""
    while values.shape[1] > 1:
        values = values[:, 0::2] + values[:, 1::2]
    return values[:, 0]


class Moments:
    """Least, greatest, infinite counts and fixed-order sums of ``m`` measures on ``days``
    days. Sums are kept per aligned subtree of cells, ``(2m, days)``: sums, then sums of
    squares."""

    def __init__(self, measures: int, days: int) -> None:
        self.measures = measures
        self.days = days
        self.subtrees: dict[tuple[int, int], F64] = {}
        self.low = np.full((measures, days), np.nan)
        self.high = np.full((measures, days), np.nan)
        self.infinite = np.zeros((2, measures, days), dtype=np.int64)  # +inf, -inf

    def add(
        self, day: int, values: Sequence[F64], rep: NDArray[np.int64], span: tuple[int, int]
    ) -> None:
        """Add one day's values, ``(k,)`` per measure, of replications ``rep`` ``(k,)``
        (ascending): every value of that day of the replications with ids in ``span``
        ``[first, end)``, which starts on a cell."""
        first, end = span
        if first % CELL:
            raise ValueError(f"a block of moments starts at id {first}, not on a cell of {CELL}")
        cell_first = first >> _CELL_BITS
        cells = (rep >> _CELL_BITS) - cell_first
        starts = np.flatnonzero(np.diff(cells, prepend=-1))  # where each non-empty cell begins
        m = self.measures
        dense = np.zeros((2 * m, -(-end // CELL) - cell_first))
        if len(rep) <= SMALL:  # few values: all measures at once (fewer calls)
            x = np.array(values, dtype=np.float64)
            low, high, x = self._extremes(day, x, x.min(axis=1), x.max(axis=1))
            np.fmin(self.low[:, day], low, out=self.low[:, day])
            np.fmax(self.high[:, day], high, out=self.high[:, day])
            dense[:, cells[starts]] = np.add.reduceat(np.concatenate([x, x * x]), starts, axis=1)
        else:  # many: measure by measure (no copy of them all)
            for j, v in enumerate(values):
                low, high, row = self._extremes(day, v.reshape(1, -1), v.min(keepdims=True),
                                                v.max(keepdims=True), j)
                self.low[j, day] = np.fmin(self.low[j, day], low[0])
                self.high[j, day] = np.fmax(self.high[j, day], high[0])
                dense[j, cells[starts]] = np.add.reduceat(row[0], starts)
                dense[m + j, cells[starts]] = np.add.reduceat(row[0] * row[0], starts)
        for level, index in aligned_subtrees(cell_first, cell_first + dense.shape[1]):
            lo = (index << level) - cell_first
            sums = pairwise(dense[:, lo : lo + (1 << level)])
            node = self.subtrees.get((level, index))
            if node is None:
                node = self.subtrees[level, index] = np.zeros((2 * m, self.days))
            node[:, day] = sums

    def add_trajectory(self, days: NDArray[np.int64], values: F64, rep: int) -> None:
        """Add one replication's values ``(m, len(days))`` on several days, alone in its cell:
        the same as one :meth:`add` a day (a cell's sum of one value is that value)."""
        x = np.array(values, dtype=np.float64)
        self.infinite[0][:, days] += x == np.inf
        self.infinite[1][:, days] += x == -np.inf
        self.low[:, days] = np.fmin(self.low[:, days], x)
        self.high[:, days] = np.fmax(self.high[:, days], x)
        x[~np.isfinite(x)] = 0.0
        key = (0, rep >> _CELL_BITS)
        node = self.subtrees.get(key)
        if node is None:
            node = self.subtrees[key] = np.zeros((2 * self.measures, self.days))
        node[: self.measures, days] = x
        node[self.measures :, days] = x * x

    def _extremes(
        self, day: int, x: F64, low: F64, high: F64, first: int = 0
    ) -> tuple[F64, F64, F64]:
        """Least and greatest of each row of ``x`` (measures ``first``.. on ``day``) leaving
        NaN out, and the values to sum: ``x``, or a copy with NaN and infinite values at 0
        (infinite ones are counted). ``low`` and ``high`` are the rows' plain min and max."""
        if np.isfinite(low).all() and np.isfinite(high).all():  # the usual case
            return low, high, x
        rows = slice(first, first + x.shape[0])
        self.infinite[0, rows, day] += np.count_nonzero(x == np.inf, axis=1)
        self.infinite[1, rows, day] += np.count_nonzero(x == -np.inf, axis=1)
        return (np.fmin.reduce(x, axis=1), np.fmax.reduce(x, axis=1),
                np.where(np.isfinite(x), x, 0.0))

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        """The moments as plain arrays (how a sweep's blocks are kept on disk; names start
        with ``moments_``); :meth:`from_arrays` reads them back."""
        keys = np.array(sorted(self.subtrees), dtype=np.int64).reshape(-1, 2)
        sums = np.array([self.subtrees[level, index] for level, index in keys.tolist()])
        sums = sums.reshape(-1, 2 * self.measures, self.days)
        return {"moments_keys": keys, "moments_sums": sums, "moments_low": self.low,
                "moments_high": self.high, "moments_infinite": self.infinite}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[np.generic]]) -> Moments:
        """Moments from :meth:`arrays`."""
        low = np.asarray(arrays["moments_low"], dtype=np.float64)
        out = cls(*low.shape)
        out.low = low
        out.high = np.asarray(arrays["moments_high"], dtype=np.float64)
        out.infinite = np.asarray(arrays["moments_infinite"], dtype=np.int64)
        sums = np.asarray(arrays["moments_sums"], dtype=np.float64)
        for (level, index), node in zip(np.asarray(arrays["moments_keys"]).tolist(), sums,
                                        strict=True):
            out.subtrees[level, index] = node
        return out

    def merge(self, other: Moments) -> None:
        """Add the moments of other replications (a finished block)."""
        for key, sums in other.subtrees.items():
            self._insert(key, sums.copy())
        np.fmin(self.low, other.low, out=self.low)
        np.fmax(self.high, other.high, out=self.high)
        self.infinite += other.infinite

    def _insert(self, key: tuple[int, int], sums: F64) -> None:
        """Keep a subtree's sums, adding it to its sibling into their parent while the sibling
        is there (IEEE addition is commutative: left + right is right + left)."""
        level, index = key
        while (level, index ^ 1) in self.subtrees:
            sums += self.subtrees.pop((level, index ^ 1))
            level, index = level + 1, index >> 1
        if (level, index) in self.subtrees:
            raise ValueError(f"replications from {(index << level) * CELL} were added twice")
        self.subtrees[level, index] = sums

    def sums(self) -> F64:
        """Sums and sums of squares over every replication, ``(2m, days)``: the subtrees
        added up the tree, a missing sibling counting 0 (so adding nothing)."""
        nodes = {key: sums.copy() for key, sums in self.subtrees.items()}
        while len(nodes) > 1:
            level = min(lv for lv, _ in nodes)
            for lv, index in [key for key in nodes if key[0] == level]:
                if (lv, index) not in nodes:  # already added to its sibling
                    continue
                sums = nodes.pop((lv, index))
                sibling = nodes.pop((lv, index ^ 1), None)
                if sibling is not None:
                    sums += sibling
                nodes[lv + 1, index >> 1] = sums
        if not nodes:
            return np.zeros((2 * self.measures, self.days))
        return next(iter(nodes.values()))

    def mean_sd(self, counted: NDArray[np.int64]) -> tuple[F64, F64]:
        """Mean and standard deviation (divisor n) of each measure on each day, ``(m, days)``,
        from ``counted``, the number of values that are not NaN ``(m, days)``. A day whose
        values are all equal reports that value and sd 0 exactly; with infinite values the
        mean is that infinity (NaN if both signs) and the sd NaN; with no value, NaN."""
        total = self.sums()
        s1, s2 = total[: self.measures], total[self.measures :]
        n_inf = self.infinite.sum(axis=0)
        finite = counted - n_inf
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / finite
            var = (s2 - s1 * mean) / finite
        sd = np.sqrt(np.maximum(var, 0.0))
        mean = np.clip(mean, self.low, self.high)  # rounding never leaves the range
        pos, neg = self.infinite[0] > 0, self.infinite[1] > 0
        mean = np.where(pos & ~neg, np.inf, np.where(neg & ~pos, -np.inf, mean))
        mean = np.where(pos & neg, np.nan, mean)
        sd = np.where(pos | neg, np.nan, sd)
        constant = self.low == self.high
        mean = np.where(constant, self.low, mean)
        sd = np.where(constant, 0.0, sd)
        empty = counted == 0
        return np.where(empty, np.nan, mean), np.where(empty, np.nan, sd)
