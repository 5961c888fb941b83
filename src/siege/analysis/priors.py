"""Prior densities of a calibration, on the scale ABC-SMC perturbs particles on.

Each prior (:class:`siege.scenario.calibration.Prior`) is handled on a working scale ``z``:
the logarithm of the value for priors on positive values (``loguniform``, ``lognormal``,
``gamma``), the value itself otherwise. Perturbing ``log(rate)`` rather than ``rate`` keeps a
rate positive and lets one kernel span orders of magnitude. Densities on that scale include
the Jacobian, so importance weights computed there are the weights of the posterior of the
values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from siege.scenario.calibration import Prior

F64 = NDArray[np.float64]
LOG_SCALE = ("loguniform", "lognormal", "gamma")


@dataclass(frozen=True)
class PriorDensity:
    """One prior on its working scale: draws, the map between values and ``z``, and the log
    density of ``z`` (-inf outside the support)."""

    prior: Prior

    @property
    def log_scale(self) -> bool:
        return self.prior.distribution in LOG_SCALE

    def _dist(self) -> stats.rv_continuous:
        """The distribution of ``z`` (frozen scipy distribution)."""
        p, kind = self.prior.parameters, self.prior.distribution
        if kind == "uniform":
            return stats.uniform(p["low"], p["high"] - p["low"])
        if kind == "loguniform":
            low, high = math.log(p["low"]), math.log(p["high"])
            return stats.uniform(low, high - low)
        if kind == "normal":
            return stats.norm(p["mean"], p["sd"])
        if kind == "lognormal":  # mean and sd of the value: the log is normal
            var = math.log1p((p["sd"] / p["mean"]) ** 2)
            return stats.norm(math.log(p["mean"]) - var / 2, math.sqrt(var))
        if kind == "truncnormal":
            a, b = ((p["low"] - p["mean"]) / p["sd"], (p["high"] - p["mean"]) / p["sd"])
            return stats.truncnorm(a, b, loc=p["mean"], scale=p["sd"])
        if kind == "gamma":  # the value is gamma(shape, rate); z = log(value)
            return stats.loggamma(p["shape"], loc=-math.log(p["rate"]))
        raise ValueError(f"unknown distribution {kind!r}")

    def sample_z(self, rng: np.random.Generator, n: int) -> F64:
        return np.asarray(self._dist().rvs(size=n, random_state=rng), dtype=np.float64)

    def logpdf_z(self, z: F64) -> F64:
        with np.errstate(divide="ignore"):
            return np.asarray(self._dist().logpdf(z), dtype=np.float64)

    def to_z(self, value: F64) -> F64:
        return np.log(value) if self.log_scale else np.asarray(value, dtype=np.float64)

    def from_z(self, z: F64) -> F64:
        return np.exp(z) if self.log_scale else np.asarray(z, dtype=np.float64)


@dataclass(frozen=True)
class JointPrior:
    """Independent priors on ``d`` parameters; arrays are ``(n, d)``."""

    priors: tuple[PriorDensity, ...]

    @classmethod
    def of(cls, priors: Sequence[Prior]) -> JointPrior:
        return cls(tuple(PriorDensity(p) for p in priors))

    @property
    def d(self) -> int:
        return len(self.priors)

    @property
    def paths(self) -> list[str]:
        return [p.prior.path for p in self.priors]

    def sample_z(self, rng: np.random.Generator, n: int) -> F64:
        """``n`` draws on the working scale, one parameter after another."""
        return np.column_stack([p.sample_z(rng, n) for p in self.priors]).reshape(n, self.d)

    def logpdf_z(self, z: F64) -> F64:
        """Log density ``(n,)`` of the rows of ``z`` (-inf outside the support)."""
        out = np.zeros(z.shape[0])
        for j, p in enumerate(self.priors):
            out += p.logpdf_z(z[:, j])
        return out

    def to_z(self, values: F64) -> F64:
        return np.column_stack([p.to_z(values[:, j]) for j, p in enumerate(self.priors)]
                               ).reshape(values.shape)

    def from_z(self, z: F64) -> F64:
        return np.column_stack([p.from_z(z[:, j]) for j, p in enumerate(self.priors)]
                               ).reshape(z.shape)
