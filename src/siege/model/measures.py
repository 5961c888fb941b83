"""Measures of the state: what is recorded each day as percentile bands, and what triggers
compare with their thresholds.

:data:`MEASURES` is the one table of them: name, unit, the kind of value (which decides the
values a trigger threshold may take, and the bins of its bands in
:mod:`siege.results.bands`), and the function that computes it from the state. A new trigger
measure is one function and one entry; the scenario schema takes its allowed trigger measures
and threshold ranges from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from siege.model import rules
from siege.model.params import ModelParams
from siege.model.state import SiegeState

F64 = NDArray[np.float64]

Kind = Literal["count", "fraction", "ratio", "amount", "signed"]

#: kind of value -> (what it is, lowest value, highest value); a count's highest value is the
#: number of things it counts
KINDS: dict[str, tuple[str, float, float]] = {
    "count": ("a whole number, from 0 to the number of things counted", 0.0, math.inf),
    "fraction": ("a fraction, from 0 to 1", 0.0, 1.0),
    "ratio": ("a ratio of two non-negative quantities, from 0 to inf", 0.0, math.inf),
    "amount": ("a non-negative quantity in its unit", 0.0, math.inf),
    "signed": ("a quantity in its unit, of either sign", -math.inf, math.inf),
}


@dataclass(frozen=True)
class Measure:
    """A measure of the running replications' state.

    ``value(state, params, day)`` is ``(n,)``, or ``(n, k)`` for a family (``per``: one
    measure per sector, named ``<name>_<sector>``)."""

    name: str
    unit: str  # as written in the bands file
    kind: Kind
    description: str  # what it is, for the scenario reference
    value: Callable[[SiegeState, ModelParams, float], F64]
    band: bool = False  # recorded every day as percentile bands and sample trajectories
    trigger: bool = False  # may be a trigger's measure
    per: Literal["sector"] | None = None
    counts: Literal["routes"] | None = None  # what a count measure counts
    needs: str | None = None  # a scenario value that must be set for it to have a meaning

    def value_range(self, counted: int = 0) -> tuple[float, float]:
        """Lowest and highest value (and trigger threshold); ``counted``: how many there are
        of what a count measure counts."""
        _, low, high = KINDS[self.kind]
        return (low, float(counted)) if self.kind == "count" else (low, high)


# ------------------------------------------------------------------------------------------
# derived quantities (also read by the transitions)


def town_control(state: SiegeState, params: ModelParams) -> F64:
    """Mean attacker control of the fortified sectors, ``(n,)`` (0 if none)."""
    if not params.has_fortified:
        return np.zeros(state.n)
    return _column_mean(state.control, params.fortified)


def flank_control(state: SiegeState, params: ModelParams) -> F64:
    """Mean attacker control of the flank sectors, ``(n,)`` (0 if none)."""
    if not params.has_flanks:
        return np.zeros(state.n)
    return _column_mean(state.control, params.flank)


def town_sectors_control(state: SiegeState, params: ModelParams) -> F64:
    """Mean attacker control of the town's sectors, those that are not flanks, ``(n,)`` (0 if
    none): what the capture of the town is judged on."""
    town = ~params.flank
    if not town.any():
        return np.zeros(state.n)
    return _column_mean(state.control, town)


def _column_mean(values: F64, columns: NDArray[np.bool_]) -> F64:
    """Mean of the selected columns of ``(n, k)`` values, ``(n,)``: summed column by column,
    as numpy sums a short row, without copying the columns out."""
    idx = np.flatnonzero(columns)
    total = values[:, idx[0]].copy()
    for j in idx[1:]:
        total += values[:, j]
    total /= idx.size
    return total


def supply_days(state: SiegeState, params: ModelParams) -> F64:
    """Days of supply in the stockpile at current consumption, ``(n,)``."""
    return rules.days_of_supply(state.stockpile, state.defender, params.consumption_per_person_day)


def open_capacity(state: SiegeState, params: ModelParams) -> F64:
    """Share of route capacity getting through, ``(n,)``."""
    return rules.open_capacity_fraction(state.cut, state.interdiction, params.capacity)


def ground_cut(state: SiegeState, params: ModelParams) -> NDArray[np.bool_]:
    """Cut states of the ground routes, ``(n, g)`` (air and sea routes are never cut)."""
    return state.cut if params.route_ground.all() else state.cut[:, params.route_ground]


def ground_open_capacity(state: SiegeState, params: ModelParams) -> F64:
    """Share of the ground routes' capacity getting through, ``(n,)``: the way out of a
    withdrawal or of a captured town (0 with no ground route)."""
    if params.route_ground.all():
        return open_capacity(state, params)
    return rules.open_capacity_fraction(state.cut, state.interdiction,
                                        params.capacity * params.route_ground)


# ------------------------------------------------------------------------------------------
# measures: (state, params, day) -> values


def defender_strength(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Defender personnel present."""
    return state.defender


