"""Hostile input through the real CLI: every case ends in one message naming the file (and
key, and line where there is one), exit status 2, no traceback, nothing run, nothing hung."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli, run_cli_subprocess, scenario_data, to_toml

BAKHMUT = Path(__file__).resolve().parents[1] / "scenarios" / "bakhmut.toml"


def assert_refused(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, one short message on stderr containing every fragment; returns the message."""
    message = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, message)
    assert "Traceback" not in message
    assert message.startswith("error:") and 1 <= len(message.splitlines()) <= 12, message
    flat = " ".join(message.split())  # the console may wrap long lines
    for fragment in fragments:
        assert fragment in flat, (fragment, message)
    return flat


def line_of(text: str, pattern: str, after: str = "") -> int:
    """1-based number of the first line matching ``pattern`` (after the line ``after``)."""
    lines = text.splitlines()
    start = lines.index(after) if after else 0
    return next(i for i in range(start, len(lines)) if re.match(pattern, lines[i])) + 1


# --------------------------------------------------------------------------------------------
# files that are not files


@pytest.mark.parametrize("role", ["scenario", "base", "sweep"])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, role: str) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    if role == "scenario":
        args = ["validate", str(fifo)]
    elif role == "base":
        child = tmp_path / "child.toml"
        child.write_text('extends = "pipe.toml"\n', encoding="utf-8")
        args = ["validate", str(child)]
    else:
        args = ["sweep", str(fifo), "--out", str(tmp_path / "store")]
    proc = run_cli_subprocess(*args, timeout=60)  # a hang fails here, not forever
    assert_refused(proc, "pipe.toml", "named pipe (FIFO)", "only regular files")
    assert not (tmp_path / "store").exists()


def test_a_device_is_refused_without_reading_it() -> None:
    proc = run_cli_subprocess("validate", "/dev/zero", timeout=60)
    assert_refused(proc, "/dev/zero", "character device")


def test_a_directory_given_as_sweep_file_is_refused(tmp_path: Path) -> None:
    assert_refused(
        run_cli("sweep", str(tmp_path), "--out", str(tmp_path / "store")), "is a directory"
    )


def test_a_file_over_one_mebibyte_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text(to_toml(scenario_data()) + "#" * (1 << 20) + "\n", encoding="utf-8")
    assert_refused(run_cli("validate", str(big)), "big.toml", "at most 1,048,576 bytes")


def test_a_990_deep_extends_chain_gives_the_depth_limit(tmp_path: Path) -> None:
    depth = 990
    (tmp_path / f"s{depth}.toml").write_text(to_toml(scenario_data()), encoding="utf-8")
    for i in range(depth):
        (tmp_path / f"s{i}.toml").write_text(f'extends = "s{i + 1}.toml"\n', encoding="utf-8")
    proc = run_cli("validate", str(tmp_path / "s0.toml"))
    assert_refused(proc, "too many levels of 'extends'", "more than 32 base files", "line 1")


