"""Attrition laws in the form fitted to daily records, and the likelihoods of the estimators.

Convention (siege's own, :func:`siege.model.rules.attrition_rates` and the scenario's
``[attrition]`` table): with A attackers and D defenders present on a day, the expected losses
that day are

    defender losses = attacker_kill_rate * A**p * D**q
    attacker losses = defender_kill_rate * D**p * A**q

``attacker_kill_rate`` is the rate at which the attacker inflicts losses on the defender; p is
the exponent of the firing side (``firer_exponent``), q that of the side being hit
(``target_exponent``), the same for both sides as in Bracken's (1995) generalised form. The
laws are special cases:

    square       p = 1, q = 0      dD/dt = -a A          (aimed fire; per firer-day)
    linear       p = 1, q = 1      dD/dt = -a A D        (area fire; per firer-target-day)
    helmbold     p = W, q = 1 - W  dD/dt = -a A (D/A)**(1 - W), W = ``helmbold_exponent``
    logarithmic  p = 0, q = 1      dD/dt = -a D          (losses proportional to own strength;
                                                          Helmbold's form with W = 0)
    general      p, q fitted in [0, 2]

Each law is log-linear: ``log(mean) = log(rate) + p log(firer) + q log(target)``, so with the
free exponents written as ``p = p0 + P.e`` and ``q = q0 + Q.e`` every law is a design matrix
over ``[log rates..., e...]`` plus an offset, and the estimators are likelihoods of it:

* ``ls``: least squares of each day's losses on that day's recorded strengths, each side with
  its own residual variance (Gaussian likelihood with the variances profiled out); the
  regression convention of the Ardennes studies (Bracken 1995, Fricker 1998);
* ``poisson``: maximum likelihood of the daily loss counts as Poisson;
* ``negbin``: the same as negative binomial, variance ``mean + overdispersion * mean**2``
  (siege's ``attrition.overdispersion``), one overdispersion for both sides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma, gammaln

from siege.analysis.fit_record import AttritionRecord
from siege.errors import FitError

FloatArray = NDArray[np.float64]
Objective = Callable[[FloatArray], tuple[float, FloatArray]]

ESTIMATORS = ("ls", "poisson", "negbin")
SIDES = ("defender", "attacker")  # whose losses: the rows of a design, in this order
RATE_NAMES = ("attacker_kill_rate", "defender_kill_rate")  # causes defender / attacker losses
LOG_RATE_BOUNDS = (-50.0, 15.0)  # exp(-50) ~ 2e-22 to exp(15) ~ 3e6 per unit of fire
LOG_OVERDISPERSION_BOUNDS = (-15.0, float(np.log(100.0)))  # 3e-7 .. 100, the schema's limit


@dataclass(frozen=True)
class Law:
    """An attrition law: ``p = p0 + P.e``, ``q = q0 + Q.e`` over its free exponents ``e``."""

    name: str
    p0: float
    q0: float
    exponents: tuple[str, ...] = ()
    p_coef: tuple[float, ...] = ()
    q_coef: tuple[float, ...] = ()
    bounds: tuple[tuple[float, float], ...] = ()
    start: tuple[float, ...] = ()
    fixed: dict[str, float] = field(default_factory=dict)

    def powers(self, e: FloatArray) -> tuple[float, float]:
        """The firer and target exponents (p, q) for free exponent values ``e``."""
        return self.p0 + float(np.dot(self.p_coef, e)), self.q0 + float(np.dot(self.q_coef, e))


LAW_NAMES = ("square", "linear", "helmbold", "logarithmic", "general")


def make_law(name: str, helmbold_w: float | None = None) -> Law:
    """The law called ``name``; Helmbold's exponent is fitted unless ``helmbold_w`` fixes it."""
    if name == "square":
        return Law("square", 1.0, 0.0)
    if name == "linear":
        return Law("linear", 1.0, 1.0)
    if name == "logarithmic":
        return Law("logarithmic", 0.0, 1.0)
    if name == "helmbold" and helmbold_w is not None:
        if not 0.0 <= helmbold_w <= 1.0:
            raise FitError(f"--helmbold-w {helmbold_w:g}: the exponent W lies in [0, 1]")
        return Law("helmbold", helmbold_w, 1.0 - helmbold_w,
                   fixed={"helmbold_exponent": helmbold_w})
    if name == "helmbold":
        return Law("helmbold", 0.0, 1.0, ("helmbold_exponent",), (1.0,), (-1.0,),
                   ((0.0, 1.0),), (0.5,))
    if name == "general":
        return Law("general", 0.0, 0.0, ("firer_exponent", "target_exponent"), (1.0, 0.0),
                   (0.0, 1.0), ((0.0, 2.0), (0.0, 2.0)), (1.0, 0.5))
    raise FitError(f"unknown law {name!r}; laws: {', '.join(LAW_NAMES)}")


