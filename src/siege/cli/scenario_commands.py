"""Commands on scenario files: ``validate`` (a file resolved, with every default) and
``schema`` (the reference of every table and key)."""

from __future__ import annotations

from siege.cli.common import (
    FileArgument,
    SetOption,
    err_console,
    out_console,
    overrides,
    user_errors,
)
from siege.scenario import load_scenario, to_toml


def validate(file: FileArgument, set_: SetOption = None) -> None:
    """Check a scenario file and print it resolved, with every default filled in."""
    with user_errors():
        scenario = load_scenario(file, overrides(set_))
        out_console.print(to_toml(scenario), markup=False, end="")
        err_console.print(f"{file}: valid (sha256 {scenario.sha256()[:12]})")


def schema() -> None:
    """Print the scenario file reference: every table and key, its default and unit."""
    from siege.scenario import reference_markdown

    out_console.print(reference_markdown(), markup=False, end="")
