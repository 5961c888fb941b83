"""Faults during a run, with the real CLI in a subprocess and real worker processes: Ctrl-C
leaves a valid partial results file; a worker killed mid-run is reported and its block run
again, so the file is complete and identical to an undisturbed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from siege.results.parquet import read_results
from siege.rng import STREAM_BLOCK
from siege.run.simulate import simulate
from siege.scenario import load_scenario

from conftest import SCENARIOS

BAKHMUT = SCENARIOS / "bakhmut.toml"


def start_cli(*args: str) -> subprocess.Popen[str]:
    """``siege simulate`` in its own session (so a signal can go to its whole process group,
    as Ctrl-C in a terminal does)."""
    return subprocess.Popen(
        [sys.executable, "-m", "siege", "simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as in a terminal, whatever this test runner inherited (a background job ignores it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def workers_of(pid: int) -> list[int]:
    """Worker processes (multiprocessing spawn children) of a process."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(x) for x in path.read_text().split()] if path.exists() else []
    out = []
    for kid in kids:
        try:
            cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.append(kid)
    return out


def wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_ctrl_c_leaves_valid_partial_file_of_finished_blocks(tmp_path: Path) -> None:
    out = tmp_path / "run.parquet"
    inprogress = tmp_path / "run.parquet.inprogress"
    proc = start_cli(
        str(BAKHMUT), "-n", "400000", "--workers", "2", "--block-size", str(STREAM_BLOCK),
        "--out", str(out)
    )
    try:
        wait_for(lambda: inprogress.exists() and inprogress.stat().st_size > 0)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert not inprogress.exists()
    result = read_results(out)
    assert result.partial
    rows = result.outcomes.num_rows
    assert 0 < rows < 400000
    assert int(result.metadata["siege.completed"]) == rows
    rep = result.column("replication").astype(np.int64)
    assert np.all(np.diff(rep) > 0)
    # the finished rows are exactly those of an undisturbed run
    full = simulate(load_scenario(BAKHMUT), replications=int(rep.max()) + 1, workers=2)
    for col in ("end_day", "defender_losses", "attacker_losses"):
        np.testing.assert_array_equal(result.column(col), full.columns[col][rep])


def test_killed_worker_is_reported_and_its_block_rerun(tmp_path: Path) -> None:
    out = tmp_path / "run.parquet"
    n = 10 * STREAM_BLOCK  # five blocks a worker: both still busy when one is killed
    proc = start_cli(
        str(BAKHMUT), "-n", str(n), "--workers", "2", "--block-size", str(STREAM_BLOCK),
        "--out", str(out)
    )
    try:
        wait_for(lambda: len(workers_of(proc.pid)) >= 2)
        time.sleep(1.5)  # the workers have imported siege and hold their first blocks
        victim = workers_of(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "died (killed by SIGKILL) while running replications" in stderr
    assert "running that block again" in stderr
    result = read_results(out)
    assert not result.partial
    assert result.outcomes.num_rows == n
    reference = simulate(load_scenario(BAKHMUT), replications=n, workers=1)
    assert pq.read_table(out).column("attacker_losses").to_numpy().tobytes() == (
        reference.columns["attacker_losses"].tobytes()
    )
