"""The scenario file: a typed, validated, documented schema (pydantic).

A scenario is immutable. Every number carries its unit in its field description; ``siege
validate FILE`` prints the resolved scenario with defaults filled in. Unknown keys are errors.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from siege.errors import ScenarioError
from siege.scenario.paths import KeyedError, resolve_path, set_paths, thaw, unchangeable
from siege.scenario.validate import validate

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Identifier: lower-case letters, digits and '_', starting with a letter.",
    ),
]
MAX_HORIZON_DAYS = 3650  # ten years: the daily bands take about 80 kB a day per accumulator
MAX_TRAJECTORY_DAYS = 100_000  # sample trajectories times days kept: a few hundred MB at most
MIN_REVIEW_INTERVAL_DAYS = 0.01  # about a quarter of an hour; reviews are simulation steps
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    """Every scenario table: unknown keys are errors, values immutable, and types strict (a
    boolean is never a number, a string never a number or a boolean, a float never an
    integer; an integer is a float where a float is expected)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _arrays_as_tuples(cls, value: Any, info: ValidationInfo) -> Any:
        """TOML arrays arrive as lists; strict mode takes only tuples for tuple fields."""
        field = cls.model_fields[info.field_name or ""]
        if isinstance(value, list) and get_origin(field.annotation) is tuple:
            return tuple(value)
        return value


# --------------------------------------------------------------------------------------------
# simulation


class Simulation(_Strict):
    """How long, how finely and how many times the siege is simulated."""

    horizon_days: float = Field(
        300.0,
        gt=0,
        le=MAX_HORIZON_DAYS,
        description=(
            "Length of the period modelled (days), at most ten years: the daily bands hold a "
            "histogram of every measure for every day (about 80 kB a day), whatever the "
            "replication count."
        ),
    )
    time_step_days: float = Field(
        1.0,
        gt=0,
        description="Combat time step of the batch engine (days). Must not exceed the horizon.",
    )
    replications: int = Field(
        2000, ge=1, le=1_000_000_000, description="Monte Carlo replications (count)."
    )
    seed: int = Field(
        0, ge=0, le=2**63 - 1, description="Root seed of numpy.random.SeedSequence (integer)."
    )
    sample_trajectories: int = Field(
        20,
        ge=0,
        le=10_000,
        description=(
            "Full daily trajectories kept for the first K replications (count); K (or the "
            f"replications, if fewer) times the days of the horizon is at most "
            f"{MAX_TRAJECTORY_DAYS:,}, as each is kept in memory and written out day by day."
        ),
    )
    counteroffensive_day: float | None = Field(
        None,
        ge=0,
        description=(
            "Day the counter-offensive is ready (days from day 0); time held beyond it is "
            "'time bought'. None: no counter-offensive date."
        ),
    )

    @model_validator(mode="after")
    def _step_within_horizon(self) -> Simulation:
        if self.time_step_days > self.horizon_days:
            raise KeyedError(
                ("time_step_days",),
                f"time_step_days ({self.time_step_days:g}) is longer than horizon_days "
                f"({self.horizon_days:g}); it must be at most the horizon",
            )
        if self.horizon_days / self.time_step_days > 10_000_000:
            raise ValueError("horizon_days / time_step_days is over 10,000,000 steps")
        kept = min(self.sample_trajectories, self.replications) * (self.whole_days + 1)
        if kept > MAX_TRAJECTORY_DAYS:
            raise KeyedError(
                ("sample_trajectories",),
                f"{min(self.sample_trajectories, self.replications):,} sample trajectories of "
                f"{self.whole_days + 1:,} days are {kept:,} trajectory-days; at most "
                f"{MAX_TRAJECTORY_DAYS:,} are kept (each is held in memory and written out "
                "day by day)",
            )
        return self

    @property
    def whole_days(self) -> int:
        """Whole days in the horizon (days): the last day observed in the bands. The small
        allowance keeps a horizon such as 0.1 * 3000 from losing its last day to rounding."""
        return math.floor(self.horizon_days + 1e-9)


# --------------------------------------------------------------------------------------------
# forces


class Wave(_Strict):
    """A dated reinforcement: personnel that arrive at once."""

    day: float = Field(ge=0, description="Arrival day (days from day 0).")
    personnel: float = Field(ge=0, description="Personnel arriving (persons).")
    quality: float | None = Field(
        None,
        gt=0,
        le=10,
        description="Quality of the wave (multiplier); default: the side's `quality`.",
    )


