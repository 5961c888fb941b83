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

from pydantic import BaseModel, ValidationError

from siege.errors import ScenarioError
from siege.scenario import Scenario, _KeyedError

# --------------------------------------------------------------------------------------------
# paths and overrides

_STATE_KEYS = {
    "strength": "is the day-0 strength, not a parameter that can change on a date",
    "control": "is the day-0 control; control moves with the fighting",
    "stockpile_tonnes": "is the day-0 stockpile; the stockpile moves with deliveries",
    "trained_reserves": "is the day-0 reserve pool; add a dated wave for new manpower",
    "name": "is an identifier",
    "waves": "are dated already; add a wave instead",
    "sectors": "cannot be changed on a date",
    "rolling_window_days": "cannot change during a run",
}


def unchangeable(path: str) -> str | None:
    """Why a dated event may not set this path (None if it may)."""
    parts = path.split(".")
    if parts[0] in ("simulation", "events", "name", "description"):
        return f"'{path}' cannot be changed by a dated event; only model parameters can"
    if parts[0] == "policy" and parts[-1] in ("kind", "combine", "triggers"):
        return f"'{path}' cannot be changed by a dated event"
    last = parts[-1]
    if last in _STATE_KEYS:
        return f"'{path}' {_STATE_KEYS[last]}"
    return None


_NAMED_LISTS = {"sectors", "routes", "triggers"}


def resolve_path(data: dict[str, Any], path: str) -> tuple[Any, Any]:
    """Find the container and key of a dotted path in a scenario dump; raise KeyError-like."""
    parts = path.split(".")
    node: Any = data
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                options = ", ".join(sorted(node)) if node else "(none)"
                raise _KeyedError(
                    tuple(parts),
                    f"unknown key '{part}'"
                    + (f" under '{'.'.join(walked)}'" if walked else "")
                    + f"; allowed: {options}",
                )
            if last:
                return node, part
            node = node[part]
        elif isinstance(node, (list, tuple)) and walked and walked[-1] in _NAMED_LISTS:
            names = [item.get("name") for item in node]
            if part not in names:
                raise _KeyedError(
                    tuple(parts),
                    f"no {walked[-1][:-1]} named '{part}'; defined: "
                    f"{', '.join(str(n) for n in names) or '(none)'}",
                )
            if last:
                raise _KeyedError(tuple(parts), f"'{path}' names a whole table; name a field")
            node = node[names.index(part)]
        else:
            raise _KeyedError(tuple(parts), f"'{'.'.join(walked)}' has no sub-keys")
        walked.append(part)
    raise _KeyedError(tuple(parts), "empty path")


def _thaw(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_thaw(v) for v in obj]
    return obj


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
        data = _thaw(scenario.model_dump(mode="python"))
    else:
        data = _thaw(copy.deepcopy(dict(scenario)))
    for path, value in overrides.items():
        try:
            container, key = resolve_path(data, path)
        except _KeyedError as exc:
            raise ScenarioError(exc.message, file=file or source, key=path) from None
        container[key] = value
    return _validate(data, file=file or source, text=None)


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
    scenario = _validate(data, file=name, text=text)
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
    return _validate(_thaw(dict(data)), file=source, text=None)


def _validate(
    data: dict[str, Any],
    *,
    file: str,
    text: str | None,
) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _KeyedError):
            loc = loc + inner.loc if loc and loc[-1] not in inner.loc else inner.loc
            message = inner.message
        else:
            message = _describe(err, data)
        key = _dotted(loc, data)
        line = _find_line(text, loc) if text else None
        more = len(exc.errors()) - 1
        if more > 0:
            message += f"  ({more} more problem{'s' if more > 1 else ''} after fixing this)"
        raise ScenarioError(message, file=file, key=key or None, line=line) from None


def _describe(err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    value = err.get("input")
    if kind == "extra_forbidden":
        loc = tuple(err.get("loc", ()))
        allowed = _allowed_keys(loc[:-1])
        return f"unknown key '{loc[-1]}'; allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        msg = msg.removeprefix("Value error, ")
        return msg
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg} (got {shown})"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        inner = _model_in(ann)
        if inner is None:
            return []
        model = inner
    return sorted(model.model_fields) if hasattr(model, "model_fields") else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _dotted(loc: tuple[Any, ...], data: Mapping[str, Any]) -> str:
    """Dotted key of a pydantic location; list items by name where they have one."""
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            name = None
            if isinstance(node, list) and 0 <= part < len(node) and isinstance(node[part], dict):
                name = node[part].get("name")
            parts.append(str(name) if isinstance(name, str) and name else f"[{part}]")
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    out = ""
    for p in parts:
        out += p if (not out or p.startswith("[")) else "." + p
    return out


def _find_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line of a key in the TOML text (tables and arrays of tables)."""
    if not loc:
        return None
    strs = list(loc)
    # header path and key
    table: list[str] = []
    indexes: dict[str, int] = {}
    key = str(strs[-1]) if not isinstance(strs[-1], int) else None
    target_table: list[str] = []
    target_index: dict[str, int] = {}
    for p in strs[:-1] if key is not None else strs:
        if isinstance(p, int):
            if target_table:
                target_index[".".join(target_table)] = p
        else:
            target_table.append(str(p))
    counters: dict[str, int] = {}
    lines = text.splitlines()
    for lineno, line in enumerate(lines, start=1):
        s = line.strip()
        m = re.match(r"^\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]", s)
        if m:
            table = m.group(1).split(".")
            k = ".".join(table)
            counters[k] = counters.get(k, -1) + 1
            indexes = {k: counters[k]}
            if key is None and table == target_table and target_index.get(k) == counters[k]:
                return lineno
            continue
        m = re.match(r"^\[\s*([A-Za-z0-9_.\-]+)\s*\]", s)
        if m:
            table = m.group(1).split(".")
            indexes = {}
            if key is None and table == target_table:
                return lineno
            continue
        if key is None:
            continue
        m = re.match(r"^([A-Za-z0-9_\-\"']+)\s*=", s)
        if not m:
            continue
        if m.group(1).strip("\"'") != key:
            continue
        if table != target_table:
            continue
        ok = all(indexes.get(k) == v for k, v in target_index.items())
        if ok:
            return lineno
    if key is not None:
        # key missing from file or table given inline: point at the table header if any
        return _find_line(text, tuple(loc[:-1])) if len(loc) > 1 else None
    return None


def scenario_from_json(text: str) -> Scenario:
    """Rebuild a scenario from :meth:`Scenario.to_json` (as stored in results metadata)."""
    data = json.loads(text)
    return scenario_from_dict(_unjson(data), source="<metadata>")


def _unjson(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _unjson(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unjson(v) for v in obj]
    if obj in ("inf", "-inf"):
        return float(obj)
    return obj
