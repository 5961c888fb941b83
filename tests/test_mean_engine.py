"""The mean-field engine: the expected-value dynamics of the rules, exact where the classics are
exact. Closed forms of the square law (with and without constant reinforcement: cosh and sinh),
the linear law and Helmbold's law (against a tight reference integration) to a relative 1e-7;
thresholds located where the state crosses them; the batch engine's mean converging to the
mean-field trajectory; the same results files as the other engines."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from siege import simulate
from siege.results.parquet import bands_path, read_metadata, read_results
from siege.scenario import Scenario, scenario_from_dict

D0, A0, DAYS = 50_000.0, 80_000.0, 12
TIGHT = {"rtol": 1e-12, "atol": 1e-9}


def engagement(law: str, a: float, b: float, *, days: float = DAYS, w: float = 0.5,
               defender: dict[str, Any] | None = None, attacker: dict[str, Any] | None = None,
               **simulation: Any) -> Scenario:
    """A battle in the minimal engagement form: two forces and an attrition law."""
    return scenario_from_dict({
        "simulation": {"horizon_days": days, "sample_trajectories": 1, **TIGHT, **simulation},
        "defender": {"strength": D0, **(defender or {})},
        "attacker": {"strength": A0, **(attacker or {})},
        "attrition": {"law": law, "helmbold_exponent": w, "attacker_kill_rate": a,
                      "defender_kill_rate": b},
    })


def trajectory(scenario: Scenario, measure: str) -> np.ndarray:
    """The mean-field run's daily values of a band measure (its one sample trajectory)."""
    result = simulate(scenario, engine="mean")
    names = [s.name for s in result.bands.specs]
    return np.concatenate(result.bands.samples)[0, :, names.index(measure)]


def test_square_law_matches_cosh_sinh() -> None:
    """dD/dt = -a A, dA/dt = -b D: D = D0 cosh(gt) - (a/g) A0 sinh(gt), g = sqrt(ab)."""
    a, b = 0.02, 0.015
    g = math.sqrt(a * b)
    t = np.arange(DAYS + 1)
    sc = engagement("square", a, b)
    expected_d = D0 * np.cosh(g * t) - a / g * A0 * np.sinh(g * t)
    expected_a = A0 * np.cosh(g * t) - b / g * D0 * np.sinh(g * t)
    np.testing.assert_allclose(trajectory(sc, "defender_strength"), expected_d, rtol=1e-7)
    np.testing.assert_allclose(trajectory(sc, "attacker_strength"), expected_a, rtol=1e-7)


def test_square_law_with_constant_reinforcement_matches_cosh_sinh() -> None:
    """With reinforcements r_D, r_A a day the deviation from the balance (r_A / b, r_D / a)
    follows the same hyperbolic functions."""
    a, b, r_d, r_a = 0.02, 0.015, 400.0, 900.0
    g = math.sqrt(a * b)
    t = np.arange(DAYS + 1)
    d_bar, a_bar = r_a / b, r_d / a
    sc = engagement("square", a, b, defender={"reinforcement_rate": r_d},
                    attacker={"reinforcement_rate": r_a})
    expected_d = d_bar + (D0 - d_bar) * np.cosh(g * t) - a / g * (A0 - a_bar) * np.sinh(g * t)
    expected_a = a_bar + (A0 - a_bar) * np.cosh(g * t) - b / g * (D0 - d_bar) * np.sinh(g * t)
    np.testing.assert_allclose(trajectory(sc, "defender_strength"), expected_d, rtol=1e-7)
    np.testing.assert_allclose(trajectory(sc, "attacker_strength"), expected_a, rtol=1e-7)


