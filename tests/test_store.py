"""The sweep store: readable in one call by four libraries, the same rows as `siege simulate`,
written block by block, resumable after SIGKILL, refusing to mix sweeps."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from siege.run.executors import InProcessExecutor
from siege.run.simulate import simulate
from siege.run.store import DirectoryStore
from siege.run.store_read import open_store, read_outcomes
from siege.run.sweep import SweepError, design, load_sweep, point_scenarios, run_sweep

from conftest import files_of, kill_9_when, run_cli, run_cli_subprocess

BAKHMUT = Path(__file__).resolve().parents[1] / "scenarios" / "bakhmut.toml"

SWEEP = """
replications = 4200
seed = 4
block_size = 4096
[fixed]
"simulation.horizon_days" = {horizon}
[design]
method = "lhs"
points = {points}
seed = 1
[[parameter]]
path = "attacker.strength"
low = 20000
high = 60000
[[parameter]]
path = "defender.strength"
values = [10000, 20000]
"""


def write_sweep(folder: Path, points: int = 3, horizon: int = 60, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(f'scenario = "{BAKHMUT}"\n' + SWEEP.format(points=points, horizon=horizon))
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store")
    sweep = load_sweep(write_sweep(folder))
    root = folder / "store"
    with InProcessExecutor() as executor:
        outcome = run_sweep(sweep, DirectoryStore.create(root, sweep), executor)
    assert (outcome.done, outcome.failed) == (3, 0)
    return root


def test_outcomes_read_in_one_call_by_pyarrow_pandas_polars_and_duckdb(store: Path) -> None:
    import duckdb
    import pandas as pd
    import polars as pl

    expected = {0: 4200, 1: 4200, 2: 4200}
    table = read_outcomes(store)
    counts = dict(zip(*np.unique(table.column("point").to_numpy(), return_counts=True),
                      strict=True))
    assert {int(k): int(v) for k, v in counts.items()} == expected
    frame = pd.read_parquet(store / "outcomes")
    assert frame.groupby("point", observed=True).size().to_dict() == expected
    polars_frame = pl.read_parquet(f"{store}/outcomes/**/*.parquet", hive_partitioning=True)
    assert dict(polars_frame.group_by("point").len().iter_rows()) == expected
    rows = duckdb.sql(
        f"select point, count(*) from read_parquet('{store}/outcomes/*/*.parquet', "
        "hive_partitioning = true) group by point"
    ).fetchall()
    assert {int(p): n for p, n in rows} == expected
    # every library sees the same values
    mine = frame.sort_values(["point", "replication"])["attacker_losses"].to_numpy()
    theirs = polars_frame.sort(["point", "replication"])["attacker_losses"].to_numpy()
    np.testing.assert_array_equal(mine, theirs)


def test_point_outcomes_equal_simulate_of_the_point_scenario(store: Path) -> None:
    man = json.loads((store / "manifest.json").read_text())
    spec = load_sweep(man["sweep_file"])
    point = point_scenarios(spec, design(spec))[2]
    direct = simulate(point.scenario, workers=1)  # one block, not the store's 4096s
    part = pq.ParquetDataset(store / "outcomes" / "point=2").read().sort_by("replication")
    for name, values in direct.columns.items():
        np.testing.assert_array_equal(part.column(name).to_numpy(), values, err_msg=name)
    meta = pq.read_schema(next((store / "outcomes" / "point=2").glob("*.parquet"))).metadata
    assert meta[b"siege.kind"] == b"outcomes"
    assert meta[b"siege.scenario_sha256"].decode() == point.scenario.sha256()


def test_store_has_design_summaries_bands_and_manifest(store: Path) -> None:
    contents = open_store(store)
    assert contents.design.column("status").to_pylist() == ["done"] * 3
    summary = contents.summary.to_pydict()
    assert summary["point"] == [0, 1, 2]
    for i in range(3):
        total = sum(summary[f"p_{r}"][i] for r in
                    ("held", "withdrew", "encircled", "collapsed", "attacker_culminated"))
        assert total == pytest.approx(1.0)
        assert summary["p_held_low"][i] <= summary["p_held"][i] <= summary["p_held_high"][i]
    bands = pq.read_table(store / "bands" / "point=1" / "bands.parquet")
    assert bands.schema.metadata[b"siege.kind"] == b"bands"
    assert {"p5", "p50", "p95"} <= set(bands.column_names)
    man = contents.manifest
    assert man["base_scenario_sha256"] and man["seed"] == 4 and man["design_seed"] == 1
    assert {"siege", "numpy", "scipy", "pyarrow"} <= set(man["versions"])
    assert not (store / ".pending" / "point=0").exists()  # merged into the bands file


@pytest.mark.slow  # a real kill -9 and a resumed sweep
def test_resume_after_sigkill_ends_with_the_same_store(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, points=6, horizon=120)
    whole = tmp_path / "whole"
    finished = run_cli_subprocess("sweep", str(sweep), "--out", str(whole), "--workers", "1")
    assert finished.returncode == 0

    killed = tmp_path / "killed"
    kill_9_when(["sweep", str(sweep), "--out", str(killed), "--workers", "1"],
                lambda: any(killed.glob("outcomes/*/part-*.parquet")), "the sweep")
    finished_before = len(list(killed.glob("bands/*/bands.parquet")))
    assert finished_before < 6  # killed mid-run

    resumed = run_cli_subprocess("sweep", str(sweep), "--out", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "6/6 points done" in resumed.stderr
    assert files_of(killed) == files_of(whole)  # byte for byte, every file


@pytest.mark.slow  # seconds: left to the full suite, the quick loop stays under 90 s
def test_resume_of_a_finished_store_runs_nothing(store: Path, tmp_path: Path) -> None:
    man = json.loads((store / "manifest.json").read_text())
    before = files_of(store)
    proc = run_cli_subprocess("sweep", man["sweep_file"], "--out", str(store), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "0 blocks run" in proc.stderr and "3 already in the store" in proc.stderr
    assert files_of(store) == before


@pytest.mark.slow  # seconds: left to the full suite, the quick loop stays under 90 s
def test_resume_refuses_a_store_of_another_sweep(store: Path, tmp_path: Path) -> None:
    other = write_sweep(tmp_path, points=4)  # one more point
    proc = run_cli_subprocess("sweep", str(other), "--out", str(store), "--resume")
    assert proc.returncode == 2
    assert "different sweep" in proc.stderr and "design" in proc.stderr
    assert "Traceback" not in proc.stderr
    spec = load_sweep(other)
    base_changed = spec.base.with_overrides({"attacker.quality": 0.9})
    with pytest.raises(SweepError, match="different base scenario"):
        DirectoryStore.resume(store, spec.__class__(**{**spec.__dict__, "base": base_changed}))


@pytest.mark.slow  # seconds: left to the full suite, the quick loop stays under 90 s
def test_new_sweep_into_an_existing_store_is_refused(store: Path, tmp_path: Path) -> None:
    proc = run_cli_subprocess("sweep", str(write_sweep(tmp_path)), "--out", str(store))
    assert proc.returncode == 2 and "--resume" in proc.stderr


@pytest.mark.slow  # seconds: left to the full suite, the quick loop stays under 90 s
def test_a_failing_point_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    path = tmp_path / "fail.toml"
    path.write_text(f'scenario = "{BAKHMUT}"\n' + """
