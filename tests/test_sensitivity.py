"""Sobol' indices and PRCC: known answers on analytic functions, scipy's estimator, and the
`siege sensitivity` command on a real Sobol' sweep store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from siege.analysis.sensitivity import prcc, sobol_indices
from siege.run.design import Parameter, make_design

BAKHMUT = Path(__file__).resolve().parents[1] / "scenarios" / "bakhmut.toml"


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def saltelli_outputs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    params = tuple(Parameter(f"x.{i}", -np.pi, np.pi) for i in range(3))
    design = make_design(params, "sobol", n, seed=seed)
    x = np.array([[v[p.path] for p in params] for v in design.values])
    y = ishigami(x)
    return y[:n], y[n:2 * n], y[2 * n:].reshape(3, n)


def test_sobol_indices_of_ishigami_match_the_analytic_values() -> None:
    a = 7.0
    b = 0.1
    var = a**2 / 8 + b * np.pi**4 / 5 + b**2 * np.pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    first = np.array([v1, v2, 0.0]) / var
    total = np.array([v1 + v13, v2, v13]) / var
    res = sobol_indices(*saltelli_outputs(4096, seed=1), n_resamples=300, seed=2)
    np.testing.assert_allclose(res.first_order, first, atol=0.04)
    np.testing.assert_allclose(res.total_order, total, atol=0.04)
    assert np.all(res.first_order_low <= res.first_order + 1e-12)
    assert np.all(res.first_order_high >= res.first_order - 1e-12)
    assert np.all(res.total_order_high - res.total_order_low < 0.15)


def test_sobol_indices_of_a_linear_model_are_its_squared_weights_share() -> None:
    weights = np.array([1.0, 2.0, 0.0, 3.0])
    params = tuple(Parameter(f"x.{i}", 0.0, 1.0) for i in range(weights.size))
    n = 2048
    design = make_design(params, "sobol", n, seed=5)
    y = design.unit @ weights  # additive: each index is a_i^2 / sum a_j^2, first = total
    res = sobol_indices(y[:n], y[n:2 * n], y[2 * n:].reshape(weights.size, n),
                        n_resamples=200, seed=1)
    share = weights**2 / np.sum(weights**2)
    np.testing.assert_allclose(res.first_order, share, atol=0.03)
    np.testing.assert_allclose(res.total_order, share, atol=0.03)
    assert np.all((res.total_order_low <= share + 0.01) & (share - 0.01 <= res.total_order_high))


def test_sobol_intervals_repeat_with_the_seed_and_change_without() -> None:
    outputs = saltelli_outputs(256, seed=4)
    a = sobol_indices(*outputs, n_resamples=200, seed=3)
    again = sobol_indices(*outputs, n_resamples=200, seed=3)
    other = sobol_indices(*outputs, n_resamples=200, seed=4)
    np.testing.assert_array_equal(a.first_order_low, again.first_order_low)
    np.testing.assert_array_equal(a.total_order_high, again.total_order_high)
    np.testing.assert_array_equal(a.first_order, other.first_order)  # estimates: no resampling
    assert not np.array_equal(a.first_order_low, other.first_order_low)


def test_prcc_ranks_parameters_by_their_monotone_effect() -> None:
    rng = np.random.default_rng(5)
    x = rng.random((400, 3))
    y = 5 * x[:, 2] - 1 * x[:, 0] + 0.05 * rng.standard_normal(400)  # x1 plays no part
    res = prcc(x, y, n_resamples=200, seed=1)
    assert res.prcc[2] > 0.95 and res.prcc[0] < -0.8
    assert res.low[1] < 0 < res.high[1]  # no effect: interval straddles zero
    assert abs(res.prcc[1]) < 0.15


@pytest.mark.slow  # a Sobol' sweep through the CLI
def test_cli_sensitivity_of_a_sobol_sweep_prints_and_saves_indices(tmp_path: Path) -> None:
    sweep = tmp_path / "sobol.toml"
    sweep.write_text(f'scenario = "{BAKHMUT}"\n' + """
replications = 1024
seed = 6
[fixed]
"simulation.horizon_days" = 150
[design]
method = "sobol"
points = 4
seed = 2
[[parameter]]
path = "attacker.strength"
low = 20000
high = 60000
[[parameter]]
path = "fortification.multiplier"
low = 2.0
high = 8.0
""")
    store = tmp_path / "store"
    run = subprocess.run([sys.executable, "-m", "siege", "sweep", str(sweep), "--out",
                          str(store), "--workers", "2"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert "16/16 points done" in run.stderr
    proc = subprocess.run([sys.executable, "-m", "siege", "sensitivity", str(store),
                           "--resamples", "200"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "sobol_first" in proc.stdout and "sobol_total" in proc.stdout
    table = pq.read_table(store / "sensitivity.parquet").to_pydict()
    methods = set(table["method"])
    assert methods == {"sobol_first", "sobol_total", "prcc"}
    rows = [dict(zip(table, r, strict=True)) for r in zip(*table.values(), strict=True)]
    # more attackers: more attacker losses
    losses = {r["parameter"]: r for r in rows
              if r["measure"] == "attacker_losses_mean" and r["method"] == "prcc"}
    assert losses["attacker.strength"]["estimate"] > 0.5
    assert sorted(r["rank"] for r in losses.values()) == [1, 2]


def test_sensitivity_of_something_else_is_one_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "siege", "sensitivity", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a sweep store" in proc.stderr
    assert "Traceback" not in proc.stderr
