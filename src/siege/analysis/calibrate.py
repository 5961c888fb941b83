"""Fitting a scenario to what was observed: ABC-SMC (:mod:`siege.analysis.abc`) with siege's
particles (:mod:`siege.run.calibrate`) and a resumable store (:mod:`siege.run.calibration_store`),
and what a fit gives back: the posterior table, its strongest correlations, and draws from it.

:func:`calibrate` runs (or resumes) a calibration into a store, writing each generation as it
finishes; :func:`posterior_summary` reads the posterior of a store; :func:`posterior_values`
draws one parameter set per replication of a run from it (``siege simulate --posterior``).
The posterior predictive check is in :mod:`siege.analysis.predictive`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from siege._version import __version__
from siege.analysis.abc import (
    AbcResult,
    Observations,
    Population,
    Progress,
    abc_smc,
    weighted_quantile,
)
from siege.analysis.priors import JointPrior
from siege.errors import CalibrationError
from siege.run.calibrate import ParticleSimulator, check_engine, components
from siege.run.calibration_store import CalibrationStore
from siege.run.executors import Executor
from siege.scenario.calibration import AbcSettings, Calibration, Prior

F64 = NDArray[np.float64]
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
POSTERIOR_KEY = 0xCA1B  # spawn key of the posterior draws of a run, under the run's seed
DETERMINED_STOPS = ("max_simulations", "min_acceptance", "tolerance_stalled")


def observations(calibration: Calibration) -> Observations:
    """The targets' components as the observations ABC-SMC compares summaries with."""
    parts = components(calibration)
    index = {t.key: i for i, t in enumerate(calibration.targets)}
    owner = [index[t.key] for t in calibration.targets for _ in t.components]
    return Observations(
        low=np.array([c.low for c in parts]), high=np.array([c.high for c in parts]),
        scale=np.array([c.scale for c in parts]), target=np.array(owner, dtype=np.intp),
        targets=tuple(t.key for t in calibration.targets),
    )


# ------------------------------------------------------------------------------------------
# generations as tables


def generation_table(population: Population, calibration: Calibration) -> pa.Table:
    """A generation's particles as a table (see :mod:`siege.run.calibration_store`)."""
    n = population.weights.size
    cols: dict[str, Any] = {
        "particle": np.arange(n, dtype=np.int64),
        "weight": population.weights,
        "distance": population.distances,
    }
    for j, path in enumerate(calibration.paths):
        cols[path] = population.values[:, j]
    for j, target in enumerate(calibration.targets):
        cols[f"distance.{target.key}"] = population.parts[:, j]
    for j, c in enumerate(components(calibration)):
        cols[f"summary.{c.label}"] = population.summaries[:, j]
    meta = {
        "siege.kind": "calibration_generation",
        "siege.version": __version__,
        "siege.generation": str(population.generation),
        "siege.tolerance": repr(population.tolerance),
        "siege.proposals": str(population.proposals),
        "siege.accepted": str(population.accepted),
        "siege.simulations": str(population.simulations),
    }
    return pa.table(cols).replace_schema_metadata(meta)


def population_of(table: pa.Table, calibration: Calibration) -> Population:
    """A stored generation read back, exactly as it was written."""
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}

    def matrix(names: list[str]) -> F64:
        return np.column_stack([table.column(c).to_numpy() for c in names]).reshape(
            table.num_rows, len(names))

    return Population(
        generation=int(meta["siege.generation"]),
        values=matrix(calibration.paths),
        weights=table.column("weight").to_numpy(),
        distances=table.column("distance").to_numpy(),
        parts=matrix([f"distance.{t.key}" for t in calibration.targets]),
        summaries=matrix([f"summary.{c.label}" for c in components(calibration)]),
        tolerance=float(meta["siege.tolerance"]),
        proposals=int(meta["siege.proposals"]),
        accepted=int(meta["siege.accepted"]),
        simulations=int(meta["siege.simulations"]),
    )


def _generations_table(populations: list[Population]) -> pa.Table:
    return pa.table({
        "generation": pa.array([p.generation for p in populations], type=pa.int64()),
        "tolerance": [p.tolerance for p in populations],
        "proposals": pa.array([p.proposals for p in populations], type=pa.int64()),
        "accepted": pa.array([p.accepted for p in populations], type=pa.int64()),
        "acceptance": [p.acceptance for p in populations],
        "ess": [p.ess for p in populations],
        "simulations": pa.array([p.simulations for p in populations], type=pa.int64()),
    }).replace_schema_metadata({"siege.kind": "calibration_generations",
                                "siege.version": __version__})


# ------------------------------------------------------------------------------------------
# running


def calibrate(
    calibration: Calibration,
    store: CalibrationStore,
    executor: Executor,
    *,
    engine: str = "batch",
    block_size: int | None = None,
    max_wall_time_s: float | None = None,
    progress: Callable[[Progress], None] | None = None,
    on_generation: Callable[[Population], None] | None = None,
) -> AbcResult:
    """Run a calibration's ABC-SMC on ``executor`` from the generations ``store`` holds,
    writing each new generation (and the posterior so far) as it finishes.

    A store whose last run stopped at a rule that would stop it again (the simulation budget,
    the least acceptance, a tolerance that cannot shrink) under the same ``[abc]`` settings is
    not run again. ``max_wall_time_s`` replaces the file's wall-time limit."""
    check_engine(engine, calibration.scenario)
    settings = calibration.abc
    if max_wall_time_s is not None:
        settings = AbcSettings(**(settings.to_dict() | {"max_wall_time_s": max_wall_time_s}))
    history = [population_of(t, calibration) for t in store.generation_tables()]
    status = store.status()
    if history and status.get("stopped") in DETERMINED_STOPS and status.get("abc") == \
            _comparable(settings) and len(history) == status.get("generations"):
        return AbcResult(history, str(status["stopped"]), int(status["simulations"]))
    populations = list(history)

    def finished(population: Population) -> None:
        populations.append(population)
        store.write_generation(population.generation, generation_table(population, calibration))
        store.write("generations", _generations_table(populations))
        _write_posterior(store, population, calibration)
        if on_generation is not None:
            on_generation(population)

    result = abc_smc(
        ParticleSimulator(calibration, executor, engine, block_size),
        JointPrior.of(calibration.priors), observations(calibration), settings,
        calibration.seed, replications_per_particle=calibration.replications_per_particle,
        history=history, on_generation=finished, progress=progress,
    )
    store.write_status({"stopped": result.stopped, "simulations": result.simulations,
                        "generations": len(result.populations), "abc": _comparable(settings)})
    return result


