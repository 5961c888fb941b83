"""What each replication reports when it ends: the one table of outcome columns.

:data:`OUTCOMES` gives each column's name, unit, type, meaning and how it is computed from
the state of the replications that end; families (``per``) give one column per route or
trigger, named ``<name>_<route>`` / ``<name>_<trigger>``. The results files' schema, the
summary's measures and their units are derived from it. A new outcome is one function and one
entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from siege.model import pocket, rules
from siege.model.measures import ground_open_capacity
from siege.model.params import ModelParams
from siege.model.rules import CAPTURED, CULMINATED, ENCIRCLED, HELD, SURRENDERED
from siege.model.state import SiegeState

F64 = NDArray[np.float64]


class Ended:
    """The replications in ``mask`` that end now: their end reasons, end days and final
    state, ``(k,)`` arrays (``(k, r)`` / ``(k, t)`` per route / trigger)."""

    def __init__(
        self,
        state: SiegeState,
        params: ModelParams,
        mask: NDArray[np.bool_],
        reason: NDArray[np.int8],
        end_day: F64,
    ) -> None:
        self.state = state
        self.params = params
        self.mask = mask
        self.reason = reason[mask]
        self.end_day = end_day[mask]
        self.order_day = state.order_day[mask]
        self.encircled = self.reason == ENCIRCLED

    @cached_property
    def defender_out(self) -> F64:
        """Personnel of the garrison still free at the end: none of a garrison encircled or
        surrendered, the part of a captured town's garrison that gets out, all otherwise."""
        remaining = self.state.defender[self.mask]
        lost = self.encircled | (self.reason == SURRENDERED)
        out = np.where(lost, 0.0, remaining)
        taken = self.reason == CAPTURED
        if taken.any():
            p = self.params
            escaped = pocket.escaped(self.state.defender, ground_open_capacity(self.state, p),
                                     p.escape_fraction, p.escape_fraction_no_routes)
            out = np.where(taken, escaped[self.mask], out)
        return np.asarray(out, dtype=np.float64)

    @cached_property
    def days_held(self) -> F64:
        return days_held(self.reason, self.end_day, self.order_day, self.params.horizon_days)

    @cached_property
    def defender_losses(self) -> F64:
        """Losses, counting as lost the remaining personnel of a garrison encircled or
        surrendered, and of a captured town's garrison the part that does not get out."""
        remaining = self.state.defender[self.mask]
        return self.state.defender_losses[self.mask] + (remaining - self.defender_out)

    @cached_property
    def attacker_losses(self) -> F64:
        return self.state.attacker_losses[self.mask]


def days_held(reason: NDArray[np.int8], end_day: F64, order_day: F64, horizon: float) -> F64:
    """Days the defender held the town: to the horizon if the attacker culminated, to the end
    if held (the horizon, or a relief that ended the siege), else to the start of the
    withdrawal or the end, whichever came first."""
    relieved = (reason == HELD) & (end_day < horizon - rules.TIME_EPS)
    kept = ((reason == HELD) & ~relieved) | (reason == CULMINATED)
    return np.where(kept, horizon, np.minimum(end_day, order_day))


@dataclass(frozen=True)
class Outcome:
    """An outcome column. ``value(ended)`` is ``(k,)``, or ``(k, m)`` for a family (one
    column per route or trigger); None for the columns the engine writes itself."""

    name: str
    unit: str
    dtype: Literal["int64", "string", "float64"]
    description: str
    value: Callable[[Ended], F64] | None = None
    per: Literal["route", "trigger"] | None = None
    summary: bool = False  # summarized (and compared) as a distribution over replications


def withdrawal_start_day(e: Ended) -> F64:
    """Day the withdrawal began; NaN if none began before the end."""
    order = e.order_day
    return np.where(np.isinf(order) | (order > e.end_day), np.nan, order)


def days_beyond_counteroffensive(e: Ended) -> F64:
    """Days held beyond the counter-offensive readiness day (0 with no date)."""
    return np.maximum(e.days_held - e.params.counteroffensive_day, 0.0)


def supply_shortfall_days(e: Ended) -> F64:
    """Days the stockpile fell short of consumption."""
    # a step that ends after the replication does is counted only up to its end
    return np.minimum(e.state.shortfall_days[e.mask], e.end_day)