class _Force(_Strict):
    strength: float = Field(gt=0, le=1e8, description="Personnel present on day 0 (persons).")
    quality: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Combat effectiveness multiplier of the day-0 force and trained troops.",
    )
    reinforcement_rate: float = Field(
        0.0,
        ge=0,
        description="Trained personnel sent per day while trained reserves last (persons/day).",
    )
    trained_reserves: float = Field(
        math.inf,
        ge=0,
        description="Pool the reinforcement rate draws on (persons); inf: unlimited.",
    )
    replacement_rate: float = Field(
        0.0,
        ge=0,
        description=(
            "Untrained replacements per day, not drawn from the trained pool (persons/day)."
        ),
    )
    replacement_quality: float = Field(
        0.5,
        gt=0,
        le=10,
        description="Quality of untrained replacements (multiplier, same scale as `quality`).",
    )
    waves: tuple[Wave, ...] = Field(
        (), description="Dated reinforcement waves ([[defender.waves]] / [[attacker.waves]])."
    )


class Defender(_Force):
    """The garrison of the town."""

    collapse_fraction: Fraction = Field(
        0.25,
        description=(
            "The defence collapses when personnel present fall below this fraction of day-0 "
            "strength (fraction)."
        ),
    )


class Attacker(_Force):
    """The besieging force."""

    culmination_fraction: Fraction = Field(
        0.3,
        description=(
            "The attacker culminates (can no longer attack) when its combat power, personnel "
            "times mean quality, falls below this fraction of its day-0 combat power (fraction)."
        ),
    )


# --------------------------------------------------------------------------------------------
# attrition and fortification


class Attrition(_Strict):
    """Stochastic Lanchester attrition.

    With A attackers and D defenders, expected defender losses per day are
    ``attacker_kill_rate * E_A * f(A, D)`` and attacker losses
    ``defender_kill_rate * E_D * f(D, A)``, E being each side's effectiveness:

    * ``square`` (aimed fire): f = A (kill rates in casualties per firer-day),
    * ``linear`` (area fire): f = A*D (kill rates in casualties per firer-target-day),
    * ``helmbold``: f = A*(D/A)**(1 - exponent) (Helmbold's form; exponent 1 is square).

    Losses are Poisson counts, or negative binomial with ``overdispersion`` > 0
    (variance = mean + overdispersion * mean**2), never more than the force present.
    """

    law: Literal["square", "linear", "helmbold"] = Field(
        "square", description="Attrition law: square | linear | helmbold."
    )
    helmbold_exponent: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Helmbold exponent W in [0, 1] (dimensionless); used when law = 'helmbold'.",
    )
    attacker_kill_rate: float = Field(
        ge=0,
        description=(
            "Defender casualties caused per unit of attacker fire per day (unit depends on the "
            "law: per attacker-day for square and helmbold, per attacker-defender-day for linear)."
        ),
    )
    defender_kill_rate: float = Field(
        ge=0,
        description="Attacker casualties caused per unit of defender fire per day (as above).",
    )
    overdispersion: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Negative-binomial overdispersion 1/k (dimensionless); 0: Poisson losses.",
    )


class Fortification(_Strict):
    """Fortified town: a multiplier on defender effectiveness that erodes as ground is lost.

    In fortified sectors the multiplier is
    ``1 + (multiplier - 1) * (1 - town_control)**erosion_exponent * exp(-decay_per_day * t)``,
    with town_control the attacker's mean control of the fortified sectors.
    """

    multiplier: float = Field(
        1.0, ge=1, le=100, description="Effectiveness multiplier of intact defences (>= 1)."
    )
    erosion_exponent: float = Field(
        1.0,
        ge=0,
        le=20,
        description="How fast the advantage falls as the town is taken (dimensionless).",
    )
    decay_per_day: float = Field(
        0.0, ge=0, le=10, description="Erosion by bombardment alone (1/day)."
    )


# --------------------------------------------------------------------------------------------
# ground


class Sector(_Strict):
    """A sector of the front; control is the attacker's fraction of it (0..1)."""

    name: Name
    control: Fraction = Field(0.0, description="Attacker control on day 0 (fraction).")
    attacker_effort: float = Field(
        1.0, ge=0, description="Relative share of the attacker's force committed here (weight)."
    )
    defender_effort: float = Field(
        1.0, ge=0, description="Relative share of the defender's force committed here (weight)."
    )
    advance_rate: float = Field(
        0.01,
        ge=0,
        le=10,
        description="Fastest change of control at an overwhelming local force ratio (1/day).",
    )
    terrain: float = Field(
        1.0, gt=0, le=10, description="Multiplier on the advance rate (urban < 1 < open)."
    )
    fortified: bool = Field(
        False, description="Part of the fortified town (the fortification multiplier applies)."
    )
    flank: bool = Field(False, description="A flank: its control drives the encirclement threat.")


