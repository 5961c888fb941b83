"""Rendering scenarios for people: the resolved scenario as TOML (``siege validate``) and the
file reference generated from the schema (``siege schema``)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel

from siege.model.measures import KINDS, MEASURES, TRIGGER_MEASURES
from siege.scenario.decisions import Policy, Trigger, Withdrawal
from siege.scenario.forces import Attacker, Attrition, Defender, Fortification, Wave
from siege.scenario.ground import Advance, Encirclement, Route, Sector, Supply
from siege.scenario.pocket import Capture, Pocket
from siege.scenario.schema import Event, Scenario, Simulation


def to_toml(scenario: Scenario) -> str:
    """Render the resolved scenario as TOML (for ``siege validate``)."""
    return toml_text(scenario.model_dump(mode="python"))


def toml_text(data: Mapping[str, Any]) -> str:
    """Plain data as TOML: the top-level values first, then each table and array of tables
    (``[[routes]]``) in order. None, which TOML cannot write, becomes a comment; a ``set``
    table (a dated event's changes) is written inline."""
    out: list[str] = []

    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            if math.isinf(v):
                return "inf" if v > 0 else "-inf"
            if math.isnan(v):
                return "nan"
            return repr(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, Mapping):
            return "{ " + ", ".join(f"{json.dumps(k)} = {fmt(x)}" for k, x in v.items()) + " }"
        if v is None:
            return '"none"'
        return json.dumps(str(v))

    def is_table(k: str, v: Any) -> bool:
        return isinstance(v, Mapping) and k != "set"

    def is_array_of_tables(v: Any) -> bool:
        return isinstance(v, (list, tuple)) and bool(v) and isinstance(v[0], Mapping)

    def emit_values(table: Mapping[str, Any]) -> None:
        for k, v in table.items():
            if is_table(k, v) or is_array_of_tables(v):
                continue
            out.append(f"# {k} = (not set)" if v is None else f"{k} = {fmt(v)}")
        out.append("")

    def emit_tables(prefix: str, table: Mapping[str, Any]) -> None:
        for k, v in table.items():
            name = f"{prefix}.{k}" if prefix else k
            if is_table(k, v):
                out.append(f"[{name}]")
                emit_values(v)
                emit_tables(name, v)
            elif is_array_of_tables(v):
                for item in v:
                    out.append(f"[[{name}]]")
                    emit_values(item)
                    emit_tables(name, item)

    # top-level empty lists are left out: at the top, a list is an array of tables
    emit_values({k: v for k, v in data.items() if not (isinstance(v, (list, tuple)) and not v)})
    emit_tables("", data)
    return "\n".join(out).strip() + "\n"


# --------------------------------------------------------------------------------------------
# reference documentation


_TABLES: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("[simulation]", Simulation, ""),
    ("[defender]", Defender, ""),
    ("[attacker]", Attacker, ""),
    ("[[defender.waves]] / [[attacker.waves]]", Wave, ""),
    ("[attrition]", Attrition, ""),
    ("[fortification]", Fortification, ""),
    ("[advance]", Advance, ""),
    ("[[sectors]]", Sector, ""),
    ("[supply]", Supply, ""),
    ("[[routes]]", Route, ""),
    ("[encirclement]", Encirclement, ""),
    ("[capture]", Capture, ""),
    ("[pocket]", Pocket, ""),
    ("[policy]", Policy, ""),
    ("[[policy.triggers]]", Trigger, ""),
    ("[withdrawal]", Withdrawal, ""),
    ("[[events]]", Event, ""),
)


def _type_name(annotation: Any) -> str:
    if getattr(annotation, "__origin__", None) is Literal:
        return " or ".join(f"`{json.dumps(a)}`" for a in get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    text = text.replace("typing.", "").replace("siege.scenario.", "")
    text = re.sub(r"Annotated\[(\w+), .*\]", r"\1", text)
    return text.replace(" | ", " or ")


def reference_markdown() -> str:
    """The scenario file reference (every table and key, type, default, meaning and unit),
    generated from the schema; ``siege schema`` prints it."""
    from pydantic_core import PydanticUndefined

    lines = [
        "# Scenario file reference",
        "",
        "Generated from the schema by `siege schema`; do not edit by hand. Top-level keys:",
        "`name` (title), `description` (free text) and `extends` (a base scenario file, "
        "relative to this one, whose tables this file's tables are merged into; arrays of "
        "tables such as `[[routes]]` replace the base's).",
        "",
        "**Engagement form.** A battle rather than a siege needs only `[defender]` and "
        "`[attacker]` (`strength`; 0 for a side that arrives later by `waves` or "
        "`reinforcement_rate`) and `[attrition]` (`law` and the two kill rates): with no "
        "`[[sectors]]` and no `[[routes]]` nothing advances, nothing is cut or closed, supply "
        "is not modelled (`consumption_tonnes_per_person_day` defaults to 0), the policy "
        "defaults to `hold`, and the collapse and culmination fractions default to 0, so the "
        "sides fight to the horizon (or until one has no one left). A side that starts at 0 "
        "cannot collapse or culminate (both are fractions of day-0 strength), and "
        "`strength_fraction` is then inf (NaN, which never triggers, while it has no one). "
        "See `scenarios/classics/`.",
        "",
        "Trigger measures (`[[policy.triggers]]` `measure`; thresholds in the unit, within the "
        "values):",
        "",
        "| measure | meaning | unit | values |",
        "| --- | --- | --- | --- |",
    ]
    for name in TRIGGER_MEASURES:
        m = MEASURES[name]
        values = KINDS[m.kind][0].replace("things counted", m.counts or "things counted")
        needs = f"; needs `{m.needs}`" if m.needs else ""
        lines.append(f"| `{name}` | {m.description}{needs} | {m.unit} | {values} |")
    lines.append("")
    for title, model, _ in _TABLES:
        lines.append(f"## `{title}`")
        lines.append("")
        doc = (model.__doc__ or "").strip()
        if doc:
            lines.extend([" ".join(doc.split()), ""])
        lines.append("| key | type | default | meaning (unit) |")
        lines.append("| --- | --- | --- | --- |")
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                continue
            if name in ("waves", "triggers"):
                continue
            default = field.default
            if default is PydanticUndefined:
                shown = "required"
            elif isinstance(default, float) and math.isinf(default):
                shown = "`inf`"
            elif default == () or default is None:
                shown = "none" if default is None else "`[]`"
            else:
                shown = f"`{json.dumps(default)}`"
            meaning = (field.description or "").replace("|", "\\|")
            bounds = []
            for meta in field.metadata:
                for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                    val = getattr(meta, attr, None)
                    if val is not None:
                        bounds.append(
                            f"{sym} {val:g}" if isinstance(val, float) else f"{sym} {val}"
                        )
            if bounds:
                meaning += f" Allowed: {', '.join(bounds)}."
            lines.append(f"| `{name}` | {_type_name(field.annotation)} | {shown} | {meaning} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
