"""`siege calibrate` end to end on a small scenario: the store, resuming it, the predictive
check, the calibrated scenario, and simulating under the posterior."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from siege.analysis.calibrate import posterior_values
from siege.results.parquet import read_results
from siege.rng import STREAM_BLOCK
from siege.run.calibrate import simulate_particles
from siege.run.executors import InProcessExecutor, LocalExecutor
from siege.scenario import load_scenario
from siege.scenario.calibration import load_calibration
from siege.scenario.render import toml_text
from test_calibration_file import write_calibration

from conftest import ROOT, files_of, kill_9_when, run_cli, scenario_data

RESULT_FILES = ("generations.parquet", "particles.parquet", "posterior.parquet")


def _stored(store: Path) -> dict[str, bytes]:
    """The files that hold the results of a store (not the calibration file's copies)."""
    return {k: v for k, v in files_of(store).items()
            if k in RESULT_FILES or k.startswith("generations/")}


def test_calibrate_writes_each_generation_and_the_posterior(tmp_path: Path) -> None:
    cal = write_calibration(tmp_path)
    store = tmp_path / "cal.store"
    result = run_cli("calibrate", str(cal), "--out", str(store), "--workers", "1",
                     "--write-scenario", str(tmp_path / "calibrated.toml"))
    assert result.returncode == 0, result.stderr
    assert "generation 1: tolerance" in result.stderr and "max_generations" in result.stderr
    assert "sectors.north.advance_rate" in result.stdout and "90 % interval" in result.stdout
    posterior = pq.read_table(store / "posterior.parquet")
    assert posterior.column_names == ["path", "median", "q05", "q25", "q75", "q95"]
    assert posterior.column("path").to_pylist() == ["sectors.north.advance_rate",
                                                    "attrition.defender_kill_rate"]
    q = {c: posterior.column(c).to_numpy() for c in posterior.column_names[1:]}
    assert np.all((q["q05"] <= q["q25"]) & (q["q25"] <= q["median"]) & (q["median"] <= q["q75"])
                  & (q["q75"] <= q["q95"]))
    particles = pq.read_table(store / "particles.parquet")
    assert particles.num_rows == 30
    assert particles.column_names[:3] == ["particle", "weight", "distance"]
    assert np.isclose(particles.column("weight").to_numpy().sum(), 1.0)
    generation = pq.read_table(store / "generations" / "generation=1.parquet")
    assert "distance.west_road_cut" in generation.column_names
    assert "summary.control_north@20" in generation.column_names
    assert pq.read_table(store / "generations.parquet").num_rows == 2
    calibrated = load_scenario(tmp_path / "calibrated.toml")
    median = posterior.column("median").to_pylist()[0]
    assert calibrated.sectors[0].advance_rate == pytest.approx(median, rel=1e-3)
    text = (tmp_path / "calibrated.toml").read_text()
    assert "90 % interval" in text and "# posterior medians" in text
    assert f"calibrated: siege calibrate {cal.as_posix()}: posterior median" in text
    # the README's tables (docs/scripts/calibration_tables.py): one row per parameter and
    # per target component, the medians as the store has them
    sys.path.insert(0, str(ROOT / "docs" / "scripts"))
    from calibration_tables import tables

    markdown = tables(str(store), draws=10)
    rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == posterior.column("path").to_pylist()
    assert "| west_road_cut |" in markdown and "| in 90 % |" in markdown


def test_resumed_calibration_ends_with_the_same_store(tmp_path: Path) -> None:
    whole, part = tmp_path / "whole", tmp_path / "part"
    whole.mkdir()
    part.mkdir()
    full = write_calibration(whole, {"abc.max_generations": 3})
    assert run_cli("calibrate", str(full), "--out", str(whole / "s"), "-w", "1").returncode == 0
    first = write_calibration(part, {"abc.max_generations": 2})
    assert run_cli("calibrate", str(first), "--out", str(part / "s"), "-w", "1").returncode == 0
    again = write_calibration(part, {"abc.max_generations": 3})  # stopping rules may change
    resumed = run_cli("calibrate", str(again), "--out", str(part / "s"), "-w", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "generation 2:" in resumed.stderr and "generation 1:" not in resumed.stderr
    assert _stored(part / "s") == _stored(whole / "s")
    other = write_calibration(part, {"seed": 9})
    refused = run_cli("calibrate", str(other), "--out", str(part / "s"), "-w", "1", "--resume")
    assert refused.returncode == 2 and "different calibration" in refused.stderr


def test_particles_do_not_depend_on_the_blocks(tmp_path: Path) -> None:
    cal = load_calibration(write_calibration(tmp_path, scenario=scenario_data(
        simulation={"horizon_days": 32.0})))
    values = np.column_stack([np.linspace(0.01, 0.2, STREAM_BLOCK + 300),
                              np.linspace(0.05, 0.001, STREAM_BLOCK + 300)])
    one = simulate_particles(cal, values, 11, InProcessExecutor(), bands=True)
    two = simulate_particles(cal, values, 11, InProcessExecutor(), block_size=STREAM_BLOCK,
                             bands=True)
    assert np.array_equal(one.summaries, two.summaries, equal_nan=True)
    assert one.bands is not None and two.bands is not None
    assert np.array_equal(one.bands.accumulator.counts, two.bands.accumulator.counts)


def test_predictive_check_and_runs_under_the_posterior(tmp_path: Path) -> None:
    cal = write_calibration(tmp_path)
    store = tmp_path / "cal.store"
    assert run_cli("calibrate", str(cal), "--out", str(store), "-w", "1").returncode == 0
    check = run_cli("calibrate", "--check", str(store), "--draws", "40", "-w", "1")
    assert check.returncode == 0, check.stderr
    for label in ("control_north@30", "west_road_cut", "outcome.end_reason", "outcome.end_day"):
        assert label in check.stdout
    # two policies under the same posterior and seed pair replication by replication: a
    # threshold policy that never fires gives the hold policy's outcomes, run for run
    hold = scenario_data(policy={"kind": "hold"}, simulation={"replications": 300, "seed": 4})
    never = scenario_data(simulation={"replications": 300, "seed": 4}, policy={
        "kind": "threshold", "combine": "all", "triggers": [
            {"name": "threat", "measure": "encirclement_threat", "op": ">=", "threshold": 0.6},
            {"name": "late", "measure": "day", "op": ">=", "threshold": 1e6}]})
    outcomes = {}
    for name, data in (("hold", hold), ("never", never)):
        (tmp_path / f"{name}.toml").write_text(toml_text(data))
        out = tmp_path / f"{name}.parquet"
        ran = run_cli("simulate", str(tmp_path / f"{name}.toml"), "--posterior", str(store),
                      "-o", str(out), "-w", "1")
        assert ran.returncode == 0, ran.stderr
        outcomes[name] = read_results(out)
    a, b = outcomes["hold"], outcomes["never"]
    for column in ("end_reason", "end_day", "attacker_losses", "defender_losses"):
        assert a.outcomes.column(column).equals(b.outcomes.column(column)), column
    assert a.metadata["siege.posterior"] == str(store.resolve())
    values, meta = posterior_values(store, 300, 4)
    assert a.metadata["siege.posterior_sha256"] == meta["siege.posterior_sha256"]
    assert len(set(values["sectors.north.advance_rate"])) > 5  # drawn, not one value
    plain = tmp_path / "plain.parquet"
    assert run_cli("simulate", str(tmp_path / "hold.toml"), "-o", str(plain),
                   "-w", "1").returncode == 0
    assert not read_results(plain).outcomes.column("attacker_losses").equals(
        a.outcomes.column("attacker_losses"))


@pytest.mark.slow
def test_figures_and_report_of_a_calibration(tmp_path: Path) -> None:
    cal = write_calibration(tmp_path)
    store = tmp_path / "cal.store"
    assert run_cli("calibrate", str(cal), "--out", str(store), "-w", "1").returncode == 0
    made = run_cli("calibrate", "--check", str(store), "--draws", "40", "-w", "1", "--figures",
                   str(tmp_path / "figs"), "--report", str(tmp_path / "cal.html"))
    assert made.returncode == 0, made.stderr
    names = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert names == ["posterior_marginals.png", "posterior_pairs.png",
                     "predictive_control_north.png", "predictive_milestones.png"]
    assert "Posterior predictive check" in (tmp_path / "cal.html").read_text()


@pytest.mark.slow
def test_results_are_the_same_with_worker_processes(tmp_path: Path) -> None:
    cal = write_calibration(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("calibrate", str(cal), "--out", str(one), "-w", "1").returncode == 0
    assert run_cli("calibrate", str(cal), "--out", str(two), "-w", "2").returncode == 0
    assert _stored(one) == _stored(two)
    loaded = load_calibration(cal)
    values = np.column_stack([np.linspace(0.01, 0.2, 2 * STREAM_BLOCK),
                              np.linspace(0.05, 0.001, 2 * STREAM_BLOCK)])
    with LocalExecutor(2) as executor:
        spread = simulate_particles(loaded, values, 3, executor, block_size=STREAM_BLOCK)
    alone = simulate_particles(loaded, values, 3, InProcessExecutor())
    assert np.array_equal(spread.summaries, alone.summaries, equal_nan=True)


@pytest.mark.slow
def test_resume_after_kill_9_gives_the_identical_posterior(tmp_path: Path) -> None:
    cal = write_calibration(tmp_path, {"abc.max_generations": 5, "abc.population": 200})
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    cmd = [sys.executable, "-m", "siege", "calibrate", str(cal), "-w", "1", "--out"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    kill_9_when([*cmd[3:], str(killed)],
                (killed / "generations" / "generation=2.parquet").exists,
                "the calibration (generation 2)", env=env)
    assert not (killed / "generations" / "generation=4.parquet").exists()
    resumed = subprocess.run([*cmd, str(killed), "--resume"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    subprocess.run([*cmd, str(whole)], env=env, check=True, capture_output=True, timeout=300)
    assert _stored(killed) == _stored(whole)
    assert sorted(_stored(killed)) == sorted(
        [*RESULT_FILES, *(f"generations/generation={t}.parquet" for t in range(5))])
