"""Setting values in a scenario file's text, keeping everything else (comments, layout).

Used to write a calibrated scenario: each value goes on its own line, in place, with a
comment; a key the file does not write (a default) is added under its table's header.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from siege.scenario.load import scenario_from_dict
from siege.scenario.schema import Scenario
from siege.scenario.validate import find_line

_NAMED = {"sectors": "sector_names", "routes": "route_names"}
WAS = " | was "  # between a written value's new comment and what the line had before


def location(scenario: Scenario, path: str) -> tuple[Any, ...]:
    """The location of a dotted path in the file's tables: items of named lists by index
    (``sectors.north.advance_rate`` -> ``("sectors", 0, "advance_rate")``)."""
    parts: list[Any] = path.split(".")
    if parts[0] in _NAMED:
        parts[1] = getattr(scenario, _NAMED[parts[0]]).index(parts[1])
    elif parts[:2] == ["policy", "triggers"]:
        parts[2] = [t.name for t in scenario.policy.triggers].index(parts[2])
    return tuple(parts)


def number(value: float) -> str:
    """A TOML number."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


def set_values(text: str, scenario: Scenario, values: Mapping[str, tuple[float, str]]) -> str:
    """``text`` (the TOML of ``scenario``, with no ``extends``) with each path set to its
    value and the line's comment replaced by the one given, followed by `` | was`` and the
    line's old value and comment; a line an earlier call wrote keeps its first ``| was ...``
    (the hand-set value and its source), so writing again does not nest them.

    Raises ValueError if a value cannot be placed, or the result is not ``scenario`` with the
    values set."""
    lines = text.splitlines()
    added: dict[int, list[str]] = {}
    for path, (value, comment) in values.items():
        loc = location(scenario, path)
        key = str(loc[-1])
        line = find_line(text, loc) or 0
        written = re.match(rf"^(\s*){re.escape(key)}\s*=\s*([^#]*?)\s*(#.*)?$",
                           lines[line - 1]) if line else None
        if written:
            old = (written.group(3) or "").lstrip("# ").strip()
            if WAS in old:  # written by an earlier calibration: keep what the file had before it
                tail = f"{comment}{WAS}{old.split(WAS, 1)[1]}"
            else:
                tail = f"{comment}{WAS}{written.group(2).strip()}" + (f": {old}" if old else "")
            lines[line - 1] = f"{written.group(1)}{key} = {number(value)}  # {tail}"
            continue
        header = find_line(text, loc[:-1])
        if header is None or not lines[header - 1].lstrip().startswith("["):
            raise ValueError(f"no table for '{path}' in the file")
        added.setdefault(header, []).append(f"{key} = {number(value)}  # {comment}")
    for header in sorted(added, reverse=True):
        lines[header:header] = added[header]
    out = "\n".join(lines) + "\n"
    expected = scenario.with_overrides({p: v for p, (v, _) in values.items()})
    if scenario_from_dict(tomllib.loads(out)).sha256() != expected.sha256():
        raise ValueError("the edited file does not read back as the calibrated scenario")
    return out