def test_linear_law_matches_its_closed_form() -> None:
    """dD/dt = -a A D, dA/dt = -b A D: D - (a/b) A = K is kept, and
    A = b K A0 / ((b K + a A0) exp(b K t) - a A0)."""
    a, b = 4e-7, 2e-7
    k = D0 - a / b * A0
    t = np.arange(DAYS + 1)
    expected_a = b * k * A0 / ((b * k + a * A0) * np.exp(b * k * t) - a * A0)
    expected_d = k + a / b * expected_a
    sc = engagement("linear", a, b)
    np.testing.assert_allclose(trajectory(sc, "attacker_strength"), expected_a, rtol=1e-7)
    np.testing.assert_allclose(trajectory(sc, "defender_strength"), expected_d, rtol=1e-7)


def test_helmbold_law_matches_a_tight_reference_integration() -> None:
    a, b, w = 0.02, 0.015, 0.38
    t = np.arange(DAYS + 1)

    def rhs(_t: float, y: np.ndarray) -> list[float]:
        d, at = y
        return [-a * at * (d / at) ** (1 - w), -b * d * (at / d) ** (1 - w)]

    ref = solve_ivp(rhs, (0, DAYS), [D0, A0], method="DOP853", t_eval=t, rtol=1e-13,
                    atol=1e-10)
    sc = engagement("helmbold", a, b, w=w)
    np.testing.assert_allclose(trajectory(sc, "defender_strength"), ref.y[0], rtol=1e-7)
    np.testing.assert_allclose(trajectory(sc, "attacker_strength"), ref.y[1], rtol=1e-7)


def test_collapse_is_located_where_the_strength_crosses_its_threshold() -> None:
    """The defence collapses when D falls to collapse_fraction x D0, at the root of the
    square law's closed form, not at the next whole day."""
    a, b, fraction = 0.02, 0.015, 0.6
    g = math.sqrt(a * b)
    sc = engagement("square", a, b, defender={"collapse_fraction": fraction}, days=60)
    t_star = brentq(lambda t: D0 * math.cosh(g * t) - a / g * A0 * math.sinh(g * t)
                    - fraction * D0, 0.0, 60.0, xtol=1e-14, rtol=1e-15)
    result = simulate(sc, engine="mean")
    assert result.end_reason.tolist() == ["collapsed"]
    assert result.columns["end_day"][0] == pytest.approx(t_star, rel=1e-8)
    assert result.columns["defender_final_strength"][0] == pytest.approx(fraction * D0,
                                                                         rel=1e-9)


def ground(**extra: Any) -> dict[str, Any]:
    """One flank sector the attacker takes at a constant push (no losses): its control is
    c(t) = 1 - (1 - c0) exp(-k t), k = advance rate x tanh(ln(A/D)), and one road beside it."""
    return {
        "simulation": {"horizon_days": 200.0, **TIGHT},
        "defender": {"strength": 1000.0},
        "attacker": {"strength": 2000.0},
        "attrition": {"attacker_kill_rate": 0.0, "defender_kill_rate": 0.0},
        "advance": {"noise_cv": 0.0},
        "sectors": [{"name": "flank", "control": 0.1, "advance_rate": 0.05, "flank": True}],
        "routes": [{"name": "road", "sectors": ["flank"], "capacity_tonnes_per_day": 100.0,
                    "cut_at_control": 0.5, "restore_below_control": 0.4}],
        "encirclement": {"closure_flank_control": 0.75},
        **extra,
    }


def test_route_cut_and_pocket_closure_are_located_exactly() -> None:
    k = 0.05 * 0.6  # tanh(ln 2) = 3/5
    cut_at = math.log(0.9 / 0.5) / k
    closed_at = math.log(0.9 / 0.25) / k
    result = simulate(scenario_from_dict(ground()), engine="mean")
    assert result.end_reason.tolist() == ["encircled"]
    assert result.columns["end_day"][0] == pytest.approx(closed_at, rel=1e-8)
    assert result.columns["route_open_days_road"][0] == pytest.approx(cut_at, rel=1e-8)
    assert result.columns["defender_losses"][0] == 1000.0  # the garrison is lost


