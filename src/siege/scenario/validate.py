"""Validation of scenario data against the schema, with errors that name the file, the dotted
key and (where it can be found) the line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from siege.errors import ScenarioError
from siege.scenario.paths import KeyedError

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any], *, file: str, text: str | None) -> M:
    """``model`` validated from ``data``; on failure a :class:`ScenarioError` for the first
    problem (file, dotted key, line in ``text`` where found) and a count of the others."""
    try:
        return model.model_validate(data)
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
        line = _find_line(text, loc) if text else None
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
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg} (got {shown})"


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model: Any = root
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


