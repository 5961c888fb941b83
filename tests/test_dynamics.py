"""Mechanisms of the model, run through the batch engine on small scenarios."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from siege import rng, simulate
from siege.engines.base import combat_step
from siege.model import transitions
from siege.model.arrivals import convoy_arrives
from siege.model.state import init_state
from siege.rng import STREAM_BLOCK, BatchStreams
from siege.scenario import build_params, scenario_from_dict

from conftest import scenario_data


def run(data: dict, n: int = 256):  # type: ignore[no-untyped-def, type-arg]
    return simulate(scenario_from_dict(data), replications=n)


def test_every_replication_ends_exactly_once_within_horizon() -> None:
    res = run(scenario_data())
    assert set(res.end_reason) <= {
        "held",
        "withdrew",
        "encircled",
        "collapsed",
        "attacker_culminated",
    }
    assert np.all(res.columns["end_day"] <= 40.0 + 1e-9)
    assert np.all(res.columns["days_held"] <= res.columns["end_day"] + 1e-9)
    assert np.all(res.columns["defender_losses"] >= 0)


def test_decision_latency_delays_the_order_exactly() -> None:
    data = scenario_data(
        policy={
            "kind": "threshold",
            "review_interval_days": 1.0,
            "decision_latency_days": 3.5,
            "triggers": [{"name": "date", "measure": "day", "op": ">=", "threshold": 10}],
        },
        withdrawal={
            "duration_days": 2.0,
            "loss_rate_per_day": 0.0,
            "loss_rate_no_routes_per_day": 0.0,
        },
        sectors=[{"name": "town", "fortified": True, "advance_rate": 0.0}],
        routes=[],
        defender={"strength": 5000.0, "collapse_fraction": 0.0},
        attacker={"strength": 100.0, "culmination_fraction": 0.0},
    )
    res = run(data, n=64)
    assert np.all(res.end_reason == "withdrew")
    assert np.all(res.columns["trigger_first_day_date"] == 10.0)
    assert np.all(res.columns["withdrawal_start_day"] == 13.5)
    assert np.all(res.columns["end_day"] == 15.5)
    assert np.all(res.columns["days_held"] == 13.5)


def _pocket(duration: float) -> dict:  # type: ignore[type-arg]
    return scenario_data(
        policy={
            "kind": "threshold",
            "decision_latency_days": 0.0,
            "triggers": [{"name": "now", "measure": "day", "op": ">=", "threshold": 0}],
        },
        withdrawal={"duration_days": duration},
        sectors=[
            {
                "name": "north",
                "flank": True,
                "control": 0.85,
                "advance_rate": 2.0,
                "attacker_effort": 1.0,
                "defender_effort": 0.01,
            },
            {
                "name": "south",
                "flank": True,
                "control": 0.85,
                "advance_rate": 2.0,
                "attacker_effort": 1.0,
                "defender_effort": 0.01,
            },
            {"name": "town", "fortified": True, "attacker_effort": 0.0},
        ],
        routes=[
            {
                "name": "west",
                "sectors": ["north", "south"],
                "capacity_tonnes_per_day": 50.0,
                "cut_at_control": 0.9,
                "restore_below_control": 0.5,
            }
        ],
        encirclement={"closure_flank_control": 0.9},
    )


def test_pocket_closing_mid_withdrawal_loses_the_garrison() -> None:
    res = run(_pocket(duration=20.0), n=64)
    assert np.all(res.end_reason == "encircled")
    assert np.all(res.columns["end_day"] < 20.0)
    assert np.all(res.columns["defender_final_strength"] == 0.0)
    # everyone who was there is lost: losses at least the day-0 garrison
    assert np.all(res.columns["defender_losses"] >= 5000.0)
    assert np.all(res.columns["withdrawal_start_day"] == 0.0)


def test_quick_withdrawal_escapes_the_same_pocket() -> None:
    res = run(_pocket(duration=0.5), n=64)
    assert np.all(res.end_reason == "withdrew")
    assert np.all(res.columns["end_day"] == 0.5)


def test_cut_route_stops_deliveries_and_supply_runs_out() -> None:
    data = scenario_data(
        sectors=[{"name": "north", "control": 1.0, "advance_rate": 0.0}],
        routes=[
            {
                "name": "west",
                "sectors": ["north"],
                "capacity_tonnes_per_day": 1e4,
                "cut_at_control": 0.5,
                "restore_below_control": 0.2,
            }
        ],
        supply={"stockpile_tonnes": 1000.0, "consumption_tonnes_per_person_day": 0.02},
        policy={"kind": "hold"},
        defender={"strength": 5000.0, "collapse_fraction": 0.0, "reinforcement_rate": 0.0},
        attacker={"strength": 1.0, "culmination_fraction": 0.0},
        attrition={"attacker_kill_rate": 0.0, "defender_kill_rate": 0.0},
    )
    res = run(data, n=64)
    assert np.all(res.columns["route_open_days_west"] == 0.0)
    # 1000 t at 100 t/day lasts 10 days; the remaining 30 days are short
    assert np.all(res.columns["supply_shortfall_days"] == 30.0)


def test_open_route_keeps_supply_up() -> None:
    data = scenario_data(
        sectors=[{"name": "north", "control": 0.0, "advance_rate": 0.0}],
        routes=[{"name": "west", "sectors": ["north"], "capacity_tonnes_per_day": 1e4}],
        supply={"stockpile_tonnes": 1000.0, "consumption_tonnes_per_person_day": 0.02},
        policy={"kind": "hold"},
        attrition={"attacker_kill_rate": 0.0, "defender_kill_rate": 0.0},
    )
    res = run(data, n=64)
    assert np.all(res.columns["route_open_days_west"] == 40.0)
    assert np.all(res.columns["supply_shortfall_days"] == 0.0)


def one_route(interdiction: float, route: dict[str, Any] | None = None,
              **changes: Any) -> dict[str, Any]:
    """Scenario data with one route, ``west`` (``route`` updates it), interdicted at a fixed
    probability, through one sector the defender holds; ``changes`` as in scenario_data."""
    west = {"name": "west", "sectors": ["north"], "capacity_tonnes_per_day": 100.0,
            "interdiction_base": interdiction, "interdiction_at_full_control": interdiction}
    return scenario_data(sectors=[{"name": "north", "control": 0.0}],
                         routes=[west | (route or {})], **changes)


def test_interdiction_loses_convoys_at_its_probability() -> None:
    params = build_params(scenario_from_dict(one_route(0.3)))
    n = 4096
    state = init_state(params, np.arange(n), 1.0)
    state.stockpile[:] = 0.0
    streams = BatchStreams(7, 0, n)
    convoys = 25
    for _ in range(convoys):
        convoy_arrives(state, params, 0, streams)
    load = params.convoy_load[0]
    lost_fraction = 1 - state.stockpile.sum() / (n * convoys * load)
    sd = np.sqrt(0.3 * 0.7 / (n * convoys))
    assert abs(lost_fraction - 0.3) < 4 * sd


def test_convoys_delivered_together_equal_convoys_delivered_one_by_one() -> None:
    """The batch engine delivers the convoys of a step in one draw per route: the same
    uniforms, in the same order, and the same stockpile (capped at storage) as one by one."""
    data = one_route(0.4, {"capacity_tonnes_per_day": 600.0, "convoys_per_day": 6},
                     supply={"stockpile_tonnes": 100.0, "storage_tonnes": 400.0})
    params = build_params(scenario_from_dict(data))
    n = 2 * STREAM_BLOCK + 808  # three stream blocks, the last one partial
    one, together = (init_state(params, np.arange(n), 1.0) for _ in range(2))
    a, b = BatchStreams(5, 0, n), BatchStreams(5, 0, n)
    rows = b.random_rows(rng.CONVOYS, 6, n)
    singles = np.concatenate([a.random_rows(rng.CONVOYS, 1, n) for _ in range(6)])
    assert np.array_equal(rows, singles)
    a, b = BatchStreams(6, 0, n), BatchStreams(6, 0, n)
    for _ in range(6):
        convoy_arrives(one, params, 0, a)
    convoy_arrives(together, params, 0, b, count=6)
    np.testing.assert_allclose(together.stockpile, one.stockpile, rtol=0, atol=1e-9)
    assert together.stockpile.max() == 400.0 and together.stockpile.min() < 400.0


@pytest.mark.parametrize("overdispersion", [0.0, 0.05])
def test_loss_counts_have_the_stated_mean_and_variance(overdispersion: float) -> None:
    data = scenario_data(
        sectors=[],
        routes=[],
        supply={"consumption_tonnes_per_person_day": 0.0},
        attrition={
            "attacker_kill_rate": 0.002,
            "defender_kill_rate": 0.0,
            "overdispersion": overdispersion,
        },
        defender={"strength": 1e6, "reinforcement_rate": 0.0},
        attacker={"strength": 50000.0, "reinforcement_rate": 0.0, "replacement_rate": 0.0},
        fortification={"multiplier": 1.0},
        policy={"kind": "hold"},
    )
    params = build_params(scenario_from_dict(data))
    n = 20000
    state = init_state(params, np.arange(n), 1.0)
    state.window.open_cell()
    combat_step(state, params, 0.0, 1.0, BatchStreams(3, 0, n))
    losses = state.defender_losses
    mean = 0.002 * 50000  # 100 per day
    var = mean + overdispersion * mean**2
    assert abs(losses.mean() - mean) < 4 * np.sqrt(var / n)
    # variance of the sample variance ~ 2 var^2 / n (normal approx.; kurtosis small here)
    assert abs(losses.var(ddof=1) - var) < 5 * var * np.sqrt(2 / n) * (1 + 6 * overdispersion * 10)


def test_finished_replications_stop_changing() -> None:
    data = scenario_data(
        policy={
            "kind": "threshold",
            "triggers": [{"name": "date", "measure": "day", "op": ">=", "threshold": 5}],
        },
        withdrawal={"duration_days": 1.0},
        simulation={"horizon_days": 40.0, "sample_trajectories": 8},
    )
    res = run(data, n=64)
    q = res.bands.accumulator
    assert q.n_active[10] == 0  # all ended on day 6: nothing is advanced or recorded later
    samples = np.concatenate(res.bands.samples)
    assert np.all(np.isnan(samples[:, 10:, :]))


def test_attacker_culminates_when_reserves_run_dry() -> None:
    data = scenario_data(
        attacker={
            "strength": 12000.0,
            "reinforcement_rate": 0.0,
            "replacement_rate": 0.0,
            "culmination_fraction": 0.5,
        },
        attrition={"attacker_kill_rate": 0.0005, "defender_kill_rate": 0.05},
        policy={"kind": "hold"},
    )
    res = run(data, n=64)
    assert np.all(res.end_reason == "attacker_culminated")
    assert np.all(res.columns["attacker_final_strength"] < 6000.0)


def test_campaign_spread_widens_outcomes_and_keeps_mean_tempo() -> None:
    base = scenario_data(
        policy={"kind": "hold"},
        advance={"campaign_cv": 0.0, "noise_cv": 0.3},
        simulation={"horizon_days": 30.0, "sample_trajectories": 0},
    )
    spread = scenario_data(
        policy={"kind": "hold"},
        advance={"campaign_cv": 0.5, "noise_cv": 0.3},
        simulation={"horizon_days": 30.0, "sample_trajectories": 0},
    )
    q0 = run(base, n=2048).bands.accumulator.quantiles()
    q1 = run(spread, n=2048).bands.accumulator.quantiles()
    names = [s.name for s in run(base, n=1).bands.specs]
    i = names.index("control_town")
    width0 = q0[i, 30, 4] - q0[i, 30, 0]
    width1 = q1[i, 30, 4] - q1[i, 30, 0]
    assert width1 > 2 * width0  # the 5-95 % band of control widens markedly

    params = build_params(scenario_from_dict(spread))
    n = 8192
    state = init_state(params, np.arange(n), 1.0)
    transitions.draw_campaign_tempo(state, params, BatchStreams(1, 0, n))
    assert abs(state.tempo.mean() - 1.0) < 4 * 0.5 / np.sqrt(n)
    assert abs(state.tempo.std() - 0.5) < 0.05


def test_extreme_but_valid_parameters_run() -> None:
    """Denormal overdispersion and absurd kill rates: everyone present is lost, no crash."""
    data = scenario_data(
        attrition={
            "attacker_kill_rate": 1e15,
            "defender_kill_rate": 1e15,
            "overdispersion": 5e-324,
        },
        policy={"kind": "hold"},
    )
    res = run(data, n=64)
    # the whole day-0 force is lost on the first day; only that day's reinforcements remain
    assert np.all(res.columns["defender_losses"] >= 5000)
    assert np.all(res.columns["end_day"] == 1.0)
    assert set(res.end_reason) <= {"collapsed", "attacker_culminated"}


def test_state_overflow_is_a_clear_model_error() -> None:
    from siege.errors import RunError

    data = scenario_data(attacker={"strength": 1e4, "replacement_rate": 1e308})
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow being tested
        with pytest.raises(RunError, match=r"failed: ModelError: .*too large to simulate"):
            run(data, n=16)


def test_rolling_window_holds_the_last_cells_and_pieces_add_into_the_open_one() -> None:
    from siege.model.state import RollingWindow

    window = RollingWindow.empty(1, 3)
    for losses in (1.0, 2.0, 4.0, 8.0):  # the first cell leaves the window
        window.open_cell()
        window.add(np.array([losses]), np.array([2 * losses]))
    assert window.sum_defender.tolist() == [14.0]
    window.add(np.array([1.0]), np.array([0.0]))  # a second piece of the same cell
    assert window.sum_defender.tolist() == [15.0]
    assert window.exchange_ratio().tolist() == [28.0 / 15.0]
    window.open_cell()  # drops the cell of 2
    assert window.sum_defender.tolist() == [13.0]


def test_outcome_columns_are_those_of_the_outcome_table() -> None:
    from siege.model.outcomes import OUTCOMES, computed_columns

    data = scenario_data()
    res = run(data, n=8)
    params = build_params(scenario_from_dict(data))
    assert list(res.columns) == computed_columns(params)
    assert computed_columns(params)[-3:] == [
        "route_open_days_west", "route_open_days_southwest", "trigger_first_day_threat"]
    assert set(OUTCOMES) >= {"replication", "end_reason", "days_held"}
