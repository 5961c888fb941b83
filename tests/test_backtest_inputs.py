"""A documented siege's uncertain inputs (the ``[[prior]]`` tables of its targets file): read
and checked with the file, drawn once per replication in every simulation of the siege, never
fitted, and refused where they would clash with the doctrine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from siege.analysis.backtest_run import backtest, draw_inputs, fit_doctrine
from siege.errors import CalibrationError
from siege.run.executors import local_executor
from siege.scenario.calibration import AbcSettings, Prior
from siege.scenario.doctrine import check_inputs, load_doctrine
from siege.scenario.history import load_history

from conftest import run_cli

HISTORY = Path(__file__).resolve().parents[1] / "scenarios" / "history"


def _prior(path: str, low: float, high: float, distribution: str = "uniform") -> str:
    return (f'\n[[prior]]\npath = "{path}"\ndistribution = "{distribution}"\n'
            f"low = {low}\nhigh = {high}\n")


def _copy(folder: Path, name: str, *priors: str) -> Path:
    """``name``'s files in ``folder``, its targets' own [[prior]] tables replaced by
    ``priors``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text((HISTORY / f"{name}.toml").read_text())
    targets = (HISTORY / f"{name}.targets.toml").read_text().split("\n[[prior]]")[0]
    (folder / f"{name}.targets.toml").write_text(targets + "".join(priors))
    return folder


def test_draws_follow_their_priors_and_the_seed() -> None:
    inputs = (Prior("defender.strength", "loguniform", {"low": 5000.0, "high": 20000.0}),
              Prior("supply.stockpile_tonnes", "uniform", {"low": 1000.0, "high": 3000.0}))
    n = 20_000
    a = draw_inputs(inputs, n, seed=11)
    np.testing.assert_array_equal(a["defender.strength"], draw_inputs(inputs, n, 11)[
        "defender.strength"])
    assert not np.array_equal(a["defender.strength"], draw_inputs(inputs, n, 12)[
        "defender.strength"])
    strength, stock = a["defender.strength"], a["supply.stockpile_tonnes"]
    assert strength.min() >= 5000 and strength.max() <= 20000
    # loguniform: half the mass below the geometric middle (10,000); uniform: below 2,000
    tolerance = 4 * np.sqrt(0.25 / n)
    assert np.mean(strength < 10_000) == pytest.approx(0.5, abs=tolerance)
    assert np.mean(stock < 2000) == pytest.approx(0.5, abs=tolerance)
    assert np.mean(strength < 7071) == pytest.approx(0.25, abs=tolerance)  # a quarter in log
    assert draw_inputs((), 5, 1) == {}


def test_inputs_are_drawn_per_replication_and_move_the_forecast(tmp_path: Path) -> None:
    """A small garrison (losses a larger share of it, ground lost faster under the `losses`
    law) withdraws earlier than a large one; with the inputs fixed the run is the scenario's
    own, bit for bit."""
    small = load_history(_copy(tmp_path / "small", "avdiivka",
                               _prior("defender.strength", 4000, 5000)))
    large = load_history(_copy(tmp_path / "large", "avdiivka",
                               _prior("defender.strength", 18000, 20000)))
    plain = load_history(_copy(tmp_path / "plain", "avdiivka"))
    assert small[0].inputs[0].path == "defender.strength" and plain[0].inputs == ()
    with local_executor(1) as executor:
        s, = backtest(small, executor, replications=300, seed=3)
        la, = backtest(large, executor, replications=300, seed=3)
        fixed, = backtest(large, executor, replications=300, seed=3, fixed_inputs=True)
        base, = backtest(plain, executor, replications=300, seed=3)
    assert s.end_day_median < base.end_day_median < la.end_day_median
    assert fixed == base


def test_the_fit_integrates_over_inputs_and_never_fits_them(tmp_path: Path) -> None:
    folder = _copy(tmp_path / "h", "kut", _prior("supply.stockpile_tonnes", 60, 230))
    _copy(folder, "mariupol")
    sieges = load_history(folder)
    doctrine = load_doctrine(HISTORY / "doctrine.toml", [(s.name, s.scenario) for s in sieges])
    settings = AbcSettings(population=8, max_generations=1)
    with local_executor(1) as executor:
        drawn = fit_doctrine(sieges, doctrine, executor, settings=settings, seed=4)
        fixed = fit_doctrine(sieges, doctrine, executor, settings=settings, seed=4,
                             fixed_inputs=True)
    posterior = drawn.result.posterior
    assert posterior.values.shape[1] == len(doctrine.priors)  # doctrine columns only
    # the same particles (same seed, same prior), other simulations of kut: its draws count
    np.testing.assert_array_equal(posterior.values, fixed.result.posterior.values)
    assert not np.array_equal(drawn.result.populations[0].summaries,
                              fixed.result.populations[0].summaries)


def test_a_doctrine_path_or_a_fixed_key_is_refused_with_its_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path / "d", "avdiivka", _prior("fortification.multiplier", 3, 6))
    sieges = load_history(folder)
    doctrine = load_doctrine(HISTORY / "doctrine.toml", [(s.name, s.scenario) for s in sieges])
    with pytest.raises(CalibrationError, match=r"line \d+: key 'prior\[0\]\.path': "
                       "'fortification.multiplier' is a doctrine parameter"):
        check_inputs(doctrine, sieges)
    fixed = _copy(tmp_path / "f", "avdiivka", _prior("simulation.horizon_days", 100, 200))
    with pytest.raises(CalibrationError, match="cannot take one value per replication"):
        load_history(fixed)
    twice = _copy(tmp_path / "t", "avdiivka", _prior("defender.strength", 5000, 9000),
                  _prior("defender.strength", 6000, 8000))
    with pytest.raises(CalibrationError, match=r"prior\[1\]\.path.*already has a prior"):
        load_history(twice)
    negative = _copy(tmp_path / "n", "avdiivka", _prior("defender.strength", -10, 9000))
    with pytest.raises(CalibrationError, match=r"defender\.strength"):
        load_history(negative)


def test_cli_reports_inputs_and_refuses_a_clash(tmp_path: Path) -> None:
    folder = _copy(tmp_path / "c", "avdiivka", _prior("defender.strength", 5000, 20000))
    proc = run_cli("backtest", str(folder), "--json", "-n", "30", "-w", "1")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary["uncertain_inputs"] == {"avdiivka": ["defender.strength"]}
    assert summary["fixed_inputs"] is False
    fixed = run_cli("backtest", str(folder), "--json", "-n", "30", "-w", "1", "--fixed-inputs")
    assert json.loads(fixed.stdout)["summary"]["fixed_inputs"] is True
    _copy(folder, "khe_sanh", _prior("fortification.decay_per_day", 0.0, 0.01))
    (folder / "doctrine.toml").write_text((HISTORY / "doctrine.toml").read_text())
    clash = run_cli("backtest", str(folder), "--leave-one-out", "-w", "1")
    assert clash.returncode == 2
    assert "khe_sanh.targets.toml" in clash.stderr and "doctrine parameter" in clash.stderr
    assert "Traceback" not in clash.stderr
