"""The backtest of documented sieges: each siege simulated as written and scored against how
it ended (:func:`backtest`), or, leaving one out at a time, the doctrine parameters fitted on
the others and the one left out predicted from their posterior (:func:`leave_one_out`).

The fit is the ABC-SMC of ``siege calibrate`` (:func:`siege.analysis.abc.abc_smc`) with a
joint distance: a particle is one doctrine parameter set, simulated on every training siege
(``replications_per_particle`` replications each, through
:func:`siege.run.calibrate.simulate_particles`), its summary the concatenation of the sieges'
outcome components (end reason and end day, scaled as ``siege calibrate`` scales them).

Each siege's part of the distance is normalised (:func:`siege_scales`): divided by its median
over the first generation (particles from the prior), floored at 1, before the parts are
summed in squares. Unnormalised, a siege the model cannot reach (Sevastopol: no replication is
captured, and the observed day lies above every simulated one) misses by ~100 scaled units
under every particle, so its part sets the joint distance and the fit follows its small
differences and ignores every other siege. Scaling each summary by a robust spread of its
simulations is the usual remedy in ABC with several summaries (Prangle 2017, "Adapting the
ABC distance function", Bayesian Analysis 12(1), 289-309, who recomputes the scales in every
generation from its median absolute deviations); here the unit is a siege, the spread is
measured from the observation (the median miss), not from the simulations' median (a siege
missed by the same large amount under every particle has a small MAD and would be blown up,
not tamed), and the scales are fixed after the prior generation so that ABC-SMC's tolerances
stay comparable between generations. The floor keeps a siege the prior already meets (median
miss under one observation's uncertainty: the held sieges, whose median miss is 0) in its own
units instead of inflating its noise. The first generation is simulated once and rescored.

The fit sees only the training sieges: the left-out siege's targets never reach it. The
prediction draws one particle per replication from the posterior's weights (as ``siege
simulate --posterior`` does) and simulates the left-out siege with the same seed as the plain
backtest.

A siege's uncertain inputs (the ``[[prior]]`` tables of its targets file: its own facts known
only within a range) are drawn from their priors once per replication in every simulation of
it (:func:`draw_inputs`): in the plain backtest, in the prediction, and in the fit, where each
particle's simulation of a training siege draws them afresh. They are never fitted: the fit
integrates over them (the ABC of the doctrine's marginal posterior, the inputs as nuisance
parameters drawn from their priors), so the doctrine does not absorb what a siege's own
uncertain facts explain, and a left-out siege's inputs are drawn from its priors, not from
anything its targets say. ``fixed_inputs=True`` runs every siege at its scenario's values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from siege.analysis.abc import AbcResult, Observations, Population, abc_smc, scaled_distance
from siege.analysis.backtest import SiegeScore, score_siege
from siege.analysis.calibrate import observations
from siege.analysis.priors import JointPrior
from siege.model.rules import END_REASONS
from siege.run.backtest import SiegeRun, derived_seed, name_key, run_seed, simulate_siege
from siege.run.calibrate import simulate_particles
from siege.run.executors import Executor
from siege.scenario.calibration import AbcSettings, Calibration, Prior
from siege.scenario.doctrine import Doctrine, check_inputs
from siege.scenario.history import DocumentedSiege

F64 = NDArray[np.float64]
FIT, PREDICT, INPUTS = 1, 2, 3  # first spawn-key entries of a fold's seeds and the input draws
FIT_ROOT = 0  # root seed of the folds' fits and draws when no seed is given


def draw_inputs(inputs: Sequence[Prior], n: int, seed: int) -> dict[str, F64]:
    """``n`` draws of a siege's uncertain inputs from their priors, one per replication
    (``SeedSequence(seed, spawn_key=(INPUTS,))``, ``seed`` the simulation's): path -> ``(n,)``
    values (none without inputs)."""
    if not inputs:
        return {}
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(INPUTS,)))
    prior = JointPrior.of(inputs)
    values = prior.from_z(prior.sample_z(rng, n))
    return {p.path: np.ascontiguousarray(values[:, j]) for j, p in enumerate(inputs)}


def backtest(
    sieges: Sequence[DocumentedSiege], executor: Executor, *, replications: int,
    seed: int | None = None, engine: str = "batch", block_size: int | None = None,
    fixed_inputs: bool = False,
) -> list[SiegeScore]:
    """Each siege simulated as its file has it, ``replications`` times (its uncertain inputs
    drawn per replication unless ``fixed_inputs``), and scored."""
    scores = []
    for siege in sieges:
        sim_seed = run_seed(siege, seed)
        values = {} if fixed_inputs else draw_inputs(siege.inputs, replications, sim_seed)
        run = simulate_siege(siege, executor, replications=replications, seed=sim_seed,
                             values=values or None, engine=engine, block_size=block_size)
        scores.append(_score(siege, run))
    return scores


def _score(siege: DocumentedSiege, run: SiegeRun) -> SiegeScore:
    return score_siege(siege.name, siege.end_reason, siege.end_day, run.end_reason,
                       run.end_day, END_REASONS)


@dataclass(frozen=True)
class Fold:
    """One fold of the leave-one-out: the siege left out, the fit on the others (its
    generations and why it stopped, each training siege's scale) and the left-out siege's
    score."""

    left_out: str
    training: tuple[str, ...]
    fit: AbcResult
    score: SiegeScore
    scales: tuple[float, ...]  # each training siege's scale (:func:`siege_scales`)


@dataclass(frozen=True)
class JointFit:
    """The ABC-SMC of the doctrine on the training sieges and each siege's scale, its part of
    the distance divided by it (:func:`siege_scales`; in the order of ``training``)."""

    result: AbcResult
    scales: tuple[float, ...]


def fold_seed(seed: int, name: str) -> int:
    """The seed of the fit that leaves out ``name``."""
    return derived_seed(seed, FIT, name_key(name))


def leave_one_out(
    sieges: Sequence[DocumentedSiege], doctrine: Doctrine, executor: Executor, *,
    settings: AbcSettings, replications: int, seed: int | None = None,
    replications_per_particle: int = 1, engine: str = "batch", block_size: int | None = None,
    on_fold: Callable[[Fold], None] | None = None, fixed_inputs: bool = False,
) -> list[Fold]:
    """For each siege, fit the doctrine on all the others and score its prediction. The fits
    and draws derive their seeds from ``seed`` (:data:`FIT_ROOT` if None); the predictions
    are simulated with the plain backtest's seeds (common random numbers with it). Raise
    :class:`CalibrationError` where a siege's uncertain input is a doctrine path (unless
    ``fixed_inputs``)."""
    if not fixed_inputs:
        check_inputs(doctrine, sieges)
    root = FIT_ROOT if seed is None else seed
    folds = []
    for siege in sieges:
        training = [s for s in sieges if s.name != siege.name]
        fit = fit_doctrine(training, doctrine, executor, settings=settings,
                           seed=fold_seed(root, siege.name),
                           replications_per_particle=replications_per_particle,
                           engine=engine, block_size=block_size, fixed_inputs=fixed_inputs)
        run = predict(siege, doctrine, fit.result.posterior, executor,
                      replications=replications, draw_seed=root, seed=seed, engine=engine,
                      block_size=block_size, fixed_inputs=fixed_inputs)
        folds.append(Fold(siege.name, tuple(s.name for s in training), fit.result,
                          _score(siege, run), fit.scales))
        if on_fold is not None:
            on_fold(folds[-1])
    return folds


def fit_doctrine(
    training: Sequence[DocumentedSiege], doctrine: Doctrine, executor: Executor, *,
    settings: AbcSettings, seed: int, replications_per_particle: int = 1,
    engine: str = "batch", block_size: int | None = None, fixed_inputs: bool = False,
) -> JointFit:
    """ABC-SMC of the doctrine parameters on the outcome targets of the ``training`` sieges
    jointly (nothing else is read), each siege's part normalised by :func:`siege_scales` of
    the first generation (which is simulated once, then rescored)."""
    if not training:
        raise ValueError("the doctrine is fitted on at least one siege")
    simulator = _JointSimulator(tuple(_calibration(s, doctrine, settings, seed,
                                                   replications_per_particle, fixed_inputs)
                                      for s in training),
                                tuple(_columns(s, doctrine) for s in training),
                                tuple(s.name for s in training), executor, engine,
                                block_size, replications_per_particle)
    prior = JointPrior.of(doctrine.priors)
    observed = _joint_observations(simulator.calibrations)
    reps = replications_per_particle * len(training)
    first = abc_smc(simulator, prior, observed,
                    replace(settings, max_generations=min(1, settings.max_generations)), seed,
                    replications_per_particle=reps)
    if not first.populations:
        return JointFit(first, (1.0,) * len(training))
    scales = siege_scales(first.populations[0])
    normalised = replace(observed, scale=observed.scale * scales[observed.target])
    distances, parts = scaled_distance(first.populations[0].summaries, normalised)
    rescored = replace(first.populations[0], distances=distances, parts=parts)
    result = abc_smc(simulator, prior, normalised, settings, seed,
                     replications_per_particle=reps, history=[rescored])
    return JointFit(result, tuple(float(x) for x in scales))


def siege_scales(prior_generation: Population) -> F64:
    """Each training siege's scale: the median of its part of the distance over a generation
    drawn from the prior (one target per siege: parts are sieges), at least 1 (one
    observation's uncertainty); 1 where more than half the particles miss infinitely."""
    median = np.median(prior_generation.parts, axis=0)
    return np.where(np.isfinite(median), np.maximum(median, 1.0), 1.0)


def predict(
    siege: DocumentedSiege, doctrine: Doctrine, posterior: Population, executor: Executor, *,
    replications: int, draw_seed: int, seed: int | None = None, engine: str = "batch",
    block_size: int | None = None, fixed_inputs: bool = False,
) -> SiegeRun:
    """``replications`` of ``siege`` (seeded as the plain backtest's with ``seed``, its
    uncertain inputs drawn as the plain backtest draws them unless ``fixed_inputs``), each
    with one doctrine parameter set drawn from the posterior's weights (the draws from
    ``SeedSequence(draw_seed, spawn_key=(PREDICT, siege))``)."""
    rng = np.random.default_rng(np.random.SeedSequence(
        draw_seed, spawn_key=(PREDICT, name_key(siege.name))))
    index = rng.choice(posterior.weights.size, size=replications,
                       p=posterior.weights / posterior.weights.sum())
    values = {path: np.asarray(posterior.values[index, j], dtype=np.float64)
              for j, path in doctrine.expand(siege.scenario)}
    sim_seed = run_seed(siege, seed)
    if not fixed_inputs:
        values.update(draw_inputs(siege.inputs, replications, sim_seed))
    return simulate_siege(siege, executor, replications=replications, seed=sim_seed,
                          values=values, engine=engine, block_size=block_size)


def _calibration(siege: DocumentedSiege, doctrine: Doctrine, settings: AbcSettings,
                 seed: int, replications_per_particle: int, fixed_inputs: bool = False
                 ) -> Calibration:
    """A siege as a calibration of its doctrine paths to its outcome target (its uncertain
    inputs' paths after them, unless ``fixed_inputs``: drawn, not fitted)."""
    priors = tuple(Prior(path, doctrine.priors[j].distribution, doctrine.priors[j].parameters)
                   for j, path in doctrine.expand(siege.scenario))
    if not fixed_inputs:
        priors += siege.inputs
    return Calibration(file=siege.targets_file, text="", scenario=siege.scenario,
                       scenario_file=siege.scenario_file, seed=seed,
                       replications_per_particle=replications_per_particle, abc=settings,
                       priors=priors, targets=(siege.outcome,))


def _columns(siege: DocumentedSiege, doctrine: Doctrine) -> NDArray[np.intp]:
    """The doctrine parameter behind each of the siege's calibration paths."""
    return np.array([j for j, _ in doctrine.expand(siege.scenario)], dtype=np.intp)


def _joint_observations(calibrations: Sequence[Calibration]) -> Observations:
    """The training sieges' observations end to end, targets named ``siege:target``."""
    each = [observations(c) for c in calibrations]
    offsets = np.cumsum([0] + [len(o.targets) for o in each])
    return Observations(
        low=np.concatenate([o.low for o in each]), high=np.concatenate([o.high for o in each]),
        scale=np.concatenate([o.scale for o in each]),
        target=np.concatenate([o.target + off for o, off in zip(each, offsets, strict=False)]),
        targets=tuple(f"{c.scenario.name}:{t}" for c, o in zip(calibrations, each, strict=True)
                      for t in o.targets),
    )


@dataclass(frozen=True)
class _JointSimulator:
    """Doctrine particles ``(m, d)`` simulated on every training siege: summaries ``(m, k)``,
    the sieges' components end to end. Each siege's simulations are seeded from the batch's
    seed and the siege's name; its uncertain inputs (its calibration's priors after the
    doctrine's columns) are drawn afresh for each particle from that seed."""

    calibrations: tuple[Calibration, ...]
    columns: tuple[NDArray[np.intp], ...]
    names: tuple[str, ...]
    executor: Executor
    engine: str
    block_size: int | None
    replications_per_particle: int

    def __call__(self, values: F64, seed: int) -> F64:
        out = []
        for calibration, columns, name in zip(self.calibrations, self.columns, self.names,
                                              strict=True):
            siege_seed = derived_seed(seed, name_key(name))
            inputs = calibration.priors[columns.size:]  # drawn, not fitted
            drawn = draw_inputs(inputs, values.shape[0], siege_seed)
            particles = np.column_stack([values[:, columns], *drawn.values()])
            out.append(simulate_particles(
                calibration, particles.reshape(values.shape[0], len(calibration.paths)),
                siege_seed, self.executor, engine=self.engine, block_size=self.block_size,
                replications_per_particle=self.replications_per_particle).summaries)
        return np.concatenate(out, axis=1)
