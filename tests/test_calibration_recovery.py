"""Recovery: observations simulated from the Bakhmut scenario at its own parameter values are
calibrated back; the 90 % credible intervals must contain the values that made them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from siege.analysis.calibrate import calibrate, parameter_posteriors
from siege.run.calibrate import simulate_particles
from siege.run.calibration_store import CalibrationStore
from siege.run.executors import InProcessExecutor
from siege.scenario import load_scenario
from siege.scenario.calibration import parse_calibration

from conftest import SCENARIOS

PRIORS = [  # eight of the hand-set values of scenarios/bakhmut.toml, as in its calibration file
    ("sectors.north.advance_rate", "loguniform", {"low": 0.002, "high": 0.02}),
    ("sectors.east.advance_rate", "loguniform", {"low": 0.004, "high": 0.04}),
    ("sectors.centre.advance_rate", "loguniform", {"low": 0.004, "high": 0.04}),
    ("sectors.south.advance_rate", "loguniform", {"low": 0.002, "high": 0.02}),
    ("advance.parity", "loguniform", {"low": 0.15, "high": 1.0}),
    ("fortification.multiplier", "uniform", {"low": 2.0, "high": 10.0}),
    ("attrition.attacker_kill_rate", "loguniform", {"low": 0.0015, "high": 0.006}),
    ("attrition.defender_kill_rate", "loguniform", {"low": 0.002, "high": 0.008}),
]
DAYS = [60, 120, 180, 240]


def _document(observed: list[float] | None) -> dict[str, Any]:
    """The recovery calibration: control of every sector, exchange ratio and garrison on a
    few days, and the end day; ``observed`` fills the values in target order."""
    values = iter(observed or [0.0] * 23)
    targets: list[dict[str, Any]] = [
        {"kind": "series", "measure": f"control_{s}", "days": DAYS,
         "values": [next(values) for _ in DAYS], "sd": 0.05}
        for s in ("north", "east", "centre", "south")
    ]
    targets += [
        {"kind": "series", "measure": "exchange_ratio", "days": [30, 120, 210],
         "values": [next(values) for _ in range(3)], "sd": 0.5},
        {"kind": "series", "measure": "defender_strength", "days": [30, 120, 210],
         "values": [next(values) for _ in range(3)], "sd": 1000.0},
        {"kind": "outcome", "end_day": next(values), "sd": 5.0},
    ]
    return {"scenario": "../bakhmut.toml", "seed": 11,
            "abc": {"population": 300, "max_generations": 9},
            "prior": [{"path": p, "distribution": d, **kw} for p, d, kw in PRIORS],
            "target": targets}


def _value(scenario: Any, path: str) -> float:
    parts = path.split(".")
    if parts[0] == "sectors":
        return float(next(s for s in scenario.sectors if s.name == parts[1]).advance_rate)
    return float(getattr(getattr(scenario, parts[0]), parts[1]))


@pytest.mark.slow
def test_calibration_recovers_the_parameters_that_made_the_observations(tmp_path: Any) -> None:
    file = SCENARIOS / "calibration" / "recovery.toml"  # not written: paths are relative to it
    scenario = load_scenario(SCENARIOS / "bakhmut.toml")
    truth = np.array([_value(scenario, p) for p, _, _ in PRIORS])
    draft = parse_calibration(_document(None), file, "")
    # the observations: the median over 500 replications at the true values
    run = simulate_particles(draft, np.repeat(truth[None, :], 500, axis=0), 99,
                             InProcessExecutor())
    calibration = parse_calibration(
        _document([float(v) for v in np.nanmedian(run.replicated, axis=0)]), file, "")
    store = CalibrationStore.create(tmp_path / "store", calibration, "batch")
    result = calibrate(calibration, store, InProcessExecutor())
    rows = parameter_posteriors(result.posterior, calibration.priors)
    covered = [r.q05 <= t <= r.q95 for r, t in zip(rows, truth, strict=True)]
    # 8 of 8 at this seed; a 90 % interval may miss now and then
    assert sum(covered) >= 6, [(r.path, r.q05, t, r.q95) for r, t in zip(rows, truth,
                                                                          strict=True)]
    # and the data taught something: the intervals are narrower than the priors' ranges (on
    # the log scale; one replication per particle leaves the campaign tempo's spread in them)
    shrink = [math.log(r.q95 / r.q05) / math.log(r.prior.support()[1] / r.prior.support()[0])
              for r in rows]
    assert float(np.mean(shrink)) < 0.85, shrink
