"""Sweeps and simulations on a real Dask cluster (LocalCluster on loopback): the same results,
bit for bit, as in this process and in local processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from siege.run.dask import DaskExecutor
from siege.run.executors import InProcessExecutor, LocalExecutor
from siege.run.simulate import simulate
from siege.run.store import DirectoryStore
from siege.run.sweep import run_sweep
from siege.scenario import load_scenario

from conftest import files_of, sweep_in_process

pytestmark = pytest.mark.slow  # a real Dask LocalCluster per test

distributed = pytest.importorskip("distributed")

BAKHMUT = Path(__file__).resolve().parents[1] / "scenarios" / "bakhmut.toml"
SWEEP = f'scenario = "{BAKHMUT}"\n' + """
replications = 4200
seed = 9
block_size = 4096
[fixed]
"simulation.horizon_days" = 60
[design]
method = "random"
points = 3
[[parameter]]
path = "sectors.north.advance_rate"
low = 0.003
high = 0.02
scale = "log"
"""



@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None,
    ) as local:
        yield local.scheduler_address


def test_sweep_writes_the_same_store_in_process_in_local_processes_and_on_a_cluster(
    cluster: str, tmp_path: Path
) -> None:
    sweep = sweep_in_process(tmp_path, SWEEP)  # the reference store, tmp_path / "here"
    with LocalExecutor(2) as local:
        run_sweep(sweep, DirectoryStore.create(tmp_path / "local", sweep), local)
    with DaskExecutor(cluster) as dask:
        outcome = run_sweep(sweep, DirectoryStore.create(tmp_path / "dask", sweep), dask)
    assert (outcome.done, outcome.failed, outcome.blocks_run) == (3, 0, 6)
    assert files_of(tmp_path / "dask") == files_of(tmp_path / "here")
    assert files_of(tmp_path / "local") == files_of(tmp_path / "here")


def test_cli_sweep_and_simulate_take_a_scheduler(cluster: str, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SWEEP)
    proc = subprocess.run(
        [sys.executable, "-m", "siege", "sweep", str(path), "--out", str(tmp_path / "st"),
         "--scheduler", cluster], capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3/3 points done, 0 failed" in proc.stderr
    out = tmp_path / "r.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "siege", "simulate", str(BAKHMUT), "-n", "8300",
         "--set", "simulation.horizon_days=60", "--block-size", "4096", "--out", str(out),
         "--scheduler", cluster, "--json"], capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    import pyarrow.parquet as pq

    scenario = load_scenario(BAKHMUT, {"simulation.horizon_days": 60})
    local = simulate(scenario, replications=8300, workers=1)
    table = pq.read_table(out)
    for name, values in local.columns.items():
        np.testing.assert_array_equal(table.column(name).to_numpy(), values, err_msg=name)


def test_simulate_results_identical_in_process_in_local_processes_and_on_a_cluster(
    cluster: str,
) -> None:
    scenario = load_scenario(BAKHMUT, {"simulation.horizon_days": 40})
    runs = {}
    for name, executor in [("here", InProcessExecutor()), ("local", LocalExecutor(2)),
                           ("dask", DaskExecutor(cluster))]:
        with executor:
            runs[name] = simulate(scenario, replications=8192, block_size=4096,
                                  executor=executor)
    runs["scheduler"] = simulate(scenario, replications=8192, scheduler=cluster)  # convenience
    here = runs.pop("here")
    for name, there in runs.items():
        assert there.completed == 8192 and not there.partial, name
        np.testing.assert_array_equal(here.end_reason, there.end_reason, err_msg=name)
        for column, values in here.columns.items():
            assert there.columns[column].tobytes() == values.tobytes(), (name, column)
        np.testing.assert_array_equal(here.bands.accumulator.counts,
                                      there.bands.accumulator.counts, err_msg=name)
        np.testing.assert_array_equal(here.bands.accumulator.n_active,
                                      there.bands.accumulator.n_active, err_msg=name)
        assert np.concatenate(there.bands.samples).tobytes() == (
            np.concatenate(here.bands.samples).tobytes()), name


def test_unreachable_scheduler_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SWEEP)
    proc = subprocess.run(
        [sys.executable, "-m", "siege", "sweep", str(path), "--out", str(tmp_path / "st"),
         "--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr
