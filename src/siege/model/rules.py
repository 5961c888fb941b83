"""The rules of the siege, as pure functions over numpy arrays of replications.

Every function here is deterministic: random variates are drawn by the engine and passed in,
so the batch engine (arrays of thousands of replications) and the event engine (arrays of
one) apply exactly the same rules. Shapes are given as ``(n,)`` for one value per replication
and ``(n, s)`` / ``(n, r)`` for one per sector / route.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.model.params import Real

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

TIME_EPS = 1e-9  # days: times closer than this are the same time


def outer(per_replication: FloatArray, per_item: FloatArray) -> FloatArray:
    """``per_replication[:, None] * per_item[None, :]``, shape ``(n, k)``, column-major.

    Two-dimensional arrays over replications are kept column-major (one contiguous column
    per sector or route): numpy's elementwise and row-wise operations on ``(n, k)`` arrays
    with small ``k`` run several times faster in that layout."""
    return np.asarray((per_item[:, None] * per_replication[None, :]).T, dtype=np.float64)


# End reasons (which comes first when several happen at once: siege.model.endings).
# (The codes are stored in results files: new reasons go at the end.)
END_REASONS: tuple[str, ...] = ("held", "withdrew", "encircled", "collapsed", "attacker_culminated",
                                "captured", "surrendered")
RUNNING = -1
HELD, WITHDREW, ENCIRCLED, COLLAPSED, CULMINATED, CAPTURED, SURRENDERED = range(7)


# ------------------------------------------------------------------------------------------
# losses (the laws are in siege.model.laws)


def clip_losses(drawn: FloatArray, present: FloatArray) -> FloatArray:
    """Losses as drawn, but never negative and never more than the personnel present."""
    out = np.maximum(drawn, 0.0)
    return np.minimum(out, np.floor(present), out=out)


# ------------------------------------------------------------------------------------------
# forces


def reinforce(
    strength: FloatArray,
    quality: FloatArray,
    reserves: FloatArray,
    rate: Real,
    replacement_rate: Real,
    trained_quality: Real,
    replacement_quality: Real,
    dt: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Add a step's reinforcements: trained troops from the finite reserve pool, and
    untrained replacements (which do not draw on the pool).

    Returns new (strength, mean quality, reserves), shapes ``(n,)``. Mean quality is the
    personnel-weighted mean, so the force's effectiveness falls as the trained pool runs dry
    and replacements make up more of it. Units: persons, persons/day, days.
    """
    step = rate * dt
    # a scalar when the pool covers every replication's step (the usual case)
    if np.ndim(step) == 0 and reserves.size and reserves.min() >= step:
        trained = step
    else:
        trained = np.minimum(step, reserves)
    return add_personnel(
        strength,
        quality,
        trained,
        trained_quality,
        replacement_rate * dt,
        replacement_quality,
        reserves - trained,
    )


