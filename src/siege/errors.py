"""Exception types: one per kind of failure, each with a message a user can act on."""

from __future__ import annotations


class SiegeError(Exception):
    """Base class of every error siege raises on purpose (the CLI exits 2 on these)."""


class ScenarioError(SiegeError):
    """A scenario file (or an override of it) is missing, malformed or invalid.

    ``file`` is the file concerned, ``key`` the dotted key at fault (if known) and ``line``
    the line in the file (where TOML gives one).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.detail = message
        where = []
        if file:
            where.append(f"{file}" + (f", line {line}" if line else ""))
        if key:
            where.append(f"key '{key}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ResultsError(SiegeError):
    """A results file is missing, unreadable or not a siege results file."""


class OutputError(SiegeError):
    """A file or stream cannot be written: a full disk, a read-only folder, a name too long,
    or a target that must not be replaced (an input file, a FIFO, a device, a folder)."""


class ModelError(SiegeError):
    """The model's state left the range of floating point: parameters too extreme to simulate
    (e.g. a reinforcement rate of 1e308 persons per day)."""


class RunError(SiegeError):
    """A simulation run failed (a worker died, a block raised) and could not be completed."""


class ClusterError(RunError):
    """The Dask scheduler cannot be reached, or ``distributed`` is not installed."""


class SweepError(SiegeError):
    """A sweep file, a point of its design or a sweep store is invalid or inconsistent."""


class StoreBusyError(SweepError):
    """A sweep store is being written by another process (which holds its lock)."""


class CompareError(SiegeError):
    """Result sets that cannot be compared, drawn or reported, or a bad argument of those.

    ``parameter`` names the argument at fault (the message then starts with its name), so
    that the CLI can name its option instead.
    """

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class DiscoverError(CompareError):
    """A scenario-discovery request that cannot be met: a bad ``--where`` condition (the
    message shows where), a store whose points it cannot count, or a bad PRIM option;
    ``parameter`` as in :class:`CompareError`."""


class FitError(SiegeError):
    """A battle record that cannot be fitted (missing column, bad value, days out of order) or
    a bad fit option; the message names the file, row and column where it can."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM, SIGHUP), handled like Ctrl-C: finished work
    is kept. ``signal`` is the signal's number (the CLI exits with 128 + it)."""

    def __init__(self, signal: int) -> None:
        super().__init__(f"stopped by signal {signal}")
        self.signal = signal


class CalibrationError(ScenarioError):
    """A calibration file (its settings, priors or targets) is invalid, or a calibration store
    is missing, unreadable or made from another calibration; ``file``, ``key`` and ``line``
    locate the fault where there is one."""


class HistoryError(ScenarioError):
    """A folder of documented sieges for the backtest is unusable: no sieges, a scenario
    without its targets file (or targets without a scenario), a targets file without an
    outcome, or a doctrine file that does not fit the sieges."""


class OptimizeError(ScenarioError):
    """An optimization file (its levers, objectives, constraints or search settings) is
    invalid, or an optimization store is missing, unreadable or made from another file;
    ``file``, ``key`` and ``line`` locate the fault where there is one."""
