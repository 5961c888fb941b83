"""Sweeps: a design of points over scenario parameters, each point run as blocks of
replications, results kept in a resumable store.

A sweep file (TOML) names a base scenario, the replications per point, a seed and the
parameters to vary (dotted scenario paths, each with a range or a list of values); its
``[design]`` chooses the points: a full factorial ``grid``, a Latin hypercube (``lhs``), a
scrambled Sobol' sequence in Saltelli's A/B/AB layout (``sobol``, what Sobol' indices need)
or plain ``random`` points, drawn with the design's own seed.

The functional core: :func:`~siege.run.sweep_file.load_sweep` → :class:`Sweep` (the file,
in :mod:`siege.run.sweep_file`); :func:`design` → a
:class:`~siege.run.design.Design` (the unit-cube sample and the parameter values of each
point; the methods are in :mod:`siege.run.design`); :func:`point_scenarios` →
one validated scenario per point; :func:`run_sweep` runs the blocks that a store does not yet
hold on an executor passed in (this process, local processes or a Dask cluster, see
:mod:`siege.run.executors`) and writes each finished block to the store as it finishes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siege.errors import ScenarioError, SweepError
from siege.run.blocks import plan_blocks
from siege.run.budget import check_memory, estimate_memory
from siege.run.design import Design
from siege.run.executors import BlockFailure, BlockTask, Executor
from siege.run.sweep_file import Sweep, design, load_sweep, show_value
from siege.scenario import Scenario

__all__ = ["Point", "Sweep", "SweepOutcome", "SweepProgress", "design", "load_sweep",
           "point_scenarios", "point_seed", "run_sweep"]

log = logging.getLogger(__name__)

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
            shown = ", ".join(f"{k}={show_value(v)}" for k, v in values.items())
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