def attacker_strength(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Attacker personnel present."""
    return state.attacker


def exchange_ratio(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Cumulative exchange ratio, attacker over defender losses."""
    return rules.ratio(state.attacker_losses, state.defender_losses)


def rolling_exchange_ratio(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Attacker over defender losses in the rolling window."""
    return state.window.exchange_ratio()


def days_of_supply(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Stockpile over daily consumption (days)."""
    return supply_days(state, params)


def routes_open(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Routes not cut."""
    return np.asarray((~state.cut).sum(axis=1), dtype=float)


def encirclement_threat(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Flank control and lost route capacity, weighted by ``flank_weight`` (0..1)."""
    return rules.encirclement_threat(
        flank_control(state, params), open_capacity(state, params), params.flank_weight
    )


def control(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Attacker control of each sector, ``(n, s)``."""
    return state.control


def routes_under_fire(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Routes cut or interdicted at or above their under-fire level."""
    hot = state.cut | (state.interdiction >= params.under_fire_at)  # (r,) or (n, r)
    return np.asarray(hot.sum(axis=1), dtype=float)


def strength_fraction(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Defender personnel over day-0 strength (with none on day 0: inf once there are some,
    NaN while there are none, which never triggers)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(state.defender / params.defender.strength, dtype=np.float64)


def defender_losses(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Defender casualties since day 0."""
    return state.defender_losses


def attacker_losses(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Attacker casualties since day 0."""
    return state.attacker_losses


def day_of_siege(state: SiegeState, params: ModelParams, day: float) -> F64:
    """The day, on every replication (days from day 0)."""
    return np.full(state.n, day)


def days_past_counteroffensive(state: SiegeState, params: ModelParams, day: float) -> F64:
    """Days since the counter-offensive readiness day (-inf with no date)."""
    return np.full(state.n, day - params.counteroffensive_day)


# the bands file lists the band measures in this order
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("defender_strength", "personnel", "amount",
                "defender personnel present", defender_strength, band=True),
        Measure("attacker_strength", "personnel", "amount",
                "attacker personnel present", attacker_strength, band=True),
        Measure("exchange_ratio", "attacker/defender losses", "ratio",
                "attacker over defender losses since day 0", exchange_ratio, band=True),
        Measure("rolling_exchange_ratio", "attacker/defender losses", "ratio",
                "attacker over defender losses in the rolling window",
                rolling_exchange_ratio, band=True, trigger=True),
        Measure("days_of_supply", "days", "amount",
                "stockpile over daily consumption", days_of_supply, band=True, trigger=True),
        Measure("routes_open", "routes", "count", "routes not cut", routes_open,
                band=True, trigger=True, counts="routes"),
        Measure("encirclement_threat", "0..1", "fraction",
                "flank control and lost route capacity, weighted by `flank_weight`",
                encirclement_threat, band=True, trigger=True),
        Measure("control", "attacker fraction", "fraction",
                "attacker control of each sector", control, band=True, per="sector"),
        Measure("defender_losses", "personnel", "amount",
                "defender casualties since day 0", defender_losses, band=True),
        Measure("attacker_losses", "personnel", "amount",
                "attacker casualties since day 0", attacker_losses, band=True),
        Measure("routes_under_fire", "routes", "count",
                "routes cut or interdicted at or above `under_fire_at`", routes_under_fire,
                trigger=True, counts="routes"),
        Measure("strength_fraction", "fraction of day-0 strength", "ratio",
                "defender personnel over day-0 strength", strength_fraction, trigger=True),
        Measure("day", "days", "amount", "days from day 0", day_of_siege, trigger=True),
        Measure("days_past_counteroffensive", "days", "signed",
                "days since the counter-offensive readiness day", days_past_counteroffensive,
                trigger=True, needs="simulation.counteroffensive_day"),
    )
}

TRIGGER_MEASURES: tuple[str, ...] = tuple(m.name for m in MEASURES.values() if m.trigger)
BAND_MEASURES: tuple[Measure, ...] = tuple(m for m in MEASURES.values() if m.band)


class BandColumn(NamedTuple):
    """One recorded band: its name, its measure, and how many there are of what a count
    measure counts (its highest value)."""

    name: str
    measure: Measure
    counted: int


def band_columns(params: ModelParams) -> list[BandColumn]:
    """The measures recorded as bands, one per name (families expanded), in file order."""
    out: list[BandColumn] = []
    for m in BAND_MEASURES:
        counted = params.count_of(m.counts) if m.counts else 0
        if m.per == "sector":
            out.extend(BandColumn(f"{m.name}_{s}", m, counted) for s in params.sector_names)
        else:
            out.append(BandColumn(m.name, m, counted))
    return out


def band_values(state: SiegeState, params: ModelParams, day: float) -> list[F64]:
    """Current values of the band measures, one ``(n,)`` array each, in
    :func:`band_columns` order."""
    values: list[F64] = []
    for m in BAND_MEASURES:
        v = m.value(state, params, day)
        if m.per is None:
            values.append(v)
        else:
            values.extend(v[:, j] for j in range(v.shape[1]))
    return values