def route_open_days(e: Ended) -> F64:
    """Days each route was not cut, ``(k, r)``."""
    return np.minimum(e.state.route_open_days[e.mask], e.end_day[:, None])


OUTCOMES: dict[str, Outcome] = {
    o.name: o
    for o in (
        Outcome("replication", "", "int64", "replication id (0..n-1)"),
        Outcome("end_reason", "", "string",
                ", ".join(f"`{r}`" for r in rules.END_REASONS[:-1])
                + f" or `{rules.END_REASONS[-1]}`"),
        Outcome("end_day", "days", "float64", "day the replication ended",
                lambda e: e.end_day, summary=True),
        Outcome("days_held", "days", "float64",
                "days the town was held: to the end if held (the horizon or a relief), to the "
                "horizon if the attacker culminated, else to the start of the withdrawal or "
                "the end",
                lambda e: e.days_held, summary=True),
        Outcome("withdrawal_start_day", "days", "float64",
                "day the withdrawal began; NaN if none", withdrawal_start_day),
        Outcome("defender_losses", "personnel", "float64",
                "casualties; an encircled or surrendered garrison counts as lost, and the part "
                "of a captured town's garrison that does not get out",
                lambda e: e.defender_losses, summary=True),
        Outcome("attacker_losses", "personnel", "float64", "casualties",
                lambda e: e.attacker_losses, summary=True),
        Outcome("exchange_ratio", "attacker/defender", "float64",
                "attacker losses / defender losses (inf if the defender lost nobody)",
                lambda e: rules.ratio(e.attacker_losses, e.defender_losses), summary=True),
        Outcome("days_beyond_counteroffensive", "days", "float64",
                "days held beyond `counteroffensive_day`: time bought",
                days_beyond_counteroffensive, summary=True),
        Outcome("supply_shortfall_days", "days", "float64",
                "days the stockpile could not meet consumption", supply_shortfall_days,
                summary=True),
        Outcome("defender_final_strength", "personnel", "float64",
                "personnel at the end still free (0 if encircled or surrendered; those who "
                "got out of a captured town)", lambda e: e.defender_out),
        Outcome("attacker_final_strength", "personnel", "float64", "personnel at the end",
                lambda e: e.state.attacker[e.mask]),
        Outcome("route_open_days", "days", "float64", "days each route was not cut",
                route_open_days, per="route"),
        Outcome("trigger_first_day", "days", "float64",
                "day each trigger first held at a review; NaN if never",
                lambda e: e.state.trigger_first[e.mask], per="trigger"),
    )
}

#: the summarized outcomes and their units
SUMMARY_UNITS: dict[str, str] = {o.name: o.unit for o in OUTCOMES.values() if o.summary}


def outcome_columns(params: ModelParams) -> list[tuple[str, Outcome]]:
    """Every column of the outcome table (families expanded), in file order."""
    out: list[tuple[str, Outcome]] = []
    for o in OUTCOMES.values():
        if o.per is None:
            out.append((o.name, o))
        else:
            out.extend((f"{o.name}_{item}", o) for item in _members(params, o.per))
    return out


def _members(params: ModelParams, per: str) -> tuple[str, ...]:
    """The routes or triggers a family has one column for."""
    return params.route_names if per == "route" else params.trigger_names


def computed_columns(params: ModelParams) -> list[str]:
    """The columns computed from the state when a replication ends (every column but
    ``replication`` and ``end_reason``), in file order."""
    return [name for name, o in outcome_columns(params) if o.value is not None]


def final_outcomes(
    state: SiegeState,
    params: ModelParams,
    mask: NDArray[np.bool_],
    reason: NDArray[np.int8],
    end_day: F64,
) -> dict[str, F64]:
    """Outcome values of the replications in ``mask`` that end now, one array per column."""
    ended = Ended(state, params, mask, reason, end_day)
    out: dict[str, F64] = {}
    for o in OUTCOMES.values():
        if o.value is None:
            continue
        values = o.value(ended)
        if o.per is None:
            out[o.name] = values
        else:
            for j, item in enumerate(_members(params, o.per)):
                out[f"{o.name}_{item}"] = values[:, j]
    return out
