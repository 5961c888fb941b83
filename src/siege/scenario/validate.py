"""Validation of scenario data against the schema, with errors that name the file, the dotted
key and (where it can be found) the line."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from siege.errors import ScenarioError
from siege.scenario.paths import KeyedError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Layer:
    """One file of an ``extends`` chain: its name, its text and its parsed tables."""

    file: str
    text: str
    data: Mapping[str, Any]


def validate(
    model: type[M],
    data: dict[str, Any],
    *,
    file: str,
    text: str | None,
    layers: Sequence[Layer] = (),
    strict: bool | None = None,
) -> M:
    """``model`` validated from ``data``; on failure a :class:`ScenarioError` for the first
    problem (file, dotted key, line in ``text`` where found) and a count of the others.

    ``layers`` are the files ``data`` was merged from, the one that extends the others first;
    given them, the error names the file (and line) where the faulty value is written.
    ``strict=False`` relaxes the schema's strict types (for siege's own JSON, where infinity
    is the string "inf")."""
    try:
        return model.model_validate(data, strict=strict, context={"strict": strict})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, KeyedError):
            loc = loc + inner.loc if loc and loc[-1] not in inner.loc else inner.loc
            message = inner.message
        else:
            message = _describe(model, err, data)
        key = _dotted(loc, data)
        if layers:
            origin = _origin(layers, loc)
            file, text = origin.file, origin.text
        line = find_line(text, loc) if text else None
        more = len(exc.errors()) - 1
        if more > 0:
            message += f"  ({more} more problem{'s' if more > 1 else ''} after fixing this)"
        raise ScenarioError(message, file=file, key=key or None, line=line) from None


def _describe(root: type[BaseModel], err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    value = err.get("input")
    if kind == "extra_forbidden":
        loc = tuple(err.get("loc", ()))
        allowed = _allowed_keys(root, loc[:-1])
        return f"unknown key '{loc[-1]}'; allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        msg = msg.removeprefix("Value error, ")
        return msg
    shown = json.dumps(value) if isinstance(value, (bool, str)) else repr(value)  # TOML-like
    if len(shown) > 60:
        shown = shown[:57] + "..."
    if kind in _BOUNDS:  # the field's description says what is allowed, and why
        loc = tuple(err.get("loc", ()))
        model = _model_at(root, loc[:-1])
        field = model.model_fields.get(loc[-1]) if model is not None and loc else None
        if field is not None and field.description:
            return f"{msg} (got {shown}); {loc[-1]}: {field.description}"
    return f"{msg} (got {shown})"


_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model = _model_at(root, loc)
    return sorted(model.model_fields) if model is not None else []


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema table at a location (list indexes skipped); None if there is none."""
    model: type[BaseModel] = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            return None
        model = inner
    return model


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


def _origin(layers: Sequence[Layer], loc: tuple[Any, ...]) -> Layer:
    """The file of an ``extends`` chain that wrote the value at ``loc`` of the merged data.

    Tables merge key by key, so each step keeps the files whose value there is a table,
    from the top down to the first that is not; anything else comes from the top one of them.
    A key that no file writes (a missing one) is blamed on the top file holding its table."""
    holders: list[tuple[Layer, Any]] = [(layer, layer.data) for layer in layers]
    for part in loc:
        found = [(layer, node[part]) for layer, node in holders if _has(node, part)]
        if not found:
            break
        if isinstance(found[0][1], dict):
            n = next((i for i, (_, v) in enumerate(found) if not isinstance(v, dict)), len(found))
            holders = found[:n]
        else:
            holders = found[:1]
    return holders[0][0]


def _has(node: Any, part: Any) -> bool:
    if isinstance(part, int):
        return isinstance(node, list) and 0 <= part < len(node)
    return isinstance(node, dict) and part in node


def find_line(text: str, loc: tuple[Any, ...]) -> int | None:
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
            if key is not None and not target_index and table == [*target_table, key]:
                return lineno  # the key names this table
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
        return find_line(text, tuple(loc[:-1])) if len(loc) > 1 else None
    return None


