"""The CDB90 advance-rate fit (siege.analysis.advance_fit) on synthetic battles of known law."""

from __future__ import annotations

import math

import numpy as np
import pytest

from siege.analysis.advance_fit import (
    bootstrap_advance,
    drive,
    fit_advance,
    fit_law,
    load_advances,
    posture_pace,
)


def synthetic(exponent: float, n: int = 4000, seed: int = 3, parity: float = 0.5,
              slope: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """Battles whose attacker advances with logistic probability in ln(R/parity) at a pace
    ``2 (R/parity - 1)^exponent`` (log-normal noise) above parity."""
    rng = np.random.default_rng(seed)
    ratio = np.exp(rng.uniform(math.log(0.2), math.log(20.0), n))
    advanced = rng.random(n) < 1 / (1 + np.exp(-slope * np.log(ratio / parity)))
    pace = 2.0 * np.abs(ratio / parity - 1) ** exponent * rng.lognormal(0.0, 0.3, n)
    return ratio, np.where(advanced, pace, -0.5)


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0])
def test_fit_recovers_known_exponent_parity_and_slope(exponent: float) -> None:
    ratio, rate = synthetic(exponent)
    fit = fit_advance(ratio, rate)
    assert abs(fit.exponent - exponent) < 4 * fit.exponent_stderr + 0.05
    # logistic fit on n battles: the parameters' standard errors are ~ 1/sqrt(n) in size
    assert abs(math.log(fit.parity / 0.5)) < 0.15
    assert abs(fit.slope - 1.2) < 0.15
    assert fit.sensitivity == pytest.approx(fit.slope / 2)


def test_bootstrap_interval_covers_the_truth() -> None:
    ratio, rate = synthetic(1.0, n=1500)
    boot = bootstrap_advance(ratio, rate, draws=30, seed=2)
    lo, hi = np.percentile(boot[:, 2], [1, 99])
    assert lo < 1.0 < hi


def test_drive_matches_the_model_laws() -> None:
    r = np.array([0.25, 0.5, 1.0, 2.0])
    assert drive("dupuy", r, 0.5, 1.0) == pytest.approx([-1.0, 0.0, 1.0, 3.0])
    assert drive("tanh", r, 0.5, 1.0) == pytest.approx(np.tanh(np.log(r / 0.5)))


@pytest.mark.slow
def test_whole_law_fit_prefers_the_law_that_made_the_data() -> None:
    rng = np.random.default_rng(5)
    ratio = np.exp(rng.uniform(math.log(0.2), math.log(20.0), 400))
    posture = np.array(["HD", "PD", "FD"] * 133 + ["HD"])
    truth = 3.0 * drive("dupuy", ratio, 0.8, 1.0)
    rate = truth + rng.laplace(0.0, 0.5, ratio.size)
    dupuy, tanh = (fit_law(law, ratio, rate, posture) for law in ("dupuy", "tanh"))
    assert dupuy.mae < tanh.mae
    assert dupuy.shape == pytest.approx(1.0, abs=0.15)
    with pytest.raises(ValueError, match="unknown law"):
        fit_law("linear", ratio, rate, posture)


def test_bundled_extract_has_the_advance_columns() -> None:
    adv = load_advances()
    assert adv.ratio.size > 400 and np.all(adv.ratio > 0)
    pace = posture_pace(adv)
    assert pace["hasty"][2] == 1.0 and set(pace) >= {"fortified", "prepared", "hasty"}
