"""PRIM, the patient rule induction method (Friedman and Fisher 1999), over the points of a
sweep whose outcome is a count: ``k`` of a point's ``n`` replications satisfy a condition.

A box is a set of allowed values per lever: a contiguous range of a numeric lever's values,
any subset of a categorical lever's. In the terms of Bryant and Lempert (2010), with the
replications as the cases: **coverage** is the share of all replications satisfying the
condition that lie in the box (Σ_box k / Σ k) and **density** the share of the box's
replications that satisfy it (Σ_box k / Σ_box n), with a Wilson 95 % interval; **mass** is the
share of the points in the box.

* Peeling: from the whole sweep, each step removes the slice that leaves the densest box: the
  lowest or highest values of a numeric lever holding at least ``peel_alpha`` of the box's
  points (whole values: ties go together), or one level of a categorical lever; it stops
  before the box would hold less than ``mass_min`` of the points, or at density 1.
* Pasting: from the last peeled box, each step adds back the slice (``paste_alpha`` of the
  box's points, along one lever) that most raises the density, while one does.
* Quasi-p value of a restriction (Bryant and Lempert 2010): the one-sided binomial test
  (``scipy.stats.binomtest``) of the box's k of n against the density of the box without that
  restriction: how likely a box this dense would be by chance if the restriction did nothing.
  Replications are counted as independent trials, so it is "quasi": a guide, not a test.

Arrays in (lever codes, counts), dataclasses out; nothing here reads files or prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from siege.errors import DiscoverError
from siege.results.summary import wilson_interval

Allowed = tuple[NDArray[np.bool_], ...]


@dataclass(frozen=True)
class Lever:
    """A dimension of the sweep: its ``path``, its distinct values ``levels`` (ascending for
    a numeric lever, in design order for a categorical one), and each point's value as an
    index into them, ``codes`` ``(n_points,)``."""

    path: str
    levels: tuple[Any, ...]
    codes: NDArray[np.intp]
    categorical: bool = False


@dataclass(frozen=True)
class PrimOptions:
    """PRIM's settings: the share of the box's points removed by a peel (``peel_alpha``) and
    added by a paste (``paste_alpha``), and the smallest share of the points a box may hold
    (``mass_min``)."""

    peel_alpha: float = 0.05
    paste_alpha: float = 0.05
    mass_min: float = 0.05

    def check(self) -> None:
        for name in ("peel_alpha", "paste_alpha", "mass_min"):
            value = getattr(self, name)
            if not (0.0 < value < 1.0):
                raise DiscoverError(f"{name}: must be between 0 and 1, exclusive (got {value})",
                                    parameter=name)


@dataclass(frozen=True)
class Box:
    """A box on the peeling (or pasting) trajectory and its statistics."""

    index: int
    allowed: Allowed  # per lever, (n_levels,): which values the box keeps
    n_points: int
    mass: float
    hits: int  # replications in the box satisfying the condition
    trials: int  # replications in the box
    coverage: float
    density: float
    density_low: float
    density_high: float
    restricted: tuple[int, ...]  # levers the box restricts
    quasi_p: dict[int, float]  # lever -> quasi-p value of its restriction (empty if not asked)
    pasted: bool = False


@dataclass(frozen=True)
class Trajectory:
    """PRIM's boxes, from the whole sweep (box 0) through the peels and then the pastes."""

    levers: tuple[Lever, ...]
    boxes: tuple[Box, ...]
    total_hits: int
    total_trials: int
    options: PrimOptions


def _ok(levers: Sequence[Lever], allowed: Allowed) -> NDArray[np.bool_]:
    """Which point lies within each lever's allowed values, ``(n_points, n_levers)``."""
    return np.stack([a[lv.codes] for lv, a in zip(levers, allowed, strict=True)], axis=1)


def restricted_levers(levers: Sequence[Lever], allowed: Allowed) -> tuple[int, ...]:
    """Levers whose allowed values exclude some point of the sweep."""
    return tuple(j for j, (lv, a) in enumerate(zip(levers, allowed, strict=True))
                 if not a[lv.codes].all())


def box_limits(levers: Sequence[Lever], allowed: Allowed) -> dict[str, list[Any]]:
    """A box's limits on the levers it restricts: {path: [low, high]} of a numeric lever
    (the lowest and highest value it keeps), {path: [levels...]} of a categorical one."""
    out: dict[str, list[Any]] = {}
    for j in restricted_levers(levers, allowed):
        lever = levers[j]
        kept = np.flatnonzero(allowed[j])
        out[lever.path] = ([lever.levels[i] for i in kept] if lever.categorical
                           else [lever.levels[kept[0]], lever.levels[kept[-1]]])
    return out


