"""The scenario file: a typed, validated, documented schema (pydantic), loading and overrides.

A scenario is immutable. Every number carries its unit in its field description; ``siege
validate FILE`` prints the resolved scenario with defaults filled in. Unknown keys are errors.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from siege.errors import ScenarioError

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Identifier: lower-case letters, digits and '_', starting with a letter.",
    ),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------------------------
# simulation


class Simulation(_Strict):
    """How long, how finely and how many times the siege is simulated."""

    horizon_days: float = Field(
        300.0, gt=0, le=100_000, description="Length of the period modelled (days)."
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
        description="Full daily trajectories kept for the first K replications (count).",
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
            raise _KeyedError(
                ("time_step_days",),
                f"time_step_days ({self.time_step_days:g}) is longer than horizon_days "
                f"({self.horizon_days:g}); it must be at most the horizon"
            )
        if self.horizon_days / self.time_step_days > 10_000_000:
            raise ValueError("horizon_days / time_step_days is over 10,000,000 steps")
        return self


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
    strength: float = Field(
        gt=0, le=1e8, description="Personnel present on day 0 (persons)."
    )
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
    ``attacker_kill_rate * E_A * f(A, D)`` and attacker losses ``defender_kill_rate * E_D * g(D, A)``:

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
    flank: bool = Field(
        False, description="A flank: its control drives the encirclement threat."
    )


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
        1.0, gt=0, description="Time between decision reviews (days)."
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
    simulation: Simulation = Field(default_factory=Simulation)  # type: ignore[arg-type]
    defender: Defender
    attacker: Attacker
    attrition: Attrition
    fortification: Fortification = Field(default_factory=Fortification)  # type: ignore[arg-type]
    advance: Advance = Field(default_factory=Advance)  # type: ignore[arg-type]
    sectors: tuple[Sector, ...] = Field((), description="[[sectors]] tables.")
    supply: Supply = Field(default_factory=Supply)  # type: ignore[arg-type]
    routes: tuple[Route, ...] = Field((), description="[[routes]] tables.")
    encirclement: Encirclement = Field(default_factory=Encirclement)  # type: ignore[arg-type]
    policy: Policy = Field(default_factory=Policy)  # type: ignore[arg-type]
    withdrawal: Withdrawal = Field(default_factory=Withdrawal)  # type: ignore[arg-type]
    events: tuple[Event, ...] = Field((), description="[[events]] tables, dated changes.")

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        if self.supply.stockpile_tonnes > self.supply.storage_tonnes:
            raise _KeyedError(
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
                    raise _KeyedError(
                        ("routes", i, "sectors"),
                        f"route '{route.name}' refers to sector '{s}', which is not defined; "
                        f"defined sectors: {', '.join(sector_names) or '(none)'}",
                    )
        if self.sectors and sum(s.attacker_effort for s in self.sectors) <= 0:
            raise _KeyedError(("sectors",), "at least one sector needs attacker_effort > 0")
        if self.sectors and sum(s.defender_effort for s in self.sectors) <= 0:
            raise _KeyedError(("sectors",), "at least one sector needs defender_effort > 0")
        n_routes = len(self.routes)
        for i, trig in enumerate(self.policy.triggers):
            where = ("policy", "triggers", i, "threshold")
            if trig.measure == "encirclement_threat" and not 0 <= trig.threshold <= 1:
                raise _KeyedError(where, "encirclement_threat thresholds lie in [0, 1]")
            if trig.measure in ("routes_open", "routes_under_fire") and not (
                0 <= trig.threshold <= n_routes
            ):
                raise _KeyedError(
                    where, f"{trig.measure} thresholds lie in [0, {n_routes}] (routes defined)"
                )
            if trig.measure in ("days_of_supply", "strength_fraction", "day") and (
                trig.threshold < 0
            ):
                raise _KeyedError(where, f"{trig.measure} thresholds are >= 0")
            if (
                trig.measure == "days_past_counteroffensive"
                and self.simulation.counteroffensive_day is None
            ):
                raise _KeyedError(
                    ("policy", "triggers", i, "measure"),
                    "measure 'days_past_counteroffensive' needs simulation.counteroffensive_day",
                )
        for i, event in enumerate(self.events):
            for path in event.set:
                reason = _unchangeable(path)
                if reason:
                    raise _KeyedError(("events", i, "set", path), reason)
                _resolve_path(self.model_dump(mode="python"), path)  # raises if absent
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
        return apply_overrides(self, overrides, source=source)


class _KeyedError(ValueError):
    """A validation error tied to a location in the document (turned into ScenarioError)."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