def _comparable(settings: AbcSettings) -> dict[str, Any]:
    """The settings as JSON reads them back (infinity as text)."""
    return {k: (str(v) if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in settings.to_dict().items()}


def _write_posterior(store: CalibrationStore, population: Population,
                     calibration: Calibration) -> None:
    table = generation_table(population, calibration)
    keep = ["particle", "weight", "distance", *calibration.paths]
    meta = {**{k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()},
            "siege.kind": "calibration_particles"}
    store.write("particles", table.select(keep).replace_schema_metadata(meta))
    rows = parameter_posteriors(population, calibration.priors)
    store.write("posterior", pa.table({
        "path": [r.path for r in rows], "median": [r.median for r in rows],
        "q05": [r.q05 for r in rows], "q25": [r.q25 for r in rows],
        "q75": [r.q75 for r in rows], "q95": [r.q95 for r in rows],
    }).replace_schema_metadata({"siege.kind": "calibration_posterior",
                                "siege.version": __version__}))


# ------------------------------------------------------------------------------------------
# the posterior


@dataclass(frozen=True)
class ParameterPosterior:
    """One parameter's weighted posterior quantiles, and its prior."""

    path: str
    median: float
    q05: float
    q25: float
    q75: float
    q95: float
    prior: Prior


@dataclass(frozen=True)
class Correlation:
    """Weighted correlation of two parameters (on the priors' working scales: the logarithm
    of a parameter with a log-scale prior)."""

    first: str
    second: str
    r: float


@dataclass(frozen=True)
class PosteriorSummary:
    """A store's posterior: per-parameter quantiles, the correlations strongest first, every
    generation and why the run stopped."""

    parameters: tuple[ParameterPosterior, ...]
    correlations: tuple[Correlation, ...]
    populations: tuple[Population, ...]
    stopped: str
    calibration: Calibration

    @property
    def posterior(self) -> Population:
        return self.populations[-1]


def parameter_posteriors(population: Population, priors: tuple[Prior, ...]
                         ) -> list[ParameterPosterior]:
    out = []
    for j, prior in enumerate(priors):
        q = weighted_quantile(population.values[:, j], population.weights, np.array(QUANTILES))
        out.append(ParameterPosterior(prior.path, float(q[2]), float(q[0]), float(q[1]),
                                      float(q[3]), float(q[4]), prior))
    return out


def correlations(population: Population, priors: tuple[Prior, ...]) -> list[Correlation]:
    """Weighted correlations of every pair of parameters, strongest (by absolute value)
    first."""
    z = JointPrior.of(priors).to_z(population.values)
    w = population.weights
    centred = z - w @ z
    cov = centred.T @ (centred * w[:, None])
    sd = np.sqrt(np.diag(cov))
    out = []
    for i in range(len(priors)):
        for j in range(i + 1, len(priors)):
            r = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else float("nan")
            out.append(Correlation(priors[i].path, priors[j].path, float(r)))
    return sorted(out, key=lambda c: -abs(c.r) if np.isfinite(c.r) else 0.0)


def posterior_summary(store: CalibrationStore) -> PosteriorSummary:
    """The posterior a store holds (its last generation)."""
    calibration = store.calibration()
    populations = [population_of(t, calibration) for t in store.generation_tables()]
    if not populations:
        raise CalibrationError(f"{store.root}: no generation has finished yet")
    last = populations[-1]
    return PosteriorSummary(
        parameters=tuple(parameter_posteriors(last, calibration.priors)),
        correlations=tuple(correlations(last, calibration.priors)),
        populations=tuple(populations),
        stopped=str(store.status().get("stopped", "interrupted")),
        calibration=calibration,
    )


def posterior_values(
    store: str | Path, replications: int, seed: int
) -> tuple[dict[str, F64], dict[str, str]]:
    """One parameter set per replication ``(replications,)`` per path, resampled from the
    store's weighted particles with ``SeedSequence(seed, spawn_key=(POSTERIOR_KEY,))``: the
    same draws for any scenario run with that seed and count (two policies pair replication
    by replication), whatever the workers or blocks. Also the metadata a results file records
    (``siege.posterior``: the store, ``siege.posterior_sha256``: its particles' hash)."""
    opened = CalibrationStore.open(store)
    table = opened.read("particles")
    weights = table.column("weight").to_numpy()
    paths = [c for c in table.column_names if c not in ("particle", "weight", "distance")]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(POSTERIOR_KEY,)))
    index = rng.choice(weights.size, size=replications, p=weights / weights.sum())
    values = {p: np.asarray(table.column(p).to_numpy()[index], dtype=np.float64)
              for p in paths}
    meta = {"siege.posterior": str(Path(store).resolve()),
            "siege.posterior_sha256": opened.particles_sha256()}
    return values, meta
