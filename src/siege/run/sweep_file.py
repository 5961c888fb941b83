"""The sweep file: a base scenario, the replications per point, a seed and the parameters to
vary (dotted scenario paths, each with a range or a list of values), and a ``[design]`` that
chooses the points (see :mod:`siege.run.design`). :func:`load_sweep` reads and validates all of
it, every parameter value against the schema, before anything is created or run;
:func:`design` draws the points.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siege.errors import ScenarioError, SweepError
from siege.rng import STREAM_BLOCK
from siege.run.blocks import SMALL_BLOCK_SIZE
from siege.run.design import DESIGN_METHODS, SCALES, Design, Parameter, make_design
from siege.scenario import Scenario, load_scenario
from siege.scenario.paths import KeyedError, resolve_path, thaw
from siege.scenario.read import read_toml

MAX_POINTS = 100_000  # points in one sweep: each is a scenario in memory and a folder of files
DESIGN_SEED_KEY = 0x5EED  # spawn key of the design's seed when the file does not give one


# ------------------------------------------------------------------------------------------
# the sweep file


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file. ``base`` is the base scenario with ``fixed`` values applied."""

    file: Path
    base: Scenario
    base_file: Path
    replications: int
    seed: int
    method: str
    points: int
    design_seed: int
    parameters: tuple[Parameter, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    engine: str = "batch"
    common_random_numbers: bool = True
    saltelli: bool = True
    block_size: int = SMALL_BLOCK_SIZE  # replications per unit of work (results unchanged)

    def to_dict(self) -> dict[str, Any]:
        """The sweep as plain data (what the store's manifest keeps and compares)."""
        return {
            "scenario": str(self.base_file.name),
            "replications": self.replications,
            "seed": self.seed,
            "engine": self.engine,
            "common_random_numbers": self.common_random_numbers,
            "block_size": self.block_size,
            "fixed": dict(self.fixed),
            "design": {
                "method": self.method,
                "points": self.points,
                "seed": self.design_seed,
                "saltelli": self.saltelli,
            },
            "parameter": [p.to_dict() for p in self.parameters],
        }

    def sha256(self) -> str:
        """Hash of the sweep's content (not its comments or layout)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


_TOP_KEYS = {
    "scenario", "replications", "seed", "design", "parameter", "fixed", "engine",
    "common_random_numbers", "block_size",
}
_DESIGN_KEYS = {"method", "points", "seed", "saltelli"}
_PARAM_KEYS = {"path", "low", "high", "scale", "values", "levels", "integer"}


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file (a regular UTF-8 TOML file of at most 1 MiB); raise
    :class:`SweepError` naming the file and key."""
    file = Path(path)
    try:
        data, _ = read_toml(file, what="sweep")
    except ScenarioError as exc:
        raise SweepError(str(exc)) from None
    return parse_sweep(data, file)


def parse_sweep(data: Mapping[str, Any], file: Path) -> Sweep:
    """Check a sweep document (already parsed TOML) whose paths are relative to ``file``."""

    def bad(key: str, message: str) -> SweepError:
        return SweepError(f"{file}: key '{key}': {message}")

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise bad(sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    if "scenario" not in data:
        raise bad("scenario", "missing: the base scenario file, relative to the sweep file")
    base_file = (file.parent / str(data["scenario"])).resolve()
    try:
        base = load_scenario(base_file)
    except ScenarioError as exc:
        raise SweepError(f"{file}: base scenario: {exc}") from None
    fixed = data.get("fixed", {})
    if not isinstance(fixed, dict):
        raise bad("fixed", "must be a table of dotted.path = value")
    if fixed:
        try:
            base = base.with_overrides(fixed, source=f"{file} [fixed]")
        except ScenarioError as exc:
            raise SweepError(str(exc)) from None
    replications = _int(data.get("replications", base.simulation.replications), "replications",
                        bad, minimum=1)
    seed = _int(data.get("seed", base.simulation.seed), "seed", bad, minimum=0)
    block_size = _int(data.get("block_size", SMALL_BLOCK_SIZE), "block_size", bad, minimum=1)
    block_size = max(1, -(-block_size // STREAM_BLOCK)) * STREAM_BLOCK
    engine = str(data.get("engine", "batch"))
    from siege.engines import ENGINES, REGISTRY

    if engine not in ENGINES:
        raise bad("engine", f"unknown engine '{engine}'; choose from {', '.join(ENGINES)}")
    why = REGISTRY[engine].refusal(base)  # the base scenario: points share its tables
    if why is not None:
        raise bad("engine", why)
    one_run = REGISTRY[engine].replications  # the mean engine: one a point
    if one_run is not None:
        replications = one_run
    crn = data.get("common_random_numbers", True)
    if not isinstance(crn, bool):
        raise bad("common_random_numbers", "must be true or false")

    design = data.get("design", {})
    if not isinstance(design, dict):
        raise bad("design", "must be a table")
    unknown = set(design) - _DESIGN_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise bad(f"design.{key}", f"unknown key; allowed: {', '.join(sorted(_DESIGN_KEYS))}")
    method = str(design.get("method", "lhs"))
    if method not in DESIGN_METHODS:
        raise bad("design.method",
                  f"'{method}' is not a design; choose from {', '.join(DESIGN_METHODS)}")
    points = _int(design.get("points", 16), "design.points", bad, minimum=1)
    saltelli = design.get("saltelli", True)
    if not isinstance(saltelli, bool):
        raise bad("design.saltelli", "must be true or false")
    if method == "sobol" and points & (points - 1):
        raise bad("design.points", f"a Sobol' design needs a power of 2 (got {points}); "
                  f"try {1 << max(0, points.bit_length() - 1)} or {1 << points.bit_length()}")
    if "seed" in design:
        design_seed = _int(design["seed"], "design.seed", bad, minimum=0)
    else:
        state = np.random.SeedSequence(seed, spawn_key=(DESIGN_SEED_KEY,)).generate_state(1)
        design_seed = int(state[0])

    raw_params = data.get("parameter", [])
    if not isinstance(raw_params, list) or not raw_params:
        raise bad("parameter", "give at least one [[parameter]] table")
    parameters = tuple(
        _parameter(p, i, bad) for i, p in enumerate(raw_params)
    )
    paths = [p.path for p in parameters]
    dup = sorted({p for p in paths if paths.count(p) > 1})
    if dup:
        raise bad("parameter", f"path '{dup[0]}' is varied twice")
    n_points = _count_points(parameters, method, points, saltelli)
    if n_points > MAX_POINTS:
        raise bad("design", f"{n_points:,} points; a sweep may have at most {MAX_POINTS:,}")
    for parameter in parameters:
        check_values(base, parameter, file)
    return Sweep(
        file=file, base=base, base_file=base_file, replications=replications, seed=seed,
        method=method, points=points, design_seed=design_seed, parameters=parameters,
        fixed=dict(fixed), engine=engine, common_random_numbers=crn, saltelli=saltelli,
        block_size=block_size,
    )


def _count_points(
    parameters: tuple[Parameter, ...], method: str, points: int, saltelli: bool
) -> int:
    """Points a design will have (without drawing them)."""
    if method == "grid":
        return math.prod(len(p.values) if p.values is not None else p.levels for p in parameters)
    if method == "sobol" and saltelli:
        return points * (len(parameters) + 2)
    return points


def check_values(base: Scenario, parameter: Parameter, file: Path) -> None:
    """Every value a parameter takes, set alone on the base scenario, must give a valid
    scenario (a range is checked at its ends, rounded as drawn): a bad value is found before
    a store is created, named with its parameter."""
    try:
        resolve_path(thaw(base.model_dump(mode="python")), parameter.path)
    except KeyedError as exc:
        raise SweepError(f"{file}: parameter '{parameter.path}': {exc.message}") from None
    values = parameter.values
    if values is None:
        values = tuple(parameter.from_unit(np.array([0.0, 1.0])))
    checked: set[tuple[str, str]] = set()
    for value in values:
        if (type(value).__name__, repr(value)) in checked:
            continue
        checked.add((type(value).__name__, repr(value)))
        try:
            base.with_overrides({parameter.path: value}, source=str(file))
        except ScenarioError as exc:
            hint = ""
            if parameter.values is None and not parameter.integer and exc.detail.startswith(
                "Input should be a valid integer"
            ):
                hint = "; add integer = true to draw whole numbers"
            raise SweepError(
                f"{file}: parameter '{parameter.path}': value {show_value(value)} gives an invalid "
                f"scenario: {exc.detail}{hint}"
            ) from None


def _int(value: Any, key: str, bad: Callable[[str, str], SweepError], *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(key, f"must be a whole number (got {value!r})")
    if value < minimum:
        raise bad(key, f"must be at least {minimum} (got {value})")
    return value


def _parameter(raw: Any, i: int, bad: Callable[[str, str], SweepError]) -> Parameter:
    where = f"parameter[{i}]"
    if not isinstance(raw, dict):
        raise bad(where, "must be a table")
    unknown = set(raw) - _PARAM_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise bad(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(_PARAM_KEYS))}")
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        raise bad(f"{where}.path", "give the dotted scenario path, e.g. 'attacker.strength'")
    where = f"parameter '{path}'"
    integer = raw.get("integer", False)
    if not isinstance(integer, bool):
        raise bad(f"{where}.integer", "must be true or false")
    levels = _int(raw.get("levels", 3), f"{where}.levels", bad, minimum=1)
    if "values" in raw:
        if "low" in raw or "high" in raw:
            raise bad(where, "give either values or low/high, not both")
        values = raw["values"]
        if not isinstance(values, list) or not values:
            raise bad(f"{where}.values", "must be a non-empty list")
        return Parameter(path=path, values=tuple(values), integer=integer)
    for key in ("low", "high"):
        v = raw.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad(f"{where}.{key}", f"must be a finite number (got {v!r}); or give values")
    low, high = float(raw["low"]), float(raw["high"])
    if not low < high:
        raise bad(where, f"low ({low:g}) must be below high ({high:g})")
    scale = str(raw.get("scale", "linear"))
    if scale not in SCALES:
        raise bad(f"{where}.scale", f"'{scale}' is not a scale; choose linear or log")
    if scale == "log" and low <= 0:
        raise bad(f"{where}.low", f"a log scale needs low > 0 (got {low:g})")
    return Parameter(path=path, low=low, high=high, scale=scale, levels=levels, integer=integer)


# ------------------------------------------------------------------------------------------
# designs


def design(sweep: Sweep) -> Design:
    """The points of a sweep's design, drawn with the design's seed."""
    return make_design(sweep.parameters, sweep.method, sweep.points, sweep.design_seed,
                       saltelli=sweep.saltelli)

def show_value(v: Any) -> str:
    """A parameter value as in a TOML file (floats to 6 significant digits)."""
    if isinstance(v, float):
        return f"{v:.6g}"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (bool, str)) else str(v)
