"""A daily two-sided battle record, read from CSV and checked, for fitting attrition laws.

One row per day: ``day``, ``attacker_strength``, ``defender_strength`` (persons present that
day), ``attacker_losses``, ``defender_losses`` (persons lost that day) and, optionally,
``attacker_reinforcements``, ``defender_reinforcements`` (persons arriving that day, present
from the next day on; they are used only to run a fitted law forward, for the figures). Other
column names are mapped with ``--columns day=Day,attacker_strength=US``; extra columns are
ignored. A bad record raises :class:`FitError` naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from siege.errors import FitError

REQUIRED = ("day", "attacker_strength", "defender_strength", "attacker_losses", "defender_losses")
OPTIONAL = ("attacker_reinforcements", "defender_reinforcements")
COLUMNS = REQUIRED + OPTIONAL

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class AttritionRecord:
    """A checked daily record: arrays ``(n_days,)``; days strictly increasing, strengths > 0,
    losses and reinforcements >= 0 (persons; reinforcements zero where not recorded)."""

    day: FloatArray
    attacker_strength: FloatArray
    defender_strength: FloatArray
    attacker_losses: FloatArray
    defender_losses: FloatArray
    attacker_reinforcements: FloatArray
    defender_reinforcements: FloatArray
    source: str = "<arrays>"

    @property
    def n_days(self) -> int:
        return int(self.day.size)


def parse_column_map(text: str | None) -> dict[str, str]:
    """``"day=Day,attacker_strength=US"`` -> ``{"day": "Day", ...}`` (siege name -> CSV name)."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, column = item.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise FitError(f"--columns: {item.strip()!r} is not NAME=COLUMN")
        if name not in COLUMNS:
            raise FitError(f"--columns: unknown name {name!r}; names: {', '.join(COLUMNS)}")
        out[name] = column
    return out


def read_record(path: str | Path, columns: dict[str, str] | None = None) -> AttritionRecord:
    """Read and check a daily record (CSV with a header row); ``columns`` maps siege's column
    names to the file's. Raises :class:`FitError` naming file, row and column on bad data."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FitError(f"{p}: record file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FitError(f"{p}: cannot read the record ({exc})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise FitError(f"{p}: empty file; expected a header row with {', '.join(REQUIRED)}")
    header = [cell.strip() for cell in rows[0]]
    names = {name: (columns or {}).get(name, name) for name in COLUMNS}
    missing = [names[n] for n in REQUIRED if names[n] not in header]
    if missing:
        raise FitError(
            f"{p}: column {', '.join(repr(m) for m in missing)} missing (columns found: "
            f"{', '.join(header)}; map other names with --columns NAME=COLUMN)"
        )
    present = [n for n in COLUMNS if names[n] in header]
    data: dict[str, list[float]] = {n: [] for n in present}
    body = [(i, row) for i, row in enumerate(rows[1:], start=1) if any(c.strip() for c in row)]
    for number, row in body:
        for name in present:
            where = f"{p}, row {number} (line {number + 1}), column {names[name]!r}"
            index = header.index(names[name])
            cell = row[index].strip() if index < len(row) else ""
            data[name].append(_number(cell, where))
    if len(body) < 2:
        raise FitError(f"{p}: {len(body)} data row(s); a fit needs at least 2 days")
    arrays = {n: np.array(v, dtype=np.float64) for n, v in data.items()}
    numbers = [number for number, _ in body]
    _check(arrays, lambda i, name: f"{p}, row {numbers[i]} (line {numbers[i] + 1}), column "
                                   f"{names[name]!r}")
    zeros = np.zeros(len(body))
    return AttritionRecord(
        **{n: arrays.get(n, zeros) for n in COLUMNS},
        source=str(p),
    )


def _number(cell: str, where: str) -> float:
    if not cell:
        raise FitError(f"{where}: empty cell (every day needs a value)")
    try:
        value = float(cell.replace("_", ""))
    except ValueError:
        raise FitError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise FitError(f"{where}: {cell!r} is not a finite number")
    return value


def _check(arrays: dict[str, FloatArray], where: Callable[[int, str], str]) -> None:
    """Days strictly increasing; strengths positive; losses, reinforcements not negative.
    ``where(i, name)`` names the i-th row (0-based) and the column in messages."""
    day = arrays["day"]
    bad = np.flatnonzero(np.diff(day) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        verb = "repeats" if day[i] == day[i - 1] else "comes before"
        raise FitError(f"{where(i, 'day')}: day {day[i]:g} {verb} day {day[i - 1]:g} of the "
                       "row above; days must increase")
    for name, values in arrays.items():
        if name == "day":
            continue
        floor_ok = values > 0 if name.endswith("strength") else values >= 0
        if not floor_ok.all():
            i = int(np.flatnonzero(~floor_ok)[0])
            need = "positive (both sides present)" if name.endswith("strength") else ">= 0"
            raise FitError(f"{where(i, name)}: {values[i]:g} is not {need}")


def record_from_arrays(
    day: FloatArray,
    attacker_strength: FloatArray,
    defender_strength: FloatArray,
    attacker_losses: FloatArray,
    defender_losses: FloatArray,
    attacker_reinforcements: FloatArray | None = None,
    defender_reinforcements: FloatArray | None = None,
) -> AttritionRecord:
    """A checked record from arrays ``(n_days,)`` (persons), e.g. a synthetic one."""
    values = [day, attacker_strength, defender_strength, attacker_losses, defender_losses,
              attacker_reinforcements, defender_reinforcements]
    n = np.asarray(day).size
    arrays = {
        name: np.zeros(n) if v is None else np.asarray(v, dtype=np.float64).reshape(-1)
        for name, v in zip(COLUMNS, values, strict=True)
    }
    if n < 2 or any(a.size != n for a in arrays.values()):
        raise FitError(f"a record needs at least 2 days and arrays of one length ({n})")
    def where(i: int, name: str) -> str:
        return f"row {i + 1}, column {name!r}"

    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise FitError(f"{where(int(np.flatnonzero(~np.isfinite(a))[0]), name)}: not a "
                           "finite number")
    _check(arrays, where)
    return AttritionRecord(**arrays)  # type: ignore[arg-type]


def phases(day: FloatArray, breaks: tuple[float, ...]) -> NDArray[np.int64]:
    """Phase of each day ``(n_days,)``, 0-based: phase k holds the days from ``breaks[k-1]``
    (included) to ``breaks[k]`` (excluded). Each phase must hold at least 2 days."""
    edges = np.asarray(breaks, dtype=np.float64)
    if edges.size and (np.any(np.diff(edges) <= 0) or edges[0] <= day[0] or edges[-1] > day[-1]):
        raise FitError(
            f"--breaks {','.join(f'{b:g}' for b in breaks)}: breaks must increase and lie after "
            f"the first day ({day[0]:g}) and no later than the last ({day[-1]:g})"
        )
    index = np.searchsorted(edges, day, side="right").astype(np.int64)
    counts = np.bincount(index, minlength=edges.size + 1)
    if np.any(counts < 2):
        k = int(np.flatnonzero(counts < 2)[0])
        raise FitError(f"--breaks: phase {k + 1} holds {counts[k]} day(s); each needs at least 2")
    return index
