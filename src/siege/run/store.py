"""The results store of a sweep: a folder, written block by block, that a rerun can resume.

Layout (``<id>`` is the point number, 0-based, as in ``design.parquet``)::

    STORE/
      manifest.json                   what the store holds: the sweep (as parsed), the sweep
                                      file's text, the base scenario (resolved) and its
                                      SHA-256, the seeds, the block size, package versions
      sweep.toml                      the sweep file as given
      design.parquet                  one row per point: point, role (Saltelli layout), seed,
                                      one column per parameter path, status (done | failed |
                                      pending), error
      outcomes/point=<id>/part-<first>.parquet
                                      per-replication outcomes, one file per block of
                                      replications (first replication zero-padded to 10
                                      digits); each carries the same ``siege.*`` metadata as a
                                      ``siege simulate`` results file (``siege.kind =
                                      "outcomes"``, the point's scenario), so ``siege compare
                                      STORE/outcomes/point=3 STORE/outcomes/point=7`` works
      bands/point=<id>/bands.parquet  per-day percentile bands and sample trajectories of the
                                      point (``siege.kind = "bands"``), written once every
                                      block of the point is in
      ledger/point=<id>.json          every finished block of the point: its replications,
                                      rows and the SHA-256 of its files, and the bands file's
                                      once the point is finished (:mod:`siege.results.ledger`)
      summary.parquet                 one row per finished point: end-reason probabilities
                                      (``p_<reason>``, Wilson 95 % ``..._low``/``..._high``)
                                      and ``<measure>_mean|_p5|_median|_p95`` of end day,
                                      days held, losses, exchange ratio, ...
      failures/point=<id>.json        the error of a failed point (removed when it succeeds)
      .pending/point=<id>/bands-<first>.npz
                                      a finished block's band histograms, kept until its
                                      point is complete
      .lock                           the writer's lock (:mod:`siege.run.lock`): one run
                                      writes a store at a time

``outcomes/`` is a Hive-partitioned Parquet dataset: ``pyarrow.dataset.dataset(STORE /
"outcomes", partitioning="hive")``, ``pandas.read_parquet(STORE / "outcomes")``,
``polars.read_parquet(f"{STORE}/outcomes/**/*.parquet", hive_partitioning=True)`` and DuckDB's
``read_parquet('STORE/outcomes/*/*.parquet', hive_partitioning = true)`` each read every point
in one call, with a ``point`` column (those readers read every file there: ``siege store
check`` lists any its ledger does not list). Every file is written to a hidden temporary name
and renamed into place, so a killed run leaves only whole files; a block counts as finished
when the ledger lists it, and siege reads only the files the ledger lists. ``--resume``
checks every listed file against its checksum first and runs again what is damaged or
missing (a damaged block of a finished point: the whole point, whose block histograms are
merged). Nothing in the store depends on the time or the order blocks finished in: an
interrupted run resumed with ``--resume`` ends with the same files as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from siege._version import __version__
from siege.files import atomic_write_bytes, atomic_write_table, new_store_folder, write_error
from siege.model.rules import END_REASONS
from siege.results.bands import BandAccumulator
from siege.results.block import BlockResult
from siege.results.ledger import (
    LEDGER,
    PART,
    BlockEntry,
    LedgerUnreadable,
    PointLedger,
    bands_file,
    block_damage,
    check_point,
    histograms_path,
    ledger_path,
    part_path,
    read_ledger,
    unplanned_blocks,
)
from siege.results.moments import Moments
from siege.results.parquet import block_table, percentile_resolution, provenance
from siege.results.summary import summarize
from siege.run.blocks import empty_bands, plan_blocks
from siege.run.lock import LOCK_NAME, LockedStore, StoreLock
from siege.run.store_manifest import check_same_sweep, manifest
from siege.run.sweep import Point, Sweep, SweepError, design


class SweepStore(Protocol):
    """Where a sweep's finished blocks go; what it already holds decides what a resumed run
    redoes (nothing finished, once :meth:`repair` has checked it and forgotten what is
    damaged)."""

    def repair(self, points: list[Point]) -> list[str]: ...
    def point_done(self, point: int) -> bool: ...
    def done_blocks(self, point: int) -> set[int]: ...
    def write_block(self, point: Point, block: BlockResult) -> None: ...
    def record_failure(self, point: int, error: str) -> None: ...
    def finish_point(self, point: Point) -> None: ...
    def close(self, points: list[Point], failures: Mapping[int, str]) -> None: ...


class DirectoryStore(LockedStore):
    """A sweep store on disk (layout in the module docstring), held with its writer's lock.

    ``DirectoryStore.create(path, sweep)`` starts a new store (the folder must not exist or
    be empty); ``DirectoryStore.resume(path, sweep)`` reopens one made from the same sweep
    and base scenario, and refuses any other. Either refuses a store that another process is
    writing (:class:`~siege.errors.StoreBusyError`). The lock is held until :meth:`release`
    (or the end of a ``with`` block, or of the process).
    """

    def __init__(self, root: Path, sweep: Sweep, lock: StoreLock) -> None:
        self.root = root
        self.sweep = sweep
        self.n_days = sweep.base.simulation.whole_days
        self._lock = lock
        self._ledgers: dict[int, PointLedger | None] = {}

    # ---- opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, sweep: Sweep) -> DirectoryStore:
        root = Path(path)
        new_store_folder(root, "sweep", SweepError)
        return cls._start(root, sweep, StoreLock(root))

    @classmethod
    def _start(cls, root: Path, sweep: Sweep, lock: StoreLock) -> DirectoryStore:
        """Lay out a new store in the (empty, locked) folder ``root``."""
        try:
            for sub in ("outcomes", "bands", LEDGER, "failures", ".pending"):
                (root / sub).mkdir(exist_ok=True)
        except OSError as exc:
            lock.release()
            raise write_error(root, exc) from None
        text = json.dumps(manifest(sweep), indent=2, sort_keys=True) + "\n"
        store = cls(root, sweep, lock)
        if sweep.file.is_file():
            atomic_write_bytes(root / "sweep.toml", sweep.file.read_bytes())
        store._write_design([], {})
        atomic_write_bytes(root / "manifest.json", text.encode())  # last: marks a complete start
        return store

    @classmethod
    def resume(cls, path: str | Path, sweep: Sweep) -> DirectoryStore:
        root = Path(path)
        if not root.is_dir():
            what = "not a folder" if root.exists() else "no such folder"
            raise SweepError(f"{root}: {what}, so there is no sweep to resume; leave out "
                             "--resume to start a new sweep there")
        lock = StoreLock(root)
        try:
            mpath = root / "manifest.json"
            if not mpath.is_file():
                if not any(p for p in root.iterdir() if p.name not in (".pending", LOCK_NAME)):
                    return cls._start(root, sweep, lock)  # a start that was cut short
                raise SweepError(f"{root}: not a sweep store (no manifest.json); cannot resume")
            check_same_sweep(root, mpath, sweep)
            for tmp in root.rglob(".*.tmp"):  # half-written files of a killed run
                tmp.unlink()
        except BaseException:
            lock.release()
            raise
        return cls(root, sweep, lock)

    # ---- the protocol -------------------------------------------------------------------
    def _ledger(self, point: int) -> PointLedger | None:
        if point not in self._ledgers:
            try:
                self._ledgers[point] = read_ledger(self.root, point)
            except LedgerUnreadable:  # repair() reports it and reruns the point
                self._ledgers[point] = None
        return self._ledgers[point]

    def repair(self, points: list[Point]) -> list[str]:
        """Check every recorded file of ``points`` against its checksum, and forget what is
        damaged or missing, so that it runs again: a block of an unfinished point, or a whole
        finished point (its block histograms were merged). Returns what was found, one line
        each (``point 3: outcomes/point=3/part-0000004096.parquet: damaged (...); running
        that block again``)."""
        found = []
        blocks = dict(plan_blocks(self.sweep.replications, self.sweep.block_size))
        for point in points:
            try:
                ledger = read_ledger(self.root, point.id)
            except LedgerUnreadable as exc:
                found.append(f"point {point.id}: {exc}; running the point again")
                self._forget(point.id)
                continue
            self._ledgers[point.id] = ledger
            if ledger is None:
                continue
            whole = _ledger_problem(ledger, point, blocks)
            if whole is None and ledger.finished:
                whole = "; ".join(check_point(self.root, ledger)) or None
            if whole is not None:
                found.append(f"point {point.id}: {whole}; running the point again")
                self._forget(point.id)
            elif ledger.finished:  # histograms left by a run killed as it finished the point
                shutil.rmtree(self.root / ".pending" / f"point={point.id}", ignore_errors=True)
            else:
                damaged = {e.first: problem for e in ledger.blocks.values() if (
                    problem := block_damage(self.root, point.id, e, histograms=True))}
                for first, problem in sorted(damaged.items()):
                    found.append(f"point {point.id}: {problem}; running that block again")
                    del ledger.blocks[first]
                if damaged:
                    ledger.write(self.root)
        return found

    def _forget(self, point: int) -> None:
        """Remove what the store holds of a point (but files it did not write)."""
        for part in (self.root / "outcomes" / f"point={point}").glob("part-*.parquet"):
            if PART.fullmatch(part.name):
                part.unlink()
        shutil.rmtree(self.root / ".pending" / f"point={point}", ignore_errors=True)
        bands_file(self.root, point).unlink(missing_ok=True)
        ledger_path(self.root, point).unlink(missing_ok=True)
        self._ledgers[point] = None

    def point_done(self, point: int) -> bool:
        ledger = self._ledger(point)
        return ledger is not None and ledger.finished

    def done_blocks(self, point: int) -> set[int]:
        ledger = self._ledger(point)
        return set() if ledger is None else set(ledger.blocks)

    def write_block(self, point: Point, block: BlockResult) -> None:
        """Write a finished block: its histograms, its outcome rows, then its ledger entry
        (the commit)."""
        index, count = block.bands.sparse()
        buf = io.BytesIO()
        # uncompressed: a temporary file, merged and removed when the point finishes
        arrays: dict[str, Any] = {
            "band_index": index.astype(np.int32),  # fewer than 2**31 bins
            "band_count": count, "n_active": block.bands.n_active,
            "sample_ids": block.sample_ids, "samples": block.samples,
            **block.bands.moments.arrays(),
        }
        np.savez(buf, **arrays)
        histograms = buf.getvalue()
        meta = provenance(point.scenario, self.sweep.engine, completed=block.n, partial=False,
                          kind="outcomes")
        meta["siege.sweep_point"] = str(point.id)
        outcomes = _parquet_bytes(block_table(block).replace_schema_metadata(meta))
        for path, data in ((histograms_path(self.root, point.id, block.first), histograms),
                           (part_path(self.root, point.id, block.first), outcomes)):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        ledger = self._ledger(point.id) or PointLedger(point.id, point.scenario.sha256())
        ledger.blocks[block.first] = BlockEntry(
            block.first, block.n, block.n, _sha256(outcomes), _sha256(histograms))
        ledger.write(self.root)
        self._ledgers[point.id] = ledger

    def record_failure(self, point: int, error: str) -> None:
        text = json.dumps({"point": point, "error": error}, indent=2) + "\n"
        atomic_write_bytes(self._failure(point), text.encode())

    def finish_point(self, point: Point) -> None:
        """Merge the point's block histograms into its bands file, and record it."""
        ledger = self._ledger(point.id)
        assert ledger is not None, f"point {point.id} has no finished block"
        bands = empty_bands(point.scenario)
        specs, n_days = bands.accumulator.specs, bands.accumulator.n_days
        for first in sorted(ledger.blocks):
            with np.load(histograms_path(self.root, point.id, first)) as z:
                bands.accumulator.merge(BandAccumulator.from_sparse(
                    specs, n_days, z["band_index"], z["band_count"], z["n_active"],
                    Moments.from_arrays(z)))
                if z["sample_ids"].size:
                    bands.sample_ids.append(z["sample_ids"])
                    bands.samples.append(z["samples"])
        meta = provenance(point.scenario, self.sweep.engine,
                          completed=self.sweep.replications, partial=False, kind="bands")
        meta |= percentile_resolution(specs)
        meta["siege.sweep_point"] = str(point.id)
        data = _parquet_bytes(bands.table().replace_schema_metadata(meta))
        target = bands_file(self.root, point.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
        ledger.blocks = {f: replace(e, histograms_sha256=None) for f, e in ledger.blocks.items()}
        ledger.bands_sha256 = _sha256(data)
        ledger.write(self.root)
        shutil.rmtree(self.root / ".pending" / f"point={point.id}", ignore_errors=True)
        self._failure(point.id).unlink(missing_ok=True)

    def close(self, points: list[Point], failures: Mapping[int, str]) -> None:
        """Write the design table (with each point's status) and the summaries, from the
        files the ledger lists (never a stray copy)."""
        self._write_design(points, failures)
        rows = []
        for point in points:
            ledger = self._ledger(point.id)
            if ledger is None or not ledger.finished:
                continue
            table = pa.concat_tables([
                pq.read_table(part_path(self.root, point.id, first))
                for first in sorted(ledger.blocks)
            ])
            cols = {
                c: np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=float)
                for c in table.column_names if c not in ("replication", "end_reason")
            }
            reasons = np.asarray(table.column("end_reason").to_pylist())
            rows.append(summary_row(point.id, summarize(reasons, cols)))
        atomic_write_table(self.root / "summary.parquet", _summary_table(rows), compression="zstd")

    def _failure(self, point: int) -> Path:
        return self.root / "failures" / f"point={point}.json"

    def _failure_text(self, point: int) -> str:
        try:
            return str(json.loads(self._failure(point).read_bytes())["error"])
        except (OSError, ValueError, KeyError, TypeError):
            return "failed (its failure record is unreadable)"

    def _write_design(self, points: list[Point], failures: Mapping[int, str]) -> None:
        pts = design(self.sweep)
        by_id = {p.id: p for p in points}
        status = []
        errors: list[str | None] = []
        for i in range(pts.n_points):
            if self.point_done(i):
                status.append("done")
                errors.append(None)
            elif i in failures or self._failure(i).is_file():
                status.append("failed")
                errors.append(failures.get(i) or self._failure_text(i))
            else:
                status.append("pending")
                errors.append(None)
        cols: dict[str, Any] = {
            "point": pa.array(np.arange(pts.n_points, dtype=np.int64)),
            "role": pa.array(pts.roles or [""] * pts.n_points, type=pa.string()),
            "seed": pa.array(
                [by_id[i].seed if i in by_id else None for i in range(pts.n_points)],
                type=pa.uint64(),
            ),
        }
        for param in pts.parameters:
            cols[param.path] = pa.array([v[param.path] for v in pts.values])
        cols["status"] = pa.array(status, type=pa.string())
        cols["error"] = pa.array(errors, type=pa.string())
        meta = {"siege.kind": "design", "siege.version": __version__,
                "siege.design_method": pts.method, "siege.design_base_points": str(pts.base_points)}
        atomic_write_table(self.root / "design.parquet",
                           pa.table(cols).replace_schema_metadata(meta), compression="zstd")


