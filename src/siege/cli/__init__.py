"""The ``siege`` command: a thin typer layer over the Python API (parse, call, print).

Errors that are the user's to fix (bad scenario, bad option, missing file, a file that cannot
be written) print one message and exit with status 2, without a traceback. A run stopped by
Ctrl-C, SIGTERM or SIGHUP keeps its finished work and exits with 128 + the signal's number
(130, 143, 129). The commands live in modules by what they work on (scenario files, runs,
result sets, fits); this module makes the ``app`` and registers them, in the order ``--help``
lists them.
"""

from __future__ import annotations

import warnings
from typing import Annotated

import typer

from siege._version import __version__
from siege.cli import (
    analysis_commands,
    backtest_commands,
    discover_command,
    fit_commands,
    optimize_commands,
    run_commands,
    scenario_commands,
)
from siege.cli.common import fail, out_console, show_warning
from siege.errors import SiegeError
from siege.output import console as streams

app = typer.Typer(
    name="siege",
    help="Monte Carlo model of sieges of fortified towns: attrition, supply, encirclement, "
    "withdrawal decisions.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for command in (
    scenario_commands.validate,
    scenario_commands.schema,
    run_commands.simulate,
    analysis_commands.compare,
    analysis_commands.plot,
    analysis_commands.report,
    run_commands.sweep,
    analysis_commands.sensitivity,
    discover_command.discover,
    fit_commands.fit,
    fit_commands.calibrate,
    backtest_commands.backtest,
    optimize_commands.optimize,
):
    app.command()(command)
store_app = typer.Typer(name="store", help="Inspect sweep stores.", no_args_is_help=True)
store_app.command("check")(run_commands.store_check)
app.add_typer(store_app)


def version_callback(value: bool) -> None:
    """Print the version and stop (``--version``)."""
    if value:
        out_console.print(f"siege {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Monte Carlo model of sieges of fortified towns."""


def main() -> None:
    """Entry point of the ``siege`` console script."""
    streams.degrade_to_ascii()
    warnings.showwarning = show_warning
    try:
        app()
    except SiegeError as exc:  # pragma: no cover - commands already handle these
        fail(str(exc))