def test_a_non_utf8_sweep_file_is_one_message(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_bytes(f'scenario = "{BAKHMUT}"\n# caf\xe9\n'.encode("latin-1"))
    proc = run_cli("sweep", str(sweep), "--out", str(tmp_path / "store"))
    assert_refused(proc, "sweep.toml, line 2", "not a UTF-8 text file", "0xe9")


# --------------------------------------------------------------------------------------------
# values that would hang a run or fill the memory


@pytest.mark.parametrize(
    ("table", "values", "fragments"),
    [
        ("policy", {"review_interval_days": 1e-6}, ("review_interval_days", "at least 0.01")),
        ("simulation", {"horizon_days": 100000.0}, ("horizon_days", "3650", "80 kB a day")),
        (
            "simulation",
            {"sample_trajectories": 10000, "replications": 10000},
            ("sample_trajectories", "at most 100,000"),
        ),
    ],
)
def test_values_that_would_hang_or_exhaust_memory_are_refused(
    write_scenario: Any, table: str, values: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    path = write_scenario(scenario_data(**{table: values}))
    proc = run_cli("validate", str(path))
    assert_refused(proc, "scenario.toml, line", f"key '{table}.", *fragments)


# --------------------------------------------------------------------------------------------
# strict types


@pytest.mark.parametrize(
    ("line", "replacement", "key", "got"),
    [
        ("strength = 12000.0", "strength = true", "attacker.strength", "got true"),
        ("strength = 12000.0", 'strength = "15000"', "attacker.strength", 'got "15000"'),
        ("fortified = true", 'fortified = "yes"', "sectors.town.fortified", 'got "yes"'),
        ("replications = 256", "replications = 256.0", "simulation.replications", "got 256.0"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(
    write_scenario: Any, line: str, replacement: str, key: str, got: str
) -> None:
    text = to_toml(scenario_data())
    assert line in text
    path = write_scenario(text.replace(line, replacement, 1))
    assert_refused(run_cli("validate", str(path)), f"key '{key}'", got)


def test_an_integer_is_a_float_and_hashes_as_one(write_scenario: Any) -> None:
    whole = write_scenario(to_toml(scenario_data()).replace("12000.0", "12000"), "whole.toml")
    point = write_scenario(scenario_data(), "point.toml")
    hashes = [run_cli("validate", str(p)).stderr.split("sha256 ")[1] for p in (whole, point)]
    assert hashes[0] == hashes[1]


@pytest.mark.parametrize(
    ("assignment", "fragments"),
    [
        ("simulation.replications=true", ("simulation.replications", "valid integer")),
        ("attacker.strength=many", ("attacker.strength", 'got "many"')),
        ("attacker.strength=15000\nname = 'x'", ("attacker.strength", "spans lines")),
        ("attacker.strength=15000\n[defender]\nstrength = 1", ("spans lines",)),
    ],
)
def test_set_values_follow_toml_typing(
    write_scenario: Any, assignment: str, fragments: tuple[str, ...]
) -> None:
    path = write_scenario(scenario_data())
    assert_refused(run_cli("validate", str(path), "--set", assignment), "--set", *fragments)


def test_a_bare_word_is_a_string_where_a_string_is_expected(write_scenario: Any) -> None:
    path = write_scenario(scenario_data())
    proc = run_cli("validate", str(path), "--set", "name=second_try")
    assert proc.returncode == 0 and 'name = "second_try"' in proc.stdout


def test_a_sweep_value_of_the_wrong_type_is_refused_before_the_store_exists(
    tmp_path: Path,
) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'scenario = "{BAKHMUT}"\n[design]\nmethod = "grid"\n'
        '[[parameter]]\npath = "defender.strength"\nvalues = [20000, true]\n',
        encoding="utf-8",
    )
    store = tmp_path / "store"
    proc = run_cli("sweep", str(sweep), "--out", str(store))
    assert_refused(proc, "sweep.toml", "parameter 'defender.strength'", "value true")
    assert not store.exists()


# --------------------------------------------------------------------------------------------
# errors located where the value is written


def test_an_invalid_value_in_a_base_file_names_the_base_and_its_line(tmp_path: Path) -> None:
    base_text = to_toml(scenario_data(attacker={"strength": -3.0}))
    (tmp_path / "base.toml").write_text(base_text, encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\nname = "child"\n', encoding="utf-8")
    line = line_of(base_text, r"strength = ", after="[attacker]")
    proc = run_cli("validate", str(child))
    message = assert_refused(proc, f"base.toml, line {line}:", "key 'attacker.strength'")
    assert "child.toml" not in message


def test_an_invalid_event_value_is_found_by_validate_with_index_and_line(
    write_scenario: Any,
) -> None:
    events = [
        {"day": 5.0, "set": {"advance.multiplier": 0.5}},
        {"day": 9.0, "set": {"attacker.replacement_rate": -1.0}, "note": "bad"},
    ]
    text = to_toml(scenario_data(events=events))
    path = write_scenario(text)
    line = line_of(text, r'set = \{ "attacker', after="[[events]]")
    proc = run_cli("validate", str(path))
    assert_refused(
        proc,
        f"scenario.toml, line {line}:",
        "key 'events[1].set.attacker.replacement_rate'",
        "from day 9",
        "got -1.0",
    )


# --------------------------------------------------------------------------------------------
# hashes


def test_minus_zero_and_zero_give_the_same_scenario_hash(write_scenario: Any) -> None:
    hashes = []
    for value in ("0.0", "-0.0"):
        text = to_toml(scenario_data(fortification={"multiplier": 2.0, "decay_per_day": 0.0}))
        path = write_scenario(text.replace("decay_per_day = 0.0", f"decay_per_day = {value}"))
        proc = run_cli("validate", str(path))
        assert proc.returncode == 0, proc.stderr
        hashes.append(proc.stderr.split("sha256 ")[1])
    assert hashes[0] == hashes[1]