# --------------------------------------------------------------------------------------------
# paths and overrides

_STATE_KEYS = {
    "strength": "is the day-0 strength, not a parameter that can change on a date",
    "control": "is the day-0 control; control moves with the fighting",
    "stockpile_tonnes": "is the day-0 stockpile; the stockpile moves with deliveries",
    "trained_reserves": "is the day-0 reserve pool; add a dated wave for new manpower",
    "name": "is an identifier",
    "waves": "are dated already; add a wave instead",
    "sectors": "cannot be changed on a date",
    "rolling_window_days": "cannot change during a run",
}


def _unchangeable(path: str) -> str | None:
    """Why a dated event may not set this path (None if it may)."""
    parts = path.split(".")
    if parts[0] in ("simulation", "events", "name", "description"):
        return f"'{path}' cannot be changed by a dated event; only model parameters can"
    if parts[0] == "policy" and parts[-1] in ("kind", "combine", "triggers"):
        return f"'{path}' cannot be changed by a dated event"
    last = parts[-1]
    if last in _STATE_KEYS and not (parts[0] == "routes" and last == "sectors" and False):
        return f"'{path}' {_STATE_KEYS[last]}"
    return None


_NAMED_LISTS = {"sectors", "routes", "triggers"}


def _resolve_path(data: dict[str, Any], path: str) -> tuple[Any, Any]:
    """Find the container and key of a dotted path in a scenario dump; raise KeyError-like."""
    parts = path.split(".")
    node: Any = data
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                options = ", ".join(sorted(node)) if node else "(none)"
                raise _KeyedError(
                    tuple(parts),
                    f"unknown key '{part}'"
                    + (f" under '{'.'.join(walked)}'" if walked else "")
                    + f"; allowed: {options}",
                )
            if last:
                return node, part
            node = node[part]
        elif isinstance(node, (list, tuple)) and walked and walked[-1] in _NAMED_LISTS:
            names = [item.get("name") for item in node]
            if part not in names:
                raise _KeyedError(
                    tuple(parts),
                    f"no {walked[-1][:-1]} named '{part}'; defined: "
                    f"{', '.join(str(n) for n in names) or '(none)'}",
                )
            if last:
                raise _KeyedError(tuple(parts), f"'{path}' names a whole table; name a field")
            node = node[names.index(part)]
        else:
            raise _KeyedError(tuple(parts), f"'{'.'.join(walked)}' has no sub-keys")
        walked.append(part)
    raise _KeyedError(tuple(parts), "empty path")


def _thaw(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_thaw(v) for v in obj]
    return obj


