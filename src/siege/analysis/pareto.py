"""Pareto fronts of noisy candidates: statistics of replications, paired bootstrap, dominance,
hypervolume and ε-progress.

Everything here is in minimisation form: a criterion to maximise enters with its sign
flipped. Candidates are compared in pairs on the same replications (common random numbers):
the bootstrap draws the same replication indices for every candidate with the same number of
replications, so a resample keeps each replication's pairing.

Under an ensemble (``[uncertainty] sweep``: members), a candidate's values are ``(k, M, R)``:
each criterion's statistic is taken per member over its replications, then reduced over the
members by a *robust* statistic (:data:`ROBUST`); the bootstrap draws the same replication
indices in every member (members share their seeds), and keeps the members as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
BOOTSTRAP_KEY = 0xB007  # spawn key of the bootstrap's indices


def _quantile(q: float) -> Callable[[F64], F64]:
    def stat(x: F64) -> F64:
        return np.asarray(np.nanquantile(x, q, axis=-1), dtype=float)
    return stat


#: statistic name -> a function of replications along the last axis (``(..., R) -> (...)``);
#: ``probability`` is the mean of 0/1 indicators
STATISTICS: dict[str, Callable[[F64], F64]] = {
    "mean": lambda x: np.asarray(np.nanmean(x, axis=-1), dtype=float),
    "median": lambda x: np.asarray(np.nanmedian(x, axis=-1), dtype=float),
    "q05": _quantile(0.05),
    "q95": _quantile(0.95),
    "probability": lambda x: np.asarray(np.nanmean(x, axis=-1), dtype=float),
}


def _quantile_of_members(q: float) -> Callable[[F64], F64]:
    def stat(x: F64) -> F64:
        return np.asarray(np.nanquantile(x, q, axis=0), dtype=float)
    return stat


#: robust statistic name -> a reduction over an ensemble's members, along the first axis
#: (``(M, ...) -> (...)``); with one member (no ensemble) every one is that member's value
ROBUST: dict[str, Callable[[F64], F64]] = {
    "mean": lambda x: np.asarray(np.nanmean(x, axis=0), dtype=float),
    "q10": _quantile_of_members(0.10),
    "q90": _quantile_of_members(0.90),
    "min": lambda x: np.asarray(np.nanmin(x, axis=0), dtype=float),
    "max": lambda x: np.asarray(np.nanmax(x, axis=0), dtype=float),
}


def _over_members(robust: Sequence[str] | None, i: int, per_member: F64) -> F64:
    """Criterion ``i``'s statistics per member ``(M, ...)`` reduced over the members."""
    if per_member.shape[0] == 1:
        return per_member[0]
    return ROBUST[robust[i] if robust else "mean"](per_member)


def estimate(values: F64, statistics: Sequence[str],
             robust: Sequence[str] | None = None) -> F64:
    """Each criterion's statistic over its replications, then its robust statistic over the
    members: ``values`` ``(k, M, R)`` (or ``(k, R)``: one member) -> ``(k,)``."""
    values = values.reshape(values.shape[0], -1, values.shape[-1])
    return np.array([_over_members(robust, i, STATISTICS[s](values[i]))
                     for i, s in enumerate(statistics)], dtype=float)


def bootstrap_indices(seed: int, n: int, resamples: int) -> NDArray[np.intp]:
    """``(resamples, n)`` replication indices drawn with replacement, the same for every
    candidate of ``n`` replications (pairing), from ``SeedSequence(seed, (BOOTSTRAP_KEY, n))``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(BOOTSTRAP_KEY, n)))
    return rng.integers(0, n, size=(resamples, n))


def bootstrap(values: F64, statistics: Sequence[str], index: NDArray[np.intp],
              robust: Sequence[str] | None = None) -> F64:
    """Each criterion's (robust) statistic on each resample: ``values`` ``(k, M, R)`` (or
    ``(k, R)``) -> ``(B, k)``; every member takes the same resampled replications."""
    values = values.reshape(values.shape[0], -1, values.shape[-1])
    out = np.empty((index.shape[0], len(statistics)))
    for i, s in enumerate(statistics):
        out[:, i] = _over_members(robust, i, STATISTICS[s](values[i][:, index]))
    return out


def dominates(a: F64, b: F64) -> NDArray[np.bool_]:
    """Whether ``a`` Pareto-dominates ``b`` (minimisation), along the last axis."""
    return np.all(a <= b, axis=-1) & np.any(a < b, axis=-1)


def ranks(f: F64) -> NDArray[np.int64]:
    """Non-domination rank of each row of ``f`` ``(n, k)``: 1 for the front, 2 for the front
    of the rest, ...; rows with a NaN rank last."""
    n = f.shape[0]
    rank = np.zeros(n, dtype=np.int64)
    bad = np.any(np.isnan(f), axis=1)
    left = ~bad
    level = 0
    dom = dominates(f[:, None, :], f[None, :, :])  # dom[i, j]: i dominates j
    while left.any():
        level += 1
        beaten = np.any(dom[left][:, left], axis=0)
        members = np.flatnonzero(left)[~beaten]
        rank[members] = level
        left[members] = False
    rank[bad] = level + 1
    return rank


def settled(p_ab: float, p_ba: float, confidence: float) -> bool:
    """A pair is settled when one relation (a dominates, b dominates, neither) holds in at
    least ``confidence`` of the resamples."""
    return max(p_ab, p_ba, 1.0 - p_ab - p_ba) >= confidence


def normalise(f: F64, ideal: F64, nadir: F64) -> F64:
    """Objectives scaled to [0, 1] between the ideal and nadir points (a flat objective: 0)."""
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    return (f - ideal) / span


def hypervolume(front: F64, reference: F64) -> float:
    """Hypervolume dominated by ``front`` ``(n, k)`` up to ``reference`` (minimisation)."""
    from pymoo.indicators.hv import HV

    inside = front[np.all(front < reference, axis=1)]
    if inside.size == 0:
        return 0.0
    return float(HV(ref_point=reference)(inside))


def epsilon_progress(
    batches: Sequence[F64], epsilon: float
) -> list[int]:
    """Per batch (generation) of normalised objective vectors, how many of them improved an
    ε-box dominance archive (Laumanns et al. 2002; Borg's ε-progress): a vector counts when
    its ε-box is dominated by no box in the archive and is not one already held."""
    archive: list[NDArray[np.int64]] = []
    counts = []
    for batch in batches:
        count = 0
        for row in batch:
            if np.any(np.isnan(row)):
                continue
            box = np.floor(row / epsilon).astype(np.int64)
            boxes = np.array(archive) if archive else np.empty((0, len(box)), dtype=np.int64)
            if boxes.size and (np.any(np.all(boxes <= box, axis=1))):
                continue
            archive = [b for b in archive if not np.all(box <= b)]
            archive.append(box)
            count += 1
        counts.append(count)
    return counts
