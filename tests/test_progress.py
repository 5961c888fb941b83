"""Progress that moves: engines report replications done within a block, worker processes
carry it to the parent, and ``simulate`` passes on a fractional count that only rises. Progress
is observation only: the results are the same with or without it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from siege.engines import run_block
from siege.rng import STREAM_BLOCK
from siege.run.executors import LocalExecutor
from siege.run.simulate import simulate
from siege.scenario import Scenario, load_scenario
from siege.scenario.render import toml_text as to_toml

from conftest import SCENARIOS, scenario_data


@pytest.fixture(scope="module")
def bakhmut() -> Scenario:
    return load_scenario(SCENARIOS / "bakhmut.toml")


def test_batch_engine_reports_progress_each_step_without_changing_the_block(
    bakhmut: Scenario,
) -> None:
    short = bakhmut.with_overrides({"simulation.horizon_days": 60.0})
    reports: list[float] = []
    watched = run_block("batch", short, 0, STREAM_BLOCK, progress=reports.append)
    alone = run_block("batch", short, 0, STREAM_BLOCK)
    assert len(reports) >= 50  # one a combat step (a day) while replications run
    assert np.all(np.diff(reports) > 0) and 0 < reports[0] and reports[-1] < STREAM_BLOCK
    assert watched.reason.tobytes() == alone.reason.tobytes()
    for name, column in alone.columns.items():
        assert watched.columns[name].tobytes() == column.tobytes(), name


def test_event_engine_reports_each_replication() -> None:
    scenario = Scenario.model_validate(scenario_data())
    reports: list[float] = []
    run_block("event", scenario, 0, 6, progress=reports.append)
    assert reports == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow  # two blocks of 600 combat steps in two spawned workers
def test_progress_from_two_worker_processes_moves_within_blocks(bakhmut: Scenario) -> None:
    # two blocks of many short combat steps, one in each worker: a few seconds each
    fine = bakhmut.with_overrides({"simulation.horizon_days": 150.0,
                                   "simulation.time_step_days": 0.25})
    blocks, total = 2, 2 * STREAM_BLOCK
    reports: list[tuple[float, int]] = []
    with LocalExecutor(2) as executor:
        simulate(fine, replications=total, block_size=STREAM_BLOCK, executor=executor,
                 progress=lambda done, of: reports.append((done, of)))
    done = [d for d, _ in reports]
    assert {of for _, of in reports} == {total}
    assert len(done) > 3 * blocks  # not only when blocks finish
    assert any(d % STREAM_BLOCK for d in done)  # within blocks
    assert np.all(np.diff(done) > 0)
    assert done[-1] == total


def _in_a_terminal(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int | None, str]:
    """Run ``python -m siege ARGS`` with a pseudo-terminal as its streams: its exit status
    (None if it did not end within ``timeout`` seconds) and what it drew."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "siege", *args], stdin=slave, stdout=slave,
                            stderr=slave, cwd=cwd, env={**os.environ, "TERM": "xterm",
                                                        "COLUMNS": "100"})
    os.close(slave)
    drawn = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the terminal closed: the command ended
                    break
                if not data:
                    break
                drawn.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    code = proc.wait(timeout=10)
    return (None if time.monotonic() >= deadline else code), b"".join(drawn).decode(
        errors="replace")


def test_simulate_in_a_terminal_draws_the_bar_and_finishes(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(to_toml(scenario_data()))
    code, drawn = _in_a_terminal(["simulate", "small.toml", "-n", "512"], tmp_path)
    assert code == 0, drawn[-2000:]
    assert "replications" in drawn and "ETA" in drawn  # the bar, drawn on the terminal
    assert "outcomes: small.results.parquet" in drawn
