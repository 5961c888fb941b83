"""ABC-SMC: approximate Bayesian computation by sequential Monte Carlo, for any simulator.

Toni et al. (2009), with the importance weights of Beaumont et al. (2009):

* generation 0 draws the population from the prior (tolerance infinite);
* generation t's tolerance is the ``quantile`` of generation t-1's distances (weighted);
* proposals resample generation t-1 by weight and perturb the chosen particle with a
  multivariate normal kernel on the priors' working scale (:mod:`siege.analysis.priors`):
  ``twice_covariance``, twice the weighted covariance of generation t-1 (Beaumont et al.), the
  default; or ``olcm``, the optimal local covariance of Filippi et al. (2013), one covariance
  per particle, ``Σ_j = Σ_k w̃_k (z_k - z_j)(z_k - z_j)ᵀ`` over the particles of t-1 already
  within the new tolerance. ``olcm`` accepts more proposals, but on a posterior that is a thin,
  strongly correlated ridge (the Bakhmut calibration: 11 parameters) its weights can collapse
  onto a handful of particles (effective sample size below 10), which twice the covariance
  does not;
* a proposal is accepted when its distance is within the tolerance, and weighted
  ``π(z) / Σ_j w_j K_j(z | z_j)``.

The distance of a particle is the Euclidean norm of its components' misses, each divided by
its observation's uncertainty (:func:`scaled_distance`; a value inside an observed interval
misses by nothing). Proposals are simulated in batches whose sizes depend only on earlier
results, and every batch's draws come from ``SeedSequence(seed, spawn_key=(generation,
batch, ...))``, so a run gives the same populations however the simulator spreads its work,
and a run resumed from stored generations the same as one never stopped. Stopping rules:
``max_generations``, ``min_tolerance``, ``max_simulations``, ``min_acceptance`` (after a
generation accepted fewer, or once a generation has simulated so many proposals that it
cannot reach it) and wall time; a generation cut short by one of them is discarded. The run
also stops when the tolerance can shrink no further (``tolerance_stalled``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from siege.analysis.priors import JointPrior
from siege.scenario.calibration import AbcSettings

F64 = NDArray[np.float64]
PROPOSALS, SIMULATION = 0, 1  # third spawn-key entry of a batch's two seeds
ACCEPTANCE_FLOOR = 1e-3  # the least acceptance a batch is sized for
BATCH_MARGIN = 1.2  # proposals per expected acceptance needed, in a batch
MAX_BATCH = 1 << 18  # proposals in one batch
MAX_REDRAWS = 1000  # rounds of redrawing proposals outside the prior's support
MAX_DRAWN = 1 << 22  # numbers drawn in one round of redrawing: candidates times d * d


class Simulator(Protocol):
    """Simulates particles: parameter values ``(m, d)`` and a seed to the summaries of each,
    ``(m, k)`` (components of the targets, in :class:`Observations` order)."""

    def __call__(self, values: F64, seed: int) -> F64: ...


@dataclass(frozen=True)
class Observations:
    """What the summaries are compared with: for each of ``k`` components an interval
    ``[low, high]`` (equal ends for a value), the ``scale`` a miss is divided by, and the
    target it belongs to (``target``, indexes into ``targets``)."""

    low: F64
    high: F64
    scale: F64
    target: NDArray[np.intp]
    targets: tuple[str, ...]


def scaled_distance(summaries: F64, obs: Observations) -> tuple[F64, F64]:
    """Distances ``(m,)`` of simulated summaries ``(m, k)`` from the observations, and each
    target's part ``(m, targets)``: root of the summed squared scaled misses. A missing
    (NaN) summary is infinitely far."""
    miss = np.maximum(obs.low - summaries, 0.0) + np.maximum(summaries - obs.high, 0.0)
    miss = np.where(np.isnan(summaries), np.inf, miss) / obs.scale
    squared = miss**2
    parts = np.zeros((summaries.shape[0], len(obs.targets)))
    for j in range(len(obs.targets)):
        parts[:, j] = squared[:, obs.target == j].sum(axis=1)
    return np.sqrt(squared.sum(axis=1)), np.sqrt(parts)


@dataclass(frozen=True)
class Population:
    """A generation's accepted particles: values ``(n, d)``, normalised weights, distances,
    each target's part of the distance ``(n, targets)`` and the summaries ``(n, k)``; the
    tolerance they were accepted within, and what it took (particles proposed and simulated,
    and replications simulated)."""

    generation: int
    values: F64
    weights: F64
    distances: F64
    parts: F64
    summaries: F64
    tolerance: float
    proposals: int
    accepted: int
    simulations: int

    @property
    def acceptance(self) -> float:
        """Share of the proposals simulated in this generation that were accepted."""
        return self.accepted / self.proposals if self.proposals else math.nan

    @property
    def ess(self) -> float:
        """Effective sample size of the weights, ``1 / Σ w²``."""
        return float(1.0 / np.sum(self.weights**2))


@dataclass(frozen=True)
class Progress:
    """Where a running generation stands (for progress bars)."""

    generation: int
    tolerance: float
    accepted: int
    population: int
    proposals: int


@dataclass(frozen=True)
class AbcResult:
    """Every generation (those resumed from included) and why the run stopped."""

    populations: list[Population]
    # max_generations | min_tolerance | max_simulations | min_acceptance | wall_time, or
    # tolerance_stalled (every distance at the tolerance already)
    stopped: str
    simulations: int  # replications simulated in all, a discarded last generation included

    @property
    def posterior(self) -> Population:
        return self.populations[-1]


def weighted_quantile(values: F64, weights: F64, q: float | F64) -> F64:
    """Quantiles of weighted values, interpolated between the midpoints of each value's
    weight in the cumulative distribution (the ordinary sample quantile for equal weights)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order] / weights.sum()
    cdf = np.cumsum(w) - 0.5 * w
    finite = np.isfinite(v)
    if not finite.all():  # interpolation cannot take inf: read it off as a step
        idx = np.minimum(np.searchsorted(cdf, q), v.size - 1)
        return np.asarray(v[idx], dtype=np.float64)
    return np.asarray(np.interp(q, cdf, v), dtype=np.float64)


