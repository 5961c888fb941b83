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


def test_each_replication_draws_its_own_inputs(tmp_path: Path) -> None:
    """Within one run, the replications with the larger drawn garrisons hold out longer (one
    value for the whole run could not give that rank correlation)."""
    from scipy import stats

    from siege.run.backtest import simulate_siege

    siege, = load_history(_copy(tmp_path / "r", "avdiivka",
                                _prior("defender.strength", 4000, 20000, "loguniform")))
    n = 400
    values = draw_inputs(siege.inputs, n, 9)
    assert np.unique(values["defender.strength"]).size == n
    with local_executor(1) as executor:
        run = simulate_siege(siege, executor, replications=n, seed=9, values=values)
    rho, p = stats.spearmanr(values["defender.strength"], run.end_day)
    assert rho > 0 and p < 1e-6


def test_prediction_and_plain_backtest_draw_the_same_inputs(tmp_path: Path) -> None:
    """The plain backtest and the left-out prediction draw a siege's inputs from its
    simulation seed (common random numbers): each equals a run by hand with
    ``draw_inputs(inputs, n, simulation seed)``; with the inputs fixed the prediction differs."""
    from siege.analysis.abc import Population
    from siege.analysis.backtest_run import PREDICT, predict
    from siege.analysis.priors import JointPrior
    from siege.run.backtest import name_key, run_seed, simulate_siege

    siege, = load_history(_copy(tmp_path / "p", "kut", _prior("defender.strength", 8000, 11000)))
    doctrine = load_doctrine(HISTORY / "doctrine.toml", [(siege.name, siege.scenario)])
    prior = JointPrior.of(doctrine.priors)
    particles = prior.from_z(prior.sample_z(np.random.default_rng(0), 3))
    posterior = Population(0, particles, np.full(3, 1 / 3), np.zeros(3), np.zeros((3, 1)),
                           np.zeros((3, 1)), 1.0, 3, 3, 3)
    n, seed, draw_seed = 300, 4, 7
    sim_seed = run_seed(siege, seed)
    inputs = draw_inputs(siege.inputs, n, sim_seed)
    draws = np.random.default_rng(np.random.SeedSequence(
        draw_seed, spawn_key=(PREDICT, name_key(siege.name))))
    index = draws.choice(3, size=n, p=posterior.weights)
    by_hand = {path: particles[index, j] for j, path in doctrine.expand(siege.scenario)}
    with local_executor(1) as executor:
        predicted = predict(siege, doctrine, posterior, executor, replications=n,
                            draw_seed=draw_seed, seed=seed)
        fixed = predict(siege, doctrine, posterior, executor, replications=n,
                        draw_seed=draw_seed, seed=seed, fixed_inputs=True)
        expected = simulate_siege(siege, executor, replications=n, seed=sim_seed,
                                  values={**by_hand, **inputs})
        plain, = backtest([siege], executor, replications=n, seed=seed)
        plain_by_hand = simulate_siege(siege, executor, replications=n, seed=sim_seed,
                                       values=inputs)
    np.testing.assert_array_equal(predicted.end_day, expected.end_day)
    np.testing.assert_array_equal(predicted.end_reason, expected.end_reason)
    assert not np.array_equal(predicted.end_day, fixed.end_day)
    assert plain.end_day_median == float(np.median(plain_by_hand.end_day))
    assert plain.p_end_reason == float(np.mean(plain_by_hand.end_reason == "surrendered"))


@pytest.mark.slow
def test_a_left_out_sieges_inputs_never_inform_its_fit(tmp_path: Path) -> None:
    """Its [[prior]] tables reach its own prediction only: changing them leaves its fold's
    posterior bit for bit and moves its prediction; the other fold, which trains on it, sees
    the change."""
    from siege.analysis.backtest_run import leave_one_out

    settings = AbcSettings(population=8, max_generations=2)

    def folds(folder: Path) -> list:
        sieges = load_history(folder)
        doctrine = load_doctrine(HISTORY / "doctrine.toml",
                                 [(s.name, s.scenario) for s in sieges])
        with local_executor(1) as executor:
            return leave_one_out(sieges, doctrine, executor, settings=settings,
                                 replications=200, seed=5)

    one = _copy(tmp_path / "a", "kut", _prior("defender.strength", 8000, 11000))
    _copy(one, "mariupol")
    other = _copy(tmp_path / "b", "kut", _prior("defender.strength", 4000, 5000))
    _copy(other, "mariupol")
    a, b = folds(one), folds(other)
    assert a[0].left_out == b[0].left_out == "kut"
    np.testing.assert_array_equal(a[0].fit.posterior.values, b[0].fit.posterior.values)
    np.testing.assert_array_equal(a[0].fit.posterior.weights, b[0].fit.posterior.weights)
    assert a[0].score != b[0].score
    assert not np.array_equal(a[1].fit.posterior.distances, b[1].fit.posterior.distances)


def test_the_plain_backtest_refuses_a_doctrine_path_when_the_folder_has_a_doctrine(
        tmp_path: Path) -> None:
    folder = _copy(tmp_path / "d", "kut", _prior("fortification.multiplier", 3, 6))
    assert run_cli("backtest", str(folder), "-n", "20", "-w", "1").returncode == 0  # no doctrine
    (folder / "doctrine.toml").write_text((HISTORY / "doctrine.toml").read_text())
    proc = run_cli("backtest", str(folder), "-n", "20", "-w", "1")
    assert proc.returncode == 2 and "doctrine parameter" in proc.stderr
    assert "kut.targets.toml, line" in proc.stderr and "Traceback" not in proc.stderr
    fixed = run_cli("backtest", str(folder), "-n", "20", "-w", "1", "--fixed-inputs")
    assert fixed.returncode == 0, fixed.stderr
