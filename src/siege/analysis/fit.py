"""Fit attrition laws to a daily two-sided battle record (``siege fit``).

Each law (:mod:`siege.analysis.fit_laws`: square, linear, Helmbold, logarithmic, general) is
fitted by each estimator asked for (``ls``, ``poisson``, ``negbin``) by maximising its
likelihood. Given the exponents and the overdispersion, the best kill rates follow in closed
form (Newton's method for ``negbin``); those at most three numbers go to TNC with analytic
gradients (TNC rather than L-BFGS-B, whose BLAS calls make such small problems ten times
slower when other processes load the cores).

Every parameter gets a 95 % **profile-likelihood** interval: the values where the
log-likelihood, maximised over the other parameters, falls ``chi2(1).ppf(0.95) / 2 = 1.92``
below its maximum (for ``ls``, the Gaussian likelihood of the residuals, each side with its own
variance). A kill rate or exponent whose estimate sits on its bound, or whose likelihood is
flat (the interval of a kill rate does not close within a factor e**25 of the estimate, that
of an exponent reaches both of its bounds), is *not identified*, and so is a fit holding one.
Fits are ranked by AIC within each estimator (AIC is not comparable between ``ls`` and the
count likelihoods); AIC and BIC count the two residual variances of ``ls`` as parameters and
take the observations as two per day.

Kill rates may differ between phases (``breaks``); exponents and overdispersion are shared.
Arrays in, dataclasses out; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from siege.analysis.fit_laws import (
    LAW_NAMES,
    SIDES,
    Design,
    FloatArray,
    Law,
    Objective,
    best_log_rates,
    design,
    make_law,
    objective,
    residual_sd,
    run_forward,
    start,
)
from siege.analysis.fit_record import AttritionRecord, phases
from siege.errors import FitError

PROFILE_DROP = 0.5 * float(stats.chi2.ppf(0.95, 1))  # 1.92: log-likelihood drop at 95 %
INTERVAL_METHOD = "profile likelihood"
RATE_SEARCH = 25.0  # a kill rate's interval is searched within a factor e**25 of the estimate
_OPTIONS = {"maxfun": 1000, "ftol": 1e-12, "gtol": 1e-9}


@dataclass(frozen=True)
class Estimate:
    """A parameter's estimate and 95 % interval; ``note`` says why it is not identified."""

    estimate: float
    low: float
    high: float
    identified: bool = True
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LawFit:
    """One law fitted by one estimator. Per-side statistics are keyed ``defender`` /
    ``attacker`` (whose losses); fitted and residual arrays are ``(n_days,)``."""

    law: str
    estimator: str
    params: dict[str, Estimate]
    fixed: dict[str, float]
    loglik: float
    n_params: int
    n_obs: int
    r2: dict[str, float]
    rmse: dict[str, float]
    residual_autocorrelation: dict[str, float]
    fitted: dict[str, FloatArray]
    residuals: dict[str, FloatArray]
    powers: tuple[float, float]
    kill_rates: tuple[tuple[float, ...], tuple[float, ...]]
    converged: bool
    rank: int = 0
    delta_aic: float = 0.0

    @property
    def aic(self) -> float:
        return 2.0 * self.n_params - 2.0 * self.loglik

    @property
    def bic(self) -> float:
        return self.n_params * math.log(self.n_obs) - 2.0 * self.loglik

    @property
    def identified(self) -> bool:
        return self.converged and all(e.identified for e in self.params.values())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (no per-day arrays)."""
        return {
            "law": self.law, "estimator": self.estimator, "rank": self.rank,
            "identified": self.identified,
            "params": {k: v.to_dict() for k, v in self.params.items()},
            "fixed": dict(self.fixed), "interval": INTERVAL_METHOD,
            "aic": self.aic, "delta_aic": self.delta_aic, "bic": self.bic,
            "loglik": self.loglik, "n_params": self.n_params, "n_obs": self.n_obs,
            "r2": dict(self.r2), "rmse": dict(self.rmse),
            "residual_autocorrelation": dict(self.residual_autocorrelation),
            "firer_exponent": self.powers[0], "target_exponent": self.powers[1],
            "converged": self.converged,
        }


@dataclass(frozen=True)
class FitSet:
    """Every fit of one record, ranked by AIC within each estimator (``fits`` in that order)."""

    record: AttritionRecord
    breaks: tuple[float, ...]
    phase: np.ndarray
    fits: tuple[LawFit, ...]

    def to_dict(self) -> dict[str, object]:
        day = self.record.day
        return {
            "record": self.record.source, "days": self.record.n_days,
            "first_day": float(day[0]), "last_day": float(day[-1]),
            "phases": [{"phase": k + 1, "first_day": float(day[self.phase == k][0]),
                        "last_day": float(day[self.phase == k][-1])}
                       for k in range(int(self.phase.max()) + 1)],
            "interval": f"95 % {INTERVAL_METHOD}",
            "fits": [f.to_dict() for f in self.fits],
        }


def parse_choices(text: str | None, allowed: tuple[str, ...], option: str) -> tuple[str, ...]:
    """``"square,linear"`` -> ``("square", "linear")``; ``None`` or ``"all"``: all allowed."""
    if text is None or text.strip() == "all":
        return allowed
    chosen = tuple(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    unknown = [c for c in chosen if c not in allowed]
    if unknown or not chosen:
        raise FitError(f"{option} {text!r}: choose from {', '.join(allowed)} (or all)")
    return chosen


def parse_breaks(text: str | None) -> tuple[float, ...]:
    """``"10,20"`` -> ``(10.0, 20.0)``: the first day of each phase after the first."""
    try:
        return tuple(float(b) for b in (text or "").split(",") if b.strip())
    except ValueError:
        raise FitError(f"--breaks {text!r}: expected days separated by commas") from None


def fit_record(
    record: AttritionRecord,
    laws: tuple[str, ...] = LAW_NAMES,
    estimators: tuple[str, ...] = ("poisson",),
    breaks: tuple[float, ...] = (),
    helmbold_w: float | None = None,
) -> FitSet:
    """Fit each law by each estimator; fits ranked by AIC within each estimator."""
    phase = phases(record.day, breaks)
    fits: list[LawFit] = []
    for estimator in estimators:
        group = sorted((fit_law(record, make_law(name, helmbold_w), estimator, phase)
                        for name in laws), key=lambda f: f.aic)
        fits += [dataclasses.replace(f, rank=i + 1, delta_aic=f.aic - group[0].aic)
                 for i, f in enumerate(group)]
    return FitSet(record, breaks, phase, tuple(fits))


def fit_law(record: AttritionRecord, law: Law, estimator: str, phase: np.ndarray) -> LawFit:
    """Fit one law by one estimator; days in phases ``phase`` ``(n_days,)``, 0-based."""
    d = design(record, law, phase)
    likelihood = _Likelihood(estimator, d)
    loglik, theta, converged = likelihood.maximise({}, likelihood.start)
    names = [*d.names, *(["overdispersion"] if estimator == "negbin" else [])]
    se = _standard_errors(likelihood.objective, theta)
    params = {name: _estimate(likelihood, theta, loglik, j, se[j], name)
              for j, name in enumerate(names)}
    return _statistics(d, estimator, theta, loglik, params, converged)


class _Likelihood:
    """The log-likelihood maximised with some parameters held fixed. The kill rates are
    always set to their best values given the rest (:func:`best_log_rates`), so only the
    exponents and the overdispersion (at most three numbers) go to the optimiser."""

    def __init__(self, estimator: str, d: Design) -> None:
        self.estimator, self.design = estimator, d
        self.objective = objective(estimator, d)
        self.start, self.bounds = start(estimator, d)
        self.n_rates = 2 * d.n_phases

    def maximise(self, fixed: dict[int, float], warm: FloatArray) -> tuple[float, FloatArray, bool]:
        """(maximum log-likelihood, parameters at it, converged) with ``fixed`` {index: value}
        held, the optimiser starting from ``warm``."""
        free = [i for i in range(self.n_rates, warm.size) if i not in fixed]
        theta = warm.copy()
        for i, value in fixed.items():
            theta[i] = value

        def complete(u: FloatArray) -> FloatArray:
            theta[free] = u
            rates = best_log_rates(self.estimator, self.design, theta)
            held = [i for i in fixed if i < self.n_rates]
            rates[held] = theta[held]
            theta[: self.n_rates] = rates
            return theta

        if not free:
            return -self.objective(complete(np.empty(0)))[0], theta.copy(), True

        def reduced(u: FloatArray) -> tuple[float, FloatArray]:
            value, gradient = self.objective(complete(u))
            return value, gradient[free]

        res = optimize.minimize(reduced, warm[free], jac=True, method="TNC",
                                bounds=[self.bounds[i] for i in free], options=_OPTIONS)
        converged = bool(res.success) or float(np.max(np.abs(res.jac))) < 1e-3
        return -float(res.fun), complete(res.x).copy(), converged


def _standard_errors(f: Objective, theta: FloatArray) -> FloatArray:
    """Asymptotic standard errors from a finite-difference Hessian (NaN where singular); they
    only size the first step of the profile search."""
    n = theta.size
    hessian = np.empty((n, n))
    for j in range(n):
        h = 1e-5 * (1.0 + abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = (f(up)[1] - f(down)[1]) / (2.0 * h)
    hessian = 0.5 * (hessian + hessian.T)
    try:
        variance = np.diag(np.linalg.inv(hessian))
    except np.linalg.LinAlgError:
        return np.full(n, np.nan)
    return np.sqrt(np.where(variance > 0, variance, np.nan))


def _estimate(likelihood: _Likelihood, theta: FloatArray, loglik: float, j: int, se: float,
              name: str) -> Estimate:
    """Profile-likelihood interval of parameter ``j``, on the reporting scale."""
    bound = likelihood.bounds[j]
    lo_b, hi_b = bound
    is_rate = j < likelihood.n_rates
    if is_rate:
        lo_b, hi_b = max(lo_b, theta[j] - RATE_SEARCH), min(hi_b, theta[j] + RATE_SEARCH)
    profile = _Profile(likelihood, theta, j, loglik - PROFILE_DROP)
    low, low_closed = profile.bound(lo_b, se)
    high, high_closed = profile.bound(hi_b, se)
    if name == "overdispersion":  # log scale; 0 (Poisson) is the lower limit, not a bound
        value = math.exp(theta[j]) if theta[j] > bound[0] + 0.01 else 0.0
        return Estimate(value, math.exp(low) if low_closed else 0.0,
                        math.exp(high) if high_closed else math.inf)
    note = ""
    if min(theta[j] - bound[0], bound[1] - theta[j]) < 1e-6:
        note = f"estimate on its bound [{bound[0]:g}, {bound[1]:g}]"
    elif not (low_closed or high_closed) or (is_rate and not (low_closed and high_closed)):
        note = "likelihood flat: the 95 % interval does not close within the search range"
    if is_rate:
        return Estimate(math.exp(theta[j]), math.exp(low) if low_closed else 0.0,
                        math.exp(high) if high_closed else math.inf, not note, note)
    return Estimate(float(theta[j]), low, high, not note, note)


class _Profile:
    """The profile log-likelihood of parameter ``j`` and where it crosses ``target``; each
    maximisation starts from the solution at the nearest value already profiled."""

    def __init__(self, likelihood: _Likelihood, theta: FloatArray, j: int, target: float):
        self.likelihood, self.j, self.target = likelihood, j, target
        self.estimate = float(theta[j])
        self.solved: dict[float, FloatArray] = {self.estimate: theta}

    def drop(self, value: float) -> float:
        """Profile log-likelihood at ``value`` minus the target (negative outside 95 %)."""
        nearest = min(self.solved, key=lambda v: abs(v - value))
        loglik, theta, _ = self.likelihood.maximise({self.j: value}, self.solved[nearest])
        self.solved[value] = theta
        return loglik - self.target

    def bound(self, limit: float, se: float) -> tuple[float, bool]:
        """Where the profile crosses the target between the estimate and ``limit``: (value,
        True), or (limit, False) when it stays above the target up to the limit."""
        span = limit - self.estimate
        if abs(span) < 1e-12:
            return limit, False
        step = 1.96 * se if math.isfinite(se) and se > 0 else 0.1 * abs(span)
        inside = self.estimate
        while True:
            value = self.estimate + math.copysign(min(step, abs(span)), span)
            height = self.drop(value)
            if height < 0:
                root = optimize.brentq(self.drop, min(inside, value), max(inside, value),
                                       xtol=1e-6 * (1.0 + abs(value)), rtol=1e-10)
                return float(root), True
            if abs(value - limit) < 1e-12:
                return limit, False
            # near the estimate the profile falls as the square of the distance: aim just
            # past the crossing, but grow the step by 1.5 to 10 times
            fallen = PROFILE_DROP - height
            factor = 1.1 * math.sqrt(PROFILE_DROP / fallen) if fallen > 1e-9 else 10.0
            step *= min(max(factor, 1.5), 10.0)
            inside = value


def _statistics(d: Design, estimator: str, theta: FloatArray, loglik: float,
                params: dict[str, Estimate], converged: bool) -> LawFit:
    """Goodness of fit per side: R², RMSE (persons/day) and the lag-1 autocorrelation of the
    standardised residuals (observed minus fitted, over the model's standard deviation)."""
    n, k = d.n_days, d.n_phases
    mean = d.mean(theta)
    standardised = (d.y - mean) / residual_sd(estimator, d, theta)
    r2, rmse, autocorrelation, fitted, residuals = {}, {}, {}, {}, {}
    for i, side in enumerate(SIDES):
        rows = slice(i * n, (i + 1) * n)
        y, resid = d.y[rows], d.y[rows] - mean[rows]
        total = float(np.sum((y - y.mean()) ** 2))
        r2[side] = 1.0 - float(resid @ resid) / total if total > 0 else math.nan
        rmse[side] = math.sqrt(float(resid @ resid) / n)
        autocorrelation[side] = _lag1(standardised[rows])
        fitted[side], residuals[side] = mean[rows], standardised[rows]
    e = theta[2 * k: 2 * k + len(d.law.exponents)]
    return LawFit(
        law=d.law.name, estimator=estimator, params=params, fixed=dict(d.law.fixed),
        loglik=loglik, n_params=theta.size + (2 if estimator == "ls" else 0), n_obs=2 * n,
        r2=r2, rmse=rmse, residual_autocorrelation=autocorrelation, fitted=fitted,
        residuals=residuals, powers=d.law.powers(e),
        kill_rates=(tuple(np.exp(theta[:k])), tuple(np.exp(theta[k:2 * k]))),
        converged=converged,
    )


def _lag1(x: FloatArray) -> float:
    """Lag-1 autocorrelation of a series (NaN if it is constant or shorter than 3)."""
    centred = x - x.mean()
    denominator = float(centred @ centred)
    if x.size < 3 or denominator <= 0:
        return math.nan
    return float(centred[:-1] @ centred[1:]) / denominator


def forward_strengths(fits: FitSet, fit: LawFit) -> tuple[FloatArray, FloatArray]:
    """(attacker, defender) strengths ``(n_days,)`` when the fitted law runs forward from the
    record's first-day strengths with its reinforcements (expected losses, persons)."""
    r, phase = fits.record, fits.phase
    attacker, defender, _, _ = run_forward(
        np.asarray(fit.kill_rates[0])[phase], np.asarray(fit.kill_rates[1])[phase],
        *fit.powers, r.attacker_strength[0], r.defender_strength[0],
        r.attacker_reinforcements, r.defender_reinforcements,
    )
    return attacker, defender
