"""Simulating calibration particles: each proposed parameter set is one or more replications of
a block in which every replication carries its own parameter values.

:func:`simulate_particles` runs ``m`` particles of a calibration as ``m * R`` replications
(``R`` = ``replications_per_particle``, particle ``i`` owning replications ``i*R .. i*R+R-1``)
of the base scenario with the given seed, on an executor, in blocks planned as ``siege
simulate`` plans them: the results do not depend on the executor, the workers or the block
size. Each replication reports its targets' components (the probes' values, outcome columns,
end reasons: see :mod:`siege.scenario.targets`); a particle's summary is their mean over its
replications.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.engines import ENGINES, REGISTRY, BlockInputs
from siege.errors import CalibrationError, RunError
from siege.model.probes import Probe
from siege.model.rules import END_REASONS
from siege.results.parquet import Bands
from siege.rng import STREAM_BLOCK
from siege.run.blocks import default_block_size, empty_bands, plan_blocks
from siege.run.executors import BlockFailure, BlockTask, Executor
from siege.scenario import Scenario
from siege.scenario.calibration import Calibration
from siege.scenario.targets import Component

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class ParticleRun:
    """The components of each replication ``(m * R, k)``, their means per particle ``(m, k)``
    (the particles' summaries), and (when asked for) the daily bands of all the
    replications."""

    replicated: F64
    summaries: F64
    bands: Bands | None


def components(calibration: Calibration) -> list[Component]:
    """Every target's components, in target order (the columns of the summaries)."""
    return [c for t in calibration.targets for c in t.components]


def check_engine(engine: str, scenario: Scenario | None = None) -> None:
    """Refuse an unknown engine, one that runs a fixed number of replications (the mean
    engine's one: a calibration simulates many particles in each block), and one that refuses
    ``scenario``."""
    if engine not in ENGINES:
        raise CalibrationError(f"unknown engine '{engine}'; choose from {', '.join(ENGINES)}",
                               key="--engine")
    spec = REGISTRY[engine]
    if spec.replications is not None:
        raise CalibrationError(f"the {engine} engine runs {spec.replications} replication a "
                               "run; a calibration simulates many particles a block: use "
                               "--engine batch or --engine event", key="--engine")
    why = spec.refusal(scenario) if scenario is not None else None
    if why is not None:
        raise CalibrationError(why, key="--engine")


def simulate_particles(
    calibration: Calibration,
    values: F64,
    seed: int,
    executor: Executor,
    *,
    engine: str = "batch",
    block_size: int | None = None,
    replications_per_particle: int | None = None,
    bands: bool = False,
) -> ParticleRun:
    """Simulate particles with parameter values ``(m, d)`` (columns in the calibration's prior
    order) and the simulation seed ``seed`` (and merge their daily ``bands``, for figures);
    raise :class:`RunError` if a block fails."""
    check_engine(engine, calibration.scenario)
    reps = replications_per_particle or calibration.replications_per_particle
    m = values.shape[0]
    total = m * reps
    scenario = calibration.scenario.with_overrides(
        {"simulation.replications": total, "simulation.seed": seed,
         "simulation.sample_trajectories": 0}, source="calibration")
    per_rep = {path: np.repeat(values[:, j], reps) for j, path in enumerate(calibration.paths)}
    parts = components(calibration)
    probes = list(dict.fromkeys(c.probe for c in parts if c.probe is not None))
    columns = sorted({c.column for c in parts if c.column is not None})
    granularity = STREAM_BLOCK if engine == "batch" else 1
    size = block_size or default_block_size(engine, total, executor.workers)
    blocks = plan_blocks(total, size, granularity, executor.workers)
    tasks = (
        BlockTask(scenario, first, n, engine, inputs=BlockInputs(
            {p: v[first:first + n] for p, v in per_rep.items()}, tuple(probes)))
        for first, n in blocks
    )
    reason = np.full(total, -1, dtype=np.int8)
    outcome = {c: np.full(total, np.nan) for c in columns}
    probed = np.full((total, len(probes)), np.nan)
    merged = empty_bands(scenario) if bands else None
    with closing(executor.run(tasks)) as finished:
        for task, block in finished:
            if isinstance(block, BlockFailure):
                raise RunError(f"calibration: {task.describe()} failed: {block.error}")
            rows = slice(block.first, block.first + block.n)
            reason[rows] = block.reason
            for c in columns:
                outcome[c][rows] = block.columns[c]
            probed[rows] = block.probes
            if merged is not None:
                merged.add(block)
    replicated = np.column_stack([
        _component(c, reason, outcome, probed, probes) for c in parts
    ]).reshape(total, len(parts))
    summaries = replicated.reshape(m, reps, len(parts)).mean(axis=1)
    return ParticleRun(replicated, summaries, merged)


def _component(
    c: Component, reason: NDArray[np.int8], outcome: dict[str, F64], probed: F64,
    probes: list[Probe],
) -> F64:
    """One component's value on every replication (``never`` where it did not happen)."""
    if c.reason is not None:
        return (reason != END_REASONS.index(c.reason)).astype(np.float64)
    if c.probe is not None:
        value = probed[:, probes.index(c.probe)]
    else:
        assert c.column is not None
        value = outcome[c.column]
    return np.where(np.isnan(value), c.never, value)


@dataclass(frozen=True)
class ParticleSimulator:
    """A calibration's particles on an executor (what :func:`siege.analysis.abc.abc_smc`
    calls): parameter values ``(m, d)`` and a seed to summaries ``(m, k)``."""

    calibration: Calibration
    executor: Executor
    engine: str = "batch"
    block_size: int | None = None

    def __call__(self, values: F64, seed: int) -> F64:
        return simulate_particles(self.calibration, values, seed, self.executor,
                                  engine=self.engine, block_size=self.block_size).summaries
