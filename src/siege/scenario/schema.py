"""The scenario file: a typed, validated, documented schema (pydantic).

A scenario is immutable. Every number carries its unit in its field description; ``siege
validate FILE`` prints the resolved scenario with defaults filled in. Unknown keys are errors.
The tables live by idea in :mod:`~siege.scenario.forces`, :mod:`~siege.scenario.ground` and
:mod:`~siege.scenario.decisions`; this module has the run's ``[simulation]``, the dated
``[[events]]`` and the whole :class:`Scenario` with its checks across tables.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationInfo, model_validator

from siege.errors import ScenarioError
from siege.jsonsafe import json_safe
from siege.model.measures import MEASURES
from siege.scenario.decisions import Policy, Trigger, Withdrawal
from siege.scenario.fields import MAX_HORIZON_DAYS, MAX_TRAJECTORY_DAYS, NAME_PATTERN, Strict
from siege.scenario.forces import Attacker, Attrition, Defender, Fortification, Wave
from siege.scenario.ground import Advance, Encirclement, Route, Sector, Supply
from siege.scenario.paths import KeyedError, resolve_path, set_paths, thaw, unchangeable
from siege.scenario.pocket import Capture, Pocket
from siege.scenario.validate import validate

__all__ = [
    "NAME_PATTERN",
    "Advance",
    "Attacker",
    "Attrition",
    "Capture",
    "Defender",
    "Encirclement",
    "Event",
    "Fortification",
    "Pocket",
    "Policy",
    "Route",
    "Scenario",
    "Sector",
    "Simulation",
    "Supply",
    "Trigger",
    "Wave",
    "Withdrawal",
]


# --------------------------------------------------------------------------------------------
# simulation


class Simulation(Strict):
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
    rtol: float = Field(
        1e-6,
        ge=1e-13,
        le=0.1,
        description="Relative tolerance of the mean engine's integrator (dimensionless; "
        "`--engine mean` only).",
    )
    atol: float = Field(
        1e-6,
        gt=0,
        le=1000,
        description="Absolute tolerance of the mean engine's integrator, in each state "
        "variable's unit (persons, tonnes, fractions, days; `--engine mean` only).",
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


class Event(Strict):
    """A dated change of parameters, e.g. ``set = { "attacker.replacement_rate" = 0 }``."""

    day: float = Field(ge=0, description="Day the change takes effect (days from day 0).")
    set: dict[str, Any] = Field(
        description="Dotted parameter paths to new values (routes and sectors by name)."
    )
    note: str = Field("", description="What the event stands for (free text).")


# --------------------------------------------------------------------------------------------
# the scenario


class Scenario(Strict):
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
    capture: Capture | None = Field(None, description="[capture] table; none: not modelled.")
    pocket: Pocket | None = Field(
        None, description="[pocket] table; none: a closed pocket ends the run `encircled`."
    )
    policy: Policy = Field(default_factory=Policy)
    withdrawal: Withdrawal = Field(default_factory=Withdrawal)
    events: tuple[Event, ...] = Field((), description="[[events]] tables, dated changes.")

    @model_validator(mode="before")
    @classmethod
    def _engagement_defaults(cls, data: Any) -> Any:
        """An engagement (no sectors and no routes: a battle, not a siege) has no town to
        collapse or siege to culminate: its sides fight on unless the file says otherwise, so
        its collapse and culmination fractions default to 0."""
        if not isinstance(data, Mapping) or data.get("sectors") or data.get("routes"):
            return data
        out = dict(data)
        for side, key in (("defender", "collapse_fraction"), ("attacker", "culmination_fraction")):
            table = out.get(side)
            if isinstance(table, Mapping) and key not in table:
                out[side] = {**table, key: 0.0}
        return out

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
        if self.capture is not None and all(s.flank for s in self.sectors):
            raise KeyedError(("capture", "capture_control"),
                             "capture is judged on the town's (non-flank) sectors; define at "
                             "least one sector that is not a flank")
        ground = any(r.kind == "ground" for r in self.routes)
        if self.pocket is not None and ground and not any(s.flank for s in self.sectors):
            raise KeyedError(("pocket",), "a pocket closes when the flanks are taken; define "
                             "at least one flank sector (flank = true)")
        if self.pocket is not None and self.pocket.relief_flank_control is not None \
                and not ground:
            raise KeyedError(("pocket", "relief_flank_control"),
                             "a relief reopens ground routes, and there is none: with no "
                             "ground route the town stays cut off; leave relief_flank_control "
                             "out (the relief then ends the siege)")
        for i, trig in enumerate(self.policy.triggers):
            self._check_trigger(i, trig)
        for i, event in enumerate(self.events):
            for path in event.set:
                reason = unchangeable(path)
                if reason:
                    raise KeyedError(("events", i, "set", path), reason)
                resolve_path(self.model_dump(mode="python"), path)  # raises if absent
        return self

    def _check_trigger(self, i: int, trig: Trigger) -> None:
        """A trigger's threshold lies in its measure's range of values, and what the measure
        needs is set."""
        measure = MEASURES[trig.measure]
        where = ("policy", "triggers", i, "threshold")
        counted = {"routes": len(self.routes)}
        low, high = measure.value_range(counted[measure.counts] if measure.counts else 0)
        name = trig.measure
        if math.isnan(trig.threshold):
            raise KeyedError(where, f"{name} thresholds are numbers, not nan")
        if not low <= trig.threshold <= high:
            if measure.counts:
                message = f"{name} thresholds lie in [{low:g}, {high:g}] ({measure.counts} defined)"
            elif math.isinf(high):
                message = f"{name} thresholds are >= {low:g}"
            else:
                message = f"{name} thresholds lie in [{low:g}, {high:g}]"
            raise KeyedError(where, message)
        if measure.needs:
            value: Any = self
            for part in measure.needs.split("."):
                value = getattr(value, part)
            if value is None:
                raise KeyedError(
                    ("policy", "triggers", i, "measure"), f"measure '{name}' needs {measure.needs}"
                )

    @model_validator(mode="after")
    def _event_values(self, info: ValidationInfo) -> Scenario:
        """Each dated event's values, applied in the order a run applies them (by day, then
        as written), must leave a valid scenario: found here, not days into a run (with the
        strictness the scenario itself was validated with)."""
        strict = (info.context or {}).get("strict")
        data = thaw(self.model_dump(mode="python"))
        data["events"] = []
        order = sorted(range(len(self.events)), key=lambda i: self.events[i].day)
        for i in order:
            event = self.events[i]
            try:
                set_paths(data, event.set, file="events")
                validate(type(self), data, file="events", text=None, strict=strict)
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
        return json_safe(self.model_dump(mode="python"))

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