def next_tolerance(prev: Population, quantile: float) -> float | None:
    """The ``quantile`` of the last population's distances, or, where that does not shrink
    the tolerance (distances that take few values), the largest distance below it; None if
    every distance is at the last tolerance already."""
    tolerance = float(weighted_quantile(prev.distances, prev.weights, quantile))
    if tolerance < prev.tolerance:
        return tolerance
    below = prev.distances[prev.distances < prev.tolerance]
    return float(below.max()) if below.size else None


def kernel_factors(prev: Population, z: F64, tolerance: float, kind: str) -> F64:
    """Cholesky factors ``(n, d, d)`` of the perturbation kernel's covariance around each
    particle of ``prev`` (working scale ``z``, ``(n, d)``)."""
    w = prev.weights
    d = z.shape[1]
    mean = w @ z
    cov = (z - mean).T @ ((z - mean) * w[:, None])
    jitter = np.diag(1e-9 * np.diag(cov) + 1e-12)
    if kind == "twice_covariance":
        factor = np.linalg.cholesky(2.0 * cov + jitter)
        return np.broadcast_to(factor, (z.shape[0], d, d))
    near = prev.distances <= tolerance
    wn = w[near] / w[near].sum()
    m = wn @ z[near]
    local = (z[near] - m).T @ ((z[near] - m) * wn[:, None])
    offset = m[None, :] - z
    sigma = local[None, :, :] + offset[:, :, None] * offset[:, None, :] + jitter
    return np.asarray(np.linalg.cholesky(sigma), dtype=np.float64)


