"""What ``siege simulate`` does when its results file already holds results: another run's in
the default file (SCENARIO.results.parquet) are kept unless --force is given; with --out they
are replaced, and one line says what was replaced; the same run's are replaced silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from siege.results.parquet import read_metadata
from siege.scenario.render import toml_text as to_toml

from conftest import run_cli, scenario_data


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "small.toml").write_text(to_toml(scenario_data()))
    return tmp_path


def simulate(folder: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("simulate", "small.toml", "-n", "64", "-w", "1", *args, cwd=folder)


def seed_in(path: Path) -> str:
    return read_metadata(path)["siege.seed"]


def test_default_file_of_another_seed_is_kept_without_force(folder: Path) -> None:
    assert simulate(folder).returncode == 0
    default = folder / "small.results.parquet"
    before = default.read_bytes()
    proc = simulate(folder, "--seed", "3")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: small.results.parquet holds the results of another run (scenario test, seed 7, "
        f"64 replications, sha256 {read_metadata(default)['siege.scenario_sha256'][:12]}); "
        "give --out FILE to write this run elsewhere, or --force to replace them\n")
    assert default.read_bytes() == before


@pytest.mark.parametrize("change", [["--seed", "3"], ["--set", "policy.kind=hold"], ["-n", "32"],
                                    ["--engine", "event"]])
def test_default_file_of_another_run_is_replaced_with_force_and_said(
    folder: Path, change: list[str]
) -> None:
    assert simulate(folder).returncode == 0
    assert simulate(folder, *change).returncode == 2
    proc = simulate(folder, *change, "--force")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("replaced small.results.parquet (scenario test, seed 7, 64 "
                                  "replications, sha256 ")
    assert len(proc.stderr.splitlines()) == 1


def test_the_same_run_again_replaces_its_own_results_silently(folder: Path) -> None:
    assert simulate(folder, "--seed", "5").returncode == 0
    proc = simulate(folder, "--seed", "5", "--json")
    assert proc.returncode == 0 and proc.stderr == ""
    assert seed_in(folder / "small.results.parquet") == "5"


def test_explicit_out_replaces_another_run_and_says_what(folder: Path) -> None:
    assert simulate(folder, "--out", "r.parquet").returncode == 0
    proc = simulate(folder, "--out", "r.parquet", "--seed", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("replaced r.parquet (scenario test, seed 7, 64 replications, "
                                  "sha256 ")
    assert seed_in(folder / "r.parquet") == "3"
    assert '"seed": 3' in proc.stdout  # the JSON on stdout stays clean