replications = 1024
seed = 2
[fixed]
"simulation.horizon_days" = 30
[design]
method = "grid"
[[parameter]]
path = "attacker.replacement_rate"
values = [200.0, 1e308, 150.0]
""")
    store = tmp_path / "store"
    proc = run_cli_subprocess("sweep", str(path), "--out", str(store), "--workers", "2")
    assert proc.returncode == 1
    assert "point 1 failed" in proc.stderr and "2/3 points done, 1 failed" in proc.stderr
    table = pq.read_table(store / "design.parquet").to_pydict()
    assert table["status"] == ["done", "failed", "done"]
    assert "ModelError" in table["error"][1] and "too large to simulate" in table["error"][1]
    assert json.loads((store / "failures" / "point=1.json").read_text())["point"] == 1
    assert pq.read_table(store / "summary.parquet").column("point").to_pylist() == [0, 2]


@pytest.mark.slow  # a sweep and a comparison through the CLI
def test_compare_reads_store_points_by_either_path_with_their_bands(store: Path) -> None:
    from siege.results.sets import load_result_set

    short = load_result_set(store / "point=0")
    full = load_result_set(store / "outcomes" / "point=0")
    assert short.outcomes.to_pandas().equals(full.outcomes.to_pandas())  # NaN == NaN here
    assert short.bands is not None and full.bands is not None
    assert set(short.bands.column("kind").to_pylist()) >= {"band"}
    proc = run_cli("compare", str(store / "point=0"), str(store / "outcomes" / "point=1"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["variants"][0]["label"] == "point=0"


# ------------------------------------------------------------------------------------------
# faults: one writer at a time, damaged and foreign files


def copy_of(store: Path, tmp_path: Path) -> Path:
    shutil.copytree(store, tmp_path / "copy")
    return tmp_path / "copy"


def sweep_file(store: Path) -> str:
    return json.loads((store / "manifest.json").read_text())["sweep_file"]


@pytest.mark.slow
def test_a_second_writer_is_refused_naming_the_first(store: Path, tmp_path: Path) -> None:
    """Two real `--resume` runs at once on one store: the second is refused; the first ends
    with the store an undisturbed run writes."""
    target = tmp_path / "store"
    target.mkdir()  # an empty folder: --resume starts the sweep
    first = subprocess.Popen([sys.executable, "-m", "siege", "sweep", sweep_file(store),
                              "--out", str(target), "--resume", "--workers", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (target / ".lock").is_file() or not (target / ".lock").read_text():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    second = run_cli_subprocess("sweep", sweep_file(store), "--out", str(target), "--resume")
    _, stderr = first.communicate(timeout=180)
    assert first.returncode == 0, stderr
    assert second.returncode == 2
    assert second.stderr == (
        f"error: {target}: the sweep store is being written by siege pid {first.pid} on host "
        f"{socket.gethostname()}; one run writes a store at a time: wait for it to finish (or "
        "stop it), then use --resume\n")
    assert files_of(target) == files_of(store)
    assert (target / ".lock").read_text() == ""  # released


@pytest.mark.slow
def test_resume_runs_a_truncated_part_of_a_finished_point_again(
    store: Path, tmp_path: Path
) -> None:
    copy = copy_of(store, tmp_path)
    part = copy / "outcomes" / "point=1" / "part-0000000000.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    check = run_cli("store", "check", str(copy))
    assert check.returncode == 1
    assert "damaged: point 1: outcomes/point=1/part-0000000000.parquet: damaged (SHA-256" in (
        check.stdout)
    proc = run_cli_subprocess("sweep", sweep_file(store), "--out", str(copy), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert ("point 1: outcomes/point=1/part-0000000000.parquet: damaged (SHA-256" in proc.stderr
            and "running the point again" in proc.stderr)
    assert "1 blocks run" not in proc.stderr and "2 blocks run" in proc.stderr
    assert files_of(copy) == files_of(store)
    assert run_cli("store", "check", str(copy)).returncode == 0


@pytest.mark.slow
def test_resume_runs_a_block_with_garbage_histograms_again(store: Path, tmp_path: Path) -> None:
    """An unfinished point: its first block written, the histograms then overwritten."""
    from siege.run.executors import BlockTask, run_task

    sweep = load_sweep(sweep_file(store))
    points = point_scenarios(sweep, design(sweep))
    root = tmp_path / "store"
    with DirectoryStore.create(root, sweep) as started:
        started.write_block(points[0], run_task(BlockTask(points[0].scenario, 0, 4096,
                                                          point=0)))
    pending = root / ".pending" / "point=0" / "bands-0000000000.npz"
    pending.write_bytes(b"garbage")
    check = run_cli("store", "check", str(root))
    assert check.returncode == 1 and ".pending/point=0/bands-0000000000.npz: damaged" in (
        check.stdout)
    proc = run_cli_subprocess("sweep", sweep_file(store), "--out", str(root), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert ("point 0: .pending/point=0/bands-0000000000.npz: damaged (SHA-256" in proc.stderr
            and "running that block again" in proc.stderr)
    assert files_of(root) == files_of(store)


@pytest.mark.slow
def test_a_part_copied_from_another_point_is_found_and_run_again(
    store: Path, tmp_path: Path
) -> None:
    copy = copy_of(store, tmp_path)
    name = "part-0000000000.parquet"
    shutil.copy(copy / "outcomes" / "point=0" / name, copy / "outcomes" / "point=2" / name)
    assert run_cli("compare", str(copy / "point=2")).returncode == 2
    proc = run_cli_subprocess("sweep", sweep_file(store), "--out", str(copy), "--resume")
    assert proc.returncode == 0 and f"point 2: outcomes/point=2/{name}: damaged" in proc.stderr
    assert files_of(copy) == files_of(store)


@pytest.mark.slow  # a sweep copied and resumed
def test_a_stray_copy_is_never_counted_and_check_lists_it(store: Path, tmp_path: Path) -> None:
    copy = copy_of(store, tmp_path)
    stray = copy / "outcomes" / "point=0" / "part-0000000000 (1).parquet"
    shutil.copy(copy / "outcomes" / "point=0" / "part-0000000000.parquet", stray)
    check = run_cli("store", "check", str(copy))
    assert check.returncode == 1
    assert ("not in the ledger (ignored by siege; read by other Parquet readers of "
            "outcomes/): outcomes/point=0/part-0000000000 (1).parquet") in check.stdout
    proc = run_cli_subprocess("sweep", sweep_file(store), "--out", str(copy), "--resume")
    assert proc.returncode == 0 and "0 blocks run" in proc.stderr
    summary = pq.read_table(copy / "summary.parquet").column("replications").to_pylist()
    assert summary == [4200, 4200, 4200]
    compared = json.loads(run_cli("compare", str(copy / "point=0"), "--json").stdout)
    assert compared["variants"][0]["replications"] == 4200
    assert read_outcomes(copy).num_rows == 3 * 4200
    stray.unlink()
    assert files_of(copy) == files_of(store)


def test_readers_of_a_damaged_store_say_what_is_damaged(store: Path, tmp_path: Path) -> None:
    copy = copy_of(store, tmp_path)
    bands = copy / "bands" / "point=1" / "bands.parquet"
    bands.write_bytes(b"PAR1 not really")
    proc = run_cli("compare", str(copy / "point=1"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {copy / 'point=1'}: sweep store point damaged: "
                                  "bands/point=1/bands.parquet: damaged (SHA-256")
    (copy / "summary.parquet").write_bytes(b"nonsense")
    proc = run_cli("sensitivity", str(copy))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {copy / 'summary.parquet'}: damaged (")
    assert "--out STORE --resume` runs again what is damaged" in proc.stderr


def test_store_check_exit_status(store: Path, tmp_path: Path) -> None:
    proc = run_cli("store", "check", str(store))
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout == f"{store}: 3 points, 3 finished, 3 started; intact\n"
    assert run_cli("store", "check", str(tmp_path)).returncode == 2  # not a store
    copy = copy_of(store, tmp_path)
    (copy / "ledger" / "point=0.json").write_text("{")
    proc = run_cli("store", "check", str(copy))
    assert proc.returncode == 1 and "damaged: point 0: ledger/point=0.json: unreadable" in (
        proc.stdout)


def test_resume_of_a_missing_folder_says_so(store: Path, tmp_path: Path) -> None:
    proc = run_cli_subprocess("sweep", sweep_file(store), "--out", str(tmp_path / "nope"),
                              "--resume")
    assert proc.returncode == 2
    assert "no such folder, so there is no sweep to resume; leave out --resume" in proc.stderr


def test_sensitivity_writes_json_for_a_json_name(store: Path, tmp_path: Path) -> None:
    copy = copy_of(store, tmp_path)
    proc = run_cli("sensitivity", str(copy), "-o", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "s.json").read_text())
    assert rows and {"measure", "parameter", "method", "estimate"} <= set(rows[0])