def add_personnel(
    strength: FloatArray,
    quality: FloatArray,
    trained: Real,
    trained_quality: Real,
    replacements: Real,
    replacement_quality: Real,
    reserves: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Merge arriving personnel into a force, keeping its personnel-weighted mean quality."""
    total = strength + (trained + replacements)
    power = strength * quality
    power += np.multiply(trained, trained_quality) + np.multiply(
        replacements, replacement_quality
    )
    if np.ndim(total) and total.size and total.min() > 0:  # the usual case: nobody left empty
        power /= total
        return total, power, reserves
    with np.errstate(invalid="ignore", divide="ignore"):
        new_quality = np.where(total > 0, power / np.where(total > 0, total, 1.0), quality)
    return total, new_quality, reserves


# ------------------------------------------------------------------------------------------
# fortification and supply


def fortification_multiplier(
    multiplier: Real,
    erosion_exponent: Real,
    decay_per_day: Real,
    town_control: FloatArray,
    day: float,
) -> FloatArray:
    """Fortification multiplier on defender effectiveness, shape ``(n,)`` (>= 1).

    ``1 + (multiplier - 1) * (1 - town_control)**erosion_exponent * exp(-decay_per_day * day)``.
    """
    held = np.subtract(1.0, town_control)
    np.clip(held, 0.0, 1.0, out=held)
    out = np.power(held, erosion_exponent, out=held)
    out *= (multiplier - 1.0) * np.exp(-decay_per_day * day)
    out += 1.0
    return out


def days_of_supply(stockpile: FloatArray, personnel: FloatArray, per_person: float) -> FloatArray:
    """Stockpile over daily consumption (days), shape ``(n,)``; inf when nothing is consumed."""
    need = personnel * per_person
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if need.size and need.min() > 0:  # the usual case
            return np.asarray(stockpile / need, dtype=np.float64)
        return np.where(need > 0, stockpile / np.where(need > 0, need, 1.0), np.inf)


def supply_effectiveness(
    days: FloatArray, full_effect_days: Real, min_effectiveness: Real
) -> FloatArray:
    """Effectiveness multiplier from days of supply: linear from ``min_effectiveness`` at 0 days
    to 1 at ``full_effect_days`` and above, shape ``(n,)``."""
    frac = np.clip(days / full_effect_days, 0.0, 1.0)
    return min_effectiveness + (1.0 - min_effectiveness) * frac


def consume(
    stockpile: FloatArray, personnel: FloatArray, per_person: float, dt: float
) -> tuple[FloatArray, BoolArray]:
    """Consume a step's supplies; returns (new stockpile, True where need was not met)."""
    need = personnel * per_person * dt
    short = stockpile < need
    return np.maximum(stockpile - need, 0.0), short


# ------------------------------------------------------------------------------------------
# ground


def local_force_ratio(
    attacker_power: FloatArray,
    defender_power: FloatArray,
    attacker_share: FloatArray,
    defender_share: FloatArray,
    fortified: BoolArray,
    fortification: FloatArray,
) -> FloatArray:
    """Effective force ratio (attacker over defender) in each sector, shape ``(n, s)``.

    ``*_power`` are personnel times effectiveness ``(n,)``; shares are normalised efforts
    ``(s,)``; the defender's power is multiplied by ``fortification`` ``(n,)`` in the
    ``fortified`` sectors ``(s,)``.
    """
    att = outer(attacker_power, attacker_share)
    dfd = outer(defender_power, defender_share)
    for j in np.flatnonzero(fortified):
        dfd[:, j] *= fortification
    if dfd.size == 0 or dfd.min() > 0:  # the usual case: every sector defended
        att /= dfd
        return att
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = att / np.where(dfd > 0, dfd, 1.0)
    return np.where(dfd > 0, ratio, np.where(att > 0, np.inf, 1.0))


def per_row(value: Real) -> Real:
    """A per-replication value ``(n,)`` as a column ``(n, 1)`` that broadcasts over the
    sectors or routes of ``(n, k)`` arrays; a number as it is."""
    return value[:, None] if np.ndim(value) == 1 else value  # type: ignore[index]


def advance_control(
    control: FloatArray,
    drive: FloatArray,
    rate: FloatArray | float,
    dt: float,
    noise: FloatArray,
) -> FloatArray:
    """New control fractions after a step, shape ``(n, s)``, always within [0, 1].

    ``drive`` is the advance law's push at the local force ratio ``(n, s)`` (see
    :mod:`siege.model.advance`; used up: the result is computed in it); ``rate`` is advance
    rate times terrain times the global multiplier ``(s,)`` or ``(n, s)``, or 1 for a law not
    paced by the sectors' rates (1/day); ``noise``
    is a mean-one multiplier ``(n, s)``. Gains scale with ground left to take, losses with
    ground held.
    """
    # delta = rate * drive * dt * noise, computed in place in one array (this runs on every
    # sector of every replication daily)
    x = drive
    x *= rate * dt  # (s,) or (n, s)
    x *= noise  # x is now delta
    x *= np.where(x > 0, 1.0 - control, control)  # the gain
    x += control
    return np.clip(x, 0.0, 1.0, out=x)


def advance_drive(force_ratio: FloatArray, sensitivity: Real, parity: Real) -> FloatArray:
    """``tanh(sensitivity * ln(force_ratio / parity))`` in [-1, 1], shape ``(n, s)`` (a new
    array): how hard the front is pushed, before the rate, the noise and the gain (the
    ``tanh`` advance law of :mod:`siege.model.advance`)."""
    x = np.maximum(force_ratio, 1e-300)
    x /= per_row(parity)
    if np.all(sensitivity == 1.0):  # tanh(ln x) = 1 - 2 / (x**2 + 1): no log or tanh needed
        with np.errstate(over="ignore"):
            np.square(x, out=x)
        x += 1.0
        np.divide(-2.0, x, out=x)
        x += 1.0
    else:
        with np.errstate(divide="ignore"):
            np.log(x, out=x)
        x *= per_row(sensitivity)
        np.tanh(x, out=x)
    return x


def advance_velocity(
    control: FloatArray, drive: FloatArray, rate: FloatArray | float
) -> FloatArray:
    """Expected change of control per day, shape ``(n, s)``: :func:`advance_control`'s step
    over ``dt`` divided by ``dt`` as ``dt`` goes to 0, noise at its mean of 1 (the mean-field
    engine's rate of advance), from the advance law's ``drive`` ``(n, s)`` (used up). Gains
    scale with ground left to take, losses with ground held."""
    x = drive
    x *= rate  # (s,) or (n, s)
    x *= np.where(x > 0, 1.0 - control, control)
    return x


# ------------------------------------------------------------------------------------------
# routes and encirclement


def adjacent_control(control: FloatArray, adjacency: BoolArray) -> FloatArray:
    """Highest attacker control among each route's adjacent sectors, shape ``(n, r)``.

    ``adjacency`` is ``(r, s)``; a route with no adjacent sector has control 0 (control is
    a fraction in [0, 1]).
    """
    if control.shape[1] == 0 or adjacency.shape[0] == 0:
        return np.zeros((control.shape[0], adjacency.shape[0]), order="F")
    # one column reduction per route instead of an (n, r, s) masked array: same values
    # (the masked form takes the maximum with 0 over non-adjacent sectors), a fraction of
    # the memory traffic
    out = np.empty((control.shape[0], adjacency.shape[0]), order="F")
    for j in range(adjacency.shape[0]):
        cols = np.flatnonzero(adjacency[j])
        if cols.size == 0:
            out[:, j] = 0.0
            continue
        out[:, j] = control[:, cols[0]]
        for c in cols[1:]:
            np.maximum(out[:, j], control[:, c], out=out[:, j])
    return out


def interdiction_probability(
    adjacent: FloatArray, base: FloatArray, at_full_control: FloatArray
) -> FloatArray:
    """Probability that a convoy is lost, shape ``(n, r)``: linear in adjacent control."""
    return np.clip(base + (at_full_control - base) * adjacent, 0.0, 1.0)


def update_cuts(
    cut: BoolArray, adjacent: FloatArray, cut_at: FloatArray, restore_below: FloatArray
) -> BoolArray:
    """Route cut states with hysteresis, shape ``(n, r)``: cut at ``cut_at`` control, reopen
    below ``restore_below``."""
    return np.where(cut, adjacent >= restore_below, adjacent >= cut_at)


def convoy_threshold(cut: BoolArray, interdiction: FloatArray) -> FloatArray:
    """Draw threshold of a convoy, same shape as the inputs: a convoy whose uniform [0, 1)
    draw is at least this gets through, so the probability of loss is the interdiction
    probability, and 1 on a cut route (the threshold, 2, is never reached)."""
    return np.where(cut, 2.0, interdiction)


def convoy_deliveries(
    uniform: NDArray[np.floating[Any]], threshold: FloatArray, load_tonnes: float
) -> FloatArray:
    """Tonnes delivered on each replication, ``(n,)``, by convoys whose uniform draws are the
    rows of ``uniform`` ``(k, n)`` (or one convoy, ``(n,)``): the load of each convoy that
    gets through; nothing for one that is lost or whose route is cut."""
    through = np.atleast_2d(uniform >= threshold)
    return np.asarray(through.sum(axis=0) * load_tonnes, dtype=np.float64)


def open_capacity_fraction(
    cut: BoolArray, interdiction: FloatArray, capacity: FloatArray
) -> FloatArray:
    """Share of route capacity that gets through (neither cut nor interdicted), ``(n,)``."""
    total = capacity.sum()
    if total <= 0:
        return np.zeros(cut.shape[0])
    through = 1.0 - interdiction
    through *= ~cut
    # weighted sum of the columns (no matrix product: BLAS may start threads for it)
    weights = capacity / total
    out = through[:, 0] * weights[0]
    for j in range(1, weights.shape[0]):
        out += through[:, j] * weights[j]
    return out


def encirclement_threat(
    flank_control: FloatArray, open_capacity: FloatArray, flank_weight: Real
) -> FloatArray:
    """Encirclement threat in [0, 1], shape ``(n,)``: flank control and lost route capacity."""
    return flank_weight * flank_control + (1.0 - flank_weight) * (1.0 - open_capacity)


def pocket_closed(
    cut: BoolArray, flank_control: FloatArray, has_flanks: bool, closure: Real
) -> BoolArray:
    """True where the pocket has closed: every route cut and the flanks taken, ``(n,)``."""
    if not has_flanks:
        return np.zeros(flank_control.shape[0], dtype=bool)
    all_cut = cut.all(axis=1) if cut.shape[1] else np.ones(cut.shape[0], dtype=bool)
    return np.asarray(all_cut & (flank_control >= closure), dtype=bool)


# ------------------------------------------------------------------------------------------
# decisions and withdrawal


def compare(values: FloatArray, op: str, threshold: Real) -> BoolArray:
    """Evaluate one trigger's comparison, shape ``(n,)``; NaN never triggers."""
    with np.errstate(invalid="ignore"):
        if op == ">=":
            return values >= threshold
        if op == "<=":
            return values <= threshold
        if op == ">":
            return values > threshold
        if op == "<":
            return values < threshold
    raise ValueError(f"unknown comparison {op!r}")


def combine(fired: BoolArray, how: str) -> BoolArray:
    """Combine trigger states ``(n, t)`` into one decision ``(n,)``: any or all."""
    if fired.shape[1] == 0:
        return np.zeros(fired.shape[0], dtype=bool)
    out = fired.any(axis=1) if how == "any" else fired.all(axis=1)
    return np.asarray(out, dtype=bool)


def withdrawal_loss_rate(
    open_capacity: FloatArray, rate_open: Real, rate_no_routes: Real
) -> FloatArray:
    """Share of the garrison lost per day while withdrawing, ``(n,)``: interpolated between
    all routes open and none."""
    return by_open_routes(open_capacity, rate_open, rate_no_routes)


def by_open_routes(
    open_capacity: FloatArray, value_open: Real, value_no_routes: Real
) -> FloatArray:
    """A value interpolated linearly between all route capacity open (``open_capacity`` 1)
    and none (0), ``(n,)``."""
    return value_no_routes + (value_open - value_no_routes) * np.clip(open_capacity, 0.0, 1.0)


def ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """Elementwise ratio with inf for x/0 (x > 0) and NaN for 0/0 (exchange ratios)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(numerator / denominator, dtype=np.float64)