def _box(levers: Sequence[Lever], allowed: Allowed, k: NDArray[np.int64],
         n: NDArray[np.int64], index: int, pasted: bool, quasi_p: bool) -> Box:
    ok = _ok(levers, allowed)
    misses = (~ok).sum(axis=1)
    inside = misses == 0
    hits, trials = int(k[inside].sum()), int(n[inside].sum())
    restricted = restricted_levers(levers, allowed)
    quasi = {}
    for j in restricted if quasi_p else ():
        without = misses - (~ok[:, j]) == 0
        base = k[without].sum() / n[without].sum()
        quasi[j] = float(stats.binomtest(hits, trials, min(1.0, base),
                                         alternative="greater").pvalue)
    low, high = wilson_interval(hits, trials)
    return Box(index, allowed, int(inside.sum()), float(inside.mean()), hits, trials,
               hits / max(1, int(k.sum())), hits / trials if trials else math.nan, low, high,
               restricted, quasi, pasted)


def _slice(counts: NDArray[np.float64], target: float) -> int:
    """How many of the leading values (a positive count among them) to take so that their
    count reaches ``target``: all of them if it never does."""
    cum = np.cumsum(counts)
    i = int(np.searchsorted(cum, target, side="left"))
    return (i if i < len(cum) else int(np.flatnonzero(counts)[-1])) + 1


def _peels(levers: Sequence[Lever], allowed: Allowed, inside: NDArray[np.bool_],
           alpha: float) -> list[Allowed]:
    """Every candidate box one peel inside the current one."""
    out = []
    n_in = int(inside.sum())
    for j, lever in enumerate(levers):
        codes = lever.codes[inside]
        counts = np.bincount(codes, minlength=len(lever.levels)).astype(float)
        present = np.flatnonzero(counts)
        if len(present) < 2:
            continue
        if lever.categorical:
            for level in present:
                a = allowed[j].copy()
                a[level] = False
                out.append((*allowed[:j], a, *allowed[j + 1:]))
            continue
        lo, hi = present[0], present[-1]
        span = counts[lo:hi + 1]
        target = max(alpha * n_in, 1.0)
        for side in (span, span[::-1]):
            m = _slice(side, target)
            if side[:m].sum() >= n_in:
                continue
            a = allowed[j].copy()  # the new limit: the next value a point in the box has
            if side is span:
                a[:present[present >= lo + m][0]] = False
            else:
                a[present[present <= hi - m][-1] + 1:] = False
            out.append((*allowed[:j], a, *allowed[j + 1:]))
    return out


def _pastes(levers: Sequence[Lever], allowed: Allowed, ok: NDArray[np.bool_],
            alpha: float) -> list[Allowed]:
    """Every candidate box one paste outside the current one (along a restricted lever)."""
    out = []
    misses = (~ok).sum(axis=1)
    n_in = int((misses == 0).sum())
    target = max(alpha * n_in, 1.0)
    for j, lever in enumerate(levers):
        eligible = (misses - (~ok[:, j]) == 0) & ~ok[:, j]  # only lever j keeps them out
        if not eligible.any():
            continue
        counts = np.bincount(lever.codes[eligible], minlength=len(lever.levels)).astype(float)
        if lever.categorical:
            for level in np.flatnonzero(counts):
                a = allowed[j].copy()
                a[level] = True
                out.append((*allowed[:j], a, *allowed[j + 1:]))
            continue
        kept = np.flatnonzero(allowed[j])
        lo, hi = kept[0], kept[-1]
        for below in (True, False):
            side = counts[:lo][::-1] if below else counts[hi + 1:]
            if not side.any():
                continue
            m = _slice(side, target)
            a = allowed[j].copy()
            if below:
                a[lo - m:lo] = True
            else:
                a[hi + 1:hi + 1 + m] = True
            out.append((*allowed[:j], a, *allowed[j + 1:]))
    return out


def _density(ok: NDArray[np.bool_], k: NDArray[np.int64], n: NDArray[np.int64]
             ) -> tuple[float, int]:
    inside = ok.all(axis=1)
    trials = n[inside].sum()
    return (float(k[inside].sum() / trials) if trials else -1.0), int(inside.sum())


