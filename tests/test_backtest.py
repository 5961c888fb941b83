"""`siege backtest`: the scores against hand-computed values and brute force, the folder of
documented sieges and its errors, the leave-one-out's isolation and determinism, the CLI."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from siege.analysis.backtest import (
    crps_sample,
    log_score,
    percentile_of,
    score_siege,
    summarize_scores,
)
from siege.errors import CalibrationError, HistoryError
from siege.scenario.doctrine import load_doctrine
from siege.scenario.history import load_history, siege_targets

from conftest import run_cli

HISTORY = Path(__file__).resolve().parents[1] / "scenarios" / "history"
REASONS = ("held", "withdrew", "encircled", "collapsed", "attacker_culminated", "captured",
           "surrendered")


def brute_crps(samples: np.ndarray, y: float) -> float:
    """The integral of (F_n(x) - 1{x >= y})² over x, exact for the step function F_n."""
    points = np.sort(np.append(samples, y))
    total = 0.0
    for a, b in itertools.pairwise(points):
        f = np.mean(samples <= a)
        total += (f - float(a >= y)) ** 2 * (b - a)
    return total


def test_crps_by_hand() -> None:
    assert crps_sample([1.0, 2.0, 3.0], 2.0) == pytest.approx(2 / 9)  # 2/3 - 8/18
    assert crps_sample([5.0], 2.0) == pytest.approx(3.0)  # one sample: the absolute error
    assert crps_sample([4.0, 4.0], 4.0) == 0.0


def test_crps_matches_brute_force_integral() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.integers(0, 30, size=rng.integers(1, 40)).astype(float)
        y = float(rng.integers(-5, 35))
        assert crps_sample(x, y) == pytest.approx(brute_crps(x, y), abs=1e-9)


def test_crps_of_a_large_normal_sample_matches_the_closed_form() -> None:
    n, y = 20_000, 0.5
    x = np.random.default_rng(3).standard_normal(n)
    exact = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / math.sqrt(math.pi)
    sd = np.std(np.abs(x - y)) / math.sqrt(n)  # the estimate's noise is mostly E|X - y|'s
    assert crps_sample(x, y) == pytest.approx(exact, abs=5 * sd)


def test_percentile_counts_ties_half() -> None:
    assert percentile_of([1, 2, 2, 3], 2) == 50.0
    assert percentile_of([1, 2, 2, 3], 0) == 0.0
    assert percentile_of([1, 2, 2, 3], 4) == 100.0
    assert percentile_of([78] * 10, 78) == 50.0


def test_log_score_has_an_add_one_floor() -> None:
    assert log_score(0, 100, 7) == pytest.approx(math.log(1 / 107))
    assert log_score(100, 100, 7) == pytest.approx(math.log(101 / 107))


def test_score_and_hits() -> None:
    reasons = np.array(["withdrew"] * 4 + ["held"] * 6, dtype=object)
    days = np.arange(10, dtype=float) * 10  # 0..90
    s = score_siege("x", "withdrew", 45.0, reasons, days, REASONS)
    assert s.p_end_reason == 0.4 and s.reason_hit
    assert s.end_day_low == pytest.approx(9.0) and s.end_day_high == pytest.approx(81.0)
    assert s.day_hit and s.hit and s.end_day_percentile == 50.0
    assert s.log_score == pytest.approx(math.log(5 / 17))
    never = score_siege("y", "captured", 45.0, reasons, days, REASONS)
    assert never.p_end_reason == 0.0 and not never.hit
    assert never.log_score == pytest.approx(math.log(1 / 17))
    late = score_siege("z", "withdrew", 85.0, reasons, days, REASONS)
    assert late.reason_hit and not late.day_hit
    summary = summarize_scores([s, never, late])
    assert (summary.hits, summary.reason_hits, summary.day_hits) == (1, 2, 2)


def test_the_documented_sieges_load_with_their_ends() -> None:
    sieges = {s.name: s for s in load_history(HISTORY)}
    assert len(sieges) >= 6
    assert sieges["avdiivka"].end_reason == "withdrew" and sieges["avdiivka"].end_day == 130
    assert sieges["kut"].end_reason == "surrendered"


def test_every_targets_file_loads_as_calibrate_reads_targets() -> None:
    sieges = load_history(HISTORY)
    assert len(sieges) == 9
    for siege in sieges:
        targets = siege_targets(siege)
        assert len({t.key for t in targets}) == len(targets) >= 4, siege.name


def _copy(folder: Path, *names: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name in names:
        for suffix in (".toml", ".targets.toml"):
            shutil.copy(HISTORY / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder


def test_bad_folders_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HistoryError, match="no documented sieges"):
        load_history(empty)
    folder = _copy(tmp_path / "h", "khe_sanh")
    (folder / "khe_sanh.targets.toml").rename(folder / "other.targets.toml")
    with pytest.raises(HistoryError, match=r"khe_sanh\.toml: a scenario without targets"):
        load_history(folder)


def test_unknown_end_reason_is_named_with_its_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path / "h", "khe_sanh")
    targets = folder / "khe_sanh.targets.toml"
    targets.write_text(targets.read_text().replace('end_reason = "held"', 'end_reason = "won"'))
    with pytest.raises(CalibrationError, match=r"line \d+: key 'target\[0\].end_reason': "
                       "'won' is not an end reason"):
        load_history(folder)


def test_an_end_day_outside_its_interval_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path / "h", "khe_sanh")
    targets = folder / "khe_sanh.targets.toml"
    targets.write_text(targets.read_text().replace("end_day = 78", "end_day = 90"))
    with pytest.raises(CalibrationError, match="end_day 90 must lie in the interval"):
        load_history(folder)


def test_doctrine_wildcards_expand_per_scenario(tmp_path: Path) -> None:
    sieges = load_history(_copy(tmp_path / "h", "khe_sanh", "avdiivka"))
    doctrine = load_doctrine(HISTORY / "doctrine.toml", [(s.name, s.scenario) for s in sieges])
    avdiivka = dict((p, j) for j, p in doctrine.expand(sieges[0].scenario))
    assert avdiivka["routes.orlivka_road.interdiction_at_full_control"] == \
        avdiivka["routes.sieverne_tracks.interdiction_at_full_control"]
    assert "advance.ground_per_loss" in avdiivka and "sectors.town.advance_rate" not in avdiivka
    # a path into [pocket] or [capture] sets it only where the scenario has the table, and a
    # table none of the sieges has leaves its prior out
    khe_sanh = [p for _, p in doctrine.expand(sieges[1].scenario)]
    assert "pocket.surrender_shortfall_days" in khe_sanh
    assert not any(p.startswith(("pocket.", "capture.")) for p in avdiivka)
    assert "capture.capture_control" not in doctrine.paths
    bad = tmp_path / "bad.toml"
    bad.write_text('[[prior]]\npath = "advance.*.parity"\ndistribution = "uniform"\n'
                   "low = 0.2\nhigh = 0.5\n")
    with pytest.raises(CalibrationError, match="a '\\*' stands for every sector or route"):
        load_doctrine(bad, [(s.name, s.scenario) for s in sieges])


@pytest.mark.slow
def test_left_out_targets_never_inform_its_fit_and_workers_change_nothing(
        tmp_path: Path) -> None:
    from siege.analysis.backtest_run import leave_one_out
    from siege.run.executors import local_executor
    from siege.scenario.calibration import AbcSettings

    settings = AbcSettings(population=8, max_generations=2)

    def folds(folder: Path, workers: int) -> list:
        sieges = load_history(folder)
        doctrine = load_doctrine(HISTORY / "doctrine.toml",
                                 [(s.name, s.scenario) for s in sieges])
        with local_executor(workers) as executor:
            return leave_one_out(sieges, doctrine, executor, settings=settings,
                                 replications=16, seed=5)

    base = folds(_copy(tmp_path / "a", "khe_sanh", "sievierodonetsk_lysychansk"), 1)
    changed = _copy(tmp_path / "b", "khe_sanh", "sievierodonetsk_lysychansk")
    targets = changed / "khe_sanh.targets.toml"
    targets.write_text(targets.read_text().replace("end_day = 78", "end_day = 60")
                       .replace("low = 76", "low = 58").replace("high = 81", "high = 62"))
    other = folds(changed, 1)
    assert base[0].left_out == other[0].left_out == "khe_sanh"
    np.testing.assert_array_equal(base[0].fit.posterior.values, other[0].fit.posterior.values)
    np.testing.assert_array_equal(base[0].fit.posterior.weights,
                                  other[0].fit.posterior.weights)
    assert base[0].score.observed_end_day == 78 and other[0].score.observed_end_day == 60
    # the fold that trains on khe_sanh sees the change (so the test can fail)
    assert not np.array_equal(base[1].fit.posterior.distances,
                              other[1].fit.posterior.distances)
    two = folds(tmp_path / "a", 2)
    for one_worker, two_workers in zip(base, two, strict=True):
        np.testing.assert_array_equal(one_worker.fit.posterior.values,
                                      two_workers.fit.posterior.values)
        assert one_worker.score == two_workers.score


@pytest.mark.slow
def test_cli_backtest_json_and_table(tmp_path: Path) -> None:
    folder = _copy(tmp_path / "h", "khe_sanh", "sievierodonetsk_lysychansk")
    proc = run_cli("backtest", str(folder), "--json", "-n", "40", "--seed", "2", "-w", "1")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [s["name"] for s in data["sieges"]] == ["khe_sanh", "sievierodonetsk_lysychansk"]
    for siege in data["sieges"]:
        assert set(siege) == {"name", "observed_end_reason", "observed_end_day",
                              "p_end_reason", "end_day_percentile", "crps", "log_score"}
    assert data["sieges"][0]["p_end_reason"] > 0.5  # held to the relief, by construction
    assert data["summary"]["sieges"] == 2
    table = run_cli("backtest", str(folder), "-n", "40", "-w", "1")
    assert table.returncode == 0 and "hits" in table.stdout and "add-one" in table.stdout
    bad = run_cli("backtest", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "not a folder" in bad.stderr
    no_doctrine = run_cli("backtest", str(folder), "--leave-one-out", "-w", "1")
    assert no_doctrine.returncode == 2 and "doctrine.toml" in no_doctrine.stderr
    shutil.copy(HISTORY / "doctrine.toml", folder / "doctrine.toml")
    loo = run_cli("backtest", str(folder), "--leave-one-out", "--json", "-n", "10",
                  "--population", "4", "--generations", "1", "-w", "1")
    assert loo.returncode == 0, loo.stderr
    folds = json.loads(loo.stdout)["summary"]["leave_one_out"]
    assert folds["khe_sanh"]["training"] == ["sievierodonetsk_lysychansk"]
    assert "advance.ground_per_loss" in folds["khe_sanh"]["doctrine_median"]


@pytest.mark.slow
def test_milestones_on_unbanded_measures_are_probed(tmp_path: Path) -> None:
    from siege.run.calibrate import simulate_particles
    from siege.run.executors import local_executor
    from siege.scenario.calibration import load_calibration

    folder = _copy(tmp_path / "h", "avdiivka")
    (folder / "cal.toml").write_text(
        'scenario = "avdiivka.toml"\n[[prior]]\npath = "advance.parity"\n'
        'distribution = "uniform"\nlow = 0.3\nhigh = 0.4\n'
        '[[target]]\nkind = "milestone"\nmeasure = "routes_under_fire"\nop = ">="\n'
        'threshold = 1\nday = 13\nlow = 10\nhigh = 20\n')
    calibration = load_calibration(folder / "cal.toml")
    assert (calibration.targets[0].components[0].low,
            calibration.targets[0].components[0].high) == (10.0, 20.0)
    with local_executor(1) as executor:
        run = simulate_particles(calibration, np.array([[0.35], [0.35]]), 1, executor)
    first = run.replicated[:, 0]  # the first day a route was under fire, or after the horizon
    assert np.all((first >= 0) & (first <= calibration.scenario.simulation.whole_days + 1))
