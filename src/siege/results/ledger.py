"""A sweep store's ledger: which files are each point's, with their row counts and checksums.

A sweep store (:mod:`siege.run.store`) writes each point's blocks as separate files; its
ledger, ``STORE/ledger/point=<id>.json``, records every finished block as it is written::

    {"point": 3, "scenario_sha256": "...", "bands_sha256": "..." (once the point is finished),
     "blocks": [{"first": 0, "n": 4096, "rows": 4096, "outcomes_sha256": "...",
                 "histograms_sha256": "..." (until the point is finished)}, ...]}

A block's files are those of the ledger and nothing else: a file that is not in it (a copy
such as ``part-0000000000 (1).parquet``, a part of a killed run written just before its
entry) is never read as the point's, so no replication is counted twice; a file whose
SHA-256 differs from its entry (truncated, overwritten, copied from another point) is damage.
:func:`check_point` lists the damage of one point; readers and ``--resume`` act on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siege.files import atomic_write_text

LEDGER = "ledger"
PART = re.compile(r"part-(\d{10})\.parquet")  # the only outcome files a store writes
_CHUNK = 1 << 20


def part_path(root: Path, point: int, first: int) -> Path:
    """A block's outcome rows: ``outcomes/point=<id>/part-<first, 10 digits>.parquet``."""
    return root / "outcomes" / f"point={point}" / f"part-{first:010d}.parquet"


def histograms_path(root: Path, point: int, first: int) -> Path:
    """A finished block's band histograms, kept until its point is finished."""
    return root / ".pending" / f"point={point}" / f"bands-{first:010d}.npz"


def bands_file(root: Path, point: int) -> Path:
    """A finished point's bands: ``bands/point=<id>/bands.parquet``."""
    return root / "bands" / f"point={point}" / "bands.parquet"


def ledger_path(root: Path, point: int) -> Path:
    return root / LEDGER / f"point={point}.json"


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class BlockEntry:
    """A finished block: replications ``[first, first + n)``, its rows in its part file and
    the checksums of that file and (until the point is finished) of its histograms."""

    first: int
    n: int
    rows: int
    outcomes_sha256: str
    histograms_sha256: str | None = None


@dataclass
class PointLedger:
    """What the store holds of one point (see the module)."""

    point: int
    scenario_sha256: str
    blocks: dict[int, BlockEntry] = field(default_factory=dict)  # by first replication
    bands_sha256: str | None = None

    @property
    def finished(self) -> bool:
        return self.bands_sha256 is not None

    def to_json(self) -> str:
        """The ledger as JSON, blocks in replication order (the same text whatever order
        they finished in)."""
        blocks = []
        for first in sorted(self.blocks):
            entry = self.blocks[first]
            row: dict[str, Any] = {"first": entry.first, "n": entry.n, "rows": entry.rows,
                                   "outcomes_sha256": entry.outcomes_sha256}
            if entry.histograms_sha256 is not None:
                row["histograms_sha256"] = entry.histograms_sha256
            blocks.append(row)
        data: dict[str, Any] = {"point": self.point, "scenario_sha256": self.scenario_sha256}
        if self.bands_sha256 is not None:
            data["bands_sha256"] = self.bands_sha256
        data["blocks"] = blocks
        return json.dumps(data, indent=1) + "\n"

    def write(self, root: Path) -> None:
        atomic_write_text(ledger_path(root, self.point), self.to_json())


class LedgerUnreadable(ValueError):
    """A ledger file that is not one (truncated, overwritten): its point's files are
    unaccounted for."""


def read_ledger(root: Path, point: int) -> PointLedger | None:
    """The ledger of ``point`` (None when the store has none for it: nothing finished).
    Raises :class:`LedgerUnreadable` when the file is damaged."""
    path = ledger_path(root, point)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LedgerUnreadable(f"{path.relative_to(root)}: unreadable ({exc})") from None
    try:
        if data["point"] != point:
            raise ValueError(f"it is point {data['point']}'s ledger")
        blocks = {}
        for b in data["blocks"]:
            entry = BlockEntry(int(b["first"]), int(b["n"]), int(b["rows"]),
                               str(b["outcomes_sha256"]), b.get("histograms_sha256"))
            blocks[entry.first] = entry
        return PointLedger(point, str(data["scenario_sha256"]), blocks,
                           data.get("bands_sha256"))
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerUnreadable(f"{path.relative_to(root)}: not a siege ledger ({exc})") from None


def unplanned_blocks(ledger: PointLedger, planned: dict[int, int]) -> list[int]:
    """First replications of the blocks a ledger records that are not among the ``planned``
    blocks (first -> size) with all their rows: a ledger not of this sweep."""
    return sorted(e.first for e in ledger.blocks.values()
                  if planned.get(e.first) != e.n or e.rows != e.n)


def block_damage(root: Path, point: int, entry: BlockEntry, *, histograms: bool) -> str | None:
    """What is wrong with a recorded block's files (None if nothing): a missing file, or one
    whose checksum differs from its entry. ``histograms``: check its histograms file too."""
    files = [(part_path(root, point, entry.first), entry.outcomes_sha256)]
    if histograms:
        if entry.histograms_sha256 is None:
            return f"block at replication {entry.first}: its histograms are not recorded"
        files.append((histograms_path(root, point, entry.first), entry.histograms_sha256))
    for path, recorded in files:
        problem = file_damage(root, path, recorded)
        if problem is not None:
            return problem
    return None


def file_damage(root: Path, path: Path, recorded: str) -> str | None:
    """``None`` if ``path`` has the recorded checksum, else what is wrong with it."""
    name = path.relative_to(root)
    try:
        found = sha256_of(path)
    except FileNotFoundError:
        return f"{name}: missing"
    except OSError as exc:
        return f"{name}: unreadable ({exc.strerror or exc})"
    if found != recorded:
        return (f"{name}: damaged (SHA-256 {found[:12]}, recorded {recorded[:12]} when it "
                "was written)")
    return None


def check_point(root: Path, ledger: PointLedger) -> list[str]:
    """Every damaged or missing file of a point (empty when it is intact): its blocks' part
    files, and its bands file once finished (else its blocks' histograms)."""
    problems = [
        problem for entry in ledger.blocks.values()
        if (problem := block_damage(root, ledger.point, entry,
                                    histograms=not ledger.finished)) is not None
    ]
    if ledger.bands_sha256 is not None:
        problem = file_damage(root, bands_file(root, ledger.point), ledger.bands_sha256)
        if problem is not None:
            problems.append(problem)
    return problems


def foreign_files(root: Path, point: int, ledger: PointLedger | None) -> list[Path]:
    """Files in a point's outcomes folder that its ledger does not list (copies, strays, a
    killed run's unrecorded part): never read by siege, but read by generic Parquet readers
    of ``outcomes/``."""
    folder = root / "outcomes" / f"point={point}"
    if not folder.is_dir():
        return []
    listed = {part_path(root, point, f).name for f in (ledger.blocks if ledger else {})}
    return sorted(p for p in folder.iterdir() if p.name not in listed)