def apply_overrides(
    scenario: Scenario | Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    source: str = "--set",
    file: str | None = None,
) -> Scenario:
    """Return a validated scenario with each dotted path set to its value.

    Paths address tables by key and the items of ``sectors``, ``routes`` and
    ``policy.triggers`` by name: ``routes.chasiv_yar.capacity_tonnes_per_day``.
    Raises :class:`ScenarioError` naming the path if it does not exist or the value is invalid.
    """
    if isinstance(scenario, Scenario):
        data = _thaw(scenario.model_dump(mode="python"))
    else:
        data = _thaw(copy.deepcopy(dict(scenario)))
    for path, value in overrides.items():
        try:
            container, key = _resolve_path(data, path)
        except _KeyedError as exc:
            raise ScenarioError(exc.message, file=file or source, key=path) from None
        container[key] = value
    return _validate(data, file=file or source, text=None, override_keys=list(overrides))


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``dotted.key=value`` (value in TOML syntax, bare words taken as strings)."""
    if "=" not in text:
        raise ScenarioError(
            f"'{text}' is not of the form dotted.key=value", file="--set", key=text
        )
    key, raw = text.split("=", 1)
    key = key.strip()
    raw = raw.strip()
    if not key or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", key):
        raise ScenarioError(
            f"'{key}' is not a dotted key (e.g. attacker.strength)", file="--set", key=key or text
        )
    if raw == "":
        raise ScenarioError("no value given after '='", file="--set", key=key)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


# --------------------------------------------------------------------------------------------
# loading and errors


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read, parse and validate a scenario TOML file (then apply any dotted overrides).

    Raises :class:`ScenarioError` with the file, key and (where known) line on any problem.
    """
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise ScenarioError("file not found", file=name)
    if p.is_dir():
        raise ScenarioError("is a directory, not a scenario file", file=name)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read file ({exc.strerror})", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("not a UTF-8 text file (is this a TOML scenario?)", file=name) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise ScenarioError(f"malformed TOML: {msg}", file=name, line=line) from None
    if "extends" in data:
        data = _extend(p, data, seen=(p.resolve(),))
    scenario = _validate(data, file=name, text=text)
    if overrides:
        scenario = apply_overrides(scenario, overrides, file="--set")
    return scenario


def _extend(path: Path, data: dict[str, Any], seen: tuple[Path, ...]) -> dict[str, Any]:
    """Resolve ``extends = "base.toml"``: the base file's tables, deep-merged with this file's
    (tables merge key by key; arrays of tables such as [[routes]] replace the base's)."""
    base_ref = data.pop("extends")
    if not isinstance(base_ref, str):
        raise ScenarioError("'extends' must be a file path string", file=str(path), key="extends")
    base_path = (path.parent / base_ref).resolve()
    if base_path in seen:
        raise ScenarioError(f"'extends' makes a cycle through {base_path}", file=str(path),
                            key="extends")
    if not base_path.exists():
        raise ScenarioError(f"base scenario {base_ref!r} not found (looked for {base_path})",
                            file=str(path), key="extends")
    try:
        base = tomllib.loads(base_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"cannot read base scenario: {exc}", file=str(base_path)) from None
    if "extends" in base:
        base = _extend(base_path, base, seen=(*seen, base_path))
    return _merge(base, data)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "set":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Scenario:
    """Validate a scenario given as plain data (e.g. parsed TOML)."""
    return _validate(_thaw(dict(data)), file=source, text=None)


def _validate(
    data: dict[str, Any],
    *,
    file: str,
    text: str | None,
    override_keys: Sequence[str] | None = None,
) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _KeyedError):
            loc = loc + inner.loc if loc and loc[-1] not in inner.loc else inner.loc
            message = inner.message
        else:
            message = _describe(err, data)
        key = _dotted(loc, data)
        if override_keys and key and not any(key.startswith(k) for k in override_keys):
            pass
        line = _find_line(text, loc) if text else None
        more = len(exc.errors()) - 1
        if more > 0:
            message += f"  ({more} more problem{'s' if more > 1 else ''} after fixing this)"
        raise ScenarioError(message, file=file, key=key or None, line=line) from None


def _describe(err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    value = err.get("input")
    if kind == "extra_forbidden":
        loc = tuple(err.get("loc", ()))
        allowed = _allowed_keys(loc[:-1])
        return f"unknown key '{loc[-1]}'; allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        msg = msg.removeprefix("Value error, ")
        return msg
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg} (got {shown})"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        inner = _model_in(ann)
        if inner is None:
            return []
        model = inner
    return sorted(model.model_fields) if hasattr(model, "model_fields") else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _dotted(loc: tuple[Any, ...], data: Mapping[str, Any]) -> str:
    """Dotted key of a pydantic location; list items by name where they have one."""
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            name = None
            if isinstance(node, list) and 0 <= part < len(node) and isinstance(node[part], dict):
                name = node[part].get("name")
            parts.append(str(name) if isinstance(name, str) and name else f"[{part}]")
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    out = ""
    for p in parts:
        out += p if (not out or p.startswith("[")) else "." + p
    return out


