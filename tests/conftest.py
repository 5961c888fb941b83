"""Shared fixtures: small valid scenarios, and runners for the real CLI (in process and in a
subprocess)."""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from siege.scenario.render import toml_text as to_toml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def files_of(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> bytes): two stores compared byte for byte."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}

BASE: dict[str, Any] = {
    "name": "test",
    "simulation": {"horizon_days": 40.0, "time_step_days": 1.0, "replications": 256, "seed": 7},
    "defender": {"strength": 5000.0, "reinforcement_rate": 10.0},
    "attacker": {
        "strength": 12000.0,
        "reinforcement_rate": 40.0,
        "trained_reserves": 2000.0,
        "replacement_rate": 30.0,
    },
    "attrition": {"attacker_kill_rate": 0.004, "defender_kill_rate": 0.01, "overdispersion": 0.1},
    "fortification": {"multiplier": 2.0},
    "sectors": [
        {"name": "north", "flank": True, "advance_rate": 0.05, "control": 0.1},
        {"name": "town", "fortified": True, "advance_rate": 0.03},
        {"name": "south", "flank": True, "advance_rate": 0.04},
    ],
    "supply": {"stockpile_tonnes": 500.0, "consumption_tonnes_per_person_day": 0.02},
    "routes": [
        {"name": "west", "sectors": ["north"], "capacity_tonnes_per_day": 80.0},
        {"name": "southwest", "sectors": ["south"], "capacity_tonnes_per_day": 60.0},
    ],
    "policy": {
        "kind": "threshold",
        "triggers": [
            {"name": "threat", "measure": "encirclement_threat", "op": ">=", "threshold": 0.6}
        ],
    },
}


def scenario_data(**changes: Any) -> dict[str, Any]:
    """A deep copy of the small test scenario with top-level tables updated."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return data


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the ``siege`` CLI in this process (typer's CliRunner): exit status, stdout and
    stderr as a subprocess would give them. An exception the CLI does not handle is raised
    (a traceback a user would see fails the test). ``timeout`` is for the subprocess form."""
    from typer.testing import CliRunner

    from siege.cli import app

    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def run_cli_subprocess(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m siege ARGS`` in a real subprocess (for smoke tests of the installed
    command: console encoding, exit codes seen by a shell, worker processes)."""
    return subprocess.run(
        [sys.executable, "-m", "siege", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def kill_9_when(args: Sequence[str], ready: Callable[[], bool], what: str, *,
                env: Mapping[str, str] | None = None, timeout: float = 120.0) -> None:
    """Start ``python -m siege ARGS`` and kill it with SIGKILL (no handler, no clean-up) as
    soon as ``ready()`` holds, checked every 10 ms; fail if it ends first or nothing is ready
    within ``timeout`` seconds."""
    proc = subprocess.Popen([sys.executable, "-m", "siege", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"{what} finished before it could be killed"
            assert time.monotonic() < deadline, f"{what}: not ready within {timeout:g} s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def write_scenario(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a scenario dict (or raw text) to a TOML file; returns its path."""

    def write(data: dict[str, Any] | str, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else to_toml(data), encoding="utf-8")
        return path

    return write


def sweep_in_process(folder: Path, text: str) -> Any:
    """Write the sweep file ``text`` into ``folder``, run it in this process into the
    reference store ``folder / "here"``, and return the loaded sweep."""
    from siege.run.executors import InProcessExecutor
    from siege.run.store import DirectoryStore
    from siege.run.sweep import load_sweep, run_sweep

    path = folder / "s.toml"
    path.write_text(text)
    sweep = load_sweep(path)
    with InProcessExecutor() as here:
        run_sweep(sweep, DirectoryStore.create(folder / "here", sweep), here)
    return sweep