class Advance(_Strict):
    """How control moves with the local force ratio R (attacker over defender effective strength).

    Per step: ``dc = advance_rate * terrain * multiplier * tanh(sensitivity * ln(R / parity))
    * dt * G``, with G a gamma variate of mean 1 and coefficient of variation ``noise_cv``;
    gains scale with the ground still to take (1 - c), losses with the ground held (c).
    """

    sensitivity: float = Field(
        1.0, gt=0, le=100, description="Steepness of the response to the force ratio."
    )
    parity: float = Field(
        1.0,
        gt=0,
        le=100,
        description="Local effective force ratio at which the line does not move (ratio).",
    )
    noise_cv: float = Field(
        0.5, ge=0, le=10, description="Day-to-day variability of the advance (coef. of variation)."
    )
    multiplier: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Global multiplier on advance rates, e.g. weather (dimensionless).",
    )
    campaign_cv: float = Field(
        0.0,
        ge=0,
        le=5,
        description=(
            "Spread of the attacker's tempo between replications: each replication's advance "
            "rates are multiplied by one gamma variate of mean 1 and this coefficient of "
            "variation, drawn at day 0 (uncertainty about how hard the attacker can push)."
        ),
    )


# --------------------------------------------------------------------------------------------
# supply


class Supply(_Strict):
    """The defender's stockpile, its consumption and the effect of running short."""

    stockpile_tonnes: float = Field(
        0.0, ge=0, description="Stockpile in the town on day 0 (tonnes)."
    )
    storage_tonnes: float = Field(
        math.inf,
        gt=0,
        description=(
            "Most the town can hold (tonnes); convoys bring no more than fills it. inf: no limit."
        ),
    )
    consumption_tonnes_per_person_day: float = Field(
        0.0, ge=0, le=10, description="Consumption per person present per day (tonnes)."
    )
    full_effect_days: float = Field(
        3.0,
        gt=0,
        description="Days of supply at and above which supply does not limit effectiveness (days).",
    )
    min_effectiveness: Fraction = Field(
        0.3, description="Effectiveness multiplier with an empty stockpile (fraction)."
    )


