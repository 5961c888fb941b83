"""Blocks in which every replication carries its own parameter values, and probes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siege.engines import BlockInputs, run_block
from siege.model.probes import Probe
from siege.model.rules import END_REASONS
from siege.rng import STREAM_BLOCK
from siege.scenario import load_scenario, scenario_from_dict
from siege.scenario.compile import build_params, build_varied_params, why_not_varied

from conftest import scenario_data

VALUES = {  # one path of each kind the rules read per replication, at the scenario's values
    "defender.quality": 1.0,
    "attacker.reinforcement_rate": 40.0,
    "attrition.defender_kill_rate": 0.01,
    "advance.parity": 1.0,
    "advance.sensitivity": 1.0,
    "advance.multiplier": 1.0,
    "sectors.north.advance_rate": 0.05,
    "routes.west.cut_at_control": 0.8,
    "routes.southwest.under_fire_at": 0.2,
    "policy.triggers.threat.threshold": 0.6,
    "fortification.multiplier": 2.0,
    "withdrawal.loss_rate_per_day": 0.01,
}


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    return np.array_equal(a.reason, b.reason) and all(
        np.array_equal(a.columns[c], b.columns[c], equal_nan=True) for c in a.columns
    ) and np.array_equal(a.bands.counts, b.bands.counts)


@pytest.mark.parametrize(("engine", "n"), [("batch", 300), ("event", 12)])
def test_values_per_replication_equal_to_the_scenario_change_nothing(engine: str, n: int) -> None:
    scenario = scenario_from_dict(scenario_data())
    values = {p: np.full(n, v) for p, v in VALUES.items()}
    assert _same(run_block(engine, scenario, 0, n),
                 run_block(engine, scenario, 0, n, BlockInputs(values)))


def _random_values(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "attrition.defender_kill_rate": rng.uniform(0.005, 0.02, n),
        "sectors.north.advance_rate": rng.uniform(0.02, 0.1, n),
        "routes.west.cut_at_control": rng.uniform(0.7, 0.9, n),
        "advance.parity": rng.uniform(0.5, 2.0, n),
        "advance.sensitivity": rng.uniform(0.5, 2.0, n),
        "policy.triggers.threat.threshold": rng.uniform(0.4, 0.8, n),
    }


def test_event_replication_with_its_own_values_is_the_run_of_its_own_scenario() -> None:
    scenario = scenario_from_dict(scenario_data())
    n = 5
    values = _random_values(n)
    block = run_block("event", scenario, 0, n, BlockInputs(values))
    for i in range(n):
        own = scenario.with_overrides({p: float(v[i]) for p, v in values.items()})
        alone = run_block("event", own, 0, i + 1)  # blocks start on a cell of the moments
        for c in alone.columns:
            assert np.array_equal(alone.columns[c][i:], block.columns[c][i:i + 1],
                                  equal_nan=True)


def test_batch_stream_blocks_with_their_own_values_are_the_runs_of_their_scenarios() -> None:
    # stream blocks draw independently: a block of two stream blocks, each with its own values
    # throughout, is the two scenarios' runs side by side
    scenario = scenario_from_dict(scenario_data(simulation={"horizon_days": 15.0}))
    low, high = {"advance.parity": 0.7, "attacker.quality": 1.2}, {"advance.parity": 1.4,
                                                                   "attacker.quality": 0.8}
    values = {p: np.repeat([low[p], high[p]], STREAM_BLOCK) for p in low}
    both = run_block("batch", scenario, 0, 2 * STREAM_BLOCK, BlockInputs(values))
    first = run_block("batch", scenario.with_overrides(low), 0, 2 * STREAM_BLOCK)
    second = run_block("batch", scenario.with_overrides(high), 0, 2 * STREAM_BLOCK)
    half = slice(0, STREAM_BLOCK), slice(STREAM_BLOCK, 2 * STREAM_BLOCK)
    for c in both.columns:
        assert np.array_equal(both.columns[c][half[0]], first.columns[c][half[0]], equal_nan=True)
        assert np.array_equal(both.columns[c][half[1]], second.columns[c][half[1]],
                              equal_nan=True)


def test_probes_read_the_daily_state_of_each_replication() -> None:
    scenario = scenario_from_dict(scenario_data())
    n = 40  # the first 20 keep sample trajectories to check the probes against
    probes = (Probe("value", "control_north", 10), Probe("value", "exchange_ratio", 1000),
              Probe("first", "control_town", op=">=", threshold=0.05),
              Probe("first", "route_cut_west", op=">=", threshold=1.0))
    block = run_block("batch", scenario, 0, n, BlockInputs(_random_values(n), probes))
    names = [s.name for s in block.bands.specs]
    samples = block.samples  # (k, days, measures) of replications 0..19
    k = samples.shape[0]
    assert np.array_equal(block.probes[:k, 0], samples[:, 10, names.index("control_north")])
    town = samples[:, :, names.index("control_town")]
    first = [np.flatnonzero(row >= 0.05)[0] if (row >= 0.05).any() else np.nan for row in town]
    assert np.array_equal(block.probes[:k, 2], first, equal_nan=True)
    # a value asked for after the end is the last one observed: the final exchange ratio
    assert np.array_equal(block.probes[:, 1], block.columns["exchange_ratio"], equal_nan=True)
    cut = block.probes[:, 3]
    assert np.all(np.isnan(cut) | ((cut >= 0) & (cut <= block.columns["end_day"])))
    assert np.all(np.isnan(cut) == np.isclose(block.columns["route_open_days_west"],
                                              block.columns["end_day"]))


def test_values_that_cannot_vary_per_replication_are_refused() -> None:
    scenario = scenario_from_dict(scenario_data(events=[
        {"day": 5.0, "set": {"advance.parity": 1.5}}]))
    assert why_not_varied(scenario, "attrition.defender_kill_rate") is None
    assert "spread" in str(why_not_varied(scenario, "advance.noise_cv"))
    assert "when" in str(why_not_varied(scenario, "policy.review_interval_days"))
    assert "dated event on day 5" in str(why_not_varied(scenario, "advance.parity"))
    with pytest.raises(ValueError, match="overdispersion"):
        build_varied_params(scenario, {"attrition.overdispersion": np.ones(3)})
    with pytest.raises(ValueError, match="no route named"):
        build_varied_params(scenario, {"routes.nowhere.cut_at_control": np.ones(3)})


@pytest.mark.parametrize(("engine", "n"), [("batch", 90), ("event", 12)])
def test_ended_replications_take_their_values_with_them(engine: str, n: int) -> None:
    # every third replication collapses at once; of the others, those whose defenders kill
    # nobody must lose nobody to the end, however the running replications are renumbered
    scenario = scenario_from_dict(scenario_data())
    i = np.arange(n)
    values = {"defender.collapse_fraction": np.where(i % 3 == 0, 0.999, 0.1),
              "attrition.defender_kill_rate": np.where(i % 3 == 1, 0.0, 0.05)}
    block = run_block(engine, scenario, 0, n, BlockInputs(values))
    assert np.all(block.columns["end_day"][i % 3 == 0] <= 2.0)
    assert np.all(block.columns["attacker_losses"][i % 3 == 1] == 0.0)
    assert np.all(block.columns["attacker_losses"][i % 3 == 2] > 0.0)


DIEN_BIEN_PHU = Path(__file__).resolve().parents[1] / "scenarios" / "history" / "dien_bien_phu.toml"
POCKET_PATHS = {f"capture.{k}": k for k in ("capture_control", "escape_fraction",
                                            "escape_fraction_no_routes")} | {
    f"pocket.{k}": k for k in ("surrender_strength_fraction", "surrender_supply_days",
                               "surrender_shortfall_days")}


@pytest.mark.parametrize(("engine", "n"), [("batch", 200),
                                           pytest.param("event", 3, marks=pytest.mark.slow)])
def test_capture_and_pocket_values_equal_to_the_scenario_change_nothing(engine: str,
                                                                        n: int) -> None:
    scenario = load_scenario(DIEN_BIEN_PHU)
    params = build_params(scenario)
    values = {p: np.full(n, float(getattr(params, k))) for p, k in POCKET_PATHS.items()}
    assert _same(run_block(engine, scenario, 0, n),
                 run_block(engine, scenario, 0, n, BlockInputs(values)))


def test_a_pocket_threshold_per_replication_changes_its_replications() -> None:
    scenario = load_scenario(DIEN_BIEN_PHU)
    n = 200
    never = np.where(np.arange(n) < n // 2, 0.35, -np.inf)  # the second half never gives up
    block = run_block("batch", scenario, 0, n, BlockInputs(
        {"pocket.surrender_strength_fraction": never}))
    surrendered = block.reason == END_REASONS.index("surrendered")
    assert surrendered[: n // 2].mean() > surrendered[n // 2:].mean()
    plain = scenario_from_dict(scenario_data())
    assert "no [capture] table" in str(why_not_varied(plain, "capture.capture_control"))
