"""Documented sieges for the backtest: a folder in which each scenario ``<name>.toml`` has its
``<name>.targets.toml`` (what happened, in the target format of ``siege calibrate``; see
docs/history/README.md).

:func:`load_history` pairs the files and reads each siege's outcome target: the observed end
reason and end day the backtest scores the model against. The other targets of a file are
for ``siege calibrate`` and are not read here. Its ``[[prior]]`` tables (a calibration file's
format) are the siege's uncertain inputs: its own facts known only within a range (a garrison
strength the sources disagree on, a stockpile that is an assumption), which the backtest draws
once per replication in every simulation of the siege. The doctrine file of the folder
(``doctrine.toml``, see :mod:`siege.scenario.doctrine`) is not a siege.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siege.errors import HistoryError, ScenarioError
from siege.scenario.calibration import Prior, check_priors, located_errors
from siege.scenario.load import load_scenario
from siege.scenario.read import read_toml
from siege.scenario.schema import Scenario
from siege.scenario.targets import Target, parse_targets

TARGETS_SUFFIX = ".targets.toml"
DOCTRINE_FILE = "doctrine.toml"
_TOP_KEYS = ("name", "start_date", "scenario", "description", "target", "prior")


@dataclass(frozen=True)
class DocumentedSiege:
    """A documented siege: its scenario, and how it ended (the reason and the whole day from
    day 0 reported by its targets file's outcome target, and that target as parsed)."""

    name: str
    scenario: Scenario
    scenario_file: Path
    targets_file: Path
    start_date: dt.date | None
    end_reason: str
    end_day: float
    outcome: Target
    inputs: tuple[Prior, ...] = ()  # the siege's uncertain inputs: its [[prior]] tables


def load_history(folder: str | Path, *, skip: Sequence[str] = (DOCTRINE_FILE,)
                 ) -> tuple[DocumentedSiege, ...]:
    """The sieges of ``folder``, by name: every ``<name>.toml`` (but the files named in
    ``skip``) with its ``<name>.targets.toml``. Raise :class:`HistoryError` for a folder with
    none, a scenario without targets or targets without a scenario."""
    root = Path(folder)
    if not root.is_dir():
        raise HistoryError(f"{root}: not a folder; give the folder of documented sieges "
                           "(<name>.toml with <name>.targets.toml), e.g. scenarios/history/")
    targets = {p.name.removesuffix(TARGETS_SUFFIX): p for p in root.glob("*" + TARGETS_SUFFIX)}
    scenarios = {p.stem: p for p in root.glob("*.toml")
                 if not p.name.endswith(TARGETS_SUFFIX) and p.name not in skip}
    alone = sorted(scenarios.keys() - targets.keys())
    if alone:
        raise HistoryError(f"{scenarios[alone[0]]}: a scenario without targets; add "
                           f"{alone[0]}{TARGETS_SUFFIX} (what happened: see "
                           "docs/history/README.md) or move the scenario out of the folder")
    orphans = sorted(targets.keys() - scenarios.keys())
    if orphans:
        raise HistoryError(f"{targets[orphans[0]]}: targets without their scenario "
                           f"{orphans[0]}.toml")
    if not targets:
        raise HistoryError(f"{root}: no documented sieges (<name>.toml with "
                           f"<name>{TARGETS_SUFFIX}) in this folder")
    return tuple(load_siege(targets[name]) for name in sorted(targets))


def load_siege(targets_file: Path) -> DocumentedSiege:
    """A siege from its targets file (its scenario is the file's ``scenario`` key, relative
    to it, or ``<name>.toml`` beside it)."""
    data, text = read_toml(targets_file, what="targets")
    error = located_errors(targets_file, text)
    for key in data:
        if key not in _TOP_KEYS:
            raise error((key,), f"unknown key; allowed: {', '.join(_TOP_KEYS)}")
    name = targets_file.name.removesuffix(TARGETS_SUFFIX)
    if data.get("name", name) != name:
        raise error(("name",), f"must be the file's name, {name!r} (got {data['name']!r})")
    ref = data.get("scenario", f"{name}.toml")
    if not isinstance(ref, str) or not ref:
        raise error(("scenario",), "give the scenario file, relative to this file")
    scenario_file = (targets_file.parent / ref).resolve()
    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise error(("scenario",), f"scenario: {exc}") from None
    start = data.get("start_date")
    if start is not None and (not isinstance(start, dt.date) or isinstance(start, dt.datetime)):
        raise error(("start_date",), f"must be a TOML date, e.g. 2022-08-01 (got {start!r})")
    outcome, table = _outcome(data.get("target"), scenario, error)
    if "end_reason" not in table or "end_day" not in table:
        raise error(("target",), "the outcome target needs end_reason and end_day (with sd, "
                    "or inside low and high): what the backtest scores")
    siege = DocumentedSiege(name, scenario, scenario_file, targets_file, start,
                            str(table["end_reason"]), float(table["end_day"]), outcome,
                            _inputs(data.get("prior", []), scenario, targets_file, text, error))
    siege_targets(siege)  # every target must load as `siege calibrate` reads it
    return siege


def siege_targets(siege: DocumentedSiege) -> tuple[Target, ...]:
    """Every ``[[target]]`` of the siege's targets file, parsed as ``siege calibrate`` parses
    a calibration file's targets (errors name the file, key and line)."""
    data, text = read_toml(siege.targets_file, what="targets")
    return parse_targets(data.get("target"), siege.scenario,
                         located_errors(siege.targets_file, text))


def _inputs(raw: Any, scenario: Scenario, file: Path, text: str, error: Any
            ) -> tuple[Prior, ...]:
    """The ``[[prior]]`` tables of a targets file, checked as a calibration file's are (a path
    that may take one value per replication, a support the scenario allows, one per path)."""
    if not isinstance(raw, list):
        raise error(("prior",), "must be [[prior]] tables (path, distribution and its "
                    "parameters, as in a calibration file)")
    return check_priors(raw, scenario, file, text)


def _outcome(raw: Any, scenario: Scenario, error: Any) -> tuple[Target, dict[str, Any]]:
    """The one ``kind = "outcome"`` target of ``raw``, parsed (errors at its own index)."""
    tables = raw if isinstance(raw, list) else []
    found = [i for i, t in enumerate(tables) if isinstance(t, dict) and
             t.get("kind") == "outcome"]
    if len(found) != 1:
        raise error(("target",), f"give one [[target]] of kind = \"outcome\" (end_reason and "
                    f"end_day); found {len(found)}")
    i = found[0]

    def at(loc: tuple[Any, ...], message: str) -> Any:
        return error(("target", i, *loc[2:]), message)

    target, = parse_targets([tables[i]], scenario, at)
    return target, tables[i]
