"""Advance laws (siege.model.advance), the per-side attrition law 'general', and law
parameters changed by dated events (phases)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from siege.engines import run_block
from siege.errors import ScenarioError
from siege.model import rules
from siege.model.advance import ADVANCE_LAWS, drive
from siege.model.laws import LAWS
from siege.model.params import AttritionParams, ModelParams
from siege.scenario import scenario_from_dict
from siege.scenario.compile import build_params

from conftest import scenario_data


def _params(**advance: Any) -> ModelParams:
    return build_params(scenario_from_dict(scenario_data(advance=advance)))


# ------------------------------------------------------------------------------------------
# the advance laws' drives, on values checked by hand


def test_tanh_law_is_the_rule_as_it_was() -> None:
    ratio = np.array([[0.1, 0.5, 1.0, 2.0, 7.0]])
    params = _params(sensitivity=1.5, parity=0.7)
    assert params.advance_law == "tanh"  # the default
    assert np.array_equal(drive(ratio, params), np.tanh(1.5 * np.log(ratio / 0.7)))


def test_dupuy_drive_on_hand_checked_values() -> None:
    ratio = np.array([[0.125, 0.25, 0.5, 1.0, 2.0, 4.0]])
    # parity 0.5: R / parity = 1/4, 1/2, 1, 2, 4, 8; below parity the mirror image
    linear = drive(ratio, _params(law="dupuy", parity=0.5))
    assert np.allclose(linear, [[-3.0, -1.0, 0.0, 1.0, 3.0, 7.0]])
    root = drive(ratio, _params(law="dupuy", parity=0.5, exponent=0.5))
    assert np.allclose(root, [[-np.sqrt(3), -1.0, 0.0, 1.0, np.sqrt(3), np.sqrt(7)]])


def test_dupuy_keeps_rising_where_tanh_is_flat() -> None:
    ratio = np.array([[4.0, 5.0, 6.0, 7.0]])  # ratios over parity of a siege's flanks
    flat = drive(ratio, _params())
    rising = drive(ratio, _params(law="dupuy"))
    assert np.all(np.diff(flat) < 0.05) and np.all(flat > 0.88)  # tanh: near its ceiling, 1
    assert np.allclose(np.diff(rising), 1.0)  # dupuy: one more unit of drive per unit of ratio


def test_dupuy_step_stays_finite_and_in_the_unit_interval_with_an_empty_sector() -> None:
    ratio = np.array([[0.0, np.inf, 1.0]])
    control = np.array([[0.3, 0.3, 1.0]])
    new = rules.advance_control(control, drive(ratio, _params(law="dupuy")),
                                np.array([0.1, 0.1, 0.1]), 1.0, np.ones((1, 3)))
    assert np.all(np.isfinite(new)) and np.all((new >= 0) & (new <= 1))
    assert new[0, 0] < 0.3 and new[0, 1] == 1.0 and new[0, 2] == 1.0


def test_allowed_advance_laws_come_from_the_registry() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(scenario_data(advance={"law": "lanchester"}))
    assert err.value.key == "advance.law"
    assert all(name in str(err.value) for name in ADVANCE_LAWS)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(scenario_data(advance={"law": "dupuy", "exponent": 0.0}))
    assert err.value.key == "advance.exponent" and "greater than 0" in str(err.value)


# ------------------------------------------------------------------------------------------
# the per-side law


def _general(**exponents: float) -> AttritionParams:
    return replace(AttritionParams("general", 0.5, 0.1, 0.2, 0.0), **exponents)


def test_general_law_on_hand_checked_values() -> None:
    a, d = np.array([100.0]), np.array([50.0])
    p = _general(attacker_firer_exponent=0.5, defender_target_exponent=1.0,
                 defender_firer_exponent=1.0, attacker_target_exponent=0.3)
    d_rate, a_rate = LAWS["general"].rates(a, d, np.array([0.1]), np.array([0.2]), p)
    assert np.allclose(d_rate, 0.1 * 10.0 * 50.0)  # 0.1 * 100**0.5 * 50**1
    assert np.allclose(a_rate, 0.2 * 50.0 * 100.0**0.3)


@pytest.mark.parametrize(("law", "exponents"), [
    ("square", {}),
    ("linear", {"defender_target_exponent": 1.0, "attacker_target_exponent": 1.0}),
    ("helmbold", {"attacker_firer_exponent": 0.5, "defender_target_exponent": 0.5,
                  "defender_firer_exponent": 0.5, "attacker_target_exponent": 0.5}),
])
def test_general_law_holds_the_others_as_special_cases(law: str, exponents: dict[str, float]
                                                       ) -> None:
    a, d = np.array([100.0, 3000.0]), np.array([50.0, 7000.0])
    fire = (np.array([0.1, 0.01]), np.array([0.2, 0.03]))
    expected = LAWS[law].rates(a, d, *fire, _general())  # helmbold_exponent 0.5
    got = LAWS["general"].rates(a, d, *fire, _general(**exponents))
    assert np.allclose(expected, got)


def test_general_law_a_side_with_nobody_inflicts_no_losses() -> None:
    p = _general(attacker_firer_exponent=0.0, defender_firer_exponent=0.0)
    d_rate, a_rate = LAWS["general"].rates(np.array([0.0, 10.0]), np.array([10.0, 0.0]),
                                           np.array([1.0, 1.0]), np.array([1.0, 1.0]), p)
    assert d_rate[0] == 0.0 and a_rate[1] == 0.0


def test_general_law_exponents_are_checked() -> None:
    bad = {"attacker_kill_rate": 0.004, "defender_kill_rate": 0.01, "law": "general",
           "defender_target_exponent": 2.5}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(scenario_data(attrition=bad))
    assert err.value.key == "attrition.defender_target_exponent"
    assert "less than or equal to 2" in str(err.value)


# ------------------------------------------------------------------------------------------
# effects through the batch engine


def _median_end(law: str, attackers: float, rate_scale: float) -> float:
    data = scenario_data(advance={"law": law})
    data["simulation"]["horizon_days"] = 120.0
    data["attacker"]["strength"] = attackers
    data["sectors"] = [dict(s, advance_rate=s["advance_rate"] * rate_scale)
                       for s in data["sectors"]]
    return float(np.median(run_block("batch", scenario_from_dict(data), 0, 256)
                           .columns["end_day"]))


def test_more_attackers_end_the_siege_sooner_under_dupuy_than_under_tanh() -> None:
    # the dupuy rates scaled so that both laws end the siege at about the same day at 12000
    tanh = _median_end("tanh", 12000.0, 1.0), _median_end("tanh", 18000.0, 1.0)
    dupuy = _median_end("dupuy", 12000.0, 0.4), _median_end("dupuy", 18000.0, 0.4)
    assert abs(tanh[0] - dupuy[0]) <= 0.1 * tanh[0]
    # medians of 256 replications on common random numbers (about 17 days against 6 here)
    assert tanh[0] > tanh[1] and dupuy[0] - dupuy[1] > 2.0 * (tanh[0] - tanh[1])


def test_general_law_runs_and_its_exponents_matter() -> None:
    base = {"attacker_kill_rate": 0.004, "defender_kill_rate": 0.01, "law": "general"}
    square = scenario_from_dict(scenario_data(attrition=dict(base, law="square")))
    same = scenario_from_dict(scenario_data(attrition=base))
    steeper = scenario_from_dict(scenario_data(attrition=dict(base,
                                                              attacker_firer_exponent=1.05)))
    a, b, c = (run_block("batch", s, 0, 64) for s in (square, same, steeper))
    assert np.array_equal(a.columns["defender_losses"], b.columns["defender_losses"])
    assert np.median(c.columns["defender_losses"]) > np.median(a.columns["defender_losses"])


# ------------------------------------------------------------------------------------------
# phases: law parameters changed by dated events

PHASE = {"attrition.attacker_kill_rate": 0.008, "attrition.law": "general",
         "attrition.defender_target_exponent": 0.1, "advance.law": "dupuy",
         "advance.parity": 0.8, "advance.exponent": 0.7}


def _phased(day: float | None) -> Any:
    data = scenario_data()
    data["policy"] = {"kind": "hold"}
    data["defender"]["collapse_fraction"] = 0.0
    data["attacker"]["culmination_fraction"] = 0.0
    if day is None:  # the phase's values from the start
        for path, value in PHASE.items():
            table, key = path.split(".")
            data.setdefault(table, {})[key] = value
    else:
        data["events"] = [{"day": day, "set": PHASE, "note": "a new phase"}]
    return scenario_from_dict(data)


@pytest.mark.parametrize(("engine", "n"), [("batch", 128), ("event", 6)])
def test_a_phase_changes_nothing_before_its_day_and_applies_after(engine: str, n: int) -> None:
    plain, phased = run_block(engine, _phased(1e6), 0, n), run_block(engine, _phased(20.0), 0, n)
    losses = [m.name for m in plain.bands.specs].index("defender_losses")
    # identical daily bands up to day 20, different after
    assert np.array_equal(plain.samples[:, :21], phased.samples[:, :21], equal_nan=True)
    assert not np.array_equal(plain.samples[:, 21:, losses], phased.samples[:, 21:, losses])
    # a phase on day 0 is the same as its values from the start
    start, at_zero = run_block(engine, _phased(None), 0, n), run_block(engine, _phased(0.0), 0, n)
    for column in ("end_day", "defender_losses", "attacker_losses"):
        assert np.array_equal(start.columns[column], at_zero.columns[column])


def test_mean_engine_follows_the_dupuy_law_and_the_general_law() -> None:
    attrition = {"attacker_kill_rate": 0.004, "defender_kill_rate": 0.01, "law": "general",
                 "defender_target_exponent": 0.1}
    data = scenario_data(advance={"law": "dupuy"}, attrition=attrition)
    scenario = scenario_from_dict(data)
    mean, batch = run_block("mean", scenario, 0, 1), run_block("batch", scenario, 0, 256)
    low, high = np.percentile(batch.columns["end_day"], [10, 90])
    assert low <= mean.columns["end_day"][0] <= high


@pytest.mark.slow
def test_engines_agree_under_the_dupuy_law_and_the_general_law() -> None:
    from test_engine_equivalence import FINE_STEP, compare, random_scenario

    base = random_scenario(1)
    scenario = base.with_overrides({
        "simulation.time_step_days": FINE_STEP, "advance.law": "dupuy", "advance.exponent": 0.7,
        "attrition.law": "general", "attrition.attacker_firer_exponent": 0.9,
        "attrition.defender_target_exponent": 0.1, "attrition.attacker_target_exponent": 0.05,
        **{f"sectors.{s.name}.advance_rate": 0.3 * s.advance_rate for s in base.sectors}})
    result = compare(scenario, 120, 4096)  # fewer than the other random scenarios: time
    assert not result.failures(), (scenario.to_json(), result.failures())


def test_a_general_fit_is_written_as_the_general_law_with_the_same_losses() -> None:
    from siege.analysis.fit_laws import expected_losses, scenario_law

    keys, note = scenario_law("general", 0.5, 0.9)
    assert keys is not None and keys["law"] == "general" and not note
    attrition = {**keys, "attacker_kill_rate": 0.01, "defender_kill_rate": 0.02}
    params = build_params(scenario_from_dict(scenario_data(attrition=attrition))).attrition
    a, d = np.array([40_000.0, 100.0]), np.array([30_000.0, 7.0])
    model = LAWS["general"].rates(a, d, np.full(2, 0.01), np.full(2, 0.02), params)
    assert np.allclose(model, expected_losses(0.01, 0.02, 0.5, 0.9, a, d))
