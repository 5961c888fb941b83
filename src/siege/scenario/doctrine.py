"""The doctrine set: the parameters shared across sieges that a siege's own facts do not fix
(advance, fortification, interdiction, decision), with their priors, for
``siege backtest --leave-one-out``.

A doctrine file holds ``[[prior]]`` tables as a calibration file does (``path``,
``distribution`` and its parameters), with one addition: a path may name every sector or
every route with ``*`` (``routes.*.interdiction_at_full_control``), so that one doctrine value
sets that key on each of them in every siege; a path into an optional table (``capture.*``,
``pocket.*``) sets it in the sieges whose scenario has that table and no other (in none, when
no siege of the folder has the table). Each prior is
checked against every siege's scenario as a calibration's priors are (the path exists and may
take one value per replication; its support is valid there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from siege.errors import CalibrationError
from siege.scenario.calibration import Prior, check_prior, located_errors
from siege.scenario.compile import OPTIONAL_TABLES
from siege.scenario.history import DocumentedSiege
from siege.scenario.pocket import Capture, Pocket
from siege.scenario.read import read_toml
from siege.scenario.schema import Scenario

WILDCARD = "*"
_TOP_KEYS = ("description", "prior")


@dataclass(frozen=True)
class Doctrine:
    """Checked doctrine priors; a path may hold ``*`` for every sector or route."""

    file: Path
    priors: tuple[Prior, ...]

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.priors]

    def expand(self, scenario: Scenario) -> list[tuple[int, str]]:
        """The scenario paths each doctrine parameter sets: ``(index, path)`` pairs, a
        ``*`` replaced by each of the scenario's sectors or routes."""
        return [(j, concrete) for j, prior in enumerate(self.priors)
                for concrete in expand_path(prior.path, scenario)]


def expand_path(path: str, scenario: Scenario) -> list[str]:
    """``path`` with a ``*`` in the place of a sector's or route's name replaced by each of
    the scenario's (a path without ``*``: itself); none for a path into an optional table
    (``[capture]``, ``[pocket]``) that the scenario does not have."""
    parts = path.split(".")
    if parts[0] in OPTIONAL_TABLES and getattr(scenario, parts[0]) is None:
        return []
    if WILDCARD not in parts:
        return [path]
    names = {"sectors": scenario.sector_names, "routes": scenario.route_names}
    return [".".join([parts[0], name, *parts[2:]]) for name in names[parts[0]]]


def load_doctrine(path: str | Path, scenarios: Sequence[tuple[str, Scenario]]) -> Doctrine:
    """Read a doctrine file and check each prior against each ``(name, scenario)``."""
    file = Path(path)
    data, text = read_toml(file, what="doctrine")
    error = located_errors(file, text)
    for key in data:
        if key not in _TOP_KEYS:
            raise error((key,), f"unknown key; allowed: {', '.join(_TOP_KEYS)}")
    raw = data.get("prior")
    if not isinstance(raw, list) or not raw:
        raise error(("prior",), "give at least one [[prior]] table")
    priors = []
    for i, table in enumerate(raw):
        loc = ("prior", i, "path")
        pattern = table.get("path") if isinstance(table, dict) else None
        if isinstance(pattern, str) and WILDCARD in pattern.split(".") and (
                pattern.split(".")[0] not in ("sectors", "routes") or
                pattern.split(".").index(WILDCARD) != 1 or pattern.count(WILDCARD) != 1):
            raise error(loc, "a '*' stands for every sector or route: 'sectors.*.KEY' or "
                        f"'routes.*.KEY' (got {pattern!r})")
        checked = None
        for name, scenario in scenarios:
            paths = expand_path(pattern, scenario) if isinstance(pattern, str) else [pattern]
            for concrete in paths:
                checked = _checked(table, concrete, i, scenario, file, text, name)
        if checked is None and isinstance(pattern, str) and _table_key(pattern):
            continue  # a key of a table none of these sieges has: the prior sets nothing
        if checked is None:  # no scenario has such a sector or route
            raise error(loc, f"{pattern!r} names no sector, route or table of any siege")
        priors.append(replace(checked, path=str(pattern)))
    seen: dict[str, int] = {}
    for i, prior in enumerate(priors):
        if prior.path in seen:
            raise error(("prior", i, "path"), f"'{prior.path}' already has a prior "
                        f"(prior[{seen[prior.path]}])")
        seen[prior.path] = i
    return Doctrine(file, tuple(priors))


def check_inputs(doctrine: Doctrine, sieges: Sequence[DocumentedSiege]) -> None:
    """Raise :class:`CalibrationError` (at the targets file's line) where a siege's uncertain
    input sets a path the doctrine sets: a value is either fitted across sieges or drawn from
    the siege's own range, not both."""
    for siege in sieges:
        fitted = {path for _, path in doctrine.expand(siege.scenario)}
        for i, prior in enumerate(siege.inputs):
            if prior.path in fitted:
                _, text = read_toml(siege.targets_file, what="targets")
                raise located_errors(siege.targets_file, text)(
                    ("prior", i, "path"), f"'{prior.path}' is a doctrine parameter "
                    f"({doctrine.file.name}), fitted across the sieges; a siege's [[prior]] "
                    "tables are its own uncertain facts")


def _table_key(path: str) -> bool:
    """True for ``capture.KEY`` or ``pocket.KEY``, a key of an optional table."""
    parts = path.split(".")
    fields = {"capture": Capture.model_fields, "pocket": Pocket.model_fields}.get(parts[0], {})
    return len(parts) == 2 and parts[1] in fields


def _checked(table: Any, concrete: Any, i: int, scenario: Scenario, file: Path, text: str,
             name: str) -> Prior:
    """One prior checked with ``concrete`` as its path, an error naming the siege."""
    raw = dict(table, path=concrete) if isinstance(table, dict) else table
    try:
        return check_prior(raw, i, scenario, file, text)
    except CalibrationError as exc:
        raise CalibrationError(f"{exc.detail} (in the scenario of the siege '{name}')",
                               file=exc.file, key=exc.key, line=exc.line) from None
