"""Reading scenario files: TOML parsing, ``extends``, dotted overrides, and error messages
that name the file, the key and (where it can be found) the line."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from siege.errors import ScenarioError
from siege.scenario.paths import resolve_path, set_paths, thaw
from siege.scenario.schema import Event, Scenario
from siege.scenario.validate import validate


def apply_overrides(
    scenario: Scenario | Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    source: str = "--set",
    file: str | None = None,
) -> Scenario:
    """Return a validated scenario with each dotted path set to its value.

    Paths address tables by key and the items of ``sectors``, ``routes`` and
    ``policy.triggers`` by name: ``routes.chasiv_yar.capacity_tonnes_per_day``.
    Raises :class:`ScenarioError` naming the path if it does not exist or the value is invalid.
    """
    if isinstance(scenario, Scenario):
        data = thaw(scenario.model_dump(mode="python"))
    else:
        data = thaw(copy.deepcopy(dict(scenario)))
    set_paths(data, overrides, file=file or source)
    return validate(Scenario, data, file=file or source, text=None)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``dotted.key=value`` (value in TOML syntax, bare words taken as strings)."""
    if "=" not in text:
        raise ScenarioError(f"'{text}' is not of the form dotted.key=value", file="--set", key=text)
    key, raw = text.split("=", 1)
    key = key.strip()
    raw = raw.strip()
    if not key or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", key):
        raise ScenarioError(
            f"'{key}' is not a dotted key (e.g. attacker.strength)", file="--set", key=key or text
        )
    if raw == "":
        raise ScenarioError("no value given after '='", file="--set", key=key)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


# --------------------------------------------------------------------------------------------
# loading and errors


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read, parse and validate a scenario TOML file (then apply any dotted overrides).

    Raises :class:`ScenarioError` with the file, key and (where known) line on any problem.
    """
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise ScenarioError("file not found", file=name)
    if p.is_dir():
        raise ScenarioError("is a directory, not a scenario file", file=name)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read file ({exc.strerror})", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("not a UTF-8 text file (is this a TOML scenario?)", file=name) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise ScenarioError(f"malformed TOML: {msg}", file=name, line=line) from None
    if "extends" in data:
        data = _extend(p, data, seen=(p.resolve(),))
    scenario = validate(Scenario, data, file=name, text=text)
    if overrides:
        scenario = apply_overrides(scenario, overrides, file="--set")
    return scenario


def _extend(path: Path, data: dict[str, Any], seen: tuple[Path, ...]) -> dict[str, Any]:
    """Resolve ``extends = "base.toml"``: the base file's tables, deep-merged with this file's
    (tables merge key by key; arrays of tables such as [[routes]] replace the base's)."""
    base_ref = data.pop("extends")
    if not isinstance(base_ref, str):
        raise ScenarioError("'extends' must be a file path string", file=str(path), key="extends")
    base_path = (path.parent / base_ref).resolve()
    if base_path in seen:
        raise ScenarioError(
            f"'extends' makes a cycle through {base_path}", file=str(path), key="extends"
        )
    if not base_path.exists():
        raise ScenarioError(
            f"base scenario {base_ref!r} not found (looked for {base_path})",
            file=str(path),
            key="extends",
        )
    try:
        base = tomllib.loads(base_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"cannot read base scenario: {exc}", file=str(base_path)) from None
    if "extends" in base:
        base = _extend(base_path, base, seen=(*seen, base_path))
    return _merge(base, data)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "set":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Scenario:
    """Validate a scenario given as plain data (e.g. parsed TOML)."""
    return validate(Scenario, thaw(dict(data)), file=source, text=None)


def scenario_from_json(text: str) -> Scenario:
    """Rebuild a scenario from :meth:`Scenario.to_json` (as stored in results metadata).

    JSON has no infinity, so ``to_json`` writes the string "inf"; validation reads it back as
    a number only where the schema has a number (a scenario named "inf" keeps its name). The
    values of a dated event's ``set`` have no type in the schema: an "inf" there takes the
    type of the field it sets."""
    scenario = scenario_from_dict(json.loads(text), source="<metadata>")
    events = tuple(_typed_infinities(scenario, event) for event in scenario.events)
    if events == scenario.events:
        return scenario
    return scenario.model_copy(update={"events": events})


def _typed_infinities(scenario: Scenario, event: Event) -> Event:
    """``event`` with each "inf"/"-inf" of its ``set`` as the field it sets reads it."""
    infinite = {path: v for path, v in event.set.items() if v in ("inf", "-inf")}
    if not infinite:
        return event
    data = scenario.with_overrides(infinite, source="<metadata>").model_dump(mode="python")
    typed = dict(event.set)
    for path in infinite:
        container, key = resolve_path(data, path)
        typed[path] = container[key]
    return event.model_copy(update={"set": typed})
