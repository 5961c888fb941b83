"""How fast attackers advanced in CDB90's battles, against the force ratio: is the advance
saturating (the ``tanh`` advance law) or power-like (``dupuy``)?

The data (CDB90: km the attacker advanced, ``KMDA``, over the battle's days) are split in two
parts, as the model's drive is: *whether* the attacker advanced, and *how fast* when he did.

* P(advance) against ``ln R`` (R the initial attacker over defender strength) by logistic
  regression, ``P = 1 / (1 + exp(-slope ln(R / parity)))``: ``parity`` is the ratio at which
  an advance and a standstill or retreat are as likely. A logistic curve is ``(1 + tanh)/2``,
  so the expected direction of the front is ``tanh(sensitivity ln(R / parity))`` with
  ``sensitivity = slope / 2``: the tanh law's two parameters.
* The pace of an advance against the excess over parity: least squares of
  ``ln(km/day) = c + exponent ln(R / parity - 1)`` over the battles with an advance above
  parity: the dupuy law's ``exponent`` (1: the rate proportional to the excess; 0: the pace
  does not answer to the ratio, a saturated drive).
* Both laws fitted whole to the signed daily advance, a rate per posture group times the drive,
  by least absolute deviations (the rates are heavy-tailed: 0.03 to 240 km/day), and compared
  by their mean absolute error: with the same number of parameters (three rates, a parity and
  a shape), the law with the smaller error has the larger Laplace likelihood (the AIC
  difference is ``2 n ln(MAE_dupuy / MAE_tanh)``).

Caveat: R here is a ratio of headcounts; the model's R is one of combat power (quality,
fortification and supply included), which CDB90 does not give.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from siege.analysis.cdb90 import POSTURES, bundled_cdb90
from siege.errors import SiegeError

F64 = NDArray[np.float64]
#: posture groups of the whole-law fit: each gets its own rate; DL, WD and unknown count as hasty
GROUPS = ("HD", "PD", "FD")
LAWS = ("tanh", "dupuy")


@dataclass(frozen=True)
class Advances:
    """Battles with usable strengths, advance and length: arrays ``(n,)``."""

    ratio: F64  # attacker over defender initial strength
    rate: F64  # km advanced per day of battle (negative: the attacker was pushed back)
    posture: NDArray[np.str_]  # defender posture code (FD, PD, HD, DL, WD)


@dataclass(frozen=True)
class LawFit:
    """One advance law fitted whole: km/day at drive 1 per posture group, its parity and shape
    (sensitivity for tanh, exponent for dupuy), and its mean absolute error (km/day)."""

    law: str
    rates: dict[str, float]
    parity: float
    shape: float
    mae: float


@dataclass(frozen=True)
class AdvanceFit:
    """The two-part fit (see the module): ``n`` battles, ``n_advanced`` with an advance above
    the fitted parity used for the exponent."""

    n: int
    n_advanced: int
    parity: float  # force ratio where P(advance) = 1/2
    slope: float  # logistic slope of P(advance) on ln R
    exponent: float  # dupuy: d ln(km/day) / d ln(R / parity - 1)
    exponent_stderr: float

    @property
    def sensitivity(self) -> float:
        """The tanh law's sensitivity equivalent to the logistic slope."""
        return self.slope / 2


def load_advances(path: str | Path | None = None) -> Advances:
    """Read the bundled CDB90 extract (or a CSV with its columns ``INTSTA``, ``INTSTD``,
    ``KMDA``, ``DURATION``, ``POST1``), keeping battles with positive strengths, a length
    and a recorded advance (``KMDA`` -9999 is missing)."""
    p = bundled_cdb90() if path is None else Path(path)
    if not p.exists():
        raise SiegeError(f"{p}: CDB90 extract not found")
    ratio, rate, posture = [], [], []
    with p.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                a, d = float(row["INTSTA"]), float(row["INTSTD"])
                km, days = float(row["KMDA"]), float(row["DURATION"])
            except (KeyError, ValueError):
                continue
            if not (a > 0 and d > 0 and days > 0 and km > -9000 and math.isfinite(a / d)):
                continue
            ratio.append(a / d)
            rate.append(km / days)
            posture.append(row.get("POST1", "").strip())
    return Advances(np.array(ratio), np.array(rate), np.array(posture))