def scenario_law(law: str, p: float, q: float) -> tuple[dict[str, str | float] | None, str]:
    """The ``[attrition]`` keys of siege's schema that give a fitted law (firer exponent p,
    target exponent q), with a note; ``None`` where the schema has no equivalent."""
    if law in ("square", "linear"):
        return {"law": law}, ""
    if law == "helmbold":
        return {"law": "helmbold", "helmbold_exponent": p}, ""
    if law == "logarithmic":
        return ({"law": "helmbold", "helmbold_exponent": 0.0},
                "the logarithmic law is Helmbold's form with exponent 0: A (D/A)**1 = D")
    if law == "general":  # siege's law "general" takes a pair per side: the same pair twice
        return {"law": "general", "attacker_firer_exponent": p, "defender_target_exponent": q,
                "defender_firer_exponent": p, "attacker_target_exponent": q}, ""
    return None, f"no scenario law for the fitted law {law!r}"


def expected_losses(
    attacker_kill_rate: FloatArray | float,
    defender_kill_rate: FloatArray | float,
    p: float,
    q: float,
    attacker: FloatArray,
    defender: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Expected (defender, attacker) losses per day, shapes ``(n,)`` (persons/day)."""
    return (attacker_kill_rate * attacker**p * defender**q,
            defender_kill_rate * defender**p * attacker**q)


@dataclass(frozen=True)
class Design:
    """A law on a record: ``log(mean) = x @ theta[:n_beta] + offset``, rows ``(2 n_days,)``
    (defender losses, then attacker losses); ``theta`` = log rates by side and phase, then
    the free exponents; ``group`` is the kill rate each row depends on, side * n_phases +
    phase."""

    law: Law
    x: FloatArray
    offset: FloatArray
    y: FloatArray
    group: NDArray[np.int64]
    n_phases: int
    n_days: int

    @property
    def names(self) -> tuple[str, ...]:
        rates = [r if self.n_phases == 1 else f"{r}[{k + 1}]"
                 for r in RATE_NAMES for k in range(self.n_phases)]
        return (*rates, *self.law.exponents)

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return [LOG_RATE_BOUNDS] * (2 * self.n_phases) + list(self.law.bounds)

    def mean(self, theta: FloatArray) -> FloatArray:
        """Expected losses ``(2 n_days,)`` under parameters ``theta`` (its first n_beta)."""
        return np.exp(self.x @ theta[: self.x.shape[1]] + self.offset)


def design(record: AttritionRecord, law: Law, phase: NDArray[np.int64]) -> Design:
    """The design of ``law`` on ``record``, days in phases ``phase`` ``(n_days,)``, 0-based."""
    n, k = record.n_days, int(phase.max()) + 1
    log_a, log_d = np.log(record.attacker_strength), np.log(record.defender_strength)
    firer, target = np.concatenate([log_a, log_d]), np.concatenate([log_d, log_a])
    x = np.zeros((2 * n, 2 * k + len(law.exponents)))
    x[np.arange(n), phase] = 1.0
    x[n + np.arange(n), k + phase] = 1.0
    for j, (pc, qc) in enumerate(zip(law.p_coef, law.q_coef, strict=True)):
        x[:, 2 * k + j] = pc * firer + qc * target
    y = np.concatenate([record.defender_losses, record.attacker_losses])
    group = np.concatenate([phase, k + phase])
    return Design(law, x, law.p0 * firer + law.q0 * target, y, group, k, n)


def objective(estimator: str, d: Design) -> Objective:
    """Negative log-likelihood of ``theta`` and its gradient (``negbin``: theta ends with the
    log overdispersion)."""
    y, x, n = d.y, d.x, d.n_days
    n_beta = x.shape[1]
    log_y_factorial = gammaln(y + 1.0)
    halves = (slice(0, n), slice(n, 2 * n))

    def poisson(theta: FloatArray) -> tuple[float, FloatArray]:
        eta = x @ theta + d.offset
        mu = np.exp(eta)
        value = float(np.sum(y * eta - mu - log_y_factorial))
        return -value, -(x.T @ (y - mu))

    def negbin(theta: FloatArray) -> tuple[float, FloatArray]:
        eta = x @ theta[:n_beta] + d.offset
        mu = np.exp(eta)
        r = np.exp(-theta[n_beta])  # 1 / overdispersion
        log_r_mu = np.logaddexp(np.log(r), eta)  # log(r + mu)
        value = float(np.sum(gammaln(y + r) - gammaln(r) - log_y_factorial
                             + r * (np.log(r) - log_r_mu) + y * (eta - log_r_mu)))
        d_eta = r * (y - mu) / (r + mu)
        d_r = float(np.sum(digamma(y + r) - digamma(r) + np.log(r) - log_r_mu
                           + (mu - y) / (r + mu)))
        return -value, -np.append(x.T @ d_eta, -r * d_r)

    def least_squares(theta: FloatArray) -> tuple[float, FloatArray]:
        mu = np.exp(x @ theta + d.offset)
        resid = y - mu
        value, weight = 0.0, np.empty_like(y)
        for rows in halves:
            rss = max(float(resid[rows] @ resid[rows]), 1e-12)
            value -= 0.5 * n * (np.log(2.0 * np.pi * rss / n) + 1.0)
            weight[rows] = n / rss
        return -value, -(x.T @ (weight * resid * mu))

    if estimator == "poisson":
        return poisson
    if estimator == "negbin":
        return negbin
    if estimator == "ls":
        return least_squares
    raise FitError(f"unknown estimator {estimator!r}; estimators: {', '.join(ESTIMATORS)}")


def residual_sd(estimator: str, d: Design, theta: FloatArray) -> FloatArray:
    """Standard deviation of each day's losses under the fitted model ``(2 n_days,)``
    (persons): sqrt(mean) for Poisson, sqrt(mean + k mean^2) for negbin, each side's residual
    standard deviation for ls."""
    mu = d.mean(theta)
    if estimator == "poisson":
        return np.sqrt(mu)
    if estimator == "negbin":
        return np.sqrt(mu + np.exp(theta[-1]) * mu**2)
    resid = d.y - mu
    n = d.n_days
    return np.concatenate([np.full(n, np.sqrt(np.mean(resid[:n] ** 2))),
                           np.full(n, np.sqrt(np.mean(resid[n:] ** 2)))])


def start(estimator: str, d: Design) -> tuple[FloatArray, list[tuple[float, float]]]:
    """Starting parameters (exponents at the law's start, rates at their conditional best,
    overdispersion 0.05) and the bounds of every parameter."""
    theta = np.concatenate([np.zeros(2 * d.n_phases), d.law.start])
    bounds = d.bounds
    if estimator == "negbin":
        theta = np.append(theta, np.log(0.05))
        bounds = [*bounds, LOG_OVERDISPERSION_BOUNDS]
    theta[: 2 * d.n_phases] = best_log_rates(estimator, d, theta)
    return theta, bounds


def best_log_rates(estimator: str, d: Design, theta: FloatArray) -> FloatArray:
    """The log kill rates ``(2 n_phases,)`` that maximise the likelihood given the exponents
    and overdispersion in ``theta`` (its rate entries are ignored). Each rate acts on its own
    side and phase only, so they separate: closed forms for ``poisson`` (losses over fire)
    and ``ls`` (the slope of losses on fire through the origin), Newton's method for
    ``negbin``."""
    n_rates = 2 * d.n_phases
    n_beta = d.x.shape[1]
    fire = np.exp(d.x[:, n_rates:] @ theta[n_rates:n_beta] + d.offset)  # mean at rate 1
    group = d.group

    def per_group(values: FloatArray) -> FloatArray:
        return np.bincount(group, weights=values, minlength=n_rates).astype(np.float64)

    losses = per_group(d.y)
    if estimator == "ls":
        rates = per_group(fire * d.y) / per_group(fire * fire)
    else:
        rates = losses / per_group(fire)
    log_rates = np.log(np.maximum(rates, 1e-300))
    if estimator == "negbin":
        r = math.exp(-theta[n_beta])
        for _ in range(50):
            mu = np.exp(log_rates[group]) * fire
            score = per_group(r * (d.y - mu) / (r + mu))
            slope = per_group(r * mu * (r + d.y) / (r + mu) ** 2)
            step = score / np.maximum(slope, 1e-300)
            log_rates = np.where(losses > 0, log_rates + np.clip(step, -5.0, 5.0), log_rates)
            if np.all(np.abs(step[losses > 0]) < 1e-12):
                break
    return np.clip(log_rates, *LOG_RATE_BOUNDS)


def run_forward(
    attacker_kill_rate: FloatArray,
    defender_kill_rate: FloatArray,
    p: float,
    q: float,
    attacker: float,
    defender: float,
    attacker_reinforcements: FloatArray,
    defender_reinforcements: FloatArray,
    rng: np.random.Generator | None = None,
    overdispersion: float = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Run a law day by day from day-0 strengths: (attacker, defender) strengths and
    (attacker, defender) losses, each ``(n_days,)`` (persons); rates and reinforcements are
    per day ``(n_days,)``. Losses are the expected ones, or Poisson (negative binomial with
    ``overdispersion`` > 0) draws from ``rng``; never more than the side present."""
    n = attacker_kill_rate.size
    out = np.zeros((4, n))
    a, d = float(attacker), float(defender)
    for t in range(n):
        mean_d, mean_a = expected_losses(attacker_kill_rate[t], defender_kill_rate[t], p, q,
                                         np.array(a), np.array(d))
        means = np.array([float(mean_a), float(mean_d)])
        if rng is not None and overdispersion > 0:
            means = rng.gamma(1.0 / overdispersion, overdispersion * means)
        lost = rng.poisson(means).astype(np.float64) if rng is not None else means
        lost = np.minimum(lost, [a, d])
        out[:, t] = a, d, lost[0], lost[1]
        a = a - lost[0] + attacker_reinforcements[t]
        d = d - lost[1] + defender_reinforcements[t]
    return out[0], out[1], out[2], out[3]