def log_kernel_mixture(z_new: F64, z_prev: F64, weights: F64, factors: F64) -> F64:
    """``log Σ_j w_j N(z_i; z_j, L_j L_jᵀ)`` for each new particle ``z_i`` ``(m,)``; the
    ancestors ``j`` are taken a chunk at a time (memory: about 4 M numbers)."""
    m, d = z_new.shape
    inverse = np.linalg.inv(factors)  # (n, d, d): L_j⁻¹
    log_norm = (-np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
                - 0.5 * d * math.log(2 * math.pi) + np.log(weights))
    terms = np.empty((z_prev.shape[0], m))
    chunk = max(1, (1 << 22) // max(1, m * d))
    for start in range(0, z_prev.shape[0], chunk):
        stop = start + chunk
        diff = z_new[None, :, :] - z_prev[start:stop, None, :]  # (c, m, d)
        y = np.einsum("jab,jmb->jma", inverse[start:stop], diff)
        terms[start:stop] = -0.5 * (y**2).sum(axis=2) + log_norm[start:stop, None]
    with np.errstate(divide="ignore"):
        return np.asarray(logsumexp(terms, axis=0), dtype=np.float64)


def canonical(prior: JointPrior, z: F64) -> tuple[F64, F64]:
    """Values and working-scale coordinates of ``z``, the latter recomputed from the values so
    that a population read back from its values is the same, bit for bit."""
    values = prior.from_z(z)
    return values, prior.to_z(values)


def propose(
    prev: Population | None, prior: JointPrior, factors: F64 | None, m: int,
    rng: np.random.Generator,
) -> tuple[F64, F64]:
    """``m`` proposals inside the prior's support: values and working-scale coordinates.

    Each proposal is drawn again until it falls inside; after the first round every proposal
    still missing draws several candidates at once (about two expected inside, from the last
    round's share) and keeps the first inside: in many dimensions a kernel around a population
    of uniform priors may keep under 1 % of its draws inside."""
    z = np.empty((m, prior.d))
    todo = np.arange(m)
    tries = 1  # candidates drawn per missing proposal in this round
    for _ in range(MAX_REDRAWS):
        k = todo.size * tries
        if prev is None:
            draw = prior.sample_z(rng, k)
        else:
            assert factors is not None
            parents = rng.choice(prev.weights.size, size=k, p=prev.weights)
            noise = rng.standard_normal((k, prior.d))
            draw = prior.to_z(prev.values[parents]) + np.einsum(
                "mij,mj->mi", factors[parents], noise)
        _, zc = canonical(prior, draw)
        inside = np.isfinite(prior.logpdf_z(zc)) & np.isfinite(zc).all(axis=1)
        each = inside.reshape(todo.size, tries)
        found = each.any(axis=1)
        first = np.argmax(each, axis=1)[found]
        z[todo[found]] = draw.reshape(todo.size, tries, prior.d)[found, first]
        todo = todo[~found]
        if todo.size == 0:
            return canonical(prior, z)
        most = max(1, MAX_DRAWN // (prior.d * prior.d * todo.size))
        share = float(inside.mean())
        tries = most if share * most < 2.0 else math.ceil(2.0 / share)
    raise RuntimeError("the perturbation kernel keeps leaving the prior's support")


def batch_seeds(seed: int, generation: int, batch: int) -> tuple[np.random.Generator, int]:
    """The generator of a batch's proposals and the seed of its simulations."""
    proposals = np.random.SeedSequence(seed, spawn_key=(generation, batch, PROPOSALS))
    simulation = np.random.SeedSequence(seed, spawn_key=(generation, batch, SIMULATION))
    return (np.random.default_rng(proposals),
            int(simulation.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))


def abc_smc(
    simulate: Simulator,
    prior: JointPrior,
    observations: Observations,
    settings: AbcSettings,
    seed: int,
    *,
    replications_per_particle: int = 1,
    history: Sequence[Population] = (),
    on_generation: Callable[[Population], None] | None = None,
    progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AbcResult:
    """Run ABC-SMC from the generations in ``history`` (a resumed run) until a stopping rule
    holds. ``on_generation`` receives each new generation as it is complete (to store it);
    ``progress`` the state of the running one after each batch."""
    populations = list(history)
    start = clock()
    total = sum(p.simulations for p in populations)
    n = settings.population
    while True:
        t = len(populations)
        prev = populations[-1] if populations else None
        stop = _stop_before(prev, t, settings, clock() - start)
        if stop is not None:
            return AbcResult(populations, stop, total)
        tolerance = math.inf
        factors = None
        if prev is not None:
            shrunk = next_tolerance(prev, settings.quantile)
            if shrunk is None:
                return AbcResult(populations, "tolerance_stalled", total)
            tolerance = shrunk
            factors = kernel_factors(prev, prior.to_z(prev.values), tolerance, settings.kernel)
        estimate = 1.0 if prev is None else prev.acceptance * settings.quantile
        kept: list[tuple[F64, F64, F64, F64, F64]] = []
        accepted = proposals = 0
        batch = 0
        stop = None
        while accepted < n:
            if accepted:
                estimate = accepted / proposals
            size = n if prev is None else int(min(MAX_BATCH, max(n - accepted, math.ceil(
                (n - accepted) / max(estimate, ACCEPTANCE_FLOOR) * BATCH_MARGIN))))
            stop = _stop_during(proposals, size, total, settings, clock() - start,
                                replications_per_particle)
            if stop is not None:
                break
            rng, sim_seed = batch_seeds(seed, t, batch)
            values, z = propose(prev, prior, factors, size, rng)
            summaries = np.asarray(simulate(values, sim_seed), dtype=np.float64)
            distances, parts = scaled_distance(summaries, observations)
            ok = distances <= tolerance
            kept.append((values[ok], z[ok], distances[ok], parts[ok], summaries[ok]))
            accepted += int(ok.sum())
            proposals += size
            total += size * replications_per_particle
            batch += 1
            if progress is not None:
                progress(Progress(t, tolerance, min(accepted, n), n, proposals))
        if stop is not None:
            return AbcResult(populations, stop, total)
        values, z, distances, parts, summaries = (np.concatenate(x)[:n] for x in zip(*kept,
                                                                                    strict=True))
        if prev is None:
            weights = np.full(n, 1.0 / n)
        else:
            assert factors is not None
            log_w = prior.logpdf_z(z) - log_kernel_mixture(
                z, prior.to_z(prev.values), prev.weights, factors)
            weights = np.exp(log_w - log_w.max())
            weights /= weights.sum()
        population = Population(
            generation=t, values=values, weights=weights, distances=distances, parts=parts,
            summaries=summaries, tolerance=tolerance, proposals=proposals, accepted=accepted,
            simulations=proposals * replications_per_particle,
        )
        populations.append(population)
        if on_generation is not None:
            on_generation(population)


def _stop_before(
    prev: Population | None, t: int, settings: AbcSettings, elapsed: float
) -> str | None:
    """The stopping rule that holds before generation ``t`` starts, if any."""
    if t >= settings.max_generations:
        return "max_generations"
    if prev is not None and prev.tolerance <= settings.min_tolerance:
        return "min_tolerance"
    if prev is not None and prev.acceptance < settings.min_acceptance:
        return "min_acceptance"
    if elapsed > settings.max_wall_time_s:
        return "wall_time"
    return None


def _stop_during(
    proposals: int, size: int, total: int, settings: AbcSettings, elapsed: float,
    replications_per_particle: int,
) -> str | None:
    """The stopping rule that ends a running generation before its next batch, if any."""
    if total + size * replications_per_particle > settings.max_simulations:
        return "max_simulations"
    if proposals and proposals >= settings.population / settings.min_acceptance:
        return "min_acceptance"
    if elapsed > settings.max_wall_time_s:
        return "wall_time"
    return None
