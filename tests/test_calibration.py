"""Calibration against CDB90: the estimator recovers a known exponent, and the real data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from siege.analysis.cdb90 import (
    breakpoints,
    exchange_ratio_by_posture,
    fit_helmbold_exponent,
    load_cdb90,
)

from conftest import ROOT

FULL_CDB90 = ROOT.parent / "shared" / "data" / "cdb90"


@pytest.mark.parametrize("true_w", [0.2, 0.5, 0.9])
def test_fit_recovers_the_exponent_of_simulated_battles(true_w: float) -> None:
    rng = np.random.default_rng(4)
    n = 200
    a0 = rng.uniform(2e3, 5e4, n)
    d0 = a0 * np.exp(rng.normal(0, 0.7, n))
    ca, cd = np.empty(n), np.empty(n)
    for i in range(n):
        a, b = 0.02, 0.02 * rng.lognormal(0, 0.3)

        def rhs(t: float, y: np.ndarray, a: float = a, b: float = b) -> list[float]:
            return [
                -b * y[1] * (y[0] / y[1]) ** (1 - true_w),
                -a * y[0] * (y[1] / y[0]) ** (1 - true_w),
            ]

        sol = solve_ivp(rhs, (0, 3.0), [a0[i], d0[i]], rtol=1e-9)
        ca[i], cd[i] = a0[i] - sol.y[0, -1], d0[i] - sol.y[1, -1]
    fit = fit_helmbold_exponent(a0, d0, ca, cd)
    # short battles: the force ratio barely moves, so the slope is 2W - 1 up to the noise in b
    assert abs(fit.exponent - true_w) < 4 * fit.stderr + 0.02


def test_cdb90_fit_matches_an_independent_regression() -> None:
    battles = load_cdb90()  # the extract shipped with siege
    assert 500 <= battles.attacker_strength.size <= 660
    fit = fit_helmbold_exponent(
        battles.attacker_strength,
        battles.defender_strength,
        battles.attacker_casualties,
        battles.defender_casualties,
    )
    slope, _ = np.polyfit(
        np.log(battles.defender_strength / battles.attacker_strength),
        np.log(battles.attacker_casualties / battles.defender_casualties),
        1,
    )
    assert np.isclose(fit.slope, slope) and np.isclose(fit.exponent, (slope + 1) / 2)
    # history rejects the pure square law (W = 1) by many standard errors
    assert (1.0 - fit.exponent) > 5 * fit.stderr
    postures = exchange_ratio_by_posture(battles)
    assert set(postures) >= {"fortified", "prepared", "hasty"}
    quartiles = breakpoints(battles)
    assert np.all(np.diff(quartiles["defender"]) > 0)
    assert 0 < quartiles["defender"][1] < 1


@pytest.mark.skipif(not FULL_CDB90.exists(), reason=f"the full CDB90 is not at {FULL_CDB90}")
def test_bundled_extract_reads_as_the_full_file() -> None:
    full, extract = load_cdb90(FULL_CDB90), load_cdb90()
    for name in ("attacker_strength", "defender_strength", "attacker_casualties",
                 "defender_casualties", "posture", "attacker_won"):
        assert np.array_equal(getattr(full, name), getattr(extract, name)), name
