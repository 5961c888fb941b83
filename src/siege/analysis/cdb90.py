"""Calibration against CDB90 (CAA Database of Battles, 660 battles 1600-1973).

The Helmbold form of attrition, ``dD/dt = -a A (D/A)^(1-W)`` and ``dA/dt = -b D (A/D)^(1-W)``,
makes the ratio of loss rates ``dA/dD = (b/a) (D/A)^(2W-1)``: the log of the casualty-exchange
ratio is linear in the log force ratio with slope ``2W - 1`` (square law W = 1: slope 1;
linear law and W = 1/2: slope 0). Fitting that slope over historical battles estimates W
(Helmbold 1961; Hartley 2001). Breakpoints: the share of its initial strength a side had lost
when it was beaten.

siege ships an extract of the CDB90 columns it uses (``siege/data/cdb90.csv``, ODC-By; see
``siege/data/README.md`` for the attribution): :func:`load_cdb90` reads it when given no path.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from siege.errors import SiegeError

POSTURES = {"FD": "fortified", "PD": "prepared", "HD": "hasty", "DL": "delay", "WD": "withdrawal"}


@dataclass(frozen=True)
class Battles:
    """Battles with usable strengths and casualties: arrays ``(n,)`` in persons."""

    attacker_strength: NDArray[np.float64]
    defender_strength: NDArray[np.float64]
    attacker_casualties: NDArray[np.float64]
    defender_casualties: NDArray[np.float64]
    posture: NDArray[np.str_]  # defender posture code (FD, PD, HD, DL, WD)
    attacker_won: NDArray[np.int64]  # 1 attacker won, 0 draw, -1 attacker lost, -9 unknown


@dataclass(frozen=True)
class HelmboldFit:
    """Estimated Helmbold exponent W with its standard error, from ``n`` battles."""

    exponent: float
    stderr: float
    slope: float
    intercept: float
    n: int


def bundled_cdb90() -> Path:
    """The CDB90 extract shipped with siege (``siege/data/cdb90.csv``)."""
    return Path(str(resources.files("siege") / "data" / "cdb90.csv"))


def load_cdb90(path: str | Path | None = None) -> Battles:
    """Read CDB90 -- the bundled extract by default, or ``CDB90-patched-flat.csv`` (or a folder
    holding it) -- keeping battles with positive initial strengths and casualties on both
    sides."""
    p = bundled_cdb90() if path is None else Path(path)
    if p.is_dir():
        p = p / "CDB90-patched-flat.csv"
    if not p.exists():
        raise SiegeError(f"{p}: CDB90 file not found")
    cols: dict[str, list[float]] = {k: [] for k in ("INTSTA", "INTSTD", "CASA", "CASD")}
    posture: list[str] = []
    won: list[int] = []
    with p.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                values = {k: float(row[k]) for k in cols}
            except (KeyError, ValueError):
                continue
            if not all(math.isfinite(v) and v > 0 for v in values.values()):
                continue
            for k, v in values.items():
                cols[k].append(v)
            posture.append(row.get("POST1", "").strip())
            try:
                won.append(int(row.get("WINA", "-9") or -9))
            except ValueError:
                won.append(-9)
    return Battles(
        attacker_strength=np.array(cols["INTSTA"]),
        defender_strength=np.array(cols["INTSTD"]),
        attacker_casualties=np.array(cols["CASA"]),
        defender_casualties=np.array(cols["CASD"]),
        posture=np.array(posture),
        attacker_won=np.array(won, dtype=np.int64),
    )


def fit_helmbold_exponent(
    attacker_strength: NDArray[np.float64],
    defender_strength: NDArray[np.float64],
    attacker_casualties: NDArray[np.float64],
    defender_casualties: NDArray[np.float64],
) -> HelmboldFit:
    """Least-squares estimate of W from ``log(CA/CD) = c + (2W - 1) log(D/A)``."""
    x = np.log(defender_strength / attacker_strength)
    y = np.log(attacker_casualties / defender_casualties)
    fit = stats.linregress(x, y)
    return HelmboldFit(
        exponent=float((fit.slope + 1) / 2),
        stderr=float(fit.stderr / 2),
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        n=int(x.size),
    )


def exchange_ratio_by_posture(battles: Battles) -> dict[str, tuple[int, float]]:
    """Battles and median exchange ratio (attacker over defender casualties) per posture."""
    ratio = battles.attacker_casualties / battles.defender_casualties
    out = {}
    for code, name in POSTURES.items():
        mask = battles.posture == code
        if mask.any():
            out[name] = (int(mask.sum()), float(np.median(ratio[mask])))
    return out


def breakpoints(battles: Battles) -> dict[str, NDArray[np.float64]]:
    """Quartiles of the share of initial strength lost by the beaten side (fractions)."""
    q = (0.25, 0.5, 0.75)
    lost_d = battles.attacker_won == 1
    lost_a = battles.attacker_won == -1
    return {
        "defender": np.quantile(
            battles.defender_casualties[lost_d] / battles.defender_strength[lost_d], q
        ),
        "attacker": np.quantile(
            battles.attacker_casualties[lost_a] / battles.attacker_strength[lost_a], q
        ),
    }
