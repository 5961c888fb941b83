"""The values the rules read: a plain record, built from a scenario by the scenario layer
(:func:`siege.scenario.compile.build_params`), so the model knows nothing of scenario files.

Values typed :data:`Real` are one number for the whole block, or one value per replication,
shape ``(n,)`` (per-replication parameters: calibration particles, posterior draws); the rules
that read them broadcast. Per-sector and per-route arrays ``(s,)`` / ``(r,)`` may likewise be
``(n, s)`` / ``(n, r)``. :attr:`ModelParams.varied` names the values that hold one row per
replication, so that :meth:`ModelParams.take` can keep them in step with the running
replications. Values typed ``float`` decide which random draws are made or when something
happens (noise spreads, dates, durations), so they stay one number per block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: a parameter value: one number, or one per replication ``(n,)``
Real = float | NDArray[np.float64]


@dataclass(frozen=True)
class ForceParams:
    """One side: day-0 force and how it is reinforced (persons, persons/day, multipliers)."""

    strength: Real  # personnel on day 0
    quality: Real  # effectiveness of the day-0 force and of trained troops
    reinforcement_rate: Real  # trained personnel per day while the pool lasts
    trained_reserves: Real  # pool of trained personnel (inf: unlimited)
    replacement_rate: Real  # untrained personnel per day
    replacement_quality: Real


@dataclass(frozen=True)
class AttritionParams:
    """The attrition law (a name in :data:`siege.model.laws.LAWS`) and its parameters."""

    law: str
    helmbold_exponent: Real  # dimensionless
    attacker_kill_rate: Real  # defender casualties per unit of attacker fire per day
    defender_kill_rate: Real  # attacker casualties per unit of defender fire per day
    overdispersion: float  # negative-binomial 1/k; 0: Poisson
    # law "general": defender losses ~ A**attacker_firer * D**defender_target, attacker
    # losses ~ D**defender_firer * A**attacker_target (dimensionless exponents)
    attacker_firer_exponent: Real = 1.0
    defender_target_exponent: Real = 0.0
    defender_firer_exponent: Real = 1.0
    attacker_target_exponent: Real = 0.0


@dataclass(frozen=True)
class TriggerParams:
    """A trigger: ``measure op threshold``, the measure a name in
    :data:`siege.model.measures.MEASURES`."""

    name: str
    measure: str
    op: str  # ">=", "<=", ">" or "<"
    threshold: Real  # in the measure's unit


@dataclass(frozen=True)
class SpreadWave:
    """A dated wave spread evenly over a window: ``personnel / duration_days`` persons a day
    join ``side`` from ``day`` to ``day + duration_days`` (days), at ``quality``."""

    side: str  # "defender" or "attacker"
    day: float
    duration_days: float
    personnel: float
    quality: float

    def inflow(self, t: float, dt: float) -> float:
        """Persons arriving in ``[t, t + dt)`` (days): the rate times the overlap."""
        overlap = min(t + dt, self.day + self.duration_days) - max(t, self.day)
        return self.personnel * overlap / self.duration_days if overlap > 0 else 0.0


@dataclass(frozen=True)
class ModelParams:
    """Everything the rules read. Sector arrays are ``(s,)``, route arrays ``(r,)``,
    ``adjacency`` is ``(r, s)``; rebuilt whenever a dated event changes a parameter."""

    # time (days)
    horizon_days: float
    counteroffensive_day: float  # inf: none
    # forces
    defender: ForceParams
    attacker: ForceParams
    collapse_fraction: Real  # of day-0 defender personnel
    culmination_fraction: Real  # of day-0 attacker combat power
    attrition: AttritionParams
    # fortification: 1 + (multiplier - 1) (1 - town control)^erosion exp(-decay t)
    fortification_multiplier: Real
    erosion_exponent: Real
    fortification_decay_per_day: Real
    # advance: the law (a name in siege.model.advance.ADVANCE_LAWS) and its parameters
    advance_law: str
    sensitivity: Real  # tanh: steepness
    parity: Real  # local effective force ratio at which the line does not move
    advance_exponent: Real  # dupuy: exponent of the excess of combat power over parity
    ground_per_loss: Real  # losses: ground gained per unit of fractional defender losses
    noise_cv: float
    campaign_cv: float
    # sectors
    sector_names: tuple[str, ...]
    initial_control: NDArray[np.float64]  # attacker fraction on day 0
    attacker_share: NDArray[np.float64]  # normalised efforts
    defender_share: NDArray[np.float64]
    sector_rate: NDArray[np.float64]  # advance_rate * terrain * advance.multiplier (1/day)
    fortified: NDArray[np.bool_]
    flank: NDArray[np.bool_]
    # supply (tonnes, days)
    stockpile_tonnes: Real
    storage_tonnes: float  # inf: no limit
    consumption_per_person_day: float  # 0: supply is not modelled
    full_effect_days: Real
    min_effectiveness: Real
    # routes
    route_names: tuple[str, ...]
    capacity: NDArray[np.float64]  # tonnes/day
    convoys_per_day: NDArray[np.float64]
    convoy_load: NDArray[np.float64]  # tonnes per convoy
    interdiction_base: NDArray[np.float64]
    interdiction_full: NDArray[np.float64]
    under_fire_at: NDArray[np.float64]
    cut_at: NDArray[np.float64]
    restore_below: NDArray[np.float64]
    adjacency: NDArray[np.bool_]
    route_ground: NDArray[np.bool_]  # (r,) a ground route (cut by control); else air or sea
    # encirclement
    flank_weight: Real
    closure_flank_control: Real
    # capture of the town (siege.model.pocket): inf, never
    capture_control: Real  # mean control of the non-flank sectors at which the town falls
    escape_fraction: Real  # share of the garrison that gets out, all ground routes open
    escape_fraction_no_routes: Real  # the same, no ground route open
    # a pocket that holds out (siege.model.pocket); False: a closed pocket ends `encircled`
    pocket: bool
    reinforced_in_pocket: bool  # reinforcements and replacements reach the pocket (air, sea)
    surrender_strength_fraction: Real  # of day-0 personnel; -inf: never
    surrender_supply_days: Real  # days of supply; -inf: never
    surrender_shortfall_days: Real  # days short of supply; inf: never
    relief_day: float  # days; inf: no relief
    relief_flank_control: float  # flank control a relief leaves; NaN: the relief ends the siege
    # decisions
    withdraw_on_triggers: bool  # policy kind "threshold" (else triggers are only recorded)
    combine: str  # "any" or "all"
    first_review_day: float
    review_interval_days: float
    decision_latency_days: Real
    rolling_window_days: float
    triggers: tuple[TriggerParams, ...]
    # withdrawal
    withdrawal_days: float
    withdrawal_loss_rate: Real  # share of the garrison per day, all routes open
    withdrawal_loss_rate_no_routes: Real  # with no open route capacity
    # the attributes holding one row per replication, as dotted attribute names
    # ("defender.quality", "sector_rate", "triggers.1.threshold"); empty for one scenario
    varied: tuple[str, ...] = ()
    # waves spread over a window (waves that arrive at once are dated events of the engines)
    spread_waves: tuple[SpreadWave, ...] = ()

    @property
    def n_sectors(self) -> int:
        return len(self.sector_names)

    @property
    def n_routes(self) -> int:
        return len(self.route_names)

    @property
    def trigger_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.triggers)

    @property
    def has_flanks(self) -> bool:
        return bool(self.flank.any())

    @property
    def has_fortified(self) -> bool:
        return bool(self.fortified.any())

    def vary(self, values: dict[str, NDArray[np.float64]]) -> ModelParams:
        """These parameters with each attribute path of ``values`` (``"defender.quality"``,
        ``"triggers.1.threshold"``) set to its rows, one per replication; recorded in
        :attr:`varied`."""
        out: ModelParams = self
        for name, rows in values.items():
            out = _replace_at(out, name.split("."), lambda _old, rows=rows: rows)
        return replace(out, varied=tuple(dict.fromkeys((*self.varied, *values))))

    def take(self, index: NDArray[np.intp]) -> ModelParams:
        """The parameters of the replications at positions ``index`` (rows of every varied
        value); itself when nothing varies per replication."""
        if not self.varied:
            return self
        out: ModelParams = self
        for name in self.varied:
            out = _replace_at(out, name.split("."), lambda rows: np.take(rows, index, axis=0))
        return out

    def count_of(self, items: str) -> int:
        """How many there are of what a count measure counts (``"routes"``)."""
        if items == "routes":
            return self.n_routes
        raise ValueError(f"nothing called {items!r} is counted")


def _replace_at(record: Any, parts: list[str], change: Any) -> Any:
    """``record`` with the value at the attribute path ``parts`` replaced by ``change(value)``
    (a number in ``parts`` indexes a tuple, as in ``triggers.1.threshold``)."""
    head, rest = parts[0], parts[1:]
    if isinstance(record, tuple):
        i = int(head)
        item = change(record[i]) if not rest else _replace_at(record[i], rest, change)
        return (*record[:i], item, *record[i + 1:])
    value = getattr(record, head)
    return replace(record, **{head: change(value) if not rest else _replace_at(value, rest,
                                                                                 change)})
