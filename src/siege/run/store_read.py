"""Reading a sweep store: its contents for analysis, its outcomes in one table, and a check of
its files against its ledger (``siege store check``), all without running anything."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from siege.errors import SweepError
from siege.results.ledger import (
    LEDGER,
    LedgerUnreadable,
    PointLedger,
    check_point,
    foreign_files,
    part_path,
    read_ledger,
    unplanned_blocks,
)
from siege.run.blocks import plan_blocks
from siege.run.store_manifest import FORMAT

REPAIR = "`siege sweep SWEEP --out STORE --resume` runs again what is damaged"


@dataclass(frozen=True)
class StoreContents:
    """A sweep store read back: manifest, design table and per-point summaries."""

    root: Path
    manifest: dict[str, Any]
    design: pa.Table
    summary: pa.Table

    @property
    def parameters(self) -> list[str]:
        return [p["path"] for p in self.manifest["sweep"]["parameter"]]


def read_manifest(root: Path) -> dict[str, Any]:
    """A store's manifest (raises SweepError if the folder is not a store of this format)."""
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise SweepError(f"{root}: not a sweep store (no manifest.json)")
    try:
        man = json.loads(mpath.read_bytes())
    except (OSError, ValueError) as exc:
        raise SweepError(f"{mpath}: unreadable manifest ({exc})") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        found = man.get("format") if isinstance(man, dict) else None
        raise SweepError(f"{root}: store format {found!r}, expected {FORMAT}")
    return man


def _read_table(root: Path, name: str) -> pa.Table:
    """One of the store's tables, or a clear SweepError when it is missing or damaged."""
    try:
        return pq.read_table(root / name)
    except FileNotFoundError:
        raise SweepError(f"{root}: {name} is missing; {REPAIR}") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise SweepError(f"{root / name}: damaged ({exc}); {REPAIR}") from None


def open_store(path: str | Path) -> StoreContents:
    """Read a store's manifest, design and summaries (raises SweepError if it is not one, or
    one of them is missing or damaged)."""
    root = Path(path)
    man = read_manifest(root)
    return StoreContents(root, man, _read_table(root, "design.parquet"),
                         _read_table(root, "summary.parquet"))


def _ledgers(root: Path) -> dict[int, PointLedger | LedgerUnreadable]:
    """Every point's ledger (or why it cannot be read), by point."""
    out: dict[int, PointLedger | LedgerUnreadable] = {}
    for path in sorted((root / LEDGER).glob("point=*.json")):
        number = path.stem.removeprefix("point=")
        if not number.isdigit():
            continue
        try:
            ledger = read_ledger(root, int(number))
        except LedgerUnreadable as exc:
            out[int(number)] = exc
            continue
        if ledger is not None:
            out[int(number)] = ledger
    return out


def read_outcomes(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Every point's per-replication outcomes in one table, with a ``point`` column: the
    blocks each point's ledger lists (never a stray copy), checked against their checksums.
    ``columns``: only these (and ``point``); default all."""
    import pyarrow.dataset as ds

    root = Path(path)
    read_manifest(root)
    files = []
    for point, ledger in _ledgers(root).items():
        if isinstance(ledger, LedgerUnreadable):
            raise SweepError(f"{root}: {ledger}; {REPAIR}")
        problems = check_point(root, ledger)
        if problems:
            raise SweepError(f"{root}: point {point}: {'; '.join(problems)}; {REPAIR}")
        files += [str(part_path(root, point, first)) for first in sorted(ledger.blocks)]
    outcomes = root / "outcomes"
    dataset = ds.dataset(files, format="parquet", partition_base_dir=str(outcomes),
                         partitioning=ds.partitioning(flavor="hive"))
    if columns is not None:
        columns = list(dict.fromkeys(["point", *columns]))
    return dataset.to_table(columns=columns)


def outcome_columns(path: str | Path) -> list[str]:
    """The columns of a store's outcome table (read from the schema of one finished block;
    every point of a sweep has the same columns), without ``point``; empty if no block is
    finished."""
    root = Path(path)
    for point, ledger in _ledgers(root).items():
        if isinstance(ledger, PointLedger) and ledger.blocks:
            try:
                schema = pq.read_schema(part_path(root, point, min(ledger.blocks)))
            except (OSError, pa.ArrowInvalid) as exc:
                raise SweepError(f"{root}: point {point}: unreadable outcomes ({exc}); "
                                 f"{REPAIR}") from None
            return list(schema.names)
    return []


@dataclass
class StoreCheck:
    """What ``siege store check`` found: points finished and started, damage (files that
    differ from the ledger, or are missing), and files in ``outcomes/`` the ledger does not
    list (``foreign``: copies, strays, a killed run's unrecorded block)."""

    root: Path
    points: int
    finished: int
    started: int
    damage: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.damage and not self.foreign


def check_store(path: str | Path) -> StoreCheck:
    """Check every file a store's ledgers list against its checksum and the sweep's blocks,
    and list the files in ``outcomes/`` that no ledger lists; runs nothing, changes nothing.
    Raises SweepError when the folder is not a sweep store."""
    root = Path(path)
    man = read_manifest(root)
    planned = dict(plan_blocks(int(man["replications"]), int(man["block_size"])))
    ledgers = _ledgers(root)
    result = StoreCheck(root, points=0, finished=0, started=len(ledgers))
    for name in ("design.parquet", "summary.parquet"):
        try:
            table = _read_table(root, name)
        except SweepError as exc:
            result.damage.append(str(exc).removesuffix(f"; {REPAIR}"))
            continue
        if name == "design.parquet":
            result.points = table.num_rows
    for point, ledger in ledgers.items():
        if isinstance(ledger, LedgerUnreadable):
            result.damage.append(f"point {point}: {ledger}")
            continue
        result.finished += ledger.finished
        stray = unplanned_blocks(ledger, planned)
        if stray:
            result.damage.append(f"point {point}: the ledger records blocks the sweep does "
                                 f"not have (at replications {stray})")
        result.damage += [f"point {point}: {p}" for p in check_point(root, ledger)]
    outcomes = root / "outcomes"
    for folder in sorted(outcomes.iterdir()) if outcomes.is_dir() else []:
        number = folder.name.removeprefix("point=")
        if not (folder.name.startswith("point=") and number.isdigit() and folder.is_dir()):
            result.foreign.append(str(folder.relative_to(root)))
            continue
        entry = ledgers.get(int(number))
        listed = entry if isinstance(entry, PointLedger) else None
        result.foreign += [str(p.relative_to(root))
                           for p in foreign_files(root, int(number), listed)]
    return result
