"""What every command shares: the two consoles, error handling and exit codes, the options
several commands take, the progress bar and the display of warnings."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.text import Text

from siege.errors import CompareError, OutputError, SiegeError
from siege.output import console as streams
from siege.run.signals import stop_signals_interrupt
from siege.scenario import parse_assignment

# user text is printed as it is (no markup), in ASCII where the stream cannot encode it
out_console = streams.console(streams.stdout)
if not out_console.is_terminal:  # piped: do not squeeze tables to 80 columns
    out_console = streams.console(streams.stdout, width=140)
err_console = streams.console(streams.stderr)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error message to stderr and exit (status 2 for user errors)."""
    with contextlib.suppress(OutputError):  # nowhere left to say it
        err_console.print(Text.assemble(("error:", "bold red"), " ", message))
    raise typer.Exit(code)


@contextmanager
def user_errors(options: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn siege's own errors into a one-line message and exit status 2; an error about a
    parameter of the API names the command's option for it (``options``: parameter ->
    option). SIGTERM and SIGHUP stop the command as Ctrl-C does; a stopped command says so
    and exits with 128 + the signal's number."""
    try:
        with stop_signals_interrupt():
            yield
    except SiegeError as exc:
        fail(_option_message(exc, options or {}))
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signal", signal.SIGINT)
        with contextlib.suppress(OutputError):
            err_console.print("interrupted" if signum == signal.SIGINT
                              else f"stopped by {signal.Signals(signum).name}")
        raise typer.Exit(128 + signum) from None


def _option_message(exc: SiegeError, options: Mapping[str, str]) -> str:
    """The error's message, the API parameter it starts with replaced by the option."""
    message = str(exc)
    parameter = exc.parameter if isinstance(exc, CompareError) else None
    if parameter is not None and parameter in options and message.startswith(parameter):
        return options[parameter] + message[len(parameter):]
    return message


def overrides(assignments: list[str] | None) -> dict[str, Any]:
    """The scenario overrides of ``--set dotted.key=value`` options, as a mapping."""
    out: dict[str, Any] = {}
    for text in assignments or []:
        key, value = parse_assignment(text)
        out[key] = value
    return out


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a scenario value: dotted.key=value (repeatable), e.g. "
        "--set attacker.strength=40000 --set routes.siversk.capacity_tonnes_per_day=100",
    ),
]
StoreWorkersOption = Annotated[
    int | None,
    typer.Option("--workers", "-w", min=1, help="Local worker processes (default: all "
                 "cores)."),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Run on a Dask cluster: its scheduler address, "
                 "tcp://HOST:PORT (results identical to a local run)."),
]
FileArgument = Annotated[Path, typer.Argument(help="Scenario file (TOML).", show_default=False)]
ResamplesOption = Annotated[
    int, typer.Option("--resamples", min=100, help="Bootstrap resamples per interval.")
]
BootstrapSeedOption = Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")]
ResultsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="Results files of `siege simulate` (or sweep-store points, e.g. STORE/point=12); "
        "the first is the reference.",
        show_default=False,
    ),
]
LabelOption = Annotated[
    list[str] | None,
    typer.Option("--label", "-l", help="Label of each results file, in order (repeatable)."),
]


@contextmanager
def progress_bar(label: str) -> Iterator[Any]:
    """A rich progress bar with elapsed time and ETA on stderr, or None when not a terminal
    (piped output stays clean). Standard output and error are not redirected through the bar:
    the consoles write to whatever ``sys.stderr`` is, so a redirect would feed the bar's
    own output back into it without end; messages printed meanwhile go through
    ``err_console``, which draws them above the bar."""
    if not err_console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        yield bar


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
    """A Python warning as one line, without the source path and line a user cannot act on."""
    with contextlib.suppress(OutputError):
        err_console.print(f"warning: {message}")

