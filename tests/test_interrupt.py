"""Faults during a run, with real worker processes (and the real CLI in a subprocess): Ctrl-C
leaves a valid partial results file; a worker killed mid-run is reported and its block run
again, so the file is complete and identical to an undisturbed run; a block whose worker dies
again on the retry is reported failed, by `simulate` (RunError, finished blocks kept) and by a
sweep (the point recorded as failed, the other points finished)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from siege.errors import RunError
from siege.results.parquet import read_results
from siege.rng import STREAM_BLOCK
from siege.run.executors import LocalExecutor
from siege.run.simulate import simulate
from siege.run.store import DirectoryStore
from siege.run.sweep import run_sweep
from siege.scenario import load_scenario

from conftest import SCENARIOS, files_of, sweep_in_process

pytestmark = pytest.mark.slow  # real Ctrl-C and killed worker processes

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
    inprogress = tmp_path / ".run.parquet.tmp"
    proc = start_cli(
        str(BAKHMUT), "-n", "400000", "--workers", "2", "--block-size", str(STREAM_BLOCK),
        "--out", str(out)
    )
    try:
        wait_for(lambda: inprogress.exists() and inprogress.stat().st_size > 100_000)
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


class WorkerKiller(threading.Thread):
    """Once ``armed``, kills each worker process of this test process it has not seen before
    with SIGKILL as soon as it appears, ``kills`` of them in all."""

    def __init__(self, kills: int) -> None:
        super().__init__(daemon=True)
        self.kills = kills
        self.armed = threading.Event()
        self.killed: list[int] = []

    def run(self) -> None:
        self.armed.wait(timeout=120)
        deadline = time.monotonic() + 120
        while len(self.killed) < self.kills and time.monotonic() < deadline:
            for pid in workers_of(os.getpid()):
                if pid not in self.killed:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
                    break
            time.sleep(0.01)


def test_block_whose_worker_dies_twice_stops_simulate_and_keeps_finished_blocks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run.parquet"
    scenario = load_scenario(BAKHMUT, {"simulation.horizon_days": 120})
    killer = WorkerKiller(kills=2)  # the worker holding the second block, then its successor
    killer.start()

    def arm(done: float) -> None:  # once the first block has finished
        if done >= STREAM_BLOCK:
            killer.armed.set()

    with LocalExecutor(1) as executor, pytest.raises(RunError) as error:
        simulate(scenario, replications=2 * STREAM_BLOCK, block_size=STREAM_BLOCK,
                 executor=executor, out=out, progress=lambda done, total: arm(done))
    killer.join()
    assert str(error.value) == (
        f"replications {STREAM_BLOCK}..{2 * STREAM_BLOCK - 1} failed: its worker process died "
        "(killed by SIGKILL), again after 1 retry; stopping (finished blocks are kept in the "
        "results file, marked partial)"
    )
    assert "running that block again in a new worker" in caplog.text
    result = read_results(out)
    assert result.partial and result.outcomes.num_rows == STREAM_BLOCK
    reference = simulate(scenario, replications=STREAM_BLOCK)
    assert result.column("attacker_losses").tobytes() == (
        reference.columns["attacker_losses"].tobytes()
    )


SWEEP = f'scenario = "{BAKHMUT}"\n' + """
replications = 1024
seed = 5
[fixed]
"simulation.horizon_days" = 60
[design]
method = "grid"
[[parameter]]
path = "defender.strength"
values = [10000, 20000]
"""


@pytest.mark.parametrize("kills", [1, 2])
def test_sweep_reruns_a_block_whose_worker_died_once_and_fails_its_point_after_twice(
    tmp_path: Path, kills: int
) -> None:
    """One block per point, one worker: the first workers killed all hold point 0's block."""
    sweep = sweep_in_process(tmp_path, SWEEP)  # the reference store, tmp_path / "here"
    killer = WorkerKiller(kills)
    killer.armed.set()
    killer.start()
    with LocalExecutor(1) as executor:
        outcome = run_sweep(sweep, DirectoryStore.create(tmp_path / "killed", sweep), executor)
    killer.join()
    design = pq.read_table(tmp_path / "killed" / "design.parquet").to_pydict()
    if kills == 1:  # run again in a new worker: the store is that of an undisturbed run
        assert (outcome.done, outcome.failed) == (2, 0)
        assert files_of(tmp_path / "killed") == files_of(tmp_path / "here")
        return
    assert (outcome.done, outcome.failed) == (1, 1)
    assert outcome.failures[0] == (
        "its worker process died (killed by SIGKILL), again after 1 retry"
    )
    assert design["status"] == ["failed", "done"]
    for name in ("outcomes/point=1", "bands/point=1"):
        assert files_of(tmp_path / "killed" / name) == files_of(tmp_path / "here" / name)
