"""The scenario schema: defaults, validation, overrides, extends."""

from __future__ import annotations

import math

import pytest

from siege.errors import ScenarioError
from siege.scenario import (
    apply_overrides,
    load_scenario,
    parse_assignment,
    scenario_from_dict,
    scenario_from_json,
    to_toml,
)

from conftest import SCENARIOS, scenario_data


def test_bundled_scenarios_load() -> None:
    for path in sorted(SCENARIOS.glob("*.toml")):
        sc = load_scenario(path)
        assert sc.simulation.horizon_days >= 1
        assert sc.sector_names and sc.route_names


def test_defaults_are_filled_and_documented() -> None:
    sc = scenario_from_dict(scenario_data())
    assert sc.simulation.sample_trajectories == 20
    assert math.isinf(sc.defender.trained_reserves)
    # every field carries a description (units live there)
    from siege.scenario.schema import Route, Sector, Supply

    for model in (Route, Sector, Supply):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_unknown_key_is_an_error_naming_key_and_allowed() -> None:
    data = scenario_data()
    data["attacker"]["strenght"] = 1
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert err.value.key == "attacker.strenght"
    assert "allowed here" in str(err.value) and "strength" in str(err.value)


def test_route_referring_to_missing_sector_is_rejected() -> None:
    data = scenario_data()
    data["routes"][0]["sectors"] = ["nowhere"]
    with pytest.raises(ScenarioError, match="'nowhere'"):
        scenario_from_dict(data)


@pytest.mark.parametrize(
    ("table", "key", "value", "needle"),
    [
        ("defender", "strength", -5, "greater than or equal to 0"),
        ("simulation", "replications", 0, "greater than or equal to 1"),
        ("simulation", "time_step_days", 100.0, "longer than horizon_days"),
        ("attrition", "law", "cubic", "square"),
        ("attacker", "strength", "many", "valid number"),
    ],
)
def test_impossible_values_are_rejected(table: str, key: str, value: object, needle: str) -> None:
    data = scenario_data()
    data[table][key] = value
    with pytest.raises(ScenarioError, match=needle) as err:
        scenario_from_dict(data)
    assert err.value.key is not None and err.value.key.startswith(table)


def test_probability_outside_unit_interval_names_route() -> None:
    data = scenario_data()
    data["routes"][1]["interdiction_base"] = 1.5
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert err.value.key == "routes.southwest.interdiction_base"


def test_overrides_address_routes_by_name_and_validate() -> None:
    sc = scenario_from_dict(scenario_data())
    new = sc.with_overrides({"routes.west.capacity_tonnes_per_day": 10, "attacker.strength": 1e4})
    assert new.routes[0].capacity_tonnes_per_day == 10
    assert new.attacker.strength == 1e4
    assert sc.routes[0].capacity_tonnes_per_day == 80  # immutable original
    with pytest.raises(ScenarioError, match="no route named 'east'"):
        sc.with_overrides({"routes.east.capacity_tonnes_per_day": 1})
    with pytest.raises(ScenarioError) as err:
        sc.with_overrides({"sectors.north.control": 2.0})
    assert err.value.key == "sectors.north.control"


def test_parse_assignment_reads_toml_values() -> None:
    assert parse_assignment("attacker.strength=4e4") == ("attacker.strength", 40000.0)
    assert parse_assignment("policy.kind=hold") == ("policy.kind", "hold")
    assert parse_assignment('policy.kind="hold"') == ("policy.kind", "hold")
    with pytest.raises(ScenarioError):
        parse_assignment("attacker.strength")


def test_event_paths_are_checked() -> None:
    data = scenario_data(events=[{"day": 5, "set": {"attacker.strength": 1}}])
    with pytest.raises(ScenarioError, match="day-0 strength"):
        scenario_from_dict(data)
    data = scenario_data(events=[{"day": 5, "set": {"attacker.replacement_rte": 1}}])
    with pytest.raises(ScenarioError, match="unknown key 'replacement_rte'"):
        scenario_from_dict(data)


