"""Dotted paths into a scenario's data (``routes.chasiv_yar.capacity_tonnes_per_day``): finding
them, setting them, and which of them a dated event may change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from siege.errors import ScenarioError


class KeyedError(ValueError):
    """A validation error tied to a location in the document (turned into ScenarioError)."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message



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
                raise KeyedError(
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
                raise KeyedError(
                    tuple(parts),
                    f"no {walked[-1][:-1]} named '{part}'; defined: "
                    f"{', '.join(str(n) for n in names) or '(none)'}",
                )
            if last:
                raise KeyedError(tuple(parts), f"'{path}' names a whole table; name a field")
            node = node[names.index(part)]
        else:
            raise KeyedError(tuple(parts), f"'{'.'.join(walked)}' has no sub-keys")
        walked.append(part)
    raise KeyedError(tuple(parts), "empty path")


def thaw(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: thaw(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [thaw(v) for v in obj]
    return obj


def set_paths(data: dict[str, Any], overrides: Mapping[str, Any], *, file: str) -> None:
    """Set each dotted path of ``overrides`` in ``data`` (in place); a path that does not exist
    raises :class:`ScenarioError` naming it."""
    for path, value in overrides.items():
        try:
            container, key = resolve_path(data, path)
        except KeyedError as exc:
            raise ScenarioError(exc.message, file=file, key=path) from None
        container[key] = value
