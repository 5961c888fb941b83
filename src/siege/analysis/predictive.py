"""The posterior predictive check of a calibration: does what was observed look like what the
fitted scenario produces?

Parameter sets are drawn from the posterior (weighted resampling, seeded from the
calibration's seed), one replication simulated for each, and every target's components
compared with the predictive distribution: the percentile of the observation in it and whether
it lies in the central 90 % predictive interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.analysis.abc import batch_seeds
from siege.analysis.calibrate import posterior_summary
from siege.results.parquet import Bands
from siege.run.calibrate import components, simulate_particles
from siege.run.calibration_store import CalibrationStore
from siege.run.executors import Executor
from siege.scenario.calibration import Calibration
from siege.scenario.targets import Component

F64 = NDArray[np.float64]
CHECK_GENERATION = 1 << 30  # the check's draws use seeds no generation of a fit reaches


@dataclass(frozen=True)
class CheckRow:
    """One component: the observation (an interval; equal ends for a value), the predictive
    median and 90 % interval, and how the observation sits in the predictive distribution: for
    a value, its ``percentile`` (0 to 1, ties counted half); for an interval or an end reason,
    the predictive ``probability`` of it. ``inside``: the observation lies in (an interval:
    meets) the 90 % predictive interval, or its probability is at least 5 %; ``never``: the
    share of draws where a milestone never happened (NaN for other components)."""

    target: str
    label: str
    low: float
    high: float
    median: float
    q05: float
    q95: float
    percentile: float
    probability: float
    inside: bool
    never: float


@dataclass(frozen=True)
class PredictiveCheck:
    """The check's rows, each draw's simulated components ``(draws, k)``, the components, and
    the daily bands of the predictive runs."""

    calibration: Calibration
    rows: tuple[CheckRow, ...]
    simulated: F64
    components: tuple[Component, ...]
    bands: Bands


def predictive_check(
    store: CalibrationStore,
    executor: Executor,
    *,
    draws: int = 1000,
    engine: str | None = None,
    block_size: int | None = None,
) -> PredictiveCheck:
    """Simulate ``draws`` posterior draws of ``store``'s calibration, one replication each,
    and compare each target with its predictive distribution."""
    summary = posterior_summary(store)
    calibration = summary.calibration
    posterior = summary.posterior
    rng, sim_seed = batch_seeds(calibration.seed, CHECK_GENERATION, 0)
    index = rng.choice(posterior.weights.size, size=draws, p=posterior.weights)
    run = simulate_particles(calibration, posterior.values[index], sim_seed, executor,
                             engine=engine or store.engine, block_size=block_size,
                             replications_per_particle=1, bands=True)
    parts = components(calibration)
    owner = {c.label: t.name for t in calibration.targets for c in t.components}
    rows = tuple(_row(owner[c.label], c, run.replicated[:, j]) for j, c in enumerate(parts))
    assert run.bands is not None
    return PredictiveCheck(calibration, rows, run.replicated, tuple(parts), run.bands)


def _row(target: str, c: Component, sim: F64) -> CheckRow:
    finite = sim[np.isfinite(sim)]
    q05, median, q95 = (np.quantile(finite, [0.05, 0.5, 0.95]) if finite.size
                        else (math.nan,) * 3)
    never = float(np.mean(sim == c.never)) if np.isfinite(c.never) else math.nan
    if c.reason is not None:  # 0 where the end reason is the observed one
        p_match = float(np.mean(sim == 0.0))
        return CheckRow(target, c.label, c.low, c.high, math.nan, math.nan, math.nan,
                        math.nan, p_match, p_match >= 0.05, never)
    if c.low < c.high:
        inside = bool(c.low <= q95 and c.high >= q05)
        p_in = float(np.mean((sim >= c.low) & (sim <= c.high)))
        return CheckRow(target, c.label, c.low, c.high, float(median), float(q05), float(q95),
                        math.nan, p_in, inside, never)
    percentile = float(np.mean(sim < c.low) + 0.5 * np.mean(sim == c.low))
    return CheckRow(target, c.label, c.low, c.high, float(median), float(q05), float(q95),
                    percentile, math.nan, bool(q05 <= c.low <= q95), never)
