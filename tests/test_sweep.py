"""The sweep file, its designs and the checks made before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from siege.run.design import DESIGN_METHODS, Parameter, make_design
from siege.run.sweep import SweepError, design, load_sweep, point_scenarios

BAKHMUT = Path(__file__).resolve().parents[1] / "scenarios" / "bakhmut.toml"


def write_sweep(folder: Path, body: str, name: str = "sweep.toml") -> Path:
    path = folder / name
    path.write_text(f'scenario = "{BAKHMUT}"\n' + body)
    return path


LHS = """
replications = 4200
seed = 4
block_size = 4096
[fixed]
"simulation.horizon_days" = 60
[design]
method = "lhs"
points = 8
seed = 1
[[parameter]]
path = "attacker.strength"
low = 20000
high = 60000
[[parameter]]
path = "routes.chasiv_yar.capacity_tonnes_per_day"
low = 50
high = 500
scale = "log"
[[parameter]]
path = "defender.strength"
values = [10000, 15000, 20000]
"""


def test_lhs_points_cover_each_range_once_per_stratum(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path, LHS))
    points = design(sweep)
    assert points.n_points == 8
    strength = np.array([v["attacker.strength"] for v in points.values])
    strata = np.floor((strength - 20000) / 40000 * 8).astype(int)
    assert sorted(strata) == list(range(8))  # Latin: one point in each of 8 strata
    capacity = np.array([v["routes.chasiv_yar.capacity_tonnes_per_day"] for v in points.values])
    assert np.all((capacity >= 50) & (capacity <= 500))
    log_strata = np.floor(np.log(capacity / 50) / np.log(10) * 8).astype(int)
    assert sorted(log_strata) == list(range(8))  # strata equal on the log scale
    assert {v["defender.strength"] for v in points.values} <= {10000, 15000, 20000}


def test_design_seed_changes_the_points_and_same_seed_repeats_them() -> None:
    params = (Parameter("attacker.strength", 1.0, 2.0), Parameter("defender.strength", 1.0, 2.0))
    for method in ("lhs", "sobol", "random"):
        a = make_design(params, method, 16, seed=1).unit
        again = make_design(params, method, 16, seed=1).unit
        other = make_design(params, method, 16, seed=2).unit
        np.testing.assert_array_equal(a, again)
        assert not np.allclose(a, other), method


def test_grid_is_the_full_factorial_of_levels_and_values() -> None:
    params = (
        Parameter("attacker.strength", 10.0, 30.0, levels=3),
        Parameter("defender.strength", values=(1, 2)),
    )
    points = make_design(params, "grid", 999, seed=0)
    combos = {(v["attacker.strength"], v["defender.strength"]) for v in points.values}
    assert combos == {(a, d) for a in (10.0, 20.0, 30.0) for d in (1, 2)}


def test_sobol_design_is_saltelli_a_b_and_ab_matrices() -> None:
    params = tuple(Parameter(p, 0.0, 1.0) for p in ("a.x", "b.y", "c.z"))
    points = make_design(params, "sobol", 8, seed=3)
    assert points.n_points == 8 * (3 + 2)
    u = points.unit
    a, b = u[:8], u[8:16]
    for i in range(3):
        ab = u[16 + 8 * i: 24 + 8 * i]
        expected = a.copy()
        expected[:, i] = b[:, i]
        np.testing.assert_array_equal(ab, expected)
    assert points.roles[:8] == ["A"] * 8 and points.roles[16] == "AB:a.x"


def test_a_design_method_is_one_function_and_one_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def corners(parameters: tuple[Parameter, ...], points: int,
                rng: np.random.Generator) -> np.ndarray:
        return np.repeat([[0.0], [1.0]], len(parameters), axis=1)

    monkeypatch.setitem(DESIGN_METHODS, "corners", corners)
    sweep = load_sweep(write_sweep(tmp_path, LHS.replace('"lhs"', '"corners"')))
    points = design(sweep)
    assert [v["attacker.strength"] for v in points.values] == [20000.0, 60000.0]
    assert [v["defender.strength"] for v in points.values] == [10000, 20000]


def test_sobol_points_must_be_a_power_of_two(tmp_path: Path) -> None:
    body = LHS.replace('method = "lhs"', 'method = "sobol"').replace("points = 8", "points = 12")
    with pytest.raises(SweepError, match="power of 2"):
        load_sweep(write_sweep(tmp_path, body))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("low = 50", "low = -5"), "log scale needs low > 0"),
        (('method = "lhs"', 'method = "halton"'), "design.method"),
        (("high = 60000", "high = 10000"), "must be below high"),
        (("replications = 4200", "replications = 0"), "replications"),
    ],
)
def test_bad_sweep_values_name_the_key(tmp_path: Path, change: tuple[str, str],
                                       message: str) -> None:
    with pytest.raises(SweepError, match=message):
        load_sweep(write_sweep(tmp_path, LHS.replace(*change)))


def test_point_that_makes_an_invalid_scenario_is_named_before_anything_runs(
    tmp_path: Path,
) -> None:
    """Each value is valid alone; one combination (restore above cut) is not."""
    body = """
[design]
method = "grid"
[[parameter]]
path = "routes.chasiv_yar.cut_at_control"
values = [0.9, 0.7]
[[parameter]]
path = "routes.chasiv_yar.restore_below_control"
values = [0.5, 0.8]
"""
    sweep = load_sweep(write_sweep(tmp_path, body))
    with pytest.raises(SweepError) as info:
        point_scenarios(sweep, design(sweep))
    text = str(info.value)
    assert "1 of 4 points" in text and "point 3 " in text and "key 'routes.chasiv_yar'" in text


def test_a_bad_value_is_named_with_its_parameter_when_the_file_is_read(tmp_path: Path) -> None:
    body = LHS.replace("values = [10000, 15000, 20000]", "values = [10000, -5]")
    with pytest.raises(SweepError, match=r"parameter 'defender\.strength': value -5 gives"):
        load_sweep(write_sweep(tmp_path, body))


def test_cli_reports_unknown_path_with_parameter_and_exit_2(tmp_path: Path) -> None:
    body = LHS.replace("routes.chasiv_yar.", "routes.no_such_road.")
    sweep = write_sweep(tmp_path, body)
    store = tmp_path / "store"
    proc = subprocess.run(
        [sys.executable, "-m", "siege", "sweep", str(sweep), "--out", str(store)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "parameter 'routes.no_such_road.capacity_tonnes_per_day'" in proc.stderr
    assert "no route named 'no_such_road'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not store.exists()  # nothing ran, nothing written