def _find_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line of a key in the TOML text (tables and arrays of tables)."""
    if not loc:
        return None
    strs = [p for p in loc]
    # header path and key
    table: list[str] = []
    indexes: dict[str, int] = {}
    key = str(strs[-1]) if not isinstance(strs[-1], int) else None
    target_table: list[str] = []
    target_index: dict[str, int] = {}
    for p in strs[:-1] if key is not None else strs:
        if isinstance(p, int):
            if target_table:
                target_index[".".join(target_table)] = p
        else:
            target_table.append(str(p))
    counters: dict[str, int] = {}
    lines = text.splitlines()
    for lineno, line in enumerate(lines, start=1):
        s = line.strip()
        m = re.match(r"^\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]", s)
        if m:
            table = m.group(1).split(".")
            k = ".".join(table)
            counters[k] = counters.get(k, -1) + 1
            indexes = {k: counters[k]}
            if key is None and table == target_table and target_index.get(k) == counters[k]:
                return lineno
            continue
        m = re.match(r"^\[\s*([A-Za-z0-9_.\-]+)\s*\]", s)
        if m:
            table = m.group(1).split(".")
            indexes = {}
            if key is None and table == target_table:
                return lineno
            continue
        if key is None:
            continue
        m = re.match(r"^([A-Za-z0-9_\-\"']+)\s*=", s)
        if not m:
            continue
        if m.group(1).strip("\"'") != key:
            continue
        if table != target_table:
            continue
        ok = all(indexes.get(k) == v for k, v in target_index.items())
        if ok:
            return lineno
    if key is not None:
        # key missing from file or table given inline: point at the table header if any
        return _find_line(text, tuple(loc[:-1])) if len(loc) > 1 else None
    return None


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else "nan")
    return obj


def scenario_from_json(text: str) -> Scenario:
    """Rebuild a scenario from :meth:`Scenario.to_json` (as stored in results metadata)."""
    data = json.loads(text)
    return scenario_from_dict(_unjson(data), source="<metadata>")


def _unjson(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _unjson(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unjson(v) for v in obj]
    if obj in ("inf", "-inf"):
        return float(obj)
    return obj


def to_toml(scenario: Scenario) -> str:
    """Render the resolved scenario as TOML (for ``siege validate``)."""
    data = scenario.model_dump(mode="python")
    out: list[str] = []

    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            if math.isinf(v):
                return "inf" if v > 0 else "-inf"
            if math.isnan(v):
                return "nan"
            return repr(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {fmt(x)}" for k, x in v.items()) + " }"
        if v is None:
            return '"none"'
        return json.dumps(str(v))

    def emit_table(prefix: str, table: dict[str, Any], array: bool = False) -> None:
        scalars = {
            k: v
            for k, v in table.items()
            if not (isinstance(v, dict) and k != "set")
            and not (isinstance(v, (list, tuple)) and v and isinstance(v[0], dict))
        }
        out.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        for k, v in scalars.items():
            if v is None:
                out.append(f"# {k} = (not set)")
            else:
                out.append(f"{k} = {fmt(v)}")
        out.append("")
        for k, v in table.items():
            if isinstance(v, dict) and k != "set":
                emit_table(f"{prefix}.{k}", v)
            elif isinstance(v, (list, tuple)) and v and isinstance(v[0], dict):
                for item in v:
                    emit_table(f"{prefix}.{k}", item, array=True)

    for k in ("name", "description"):
        out.append(f"{k} = {fmt(data[k])}")
    out.append("")
    for k, v in data.items():
        if k in ("name", "description"):
            continue
        if isinstance(v, dict):
            emit_table(k, v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                emit_table(k, item, array=True)
    return "\n".join(out).rstrip() + "\n"
