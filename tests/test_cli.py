"""The real `siege` CLI: outputs, files, and every kind of bad input (in process, with a few
smoke tests through a real subprocess)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from siege.results.parquet import OUTCOME_COLUMNS

from conftest import SCENARIOS, run_cli, run_cli_subprocess, scenario_data, to_toml


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "small.toml"
    path.write_text(to_toml(scenario_data()))
    return path


def test_simulate_writes_outcomes_bands_and_provenance(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    proc = run_cli_subprocess("simulate", str(small), "-n", "300", "--seed", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "end reason" in proc.stdout and "withdrew" in proc.stdout
    table = pq.read_table(out)
    assert table.num_rows == 300
    for col in OUTCOME_COLUMNS:
        assert col in table.column_names
    assert "route_open_days_west" in table.column_names
    assert "trigger_first_day_threat" in table.column_names
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["siege.seed"] == "3" and meta["siege.engine"] == "batch"
    assert meta["siege.partial"] == "false" and meta["siege.completed"] == "300"
    assert len(meta["siege.scenario_sha256"]) == 64
    assert json.loads(meta["siege.scenario"])["simulation"]["replications"] == 300
    bands = pq.read_table(out.with_name("r.bands.parquet")).to_pandas()
    assert set(bands["kind"]) == {"band", "sample"}
    band = bands[(bands.kind == "band") & (bands.measure == "defender_strength")]
    assert len(band) == 41
    assert (band["p5"] <= band["p50"]).all() and (band["p50"] <= band["p95"]).all()
    assert not (tmp_path / ".r.parquet.tmp").exists()


def test_simulate_json_summary(small: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "simulate",
        str(small),
        "-n",
        "200",
        "--json",
        "--out",
        str(tmp_path / "j.parquet"),
        "--set",
        "policy.kind=hold",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    reasons = data["end_reasons"]
    assert sum(r["count"] for r in reasons.values()) == 200
    assert reasons["withdrew"]["count"] == 0  # --set policy.kind=hold took effect
    assert data["measures"]["end_day"]["median"] <= 40


def test_python_module_entry_point_and_version() -> None:
    proc = run_cli_subprocess("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("siege ")


def test_validate_prints_resolved_scenario(tmp_path: Path) -> None:
    proc = run_cli("validate", str(SCENARIOS / "bakhmut_hold.toml"))
    assert proc.returncode == 0, proc.stderr
    resolved = tmp_path / "resolved.toml"
    resolved.write_text(proc.stdout)
    assert "sample_trajectories = 20" in proc.stdout  # defaults filled in
    again = run_cli("validate", str(resolved))
    assert again.returncode == 0 and again.stdout == proc.stdout


def _bad(path: Path, *extra: str) -> str:
    proc = run_cli("simulate", str(path), "-n", "10", *extra)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert len(proc.stderr.strip().splitlines()) <= 12  # one screen
    return proc.stderr


def _variant(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = scenario_data()
    mutate(data)
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(data))
    return path


def test_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[simulation]\nhorizon_days = 30\nseed = = 3\n")
    err = _bad(path)
    assert "bad.toml, line 3" in err and "malformed TOML" in err


@pytest.mark.parametrize(
    ("mutate", "key", "needle"),
    [
        (lambda d: d["attacker"].update(strenght=5), "attacker.strenght", "unknown key"),
        (lambda d: d["attacker"].update(strength="lots"), "attacker.strength", "number"),
        (lambda d: d["defender"].update(strength=-100), "defender.strength",
         "greater than or equal to 0"),
        (
            lambda d: d["routes"][0].update(interdiction_base=1.2),
            "routes.west.interdiction_base",
            "less than or equal to 1",
        ),
        (lambda d: d["routes"][0].update(sectors=["east"]), "routes", "sector 'east'"),
        (
            lambda d: d["simulation"].update(replications=0),
            "simulation.replications",
            "greater than or equal to 1",
        ),
        (
            lambda d: d["simulation"].update(time_step_days=50.0),
            "simulation.time_step_days",
            "longer than horizon_days",
        ),
    ],
)
def test_invalid_scenarios_exit_2_naming_file_and_key(
    tmp_path: Path, mutate, key: str, needle: str
) -> None:  # type: ignore[no-untyped-def]
    err = _bad(_variant(tmp_path, mutate))
    assert "bad.toml" in err and key in err and needle in err
    assert ", line " in err  # located in the file


def test_missing_file() -> None:
    err = _bad(Path("/nonexistent/scenario.toml"))
    assert "/nonexistent/scenario.toml" in err and "not found" in err


def test_unreadable_file(tmp_path: Path) -> None:
    binary = tmp_path / "image.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert "not a UTF-8 text file" in _bad(binary)
    assert "is a directory" in _bad(tmp_path)
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.toml"
        locked.write_text("x = 1")
        locked.chmod(0)
        assert "cannot read" in _bad(locked)


@pytest.mark.parametrize(
    ("assignment", "needle"),
    [
        ("attacker.strength", "dotted.key=value"),
        ("attacker.strenth=5", "unknown key 'strenth'"),
        ("routes.nowhere.capacity_tonnes_per_day=5", "no route named 'nowhere'"),
        ("attacker.strength=-5", "greater than or equal to 0"),
        ("attrition.law=cubic", "'square'"),
    ],
)
def test_bad_set(small: Path, assignment: str, needle: str) -> None:
    err = _bad(small, "--set", assignment)
    assert "--set" in err and needle in err


def test_bad_option_values(small: Path) -> None:
    for args in (["-n", "0"], ["--seed", "-1"], ["-n", "many"]):
        proc = run_cli("simulate", str(small), *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_output_folder_missing(small: Path) -> None:
    err = _bad(small, "--out", "/nonexistent/dir/r.parquet")
    assert "does not exist" in err