class Route(_Strict):
    """A named supply route into the town.

    Each convoy is lost with probability
    ``interdiction_base + (interdiction_at_full_control - interdiction_base) * c``, c the
    highest attacker control among the adjacent sectors. The route is cut (nothing gets through)
    once c reaches ``cut_at_control`` and reopens when c falls below ``restore_below_control``.
    """

    name: Name
    sectors: tuple[Name, ...] = Field(
        (), description="Adjacent sectors, by name, whose control threatens the route."
    )
    capacity_tonnes_per_day: float = Field(
        gt=0, description="Deliveries per day with every convoy getting through (tonnes/day)."
    )
    convoys_per_day: float = Field(
        4.0, gt=0, le=1000, description="Convoys sent per day, evenly spaced (count/day)."
    )
    interdiction_base: Probability = Field(
        0.0, description="Probability a convoy is lost with no adjacent attacker control."
    )
    interdiction_at_full_control: Probability = Field(
        0.5, description="Probability a convoy is lost when adjacent control is 1."
    )
    under_fire_at: Probability = Field(
        0.2,
        description="Interdiction probability at which the route counts as under fire.",
    )
    cut_at_control: float = Field(
        0.8, gt=0, le=1, description="Adjacent control at which the route is cut (fraction)."
    )
    restore_below_control: Fraction = Field(
        0.6, description="A cut route reopens when adjacent control falls below this (fraction)."
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> Route:
        if self.restore_below_control > self.cut_at_control:
            raise ValueError(
                f"restore_below_control ({self.restore_below_control:g}) must not exceed "
                f"cut_at_control ({self.cut_at_control:g})"
            )
        return self


class Encirclement(_Strict):
    """The encirclement-threat measure and the closing of the pocket.

    ``threat = flank_weight * mean flank control + (1 - flank_weight) * (1 - open capacity)``,
    open capacity being the share of route capacity neither cut nor interdicted. The pocket
    closes when every route is cut and mean flank control reaches ``closure_flank_control``.
    """

    flank_weight: Fraction = Field(0.5, description="Weight of flank control in the threat.")
    closure_flank_control: float = Field(
        0.9, gt=0, le=1, description="Mean flank control at which the pocket can close."
    )


# --------------------------------------------------------------------------------------------
# decisions


Measure = Literal[
    "encirclement_threat",
    "routes_open",
    "routes_under_fire",
    "days_of_supply",
    "strength_fraction",
    "rolling_exchange_ratio",
    "day",
    "days_past_counteroffensive",
]

MEASURE_UNITS: dict[str, str] = {
    "encirclement_threat": "0..1",
    "routes_open": "routes not cut (count)",
    "routes_under_fire": "routes cut or interdicted above `under_fire_at` (count)",
    "days_of_supply": "stockpile over daily consumption (days)",
    "strength_fraction": "defender personnel over day-0 strength (fraction)",
    "rolling_exchange_ratio": "attacker over defender losses in the rolling window (ratio)",
    "day": "days from day 0",
    "days_past_counteroffensive": "days since the counter-offensive readiness day",
}


class Trigger(_Strict):
    """A named condition on one measure, evaluated at each decision review."""

    name: Name
    measure: Measure = Field(description="What is measured; see MEASURE_UNITS for units.")
    op: Literal[">=", "<=", ">", "<"] = Field(description="Comparison with the threshold.")
    threshold: float = Field(description="Threshold, in the measure's unit.")


class Policy(_Strict):
    """The withdrawal policy: triggers reviewed on a schedule, combined, then a latency."""

    kind: Literal["hold", "threshold"] = Field(
        "hold",
        description="hold: never withdraw (triggers only recorded); threshold: withdraw on them.",
    )
    combine: Literal["any", "all"] = Field(
        "any", description="Withdraw when any / all of the triggers hold at a review."
    )
    review_interval_days: float = Field(
        1.0,
        ge=MIN_REVIEW_INTERVAL_DAYS,
        description=(
            "Time between decision reviews (days), at least 0.01 (a quarter of an hour): each "
            "review is a step of the simulation, and a shorter interval only multiplies them."
        ),
    )
    first_review_day: float = Field(0.0, ge=0, description="Day of the first review (days).")
    decision_latency_days: float = Field(
        0.0, ge=0, description="Time from the decision at a review to the order (days)."
    )
    rolling_window_days: float = Field(
        14.0, gt=0, le=365, description="Window of the rolling exchange ratio (days)."
    )
    triggers: tuple[Trigger, ...] = Field((), description="[[policy.triggers]] tables.")

    @model_validator(mode="after")
    def _triggers(self) -> Policy:
        names = [t.name for t in self.triggers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"trigger names must be unique; repeated: {', '.join(sorted(dup))}")
        if self.kind == "threshold" and not self.triggers:
            raise ValueError("policy kind 'threshold' needs at least one [[policy.triggers]]")
        return self


class Withdrawal(_Strict):
    """Withdrawal as an operation: it takes days, costs losses, and can be caught by the pocket."""

    duration_days: float = Field(3.0, gt=0, le=365, description="Duration (days).")
    loss_rate_per_day: Fraction = Field(
        0.01,
        description="Share of the garrison lost per day of withdrawal, all routes open (1/day).",
    )
    loss_rate_no_routes_per_day: Fraction = Field(
        0.1,
        description=(
            "Share lost per day with no open route capacity (1/day); interpolated in between."
        ),
    )


class Event(_Strict):
    """A dated change of parameters, e.g. ``set = { "attacker.replacement_rate" = 0 }``."""

    day: float = Field(ge=0, description="Day the change takes effect (days from day 0).")
    set: dict[str, Any] = Field(
        description="Dotted parameter paths to new values (routes and sectors by name)."
    )
    note: str = Field("", description="What the event stands for (free text).")


# --------------------------------------------------------------------------------------------
# the scenario


class Scenario(_Strict):
    """A complete, validated siege scenario."""

    name: str = Field("scenario", description="Short title of the scenario.")
    description: str = Field("", description="Free text.")
    simulation: Simulation = Field(default_factory=Simulation)
    defender: Defender
    attacker: Attacker
    attrition: Attrition
    fortification: Fortification = Field(default_factory=Fortification)
    advance: Advance = Field(default_factory=Advance)
    sectors: tuple[Sector, ...] = Field((), description="[[sectors]] tables.")
    supply: Supply = Field(default_factory=Supply)
    routes: tuple[Route, ...] = Field((), description="[[routes]] tables.")
    encirclement: Encirclement = Field(default_factory=Encirclement)
    policy: Policy = Field(default_factory=Policy)
    withdrawal: Withdrawal = Field(default_factory=Withdrawal)
    events: tuple[Event, ...] = Field((), description="[[events]] tables, dated changes.")

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        if self.supply.stockpile_tonnes > self.supply.storage_tonnes:
            raise KeyedError(
                ("supply", "stockpile_tonnes"),
                f"stockpile_tonnes ({self.supply.stockpile_tonnes:g}) exceeds storage_tonnes "
                f"({self.supply.storage_tonnes:g})",
            )
        sector_names = [s.name for s in self.sectors]
        dup = {n for n in sector_names if sector_names.count(n) > 1}
        if dup:
            raise ValueError(f"sector names must be unique; repeated: {', '.join(sorted(dup))}")
        route_names = [r.name for r in self.routes]
        dup = {n for n in route_names if route_names.count(n) > 1}
        if dup:
            raise ValueError(f"route names must be unique; repeated: {', '.join(sorted(dup))}")
        for i, route in enumerate(self.routes):
            for s in route.sectors:
                if s not in sector_names:
                    raise KeyedError(
                        ("routes", i, "sectors"),
                        f"route '{route.name}' refers to sector '{s}', which is not defined; "
                        f"defined sectors: {', '.join(sector_names) or '(none)'}",
                    )
        if self.sectors and sum(s.attacker_effort for s in self.sectors) <= 0:
            raise KeyedError(("sectors",), "at least one sector needs attacker_effort > 0")
        if self.sectors and sum(s.defender_effort for s in self.sectors) <= 0:
            raise KeyedError(("sectors",), "at least one sector needs defender_effort > 0")
        n_routes = len(self.routes)
        for i, trig in enumerate(self.policy.triggers):
            where = ("policy", "triggers", i, "threshold")
            if trig.measure == "encirclement_threat" and not 0 <= trig.threshold <= 1:
                raise KeyedError(where, "encirclement_threat thresholds lie in [0, 1]")
            if trig.measure in ("routes_open", "routes_under_fire") and not (
                0 <= trig.threshold <= n_routes
            ):
                raise KeyedError(
                    where, f"{trig.measure} thresholds lie in [0, {n_routes}] (routes defined)"
                )
            if trig.measure in ("days_of_supply", "strength_fraction", "day") and (
                trig.threshold < 0
            ):
                raise KeyedError(where, f"{trig.measure} thresholds are >= 0")
            if (
                trig.measure == "days_past_counteroffensive"
                and self.simulation.counteroffensive_day is None
            ):
                raise KeyedError(
                    ("policy", "triggers", i, "measure"),
                    "measure 'days_past_counteroffensive' needs simulation.counteroffensive_day",
                )
        for i, event in enumerate(self.events):
            for path in event.set:
                reason = unchangeable(path)
                if reason:
                    raise KeyedError(("events", i, "set", path), reason)
                resolve_path(self.model_dump(mode="python"), path)  # raises if absent
        return self

    @model_validator(mode="after")
    def _event_values(self) -> Scenario:
        """Each dated event's values, applied in the order a run applies them (by day, then
        as written), must leave a valid scenario: found here, not days into a run."""
        data = thaw(self.model_dump(mode="python"))
        data["events"] = []
        order = sorted(range(len(self.events)), key=lambda i: self.events[i].day)
        for i in order:
            event = self.events[i]
            try:
                set_paths(data, event.set, file="events")
                validate(type(self), data, file="events", text=None)
            except ScenarioError as exc:
                key = exc.key or ""
                path = next((p for p in event.set if p == key or p.startswith(key + ".")), None)
                where = "" if path == key else f"then {key or 'the scenario'} is invalid: "
                raise KeyedError(
                    ("events", i, "set", path or next(iter(event.set), "")),
                    f"from day {event.day:g}: {where}{exc.detail}",
                ) from None
        return self

    # ---- conveniences -------------------------------------------------------------------
    @property
    def sector_names(self) -> list[str]:
        return [s.name for s in self.sectors]

    @property
    def route_names(self) -> list[str]:
        return [r.name for r in self.routes]

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario (defaults filled) as plain data, JSON-safe (inf as 'inf')."""
        return _json_safe(self.model_dump(mode="python"))

    def to_json(self) -> str:
        """Canonical JSON of the resolved scenario (sorted keys); what the hash is taken of."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of the resolved scenario (hex)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def with_overrides(self, overrides: Mapping[str, Any], *, source: str = "--set") -> Scenario:
        """A new scenario with dotted-path values replaced (routes and sectors by name)."""
        data = thaw(self.model_dump(mode="python"))
        set_paths(data, overrides, file=source)
        return validate(type(self), data, file=source, text=None)


def _json_safe(obj: Any) -> Any:
    """Plain JSON data: non-finite floats as strings, and -0.0 as 0.0 (equal values, so one
    hash: a scenario written with -0.0 is the same scenario)."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else "nan")
    if isinstance(obj, float) and obj == 0.0:
        return 0.0
    return obj