def test_review_orders_a_withdrawal_that_starts_and_ends_exactly() -> None:
    """A review sees the exact state; the order takes effect after the latency, the withdrawal
    lasts its duration, and the garrison loses its share a day meanwhile (exp decay)."""
    data = ground(
        policy={"kind": "threshold", "review_interval_days": 2.5, "first_review_day": 0.5,
                "decision_latency_days": 1.25,
                "triggers": [{"name": "road", "measure": "routes_open", "op": "<=",
                              "threshold": 0.0}]},
        withdrawal={"duration_days": 3.0, "loss_rate_per_day": 0.02,
                    "loss_rate_no_routes_per_day": 0.02},
        encirclement={"closure_flank_control": 0.99},
    )
    cut_at = math.log(0.9 / 0.5) / (0.05 * 0.6)
    review = 0.5 + 2.5 * math.ceil((cut_at - 0.5) / 2.5)  # the first review after the cut
    result = simulate(scenario_from_dict(data), engine="mean")
    assert result.end_reason.tolist() == ["withdrew"]
    assert result.columns["withdrawal_start_day"][0] == pytest.approx(review + 1.25, abs=1e-9)
    assert result.columns["end_day"][0] == pytest.approx(review + 4.25, abs=1e-9)
    assert result.columns["defender_final_strength"][0] == pytest.approx(
        1000.0 * math.exp(-0.06), rel=1e-8)


@pytest.mark.parametrize("engine", ["batch", "event", "mean"])
def test_every_engine_spreads_a_wave_over_its_window(engine: str) -> None:
    """1000 attackers from day 2.5 over 2 days (500 a day), and none fighting: 250 by day 3,
    750 by day 4, all 1000 by day 5, in every engine."""
    sc = engagement("square", 0.0, 0.0, days=6, replications=2, sample_trajectories=2,
                    attacker={"strength": 0.0,
                              "waves": [{"day": 2.5, "personnel": 1000.0, "duration_days": 2.0}]})
    result = simulate(sc, engine=engine)
    names = [s.name for s in result.bands.specs]
    attackers = np.concatenate(result.bands.samples)[:, :, names.index("attacker_strength")]
    np.testing.assert_allclose(attackers, [[0, 0, 0, 250, 750, 1000, 1000]] * len(attackers))
    assert result.end_reason.tolist() == ["held"] * len(attackers)


def test_batch_mean_converges_to_the_mean_field() -> None:
    """Square-law losses are linear in the strengths, so the mean of the stochastic process
    follows the mean-field equations (up to the batch step, here negligible) while no
    replication nears zero. The daily mean of 4096 replications (the bands' exact mean) is
    within 4.5 standard errors (its sd / sqrt(n)) of the mean-field trajectory on every day."""
    reinforced = {"reinforcement_rate": 20.0}
    wave = {"waves": [{"day": 3.0, "personnel": 400.0, "duration_days": 4.0}]}
    common = {"law": "square", "a": 0.01, "b": 0.008}
    data = {
        "simulation": {"horizon_days": 30.0, "time_step_days": 0.05, "replications": 4096,
                       "seed": 11, "sample_trajectories": 1, **TIGHT},
        "defender": {"strength": 1000.0, **reinforced},
        "attacker": {"strength": 1500.0, **wave},
        "attrition": {"law": common["law"], "attacker_kill_rate": common["a"],
                      "defender_kill_rate": common["b"]},
    }
    sc = scenario_from_dict(data)
    batch = simulate(sc, engine="batch").bands
    mean, sd = batch.accumulator.mean_sd()
    names = [s.name for s in batch.specs]
    n = batch.accumulator.n_active
    assert n.min() == 4096  # nobody ended: no clipping at zero
    for measure in ("defender_strength", "attacker_strength", "defender_losses"):
        j = names.index(measure)
        field = trajectory(sc, measure)
        standard_error = sd[j, 1:] / np.sqrt(n[1:])
        assert np.all(np.abs(mean[j, 1:] - field[1:]) < 4.5 * standard_error), measure
    assert mean[names.index("attacker_strength"), -1] > 1000  # nowhere near zero