def _ledger_problem(ledger: PointLedger, point: Point, blocks: dict[int, int]) -> str | None:
    """What makes a point's whole ledger untrustworthy (None if nothing): another point's
    scenario, or blocks this sweep does not plan."""
    if ledger.scenario_sha256 != point.scenario.sha256():
        return f"{LEDGER}/point={point.id}.json: records another scenario than the point's"
    stray = unplanned_blocks(ledger, blocks)
    if stray:
        return (f"{LEDGER}/point={point.id}.json: records blocks this sweep does not have "
                f"(at replications {', '.join(map(str, stray))})")
    return None


def _parquet_bytes(table: pa.Table) -> bytes:
    """A table as the bytes of a Parquet file (zstd), to write and checksum in one go."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def summary_row(point: int, summary: Any) -> dict[str, Any]:
    """One row of ``summary.parquet`` from a :class:`siege.results.summary.Summary`."""
    row: dict[str, Any] = {"point": point, "replications": summary.replications}
    for reason in END_REASONS:
        prop = summary.end_reasons[reason]
        row[f"p_{reason}"] = prop.p
        row[f"p_{reason}_low"] = prop.low
        row[f"p_{reason}_high"] = prop.high
    for name, spread in summary.measures.items():
        for stat in ("mean", "p5", "median", "p95"):
            row[f"{name}_{stat}"] = getattr(spread, stat)
    return row


def _summary_table(rows: list[dict[str, Any]]) -> pa.Table:
    if not rows:
        return pa.table({"point": pa.array([], type=pa.int64())})
    names = list(rows[0])
    return pa.table({
        n: pa.array([r[n] for r in rows], type=pa.int64() if n in ("point", "replications")
                    else pa.float64())
        for n in names
    }).replace_schema_metadata({"siege.kind": "sweep_summary", "siege.version": __version__})