def prim(levers: Sequence[Lever], k: NDArray[np.int64], n: NDArray[np.int64],
         options: PrimOptions | None = None, *, quasi_p: bool = True) -> Trajectory:
    """Peel and paste over the points (``k`` of ``n`` replications satisfy the condition at
    each point, both ``(n_points,)``); each box's restrictions get their quasi-p values
    unless ``quasi_p`` is False (a bootstrap resample needs none). Raises DiscoverError if
    the condition holds in no replication or in all of them (nothing to discover)."""
    opts = options or PrimOptions()
    opts.check()
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    total = int(n.sum())
    if int(k.sum()) in (0, total):
        which = "no" if int(k.sum()) == 0 else "every"
        raise DiscoverError(f"where: {which} replication satisfies the condition, so there is "
                            "no region to find", parameter="where")
    n_points = len(k)
    allowed: Allowed = tuple(np.ones(len(lv.levels), dtype=bool) for lv in levers)
    boxes = [_box(levers, allowed, k, n, 0, False, quasi_p)]
    min_points = opts.mass_min * n_points
    while boxes[-1].density < 1.0:
        inside: NDArray[np.bool_] = np.asarray(_ok(levers, allowed).all(axis=1))
        best: tuple[float, int] | None = None
        for cand in _peels(levers, allowed, inside, opts.peel_alpha):
            density, count = _density(_ok(levers, cand), k, n)
            if count < min_points:
                continue
            if best is None or (density, count) > best:
                best, chosen = (density, count), cand
        if best is None:
            break
        allowed = chosen
        boxes.append(_box(levers, allowed, k, n, len(boxes), False, quasi_p))
    while True:
        current = boxes[-1].density
        best = None
        for cand in _pastes(levers, allowed, _ok(levers, allowed), opts.paste_alpha):
            density, count = _density(_ok(levers, cand), k, n)
            if density > current and (best is None or (density, count) > best):
                best, chosen = (density, count), cand
        if best is None:
            break
        allowed = chosen
        boxes.append(_box(levers, allowed, k, n, len(boxes), True, quasi_p))
    return Trajectory(tuple(levers), tuple(boxes), int(k.sum()), total, opts)


def default_box(trajectory: Trajectory) -> int:
    """The box PRIM offers when none is asked for: the first on the trajectory (the largest
    coverage) whose density reaches the lower end of the densest box's 95 % interval, so
    that peeling on beyond it buys no density the replications can tell apart."""
    densest = max(trajectory.boxes, key=lambda b: (b.density, -b.index))
    return next(b.index for b in trajectory.boxes if b.density >= densest.density_low)


def restriction_sides(levers: Sequence[Lever], allowed: Allowed, codes: NDArray[np.intp]
                      ) -> set[tuple[str, str]]:
    """What a box restricts among points whose lever codes are ``codes`` ``(n_points,
    n_levers)``: ``(path, "low")``/``(path, "high")`` for a numeric lever whose lower/upper
    limit excludes some point, ``(path, "levels")`` for a categorical one."""
    out = set()
    for j, (lever, a) in enumerate(zip(levers, allowed, strict=True)):
        present = codes[:, j]
        if lever.categorical:
            if not a[present].all():
                out.add((lever.path, "levels"))
            continue
        kept = np.flatnonzero(a)
        if present.min() < kept[0]:
            out.add((lever.path, "low"))
        if present.max() > kept[-1]:
            out.add((lever.path, "high"))
    return out


def bootstrap_sides(trajectory: Trajectory, box: int, k: NDArray[np.int64],
                    n: NDArray[np.int64], resamples: int, seed: int
                    ) -> dict[tuple[str, str], float]:
    """Share of bootstrap resamples that reproduce each restriction of box ``box``: each
    resample draws the points with replacement and, within each point, its replications
    (the count of a resampled point is Binomial(n, k/n), which is what drawing its n
    replications with replacement gives), runs PRIM with the same options, takes the box of
    its trajectory whose mass is closest to this box's, and counts the restrictions (lever
    and side, as :func:`restriction_sides`) it shares. Seeded by ``SeedSequence(seed)``,
    one child per resample."""
    levers = trajectory.levers
    codes = np.stack([lv.codes for lv in levers], axis=1)
    chosen = trajectory.boxes[box]
    sides = restriction_sides(levers, chosen.allowed, codes)
    found = dict.fromkeys(sorted(sides), 0)
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    done = 0
    for child in np.random.SeedSequence(seed).spawn(resamples):
        rng = np.random.default_rng(child)
        rows = rng.integers(0, len(k), len(k))
        k_star = rng.binomial(n[rows], k[rows] / n[rows])
        sub = [Lever(lv.path, lv.levels, lv.codes[rows], lv.categorical) for lv in levers]
        try:
            again = prim(sub, k_star, n[rows], trajectory.options, quasi_p=False)
        except DiscoverError:  # a resample in which the condition never (or always) holds
            continue
        done += 1
        near = min(again.boxes, key=lambda b: (abs(b.mass - chosen.mass), b.index))
        for side in restriction_sides(sub, near.allowed, codes[rows]) & sides:
            found[side] += 1
    return {side: count / done if done else math.nan for side, count in found.items()}
