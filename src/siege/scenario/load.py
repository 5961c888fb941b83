"""Reading scenario files: TOML parsing, ``extends``, dotted overrides, and error messages
that name the file, the key and (where it can be found) the line."""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from siege.errors import ScenarioError
from siege.scenario.paths import set_paths, thaw
from siege.scenario.read import read_toml
from siege.scenario.schema import Scenario
from siege.scenario.validate import Layer, find_line, validate


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
    """Parse ``dotted.key=value``: the value is one TOML value (``15000``, ``true``,
    ``"text"``, ``[1, 2]``), a bare word that is not TOML taken as a string. A value that
    spans lines (extra TOML after it) is refused."""
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
    if "\n" in raw or "\r" in raw:
        raise ScenarioError(
            "the value spans lines; give one TOML value on one line, nothing after it",
            file="--set",
            key=key,
        )
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


# --------------------------------------------------------------------------------------------
# loading and errors

MAX_EXTENDS_DEPTH = 32  # base files one scenario may pass through by ``extends``


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read, parse and validate a scenario TOML file (then apply any dotted overrides).

    ``extends = "base.toml"`` (relative to the file) takes the base file's tables and
    deep-merges this file's over them: tables merge key by key, arrays of tables such as
    [[routes]] replace the base's. Bases may extend others, :data:`MAX_EXTENDS_DEPTH` deep.
    Raises :class:`ScenarioError` with the file where the faulty value is written (the base
    file, for a value that comes from it), the key and (where known) the line.
    """
    layers = _chain(Path(path), str(path))
    data = dict(layers[-1].data)
    for layer in reversed(layers[:-1]):
        data = _merge(data, dict(layer.data))
    scenario = validate(Scenario, data, file=str(path), text=layers[0].text, layers=layers)
    if overrides:
        scenario = apply_overrides(scenario, overrides, file="--set")
    return scenario


def _chain(path: Path, name: str) -> list[Layer]:
    """The file at ``path`` and the bases it ``extends``, in turn, the file first (read one
    after another, not recursively, so that the depth limit gives a message)."""
    data, text = read_toml(path, name=name)
    layers = [Layer(name, text, data)]
    seen = [path.resolve()]

    def bad(message: str) -> ScenarioError:  # at the 'extends' of the file read last
        return ScenarioError(message, file=name, key="extends", line=find_line(text, ("extends",)))

    while "extends" in data:
        ref = data.pop("extends")
        if not isinstance(ref, str):
            raise bad("'extends' must be a file path string")
        if len(layers) > MAX_EXTENDS_DEPTH:
            raise bad(
                f"too many levels of 'extends': {layers[0].file} has more than "
                f"{MAX_EXTENDS_DEPTH} base files below it"
            )
        path = path.parent / ref
        if path.resolve() in seen:
            raise bad(f"'extends' makes a cycle through {path.resolve()}")
        if not path.exists():
            raise bad(f"base scenario {ref!r} not found (looked for {path.resolve()})")
        seen.append(path.resolve())
        name = os.path.normpath(path)
        data, text = read_toml(path, name=name)
        layers.append(Layer(name, text, data))
    return layers


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
    values of a dated event's ``set`` have no type in the schema, and only model parameters
    (numbers, or a law's name) can be set: an "inf" there is the number."""
    data = thaw(json.loads(text))
    for event in data.get("events", []):
        event["set"] = {path: float(v) if v in ("inf", "-inf") else v
                        for path, v in event.get("set", {}).items()}
    return validate(Scenario, data, file="<metadata>", text=None, strict=False)
