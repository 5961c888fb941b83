"""Sweeps: a design of points over scenario parameters, each point run as blocks of
replications, results kept in a resumable store.

A sweep file (TOML) names a base scenario, the replications per point, a seed and the
parameters to vary (dotted scenario paths, each with a range or a list of values); its
``[design]`` chooses the points: a full factorial ``grid``, a Latin hypercube (``lhs``), a
scrambled Sobol' sequence in Saltelli's A/B/AB layout (``sobol``, what Sobol' indices need)
or plain ``random`` points, drawn with the design's own seed.

The functional core: :func:`load_sweep` → :class:`Sweep`; :func:`design` → a
:class:`~siege.run.design.Design` (the unit-cube sample and the parameter values of each
point; the methods are in :mod:`siege.run.design`); :func:`point_scenarios` →
one validated scenario per point; :func:`run_sweep` runs the blocks that a store does not yet
hold on an executor passed in (this process, local processes or a Dask cluster, see
:mod:`siege.run.executors`) and writes each finished block to the store as it finishes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siege.errors import ScenarioError, SweepError
from siege.rng import STREAM_BLOCK
from siege.run.blocks import SMALL_BLOCK_SIZE, plan_blocks
from siege.run.budget import check_memory, estimate_memory
from siege.run.design import DESIGN_METHODS, SCALES, Design, Parameter, make_design
from siege.run.executors import BlockFailure, BlockTask, Executor
from siege.scenario import Scenario, load_scenario
from siege.scenario.paths import KeyedError, resolve_path, thaw
from siege.scenario.read import read_toml

log = logging.getLogger(__name__)
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
        _check_values(base, parameter, file)
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


def _check_values(base: Scenario, parameter: Parameter, file: Path) -> None:
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
                f"{file}: parameter '{parameter.path}': value {_show(value)} gives an invalid "
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


# ------------------------------------------------------------------------------------------
# points


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its id, parameter values, seed and validated scenario."""

    id: int
    values: dict[str, Any]
    seed: int
    scenario: Scenario


def point_seed(sweep: Sweep, point: int) -> int:
    """The simulation seed of a point: the sweep's seed for every point with common random
    numbers (differences between points are then not blurred by sampling noise), else one
    derived from it by ``SeedSequence(seed, spawn_key=(point,))``."""
    if sweep.common_random_numbers:
        return sweep.seed
    return int(np.random.SeedSequence(sweep.seed, spawn_key=(point,)).generate_state(1)[0])


def point_scenarios(sweep: Sweep, points: Design) -> list[Point]:
    """Validate every point's scenario before anything runs.

    Raises :class:`SweepError` naming the point, its values and the key at fault (up to five
    points are listed)."""
    out: list[Point] = []
    problems: list[str] = []
    for i, values in enumerate(points.values):
        seed = point_seed(sweep, i)
        overrides = dict(values)
        overrides["simulation.replications"] = sweep.replications
        overrides["simulation.seed"] = seed
        try:
            scenario = sweep.base.with_overrides(overrides, source=f"point {i}")
        except ScenarioError as exc:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
            key = f"key '{exc.key}': " if exc.key else ""
            problems.append(f"point {i} ({shown}): {key}{exc.detail}")
            continue
        out.append(Point(i, dict(values), seed, scenario))
    if problems:
        more = f" (and {len(problems) - 5} more points)" if len(problems) > 5 else ""
        raise SweepError(
            f"{sweep.file}: {len(problems)} of {points.n_points} points make an invalid "
            "scenario; nothing was run:\n  " + "\n  ".join(problems[:5]) + more
        )
    return out


def _show(v: Any) -> str:
    """A parameter value as in a TOML file (floats to 6 significant digits)."""
    if isinstance(v, float):
        return f"{v:.6g}"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (bool, str)) else str(v)


# ------------------------------------------------------------------------------------------
# running


@dataclass(frozen=True)
class SweepProgress:
    """Where a running sweep stands (passed to the progress callback)."""

    points_total: int
    points_done: int
    points_failed: int
    blocks_total: int
    blocks_done: int


@dataclass(frozen=True)
class SweepOutcome:
    """What a call of :func:`run_sweep` did: points done (now, and before it), failed, time."""

    points: int
    done: int
    failed: int
    already_done: int
    blocks_run: int
    wall_s: float
    failures: dict[int, str]
    repaired: list[str] = field(default_factory=list)  # damage found and run again


def run_sweep(
    sweep: Sweep,
    store: Any,
    executor: Executor,
    *,
    progress: Callable[[SweepProgress], None] | None = None,
) -> SweepOutcome:
    """Run every block of every point that ``store`` does not hold yet, on ``executor``.

    ``store`` is a :class:`siege.run.store.SweepStore` (opened for this sweep). Each finished
    block is written to the store as it finishes. A point whose block fails (it raised, or
    its worker died again after a retry: see :mod:`siege.run.executors`) is recorded as failed
    with its error and the other points go on; a rerun with ``--resume`` runs it again.
    Points already complete in the store (an earlier, interrupted run) are not run again,
    once the store has checked them (damaged files are run again: ``repaired``, also
    logged as warnings). The memory the run needs is checked first
    (:mod:`siege.run.budget`).
    """
    start = time.perf_counter()
    points = point_scenarios(sweep, design(sweep))
    longest = max(points, key=lambda p: p.scenario.simulation.whole_days).scenario
    check_memory(estimate_memory(
        longest, block_size=sweep.block_size, outcome_table=False,
        local_blocks=executor.workers if executor.local else 0,
    ))
    repaired = store.repair(points)
    for line in repaired:
        log.warning("%s", line)
    blocks = plan_blocks(sweep.replications, sweep.block_size)
    remaining: dict[int, int] = {}
    already = 0
    tasks: list[BlockTask] = []  # point by point, so that points complete (and are written) early
    for point in points:
        if store.point_done(point.id):
            already += 1
            continue
        done = store.done_blocks(point.id)
        todo = [(f, n) for f, n in blocks if f not in done]
        remaining[point.id] = len(todo)
        tasks += [BlockTask(point.scenario, f, n, sweep.engine, point.id) for f, n in todo]
    by_id: dict[int | None, Point] = {p.id: p for p in points}
    total_blocks = len(points) * len(blocks)
    blocks_done = total_blocks - len(tasks)
    failures: dict[int, str] = {}
    done_points = already

    def report() -> None:
        if progress is not None:
            progress(SweepProgress(len(points), done_points, len(failures), total_blocks,
                                   blocks_done))

    for pid in [p for p, k in remaining.items() if k == 0]:  # all blocks there, not finished
        store.finish_point(by_id[pid])
        done_points += 1
        del remaining[pid]
    report()
    with closing(executor.run(tasks)) as finished:
        for task, block in finished:
            point = by_id[task.point]
            blocks_done += 1
            if isinstance(block, BlockFailure):
                if point.id not in failures:
                    failures[point.id] = block.error
                    store.record_failure(point.id, block.error)
            else:
                store.write_block(point, block)
                remaining[point.id] -= 1
                if remaining[point.id] == 0 and point.id not in failures:
                    store.finish_point(point)
                    done_points += 1
            report()
    store.close(points, failures)
    return SweepOutcome(
        points=len(points), done=done_points, failed=len(failures), already_done=already,
        blocks_run=len(tasks), wall_s=time.perf_counter() - start, failures=failures,
        repaired=repaired,
    )