def fit_advance(ratio: F64, rate: F64) -> AdvanceFit:
    """The two-part fit of the module: logistic P(advance) on ``ln R``, then the exponent of
    the pace over parity."""
    x = np.log(ratio)
    advanced = rate > 0
    res = optimize.minimize(
        lambda b: np.sum(np.logaddexp(0.0, b[0] + b[1] * x) - advanced * (b[0] + b[1] * x)),
        np.zeros(2), method="BFGS")
    intercept, slope = (float(v) for v in res.x)
    parity = math.exp(-intercept / slope) if slope != 0 else math.nan
    use = advanced & (ratio > parity)
    excess = np.log(ratio[use] / parity - 1.0)
    pace = np.log(rate[use])
    if use.sum() < 3 or np.ptp(excess) == 0:
        raise SiegeError("too few battles with an advance above parity to fit an exponent")
    design = np.column_stack([np.ones(excess.size), excess])
    coef, *_ = np.linalg.lstsq(design, pace, rcond=None)
    resid = pace - design @ coef
    cov = (resid @ resid / (excess.size - 2)) * np.linalg.inv(design.T @ design)
    return AdvanceFit(n=int(ratio.size), n_advanced=int(use.sum()), parity=parity,
                      slope=slope, exponent=float(coef[1]),
                      exponent_stderr=float(math.sqrt(cov[1, 1])))


def bootstrap_advance(ratio: F64, rate: F64, *, draws: int = 1000,
                      seed: int = 0) -> NDArray[np.float64]:
    """``(draws, 3)``: parity, sensitivity and exponent of :func:`fit_advance` on battles
    resampled with replacement (percentile intervals from its columns)."""
    rng = np.random.default_rng(seed)
    out = np.empty((draws, 3))
    for k in range(draws):
        i = rng.integers(0, ratio.size, ratio.size)
        fit = fit_advance(ratio[i], rate[i])
        out[k] = fit.parity, fit.sensitivity, fit.exponent
    return out


def posture_pace(advances: Advances) -> dict[str, tuple[int, float, float]]:
    """Per defender posture: battles, share with an advance, and the geometric mean km/day of
    the advances relative to hasty defence's (1 for hasty)."""
    advanced = advances.rate > 0
    pace = np.full(advances.rate.size, np.nan)
    pace[advanced] = np.log(advances.rate[advanced])
    hasty = advances.posture == "HD"
    base = float(np.mean(pace[hasty & advanced]))
    out = {}
    for code, name in POSTURES.items():
        m = advances.posture == code
        if (m & advanced).any():
            out[name] = (int(m.sum()), float(advanced[m].mean()),
                         math.exp(float(np.mean(pace[m & advanced])) - base))
    return out


def drive(law: str, ratio: F64, parity: float, shape: float) -> F64:
    """The advance law's drive (as :mod:`siege.model.advance`): ``tanh(shape ln(R/parity))``
    or ``±(excess over parity)^shape``."""
    x = ratio / parity
    if law == "tanh":
        return np.asarray(np.tanh(shape * np.log(x)))
    excess = np.where(x >= 1, x, 1 / x) - 1.0
    return np.asarray(np.sign(x - 1) * excess ** shape)


def fit_law(law: str, ratio: F64, rate: F64, posture: NDArray[np.str_]) -> LawFit:
    """``law`` fitted whole to the signed daily advance by least absolute deviations: a rate
    per posture group of :data:`GROUPS`, a parity and a shape (Nelder-Mead from a few
    starts)."""
    if law not in LAWS:
        raise ValueError(f"unknown law {law!r}; allowed: {', '.join(LAWS)}")
    group = np.array([GROUPS.index(p) if p in GROUPS else 0 for p in posture])

    def error(theta: F64) -> float:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            scale = np.exp(theta)
            pred = scale[:3][group] * drive(law, ratio, float(scale[3]), float(scale[4]))
        return float(np.mean(np.abs(rate - pred))) if np.all(np.isfinite(pred)) else math.inf

    best = None
    for p0 in (0.5, 1.0, 2.0):
        for s0 in (0.3, 1.0, 2.0):
            res = optimize.minimize(error, np.array([0, 0, 0, math.log(p0), math.log(s0)]),
                                    method="Nelder-Mead",
                                    options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-9})
            if best is None or res.fun < best.fun:
                best = res
    assert best is not None
    theta = best.x
    return LawFit(law, {g: float(math.exp(theta[k])) for k, g in enumerate(GROUPS)},
                  float(math.exp(theta[3])), float(math.exp(theta[4])), float(best.fun))