def test_sha_and_json_round_trip() -> None:
    sc = load_scenario(SCENARIOS / "bakhmut.toml")
    back = scenario_from_json(sc.to_json())
    assert back == sc and back.sha256() == sc.sha256()
    assert apply_overrides(sc, {"simulation.seed": 1}).sha256() != sc.sha256()


def test_resolved_toml_reloads_identically(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sc = load_scenario(SCENARIOS / "bakhmut.toml")
    path = tmp_path / "resolved.toml"
    path.write_text(to_toml(sc))
    assert load_scenario(path) == sc


def test_extends_merges_tables_and_replaces_arrays() -> None:
    base = load_scenario(SCENARIOS / "bakhmut.toml")
    early = load_scenario(SCENARIOS / "bakhmut_early_withdrawal.toml")
    assert early.attacker == base.attacker
    assert early.policy.decision_latency_days != base.policy.decision_latency_days
    assert [t.name for t in early.policy.triggers] == ["two_roads_under_fire", "encirclement"]


def test_malformed_toml_reports_line(write_scenario) -> None:  # type: ignore[no-untyped-def]
    path = write_scenario("[simulation]\nhorizon_days = 30\nseed = = 3\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.line == 3


def test_validation_error_reports_line_of_key(write_scenario) -> None:  # type: ignore[no-untyped-def]
    from conftest import to_toml as dump

    data = scenario_data()
    data["routes"][1]["interdiction_base"] = 1.5
    text = dump(data)
    path = write_scenario(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    line = text.splitlines()[err.value.line - 1]
    assert line.startswith("interdiction_base = 1.5")


def test_committed_reference_matches_schema() -> None:
    from siege.scenario import reference_markdown

    from conftest import ROOT

    committed = (ROOT / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "run: siege schema > docs/scenario-reference.md"


def test_allowed_laws_and_trigger_measures_come_from_the_model_registries() -> None:
    from typing import get_args

    from siege.model.laws import LAWS
    from siege.model.measures import TRIGGER_MEASURES
    from siege.scenario.schema import Attrition, Trigger

    assert get_args(Attrition.model_fields["law"].annotation) == tuple(LAWS)
    assert get_args(Trigger.model_fields["measure"].annotation) == TRIGGER_MEASURES
    data = scenario_data(policy={"triggers": [
        {"name": "x", "measure": "defender_strength", "op": "<", "threshold": 1}]})
    with pytest.raises(ScenarioError, match="encirclement_threat"):  # a band-only measure
        scenario_from_dict(data)


@pytest.mark.parametrize(
    ("measure", "threshold", "needle"),
    [
        ("encirclement_threat", 1.5, r"encirclement_threat thresholds lie in \[0, 1\]"),
        ("routes_under_fire", 3, r"lie in \[0, 2\] \(routes defined\)"),
        ("days_of_supply", -1, "days_of_supply thresholds are >= 0"),
        ("rolling_exchange_ratio", -0.5, "rolling_exchange_ratio thresholds are >= 0"),
        ("day", math.nan, "not nan"),
    ],
)
def test_trigger_thresholds_lie_in_their_measures_values(
    measure: str, threshold: float, needle: str
) -> None:
    data = scenario_data(policy={"kind": "threshold", "triggers": [
        {"name": "t", "measure": measure, "op": ">=", "threshold": threshold}]})
    with pytest.raises(ScenarioError, match=needle) as err:
        scenario_from_dict(data)
    assert err.value.key == "policy.triggers.t.threshold"


def test_a_measure_that_needs_a_date_names_it() -> None:
    data = scenario_data(policy={"kind": "threshold", "triggers": [
        {"name": "t", "measure": "days_past_counteroffensive", "op": ">=", "threshold": -3}]})
    with pytest.raises(ScenarioError, match=r"needs simulation\.counteroffensive_day"):
        scenario_from_dict(data)
    data["simulation"]["counteroffensive_day"] = 10.0
    assert scenario_from_dict(data).policy.triggers[0].threshold == -3
