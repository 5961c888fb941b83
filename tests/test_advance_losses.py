"""The ``losses`` advance law: ground bought with the defender's losses (siege.model.advance,
siege.model.transitions.sector_loss_rates)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from siege.engines import run_block
from siege.engines.base import BlockInputs
from siege.errors import ScenarioError
from siege.model import rules, transitions
from siege.model.advance import drive
from siege.model.probes import Probe
from siege.model.state import init_state
from siege.scenario import scenario_from_dict
from siege.scenario.compile import build_params, build_varied_params
from test_engine_equivalence import compare

from conftest import scenario_data


def _data(**advance: Any) -> dict[str, Any]:
    data = scenario_data(advance=dict({"law": "losses"}, **advance))
    data["sectors"] = [dict(s, defender_effort=e)
                       for s, e in zip(data["sectors"], (2.0, 1.0, 1.0), strict=True)]
    return data


def _sector_rates(data: dict[str, Any]) -> np.ndarray:
    params = build_params(scenario_from_dict(data))
    state = init_state(params, np.arange(1), 1.0)
    return transitions.sector_loss_rates(state, params,
                                         transitions.effectiveness(state, params, 0.0))


def test_sector_losses_on_hand_checked_values() -> None:
    # square law: the garrison loses 0.004 * 12000 = 48 a day, shared as the attacker's
    # effort (a third each); defenders 2500, 1250, 1250 (efforts 2:1:1 of 5000)
    assert np.allclose(_sector_rates(_data()), [[16 / 2500, 16 / 1250, 16 / 1250]])
    # linear law: 1e-6 * 12000 * 5000 = 60 a day, shared as A_i * D_i (2:1:1): 30, 15, 15,
    # the same fraction of every sector's defenders
    data = _data()
    data["attrition"].update(law="linear", attacker_kill_rate=1e-6)
    assert np.allclose(_sector_rates(data), 60.0 / 5000.0)


def test_losses_drive_and_step_on_hand_checked_values() -> None:
    params = build_params(scenario_from_dict(_data(ground_per_loss=2.5)))
    lost = np.array([[0.01, 0.04, 0.0]])
    push = drive(np.ones((1, 3)), params, lost)
    assert np.allclose(push, [[0.025, 0.1, 0.0]])
    # gains scale with the ground left to take; the rate is 1/day, not the sectors' rates
    new = rules.advance_control(np.array([[0.2, 0.5, 0.3]]), push, 1.0, 2.0, np.ones((1, 3)))
    assert np.allclose(new, [[0.2 + 0.05 * 0.8, 0.5 + 0.2 * 0.5, 0.3]])
    undefended = transitions.UNDEFENDED_LOSS_RATE * np.ones((1, 3))
    step = rules.advance_control(np.array([[0.0, 0.5, 1.0]]), drive(undefended, params,
                                 undefended), 1.0, 1.0, np.ones((1, 3)))
    assert np.array_equal(step, np.ones((1, 3)))  # an undefended sector falls, finite


def test_ground_per_loss_is_checked_and_read_only_by_the_losses_law() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(scenario_data(advance={"ground_per_loss": 4.0}))
    assert err.value.key == "advance.ground_per_loss" and "'losses'" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_data(ground_per_loss=0.0))
    assert err.value.key == "advance.ground_per_loss" and "greater than 0" in str(err.value)


def test_ground_per_loss_may_take_one_value_per_replication() -> None:
    scenario = scenario_from_dict(_data())
    params = build_varied_params(scenario, {"advance.ground_per_loss": np.array([1.0, 4.0])})
    lost = np.full((2, 3), 0.01)
    assert np.allclose(drive(np.ones((2, 3)), params, lost), [[0.01] * 3, [0.04] * 3])


# ------------------------------------------------------------------------------------------
# effects through the batch engine


def _run(law: str, attackers: float) -> tuple[float, float]:
    """Median end day and median town control on the last day, 128 replications of the
    test scenario with no withdrawal (it ends by collapse or at the horizon)."""
    data = scenario_data(advance={"law": law} if law != "tanh" else {})
    data["simulation"]["horizon_days"] = 150.0
    data["attacker"]["strength"] = attackers
    data["defender"]["reinforcement_rate"] = 0.0
    data["policy"] = {"kind": "hold"}
    probe = Probe("value", "control_town", day=150.0)
    result = run_block("batch", scenario_from_dict(data), 0, 128, BlockInputs(probes=(probe,)))
    ended = result.columns["end_day"]
    return float(np.median(ended)), float(np.median(result.probes[:, 0]))


@pytest.mark.slow  # about 0.6 s
def test_more_attackers_take_ground_faster_and_a_spent_garrison_has_lost_its_ground() -> None:
    losses = _run("losses", 12000.0), _run("losses", 18000.0)
    tanh = _run("tanh", 12000.0), _run("tanh", 18000.0)
    # 1.5 times the attackers: the end comes sooner, by a larger share of the days than
    # under tanh (medians of 128 replications on common random numbers: 20 -> 13 days
    # against 61 -> 51 here)
    sooner = 1.0 - losses[1][0] / losses[0][0]
    assert sooner > 0.25 and sooner > 1.5 * (1.0 - tanh[1][0] / tanh[0][0])
    # the garrison spent, it has lost more of the town than a rate-bound advance takes
    assert losses[0][1] > tanh[0][1] + 0.2


@pytest.mark.slow  # event-engine replications
def test_batch_and_event_engines_agree_under_the_losses_law() -> None:
    scenario = scenario_from_dict(_data()).with_overrides({"simulation.time_step_days": 0.125})
    result = compare(scenario, 300, 4000)
    assert not result.failures(), result.failures()


def test_the_mean_engine_follows_the_losses_law() -> None:
    # the expected rates, integrated: the end day lies inside the batch engine's central 80 %
    scenario = scenario_from_dict(_data())
    mean = run_block("mean", scenario, 0, 1).columns["end_day"][0]
    batch = run_block("batch", scenario, 0, 64).columns["end_day"]
    low, high = np.percentile(batch, [10, 90])
    assert low <= mean <= high and mean < scenario.simulation.horizon_days