def test_mean_engine_writes_one_row_and_bands_that_are_its_trajectory(tmp_path: Path) -> None:
    sc = engagement("square", 0.02, 0.015, replications=500)
    out = tmp_path / "mean.parquet"
    result = simulate(sc, engine="mean", out=out)
    files = read_results(out)
    assert files.outcomes.num_rows == 1 and result.completed == 1
    assert files.metadata["siege.engine"] == "mean"
    assert files.metadata["siege.replications"] == "1"
    resolution = json.loads(read_metadata(bands_path(out))["siege.percentile_resolution"])
    assert resolution["defender_strength"]["relative_width"] == 2.0**-6
    bands = files.bands.to_pandas()
    band = bands[bands["kind"] == "band"]
    sample = bands[bands["kind"] == "sample"].set_index(["measure", "day"])["value"]
    values = sample.loc[list(zip(band["measure"], band["day"], strict=True))].to_numpy()
    for column in ("p5", "p25", "p50", "p75", "p95", "mean", "min", "max"):
        np.testing.assert_array_equal(band[column].to_numpy(), values, err_msg=column)
    assert (band["sd"].dropna() == 0).all()
    assert (band["n_active"] == 1).all()


def test_tolerances_are_scenario_keys() -> None:
    """The integrator works to `simulation.rtol` and `simulation.atol`: the loosest allowed
    give a coarser answer than tight ones."""
    a, b = 0.02, 0.015
    g = math.sqrt(a * b)
    exact = D0 * math.cosh(g * DAYS) - a / g * A0 * math.sinh(g * DAYS)
    loose = engagement("square", a, b, rtol=0.1, atol=1000.0)
    err_loose = abs(trajectory(loose, "defender_strength")[-1] - exact)
    err_tight = abs(trajectory(engagement("square", a, b), "defender_strength")[-1] - exact)
    assert err_tight < 1e-9 * exact and err_loose > 100 * err_tight


def test_a_side_may_start_at_zero_and_engagements_fight_on() -> None:
    """No sectors and no routes: collapse and culmination default to 0 (a siege keeps 0.25 and
    0.3), and a side with nobody on day 0 neither collapses nor culminates."""
    sc = engagement("square", 0.01, 0.05, days=30, attacker={"strength": 0.0, "waves": [
        {"day": 1.0, "personnel": 30_000.0}]})
    assert sc.defender.collapse_fraction == 0.0 and sc.attacker.culmination_fraction == 0.0
    for engine in ("batch", "mean"):
        result = simulate(sc, engine=engine, replications=64)
        assert set(result.end_reason) == {"held"}, engine
    from conftest import scenario_data

    siege = scenario_from_dict(scenario_data())
    assert siege.sectors and siege.defender.collapse_fraction == 0.25


def test_a_sweep_with_the_mean_engine_runs_one_replication_a_point(tmp_path: Path) -> None:
    """Deterministic sweeps: the mean engine's one replication per design point."""
    from siege.run.executors import local_executor
    from siege.run.store import DirectoryStore
    from siege.run.sweep import load_sweep, run_sweep

    from conftest import ROOT

    path = tmp_path / "sweep.toml"
    path.write_text(
        f'scenario = "{ROOT / "scenarios" / "classics" / "iwo_jima.toml"}"\n'
        'engine = "mean"\nreplications = 500\n[design]\nmethod = "grid"\n'
        '[[parameter]]\npath = "attrition.defender_kill_rate"\nvalues = [0.04, 0.0544]\n'
    )
    sweep = load_sweep(path)
    assert sweep.replications == 1
    store = DirectoryStore.create(tmp_path / "store", sweep)
    with local_executor(1) as executor:
        outcome = run_sweep(sweep, store, executor)
    assert outcome.done == 2 and outcome.failed == 0
