"""Calibration targets: what was observed, and how far a simulated siege is from it.

A ``[[target]]`` table of a calibration file is one of three kinds:

* ``series``: a measure's values on given days (``measure``, ``days``, ``values`` with ``sd``
  or ``cv``, or ``low``/``high`` intervals); the measure is a band column (``control_north``,
  ``exchange_ratio``, ``routes_open``, ...) or a route's state (``route_cut_<route>``);
* ``milestone``: the first day a condition held: ``route_cut = "<route>"``,
  ``route_under_fire = "<route>"``, ``measure``/``op``/``threshold`` on a band column, or
  ``trigger = "<name>"`` (the first review at which the trigger held); observed as ``day`` with
  ``sd``, or ``low``/``high``. A condition that never held before the replication ended counts
  as the day after the horizon (so ``low = 292, high = inf`` reads "not before day 292");
* ``outcome``: how the siege ended: ``end_reason`` and/or ``end_day`` (with ``sd``, or
  ``low``/``high``, or ``end_day`` inside ``low``/``high``: the reported day and the interval
  the sources allow). A different end reason counts as :data:`REASON_MISS` standard
  deviations.

Each target becomes one or more :class:`Component`: one observed number, an interval
``[low, high]`` (``low == high`` for a value) and the scale a miss is divided by (the
observation's ``sd``; for an interval without one, its half-width). A value inside its
interval costs nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from siege.errors import CalibrationError
from siege.model.measures import band_columns
from siege.model.probes import ROUTE_COLUMNS, Probe, probe_columns, unbanded_measures
from siege.model.rules import END_REASONS
from siege.scenario.compile import build_params
from siege.scenario.paths import thaw
from siege.scenario.schema import Scenario

REASON_MISS = 3.0  # a simulated end reason other than the observed one, in standard deviations
KINDS = ("series", "milestone", "outcome")
OPS = (">=", "<=", ">", "<")
Error = Callable[[tuple[Any, ...], str], CalibrationError]


@dataclass(frozen=True)
class Component:
    """One observed number of a target and where its simulated value comes from: a probe, an
    outcome column, or (``reason``) 1 where the end reason differs from the observed one.
    ``never`` replaces a missing simulated value (a milestone that never happened)."""

    label: str
    low: float
    high: float
    scale: float
    probe: Probe | None = None
    column: str | None = None
    reason: str | None = None
    never: float = math.nan


@dataclass(frozen=True)
class Target:
    """A checked ``[[target]]`` table: its kind, name, a key fit for column names, and its
    components; ``table`` is the table as written."""

    kind: str
    name: str
    key: str
    components: tuple[Component, ...]
    table: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, **dict(self.table)}


def parse_targets(raw: Any, scenario: Scenario, error: Error) -> tuple[Target, ...]:
    """The targets of a calibration file's ``target`` array, checked against ``scenario``."""
    if not isinstance(raw, list) or not raw:
        raise error(("target",), "give at least one [[target]] table")
    context = _Context(scenario, error)
    targets = []
    keys: dict[str, int] = {}
    for i, table in enumerate(raw):
        target = context.target(table, i)
        if target.key in keys:
            raise error(("target", i, "name"), f"two targets named '{target.name}' (target["
                        f"{keys[target.key]}] too); give each its own name")
        keys[target.key] = i
        targets.append(target)
    return tuple(targets)


