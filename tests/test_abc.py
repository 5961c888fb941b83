"""ABC-SMC on toy simulators: a posterior known in closed form, resumption, seeds, distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from siege.analysis.abc import (
    Observations,
    Population,
    abc_smc,
    kernel_factors,
    propose,
    scaled_distance,
    weighted_quantile,
)
from siege.analysis.priors import JointPrior
from siege.scenario.calibration import AbcSettings, Prior

SHAPE, RATE, DAYS, OBSERVED = 2.0, 4.0, 50.0, 31  # gamma prior on a loss rate; Poisson total


def _poisson_total(values: np.ndarray, seed: int) -> np.ndarray:
    """Losses over DAYS at a constant rate per day (one column): a Poisson count."""
    return np.random.default_rng(seed).poisson(values[:, 0] * DAYS)[:, None].astype(float)


PRIOR = JointPrior.of([Prior("rate", "gamma", {"shape": SHAPE, "rate": RATE})])
COUNT = Observations(np.array([float(OBSERVED)]), np.array([float(OBSERVED)]), np.array([1.0]),
                     np.array([0]), ("count",))


def _moments(p: Population) -> tuple[float, float]:
    mean = float(p.weights @ p.values[:, 0])
    return mean, math.sqrt(float(p.weights @ (p.values[:, 0] - mean) ** 2))


@pytest.mark.parametrize("kernel", ["olcm", "twice_covariance"])
def test_posterior_of_a_poisson_rate_matches_the_conjugate_gamma(kernel: str) -> None:
    # tolerance below one count accepts exact matches only: the ABC posterior is then the
    # exact posterior, gamma(shape + k, rate + T), up to Monte Carlo error
    settings = AbcSettings(population=1500, kernel=kernel, min_tolerance=0.9,
                           max_generations=20)
    result = abc_smc(_poisson_total, PRIOR, COUNT, settings, seed=1)
    assert result.stopped == "min_tolerance" and result.posterior.tolerance < 1.0
    mean, sd = _moments(result.posterior)
    assert mean == pytest.approx((SHAPE + OBSERVED) / (RATE + DAYS), rel=0.05)
    assert sd == pytest.approx(math.sqrt(SHAPE + OBSERVED) / (RATE + DAYS), rel=0.05)
    tolerances = [p.tolerance for p in result.populations]
    assert tolerances == sorted(tolerances, reverse=True)
    assert all(0 < p.ess <= settings.population * (1 + 1e-9) for p in result.populations)


def test_resumed_run_gives_the_same_populations_as_one_never_stopped() -> None:
    settings = AbcSettings(population=200, max_generations=4)
    whole = abc_smc(_poisson_total, PRIOR, COUNT, settings, seed=5)
    first = abc_smc(_poisson_total, PRIOR, COUNT, AbcSettings(population=200,
                                                              max_generations=2), seed=5)
    resumed = abc_smc(_poisson_total, PRIOR, COUNT, settings, seed=5,
                      history=first.populations)
    assert len(resumed.populations) == 4
    for a, b in zip(whole.populations, resumed.populations, strict=True):
        assert np.array_equal(a.values, b.values) and np.array_equal(a.weights, b.weights)
        assert a.tolerance == b.tolerance and a.proposals == b.proposals


def test_the_seed_changes_the_particles() -> None:
    settings = AbcSettings(population=100, max_generations=2)
    a = abc_smc(_poisson_total, PRIOR, COUNT, settings, seed=1).posterior
    b = abc_smc(_poisson_total, PRIOR, COUNT, settings, seed=1).posterior
    c = abc_smc(_poisson_total, PRIOR, COUNT, settings, seed=2).posterior
    assert np.array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_stopping_rules_discard_an_unfinished_generation() -> None:
    budget = abc_smc(_poisson_total, PRIOR, COUNT,
                     AbcSettings(population=100, max_generations=10, max_simulations=500),
                     seed=1)
    assert budget.stopped == "max_simulations"
    assert sum(p.simulations for p in budget.populations) <= 500
    hard = abc_smc(_poisson_total, PRIOR, COUNT,
                   AbcSettings(population=100, max_generations=30, min_acceptance=0.3), seed=1)
    assert hard.stopped == "min_acceptance"
    assert all(p.acceptance >= 0.3 for p in hard.populations[:-1])
    timed = abc_smc(_poisson_total, PRIOR, COUNT, AbcSettings(population=100,
                                                              max_wall_time_s=1.0),
                    seed=1, clock=iter(range(0, 100, 2)).__next__)
    assert timed.stopped == "wall_time" and not timed.populations


def test_a_value_inside_its_interval_costs_nothing() -> None:
    obs = Observations(low=np.array([10.0, 0.0]), high=np.array([20.0, math.inf]),
                       scale=np.array([5.0, 2.0]), target=np.array([0, 1]), targets=("a", "b"))
    summaries = np.array([[15.0, 100.0], [25.0, 1.0], [4.0, -4.0], [np.nan, 1.0]])
    distance, parts = scaled_distance(summaries, obs)
    assert distance[0] == 0.0
    assert distance[1] == pytest.approx(1.0)
    assert distance[2] == pytest.approx(math.hypot(6 / 5, 4 / 2))
    assert parts[2] == pytest.approx([6 / 5, 2.0])
    assert math.isinf(distance[3])


def test_weighted_quantile_of_equal_weights_is_the_hazen_quantile() -> None:
    x = np.random.default_rng(0).normal(size=101)
    q = np.array([0.05, 0.5, 0.9])
    assert weighted_quantile(x, np.ones(101), q) == pytest.approx(
        np.quantile(x, q, method="hazen"))


def _prior_population(prior: JointPrior, n: int, seed: int) -> Population:
    """Generation 0: ``n`` equally weighted draws from ``prior``."""
    values = prior.from_z(prior.sample_z(np.random.default_rng(seed), n))
    zeros = np.zeros((n, 1))
    return Population(0, values, np.full(n, 1 / n), np.zeros(n), zeros, zeros, math.inf, n,
                      n, n)


def test_proposals_stay_inside_many_uniform_priors_and_follow_the_truncated_kernel() -> None:
    # 16 uniform priors: twice the covariance of a prior population keeps ~0.68**16 = 2e-3 of
    # the draws inside; drawing one candidate per round, 1000 rounds missed one of 20
    # proposals nearly always
    wide = JointPrior.of([Prior(f"p{j}", "uniform", {"low": 0.0, "high": 1.0})
                          for j in range(16)])
    prev = _prior_population(wide, 100, 0)
    factors = kernel_factors(prev, wide.to_z(prev.values), math.inf, "twice_covariance")
    values, _ = propose(prev, wide, factors, 20, np.random.default_rng(1))
    assert ((values >= 0) & (values <= 1)).all()
    assert values.mean() == pytest.approx(0.5, abs=5 * math.sqrt(1 / 12 / values.size))
    # two priors: the proposals are the kernel mixture truncated to the support, as drawing
    # one candidate at a time until it falls inside gives
    narrow = JointPrior.of([Prior(f"p{j}", "uniform", {"low": 0.0, "high": 1.0})
                            for j in range(2)])
    prev = _prior_population(narrow, 50, 2)
    factors = kernel_factors(prev, narrow.to_z(prev.values), math.inf, "twice_covariance")
    values, _ = propose(prev, narrow, factors, 1000, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    naive = []
    while len(naive) < 1000:
        j = rng.choice(50, p=prev.weights)
        x = prev.values[j] + factors[j] @ rng.standard_normal(2)
        if ((x >= 0) & (x <= 1)).all():
            naive.append(x)
    for k in range(2):
        assert stats.ks_2samp(values[:, k], np.array(naive)[:, k]).pvalue > 1e-3
