"""Capture of the town and pockets that hold out: the rules on hand-checked arrays, and each
mechanism's effect through the batch engine on small scenarios."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from siege import simulate
from siege.errors import ScenarioError, SiegeError
from siege.model import pocket, rules
from siege.model.state import init_state
from siege.scenario import build_params, scenario_from_dict

from conftest import run_cli, scenario_data

# ------------------------------------------------------------------------------------------
# rules


def test_capture_at_the_threshold_and_never_at_inf() -> None:
    town = np.array([0.5, 0.8, 0.95])
    assert pocket.captured(town, 0.8).tolist() == [False, True, True]
    assert not pocket.captured(town, math.inf).any()


def test_escape_interpolates_between_open_routes_and_none() -> None:
    remaining = np.array([100.0, 100.0, 100.0])
    out = pocket.escaped(remaining, np.array([1.0, 0.5, 0.0]), 0.6, 0.1)
    assert out.tolist() == pytest.approx([60.0, 35.0, 10.0])


def test_pocket_forms_when_closed_and_lasts_while_ground_routes_stay_cut() -> None:
    pocketed = np.array([False, False, True, True])
    closed = np.array([True, False, False, False])
    all_cut = np.array([True, True, True, False])
    assert pocket.update_pocket(pocketed, closed, all_cut).tolist() == [True, False, True, False]


def test_surrender_only_in_the_pocket_on_any_threshold() -> None:
    pocketed = np.array([True, True, True, True, False])
    strength = np.array([0.2, 0.5, 0.5, 0.5, 0.1])
    supply = np.array([5.0, 0.0, 5.0, np.nan, 0.0])
    short = np.array([0.0, 0.0, 7.0, 0.0, 9.0])
    out = pocket.surrenders(pocketed, strength, supply, short, 0.25, 0.0, 7.0)
    assert out.tolist() == [True, True, True, False, False]
    never = pocket.surrenders(pocketed, strength, supply, short, -math.inf, -math.inf, math.inf)
    assert not never.any()


def test_relief_pushes_back_the_flanks_only() -> None:
    control = np.asfortranarray([[0.95, 0.4, 0.9], [0.2, 0.7, 0.1]])
    flank = np.array([True, False, True])
    out = pocket.relieved_control(control, flank, 0.3)
    assert out.tolist() == [[0.3, 0.4, 0.3], [0.2, 0.7, 0.1]]
    assert control[0, 0] == 0.95  # a new array


def test_by_open_routes_is_the_withdrawal_loss_interpolation() -> None:
    open_capacity = np.array([0.0, 0.25, 1.0, 2.0])
    assert rules.by_open_routes(open_capacity, 0.01, 0.09).tolist() == pytest.approx(
        [0.09, 0.07, 0.01, 0.01])


# ------------------------------------------------------------------------------------------
# scenarios


def encircled(**changes: Any) -> dict[str, Any]:
    """A town that starts encircled: both flanks taken, the ground road cut on day 0; the
    attacker does not move; the garrison eats 100 t a day from a 500 t stockpile."""
    flank = {"flank": True, "control": 0.95, "advance_rate": 0.0}
    data = scenario_data(
        sectors=[{**flank, "name": "north"}, {"name": "town", "fortified": True,
                                              "advance_rate": 0.0}, {**flank, "name": "south"}],
        routes=[{"name": "road", "sectors": ["north"], "capacity_tonnes_per_day": 80.0}],
        policy={"kind": "hold", "triggers": []},
        defender={"strength": 5000.0, "collapse_fraction": 0.0},
        pocket={"surrender_supply_days": 0.0},
    )
    data.update(changes)
    return data


AIR = {"name": "airlift", "kind": "air", "sectors": ["north"], "capacity_tonnes_per_day": 60.0,
       "convoys_per_day": 4.0, "interdiction_base": 0.0, "interdiction_at_full_control": 0.1}


def run(data: dict[str, Any], n: int = 64, **kw: Any) -> Any:
    return simulate(scenario_from_dict(data), replications=n, **kw)


def test_without_a_pocket_table_a_town_that_starts_encircled_is_lost_on_day_one() -> None:
    data = encircled()
    del data["pocket"]
    res = run(data, n=16)
    assert set(res.end_reason) == {"encircled"}
    assert np.all(res.columns["end_day"] == 1.0)


def test_air_route_is_never_cut_and_keeps_the_pocket_alive_longer() -> None:
    params = build_params(scenario_from_dict(encircled(routes=[*encircled()["routes"], AIR])))
    state = init_state(params, np.arange(4), 1.0)
    assert state.cut.tolist() == [[True, False]] * 4  # the road cut, the airlift not
    assert state.pocketed.all()  # a town that starts encircled is in its pocket on day 0
    without = run(encircled())
    with_air = run(encircled(routes=[*encircled()["routes"], AIR]))
    assert set(without.end_reason) == set(with_air.end_reason) == {"surrendered"}
    # 500 t at 100 t a day lasts 5 days; with 60 t a day flown in, about 12
    assert np.median(without.columns["end_day"]) <= 6.0
    assert np.median(with_air.columns["end_day"]) >= 2 * np.median(without.columns["end_day"])


def test_a_town_with_only_an_air_route_is_in_its_pocket_from_day_zero() -> None:
    data = encircled(routes=[AIR], sectors=[{"name": "north", "flank": True},
                                            {"name": "town", "fortified": True}])
    state = init_state(build_params(scenario_from_dict(data)), np.arange(2), 1.0)
    assert state.pocketed.all()


def test_surrendered_garrison_is_counted_lost_and_gets_no_reinforcement() -> None:
    res = run(encircled(pocket={"surrender_strength_fraction": 0.9},
                        supply={"stockpile_tonnes": 1e6, "consumption_tonnes_per_person_day":
                                0.02}))
    assert set(res.end_reason) == {"surrendered"}
    assert np.all(res.columns["defender_final_strength"] == 0.0)
    # no reinforcement reaches the pocket (reinforcement_rate 10 a day outside): every loss,
    # in combat or at the surrender, is of the day-0 garrison
    assert np.all(res.columns["defender_losses"] == 5000.0)
    flown_in = run(encircled(pocket={"surrender_strength_fraction": 0.9,
                                     "reinforced_in_pocket": True},
                             supply={"stockpile_tonnes": 1e6,
                                     "consumption_tonnes_per_person_day": 0.02}))
    assert np.all(flown_in.columns["defender_losses"] > 5000.0)  # 10 a day flown in


def test_dated_relief_ends_the_siege_held() -> None:
    res = run(encircled(pocket={"relief_day": 3.0},
                        supply={"stockpile_tonnes": 1e6, "consumption_tonnes_per_person_day":
                                0.02}))
    assert set(res.end_reason) == {"held"}
    assert np.all(res.columns["end_day"] == 3.0)
    assert np.all(res.columns["days_held"] == 3.0)


def test_relief_that_pushes_back_the_flanks_reopens_the_road() -> None:
    res = run(encircled(pocket={"relief_day": 3.0, "relief_flank_control": 0.3},
                        supply={"stockpile_tonnes": 1e6, "consumption_tonnes_per_person_day":
                                0.02}))
    assert set(res.end_reason) == {"held"}  # at the horizon, the attacker standing still
    assert np.all(res.columns["end_day"] == 40.0)
    assert np.all(res.columns["route_open_days_road"] == 37.0)


def test_break_out_has_the_losses_of_a_withdrawal_with_no_route_open() -> None:
    policy = {"kind": "threshold", "decision_latency_days": 0.0, "triggers": [
        {"name": "now", "measure": "day", "op": ">=", "threshold": 2}]}
    data = encircled(policy=policy, pocket={},
                     supply={"stockpile_tonnes": 1e6, "consumption_tonnes_per_person_day": 0.02},
                     attrition={"attacker_kill_rate": 0.0, "defender_kill_rate": 0.0})
    data["withdrawal"] = {"duration_days": 5.0, "loss_rate_per_day": 0.0,
                          "loss_rate_no_routes_per_day": 0.1}
    res = run(data, n=256)
    assert set(res.end_reason) == {"withdrew"}
    lost = res.columns["defender_losses"] / 5000.0  # no combat: the break-out's losses only
    expected = -math.expm1(-0.1 * 5.0)
    assert abs(lost.mean() - expected) < 4 * math.sqrt(expected * (1 - expected) / 5000 / 256)


def test_capture_ends_runs_captured_and_the_escaped_part_is_not_lost() -> None:
    def captured_run(escape: float) -> Any:
        data = scenario_data(
            capture={"capture_control": 0.5, "escape_fraction": escape},
            sectors=[{"name": "north", "flank": True, "advance_rate": 0.0},
                     {"name": "town", "fortified": True, "advance_rate": 0.3}],
            routes=[{"name": "road", "sectors": ["north"], "capacity_tonnes_per_day": 80.0}],
            policy={"kind": "hold", "triggers": []},
            attacker={"strength": 40000.0},
        )
        return run(data, n=32)

    out, lost = captured_run(1.0), captured_run(0.0)
    assert set(out.end_reason) == set(lost.end_reason) == {"captured"}
    assert np.all(out.columns["end_day"] < 40.0)
    assert np.all(lost.columns["defender_final_strength"] == 0.0)
    assert np.all(out.columns["defender_final_strength"] > 0.0)
    # the same runs (same seeds): what got out in one is what was lost in the other
    np.testing.assert_allclose(
        lost.columns["defender_losses"],
        out.columns["defender_losses"] + out.columns["defender_final_strength"])


def test_mean_engine_captures_and_refuses_a_pocket() -> None:
    data = scenario_data(
        capture={"capture_control": 0.5},
        sectors=[{"name": "north", "flank": True, "advance_rate": 0.0},
                 {"name": "town", "fortified": True, "advance_rate": 0.3}],
        routes=[{"name": "road", "sectors": ["north"], "capacity_tonnes_per_day": 80.0}],
        policy={"kind": "hold", "triggers": []},
        attacker={"strength": 40000.0},
    )
    res = run(data, n=1, engine="mean")
    assert list(res.end_reason) == ["captured"]
    with pytest.raises(SiegeError, match=r"mean engine does not represent a pocket"):
        run(encircled(), n=1, engine="mean")


def test_the_mean_engine_refuses_a_pocket_before_the_run_starts(tmp_path: Path) -> None:
    """One message naming the engine option and the scenario, exit status 2, before any block
    (no "replications ... failed"), and no results file."""
    kut = Path(__file__).resolve().parents[1] / "scenarios" / "history" / "kut.toml"
    out = tmp_path / "k.parquet"
    proc = run_cli("simulate", str(kut), "--engine", "mean", "--out", str(out))
    assert proc.returncode == 2
    assert "key '--engine': scenario 'kut': the mean engine does not represent a pocket" in \
        proc.stderr
    assert "failed" not in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(("change", "message"), [
    ({"routes": [{**AIR, "cut_at_control": 0.5}]}, "air route is never cut"),
    ({"pocket": {"relief_flank_control": 0.2}}, "needs relief_day"),
    ({"pocket": {"surrender_strength_fraction": 1.5}}, "less than or equal to 1"),
    ({"sectors": [{"name": "town"}], "routes": [{"name": "road", "sectors": ["town"],
                                                  "capacity_tonnes_per_day": 80.0}]},
     "at least one flank sector"),
    ({"routes": [AIR], "pocket": {"relief_day": 5.0, "relief_flank_control": 0.2}},
     "no ground route"),
])
def test_bad_pocket_keys_are_refused_clearly(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(encircled(**change))


def test_capture_needs_a_town_sector() -> None:
    data = encircled(capture={"capture_control": 0.9},
                     sectors=[{"name": "north", "flank": True}])
    data["routes"] = []
    with pytest.raises(ScenarioError, match="non-flank"):
        scenario_from_dict(data)


@pytest.mark.slow
def test_batch_and_event_engines_agree_on_a_pocket() -> None:
    """A pocket supplied by air, with surrender on hunger and a relief on day 14 that comes too
    late for some: the end days (two-sample KS at level 0.001: a difference of about 0.15 of
    the CDF is flagged with 200 against 800 replications) and the share surrendered (within
    four standard errors) agree."""
    data = encircled(routes=[*encircled()["routes"], AIR],
                     pocket={"surrender_shortfall_days": 3.0, "relief_day": 14.0})
    event = run(data, n=200, engine="event", seed=11)
    batch = run(data, n=800, engine="batch", seed=12)
    assert stats.ks_2samp(event.columns["end_day"], batch.columns["end_day"]).pvalue > 0.001
    shares = [float(np.mean(r.end_reason == "surrendered")) for r in (event, batch)]
    p = (shares[0] * 200 + shares[1] * 800) / 1000
    assert 0 < p < 1
    assert abs(shares[0] - shares[1]) < 4 * math.sqrt(p * (1 - p) * (1 / 200 + 1 / 800))
    for res in (event, batch):
        assert set(res.end_reason) <= {"surrendered", "held"}


def test_sweeps_and_calibrations_refuse_the_mean_engine_before_running(tmp_path: Path) -> None:
    """A sweep file naming the mean engine for a [pocket] scenario, and a calibration on the
    mean engine (one replication a run, where a calibration needs many a block): one message
    each, exit status 2, nothing written."""
    kut = Path(__file__).resolve().parents[1] / "scenarios" / "history" / "kut.toml"
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'scenario = "{kut}"\nengine = "mean"\n[design]\nmethod = "grid"\n'
                     '[[parameter]]\npath = "defender.strength"\nvalues = [9000, 11000]\n')
    store = tmp_path / "s.store"
    proc = run_cli("sweep", str(sweep), "--out", str(store), "-w", "1")
    assert proc.returncode == 2 and "sweep.toml" in proc.stderr and "engine" in proc.stderr
    assert "does not represent a pocket" in proc.stderr and not store.exists()
    cal = tmp_path / "cal.toml"
    cal.write_text(f'scenario = "{kut}"\n[[prior]]\npath = "defender.strength"\n'
                   'distribution = "uniform"\nlow = 8000\nhigh = 11000\n[[target]]\n'
                   'kind = "outcome"\nend_reason = "surrendered"\nend_day = 144\nsd = 1\n')
    out = tmp_path / "c.store"
    proc = run_cli("calibrate", str(cal), "--out", str(out), "--engine", "mean", "-w", "1")
    assert proc.returncode == 2 and "--engine" in proc.stderr
    assert "a calibration simulates many particles" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