class _Context:
    """What targets are checked against: the scenario's probe columns, routes, triggers and
    days."""

    def __init__(self, scenario: Scenario, error: Error) -> None:
        params = build_params(scenario)
        self.error = error
        self.columns = probe_columns(params)
        self.ranges = {c.name: c.measure.value_range(c.counted) for c in band_columns(params)}
        self.ranges |= {m.name: m.value_range(params.count_of(m.counts) if m.counts else 0)
                        for m in unbanded_measures()}
        self.routes = scenario.route_names
        self.triggers = [t.name for t in scenario.policy.triggers]
        self.last_day = scenario.simulation.whole_days

    def target(self, table: Any, i: int) -> Target:
        loc: tuple[Any, ...] = ("target", i)
        if not isinstance(table, dict):
            raise self.error(loc, "must be a table")
        kind = table.get("kind")
        if kind not in KINDS:
            raise self.error((*loc, "kind"), f"{kind!r} is not a target kind; choose from "
                             f"{', '.join(KINDS)}")
        name = table.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise self.error((*loc, "name"), "must be non-empty text")
        parse = {"series": self.series, "milestone": self.milestone, "outcome": self.outcome}
        default, components = parse[kind](table, loc)
        name = name or default
        key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or f"target_{i}"
        return Target(kind, name, key, tuple(_label(c, key) for c in components),
                      thaw(dict(table)))

    # ---- the three kinds ------------------------------------------------------------------
    def series(self, t: dict[str, Any], loc: tuple[Any, ...]) -> tuple[str, list[Component]]:
        self.unknown(t, ("measure", "days", "values", "low", "high", "sd", "cv"), loc)
        measure = self.column(t, loc, "measure")
        days = t.get("days")
        if not isinstance(days, list) or not days:
            raise self.error((*loc, "days"), "give a list of days, e.g. [100, 150, 226]")
        for day in days:
            if isinstance(day, bool) or not isinstance(day, int) or \
                    not 0 <= day <= self.last_day:
                raise self.error((*loc, "days"), f"days are whole numbers from 0 to the "
                                 f"horizon, {self.last_day} (got {day!r})")
        if len(set(days)) < len(days):
            raise self.error((*loc, "days"), "a day is given twice")
        observed = self.observed(t, loc, len(days), value_key="values", low=-math.inf)
        return measure, [
            Component(f"@{day}", lo, hi, scale, probe=Probe("value", measure, day))
            for day, (lo, hi, scale) in zip(days, observed, strict=True)
        ]

    def milestone(self, t: dict[str, Any], loc: tuple[Any, ...]) -> tuple[str, list[Component]]:
        conditions = ("route_cut", "route_under_fire", "measure", "trigger")
        self.unknown(t, (*conditions, "op", "threshold", "day", "low", "high", "sd", "cv"), loc)
        given = [c for c in conditions if c in t]
        if len(given) != 1:
            raise self.error(loc, "give one condition: route_cut, route_under_fire, "
                             "measure (with op and threshold) or trigger")
        cond = given[0]
        never = float(self.last_day + 1)
        probe, column = None, None
        if cond in ROUTE_COLUMNS:
            route = t[cond]
            if route not in self.routes:
                raise self.error((*loc, cond), f"no route named {route!r}; defined: "
                                 f"{', '.join(self.routes) or '(none)'}")
            probe = Probe("first", f"{cond}_{route}", op=">=", threshold=1.0)
            default = f"{route} {'cut' if cond == 'route_cut' else 'under fire'}"
        elif cond == "trigger":
            trigger = t[cond]
            if trigger not in self.triggers:
                raise self.error((*loc, cond), f"no trigger named {trigger!r}; defined: "
                                 f"{', '.join(self.triggers) or '(none)'}")
            column, default = f"trigger_first_day_{trigger}", f"trigger {trigger}"
        else:
            measure = self.column(t, loc, "measure")
            op = t.get("op")
            if op not in OPS:
                raise self.error((*loc, "op"), f"give op, one of {', '.join(OPS)}")
            low, high = self.ranges.get(measure, (0.0, 1.0))
            threshold = t.get("threshold")
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or \
                    not low <= threshold <= high:
                raise self.error((*loc, "threshold"), f"{measure} thresholds are numbers from "
                                 f"{low:g} to {high:g} (got {threshold!r})")
            probe = Probe("first", measure, op=op, threshold=float(threshold))
            default = f"{measure} {op} {threshold:g}"
        (lo, hi, scale), = self.observed(t, loc, 1, value_key="day", low=0.0)
        if lo == hi and lo > self.last_day:
            raise self.error((*loc, "day"), f"day {lo:g} is after the horizon "
                             f"({self.last_day}); give low and high for 'not before'")
        return default, [Component("", lo, hi, scale, probe=probe, column=column, never=never)]

    def outcome(self, t: dict[str, Any], loc: tuple[Any, ...]) -> tuple[str, list[Component]]:
        self.unknown(t, ("end_reason", "end_day", "low", "high", "sd", "cv"), loc)
        out = []
        if "end_reason" in t:
            reason = t["end_reason"]
            if reason not in END_REASONS:
                raise self.error((*loc, "end_reason"), f"{reason!r} is not an end reason; "
                                 f"choose from {', '.join(END_REASONS)}")
            out.append(Component(".end_reason", 0.0, 0.0, 1.0 / REASON_MISS, reason=reason))
        if any(k in t for k in ("end_day", "low", "high")):
            (lo, hi, scale), = self.observed(t, loc, 1, value_key="end_day", low=0.0)
            out.append(Component(".end_day", lo, hi, scale, column="end_day"))
        elif "sd" in t or "cv" in t:
            raise self.error(loc, "sd and cv are for end_day; give end_day too")
        if not out:
            raise self.error(loc, "give end_reason, end_day (with sd), or both")
        return "outcome", out

    # ---- pieces ---------------------------------------------------------------------------
    def unknown(self, t: Mapping[str, Any], allowed: tuple[str, ...],
                loc: tuple[Any, ...]) -> None:
        for key in t:
            if key not in ("kind", "name", *allowed):
                raise self.error((*loc, key), "unknown key for a target of kind "
                                 f"'{t['kind']}'; allowed: kind, name, {', '.join(allowed)}")

    def column(self, t: Mapping[str, Any], loc: tuple[Any, ...], key: str) -> str:
        name = t.get(key)
        if name not in self.columns:
            raise self.error((*loc, key), f"no measure {name!r} in this scenario; choose "
                             f"from {', '.join(self.columns)}")
        return str(name)

    def observed(
        self, t: Mapping[str, Any], loc: tuple[Any, ...], count: int, *, value_key: str,
        low: float,
    ) -> list[tuple[float, float, float]]:
        """(low, high, scale) of each of ``count`` observations: ``value_key`` with ``sd`` or
        ``cv``, or ``low``/``high`` (with ``sd`` or ``cv`` optional). A single observation
        may give both: the reported value and the interval the sources allow, which is what
        is fitted (the value must lie in it)."""
        point = value_key in t
        if point and count == 1 and ("low" in t or "high" in t):
            value, = self.numbers(t, loc, value_key, 1, low=low, infinite=False)
            interval = self.observed({k: v for k, v in t.items() if k != value_key}, loc, 1,
                                     value_key=value_key, low=low)
            if not interval[0][0] <= value <= interval[0][1]:
                raise self.error((*loc, value_key), f"{value_key} {value:g} must lie in the "
                                 f"interval low..high ({interval[0][0]:g}..{interval[0][1]:g})")
            return interval
        if point == ("low" in t or "high" in t):
            raise self.error(loc, f"give {value_key} (with sd or cv), or low and high")
        if "sd" in t and "cv" in t:
            raise self.error((*loc, "cv"), "give sd or cv, not both")
        if point:
            values = self.numbers(t, loc, value_key, count, low=low, infinite=False)
            lows = highs = values
        else:
            if "low" not in t or "high" not in t:
                raise self.error(loc, "give both low and high")
            lows = self.numbers(t, loc, "low", count, low=low, infinite=True)
            highs = self.numbers(t, loc, "high", count, low=low, infinite=True)
            for lo, hi in zip(lows, highs, strict=True):
                if not lo <= hi or lo == math.inf or hi == -math.inf:
                    raise self.error((*loc, "high"), f"an interval needs low <= high, not "
                                     f"both infinite on one side (got {lo:g}, {hi:g})")
        if "sd" in t:
            scales = self.numbers(t, loc, "sd", count, low=0.0, infinite=False, positive=True)
        elif "cv" in t:
            cv = self.numbers(t, loc, "cv", 1, low=0.0, infinite=False, positive=True)[0]
            scales = [cv * (abs(lo) if point else min(abs(lo), abs(hi))) for lo, hi in
                      zip(lows, highs, strict=True)]
            if not all(0 < s < math.inf for s in scales):
                raise self.error((*loc, "cv"), "cv needs non-zero, finite observations; "
                                 "give sd instead")
        elif point:
            raise self.error(loc, f"give the observation's uncertainty: sd (or cv) with "
                             f"{value_key}")
        else:
            scales = [(hi - lo) / 2 for lo, hi in zip(lows, highs, strict=True)]
            if not all(0 < s < math.inf for s in scales):
                raise self.error((*loc, "sd"), "an interval that is one-sided or a single "
                                 "value needs sd: how far outside it counts as one sd")
        return list(zip(lows, highs, scales, strict=True))

    def numbers(self, t: Mapping[str, Any], loc: tuple[Any, ...], key: str, count: int, *,
                low: float, infinite: bool, positive: bool = False) -> list[float]:
        """``count`` numbers: a list, or one number (used for all when ``count`` is 1 or the
        key is sd)."""
        raw = t[key]
        items = raw if isinstance(raw, list) else [raw] * (count if key == "sd" else 1)
        if len(items) != count:
            raise self.error((*loc, key), f"give {count} value{'s' * (count > 1)} (one per "
                             f"day), got {len(items)}")
        out = []
        for x in items:
            ok = not isinstance(x, bool) and isinstance(x, (int, float)) and not math.isnan(x)
            if ok and not infinite:
                ok = math.isfinite(x)
            if ok and positive:
                ok = x > 0
            elif ok and math.isfinite(x):
                ok = x >= low
            if not ok:
                what = "positive" if positive else (f"at least {low:g}" if math.isfinite(low)
                                                    else "")
                raise self.error((*loc, key), f"must be {what} number{'s' * (count > 1)} "
                                 f"(got {x!r})".replace("be  ", "be "))
            out.append(float(x))
        return out


def _label(component: Component, key: str) -> Component:
    """The component labelled with its target's key: ``control_north@168``, ``outcome.end_day``,
    or the key alone."""
    return replace(component, label=key + component.label)
