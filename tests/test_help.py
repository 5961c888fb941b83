"""`--help` in the conventions of click and typer: flags without a value placeholder,
arguments named in capitals (FILE), values by their kind (TEXT, INTEGER, PATH)."""

from __future__ import annotations

import re

import pytest

from conftest import run_cli

COMMANDS = ("validate", "schema", "simulate", "compare", "plot", "report", "sweep",
            "sensitivity", "discover", "fit")


def test_simulate_help_names_file_and_shows_no_value_after_flags() -> None:
    proc = run_cli("simulate", "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "<bool>" not in text
    assert re.search(r"Usage: siege simulate \[OPTIONS\] FILE\b", text)
    assert re.search(r"--json\s+Print the summary as JSON", text)  # a flag takes no value
    assert re.search(r"--set\s+TEXT\b", text)  # repeatable, one value each time
    assert "Scenario file (TOML)" in text  # the argument keeps its help


@pytest.mark.parametrize("command", COMMANDS)
def test_no_command_help_has_placeholders_that_read_like_values(command: str) -> None:
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"<(bool|str|int|float|path|list\[[^]]*\])[^>]*>", proc.stdout)
    assert not re.search(r"Usage:.*[{<]", proc.stdout)  # FILE, not {file}
