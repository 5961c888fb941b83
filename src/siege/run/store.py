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
      summary.parquet                 one row per finished point: end-reason probabilities
                                      (``p_<reason>``, Wilson 95 % ``..._low``/``..._high``)
                                      and ``<measure>_mean|_p5|_median|_p95`` of end day,
                                      days held, losses, exchange ratio, ...
      failures/point=<id>.json        the error of a failed point (removed when it succeeds)
      .pending/point=<id>/bands-<first>.npz
                                      a finished block's band histograms, kept until its
                                      point is complete

``outcomes/`` is a Hive-partitioned Parquet dataset: ``pyarrow.dataset.dataset(STORE /
"outcomes", partitioning="hive")``, ``pandas.read_parquet(STORE / "outcomes")``,
``polars.read_parquet(f"{STORE}/outcomes/**/*.parquet", hive_partitioning=True)`` and DuckDB's
``read_parquet('STORE/outcomes/*/*.parquet', hive_partitioning = true)`` each read every point
in one call, with a ``point`` column. Every file is written to a hidden temporary name and
renamed into place, so a killed run leaves only whole files; a block counts as finished when
its outcome part and its pending histograms are both there (or its point's bands are).
Nothing in the store depends on the time or the order blocks finished in: an interrupted
run resumed with ``--resume`` ends with the same files as an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from siege._version import __version__
from siege.files import atomic_write_bytes, atomic_write_table
from siege.model.rules import END_REASONS
from siege.results.bands import BandAccumulator
from siege.results.block import BlockResult
from siege.results.moments import Moments
from siege.results.parquet import block_table, percentile_resolution, provenance
from siege.results.summary import summarize
from siege.run.blocks import empty_bands
from siege.run.sweep import Point, Sweep, SweepError, design

FORMAT = "siege-sweep-store/1"


class SweepStore(Protocol):
    """Where a sweep's finished blocks go; what it already holds decides what a resumed run
    redoes (nothing finished)."""

    def point_done(self, point: int) -> bool: ...
    def done_blocks(self, point: int) -> set[int]: ...
    def write_block(self, point: Point, block: BlockResult) -> None: ...
    def record_failure(self, point: int, error: str) -> None: ...
    def finish_point(self, point: Point) -> None: ...
    def close(self, points: list[Point], failures: Mapping[int, str]) -> None: ...


def versions() -> dict[str, str]:
    """Versions of siege, Python and the packages that shape the results."""
    import numpy
    import scipy
    import simpy

    return {
        "siege": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "simpy": getattr(simpy, "__version__", "unknown"),
        "pyarrow": pa.__version__,
    }


def manifest(sweep: Sweep) -> dict[str, Any]:
    """The manifest of a sweep's store (no times or host names: it must not change when a
    run is resumed)."""
    return {
        "format": FORMAT,
        "sweep_file": str(sweep.file),
        "sweep_file_text": sweep.file.read_text() if sweep.file.is_file() else "",
        "sweep": sweep.to_dict(),
        "sweep_sha256": sweep.sha256(),
        "base_scenario_file": str(sweep.base_file),
        "base_scenario": sweep.base.to_dict(),
        "base_scenario_sha256": sweep.base.sha256(),
        "seed": sweep.seed,
        "design_seed": sweep.design_seed,
        "common_random_numbers": sweep.common_random_numbers,
        "replications": sweep.replications,
        "block_size": sweep.block_size,
        "engine": sweep.engine,
        "versions": versions(),
    }


class DirectoryStore:
    """A sweep store on disk (layout in the module docstring).

    ``DirectoryStore.create(path, sweep)`` starts a new store (the folder must not exist or
    be empty); ``DirectoryStore.resume(path, sweep)`` reopens one made from the same sweep
    and base scenario, and refuses any other.
    """

    def __init__(self, root: Path, sweep: Sweep) -> None:
        self.root = root
        self.sweep = sweep
        self.n_days = sweep.base.simulation.whole_days

    # ---- opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, sweep: Sweep) -> DirectoryStore:
        root = Path(path)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise SweepError(
                f"{root}: already exists; use --resume to continue the sweep stored there, "
                "or choose a new --out folder"
            )
        if not root.parent.is_dir():
            raise SweepError(f"{root}: folder {root.parent} does not exist")
        root.mkdir(exist_ok=True)
        for sub in ("outcomes", "bands", "failures", ".pending"):
            (root / sub).mkdir()
        text = json.dumps(manifest(sweep), indent=2, sort_keys=True) + "\n"
        if sweep.file.is_file():
            atomic_write_bytes(root / "sweep.toml", sweep.file.read_bytes())
        store = cls(root, sweep)
        store._write_design([], {})
        atomic_write_bytes(root / "manifest.json", text.encode())  # last: marks a complete start
        return store

    @classmethod
    def resume(cls, path: str | Path, sweep: Sweep) -> DirectoryStore:
        root = Path(path)
        mpath = root / "manifest.json"
        if not mpath.is_file():
            if root.is_dir() and not any(p for p in root.iterdir() if p.name != ".pending"):
                return cls.create(root, sweep)
            raise SweepError(f"{root}: not a sweep store (no manifest.json); cannot resume")
        try:
            old = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise SweepError(f"{mpath}: unreadable manifest ({exc})") from None
        if old.get("format") != FORMAT:
            raise SweepError(f"{root}: store format {old.get('format')!r}, expected {FORMAT}")
        if old.get("base_scenario_sha256") != sweep.base.sha256():
            raise SweepError(
                f"{root}: made from a different base scenario ({old.get('base_scenario_file')}, "
                f"sha256 {str(old.get('base_scenario_sha256'))[:12]}) than "
                f"{sweep.base_file} (sha256 {sweep.base.sha256()[:12]}); refusing to resume. "
                "Use a new --out folder for this sweep"
            )
        if old.get("sweep_sha256") != sweep.sha256():
            changed = sorted(
                k for k in set(old.get("sweep", {})) | set(sweep.to_dict())
                if old.get("sweep", {}).get(k) != json.loads(
                    json.dumps(sweep.to_dict(), default=str)).get(k)
            )
            raise SweepError(
                f"{root}: made from a different sweep ({old.get('sweep_file')}) than "
                f"{sweep.file}; they differ in: {', '.join(changed) or 'content'}. Refusing "
                "to resume; use a new --out folder for this sweep"
            )
        if old.get("versions", {}).get("siege") != __version__:
            raise SweepError(
                f"{root}: written by siege {old.get('versions', {}).get('siege')}, this is "
                f"{__version__}; results could differ, so the store is not resumed"
            )
        for tmp in root.rglob(".*.tmp"):  # half-written files of a killed run
            tmp.unlink()
        return cls(root, sweep)

    # ---- paths --------------------------------------------------------------------------
    def _outcomes(self, point: int) -> Path:
        return self.root / "outcomes" / f"point={point}"

    def _pending(self, point: int) -> Path:
        return self.root / ".pending" / f"point={point}"

    def _bands(self, point: int) -> Path:
        return self.root / "bands" / f"point={point}" / "bands.parquet"

    def _failure(self, point: int) -> Path:
        return self.root / "failures" / f"point={point}.json"

    # ---- the protocol -------------------------------------------------------------------
    def point_done(self, point: int) -> bool:
        return self._bands(point).is_file()

    def done_blocks(self, point: int) -> set[int]:
        parts = self._outcomes(point)
        if not parts.is_dir():
            return set()
        done = set()
        for part in parts.glob("part-*.parquet"):
            first = int(part.stem.removeprefix("part-"))
            if (self._pending(point) / f"bands-{first:010d}.npz").is_file():
                done.add(first)
        return done

    def write_block(self, point: Point, block: BlockResult) -> None:
        """Write a finished block: its histograms, then its outcome rows (the commit)."""
        pending = self._pending(point.id)
        pending.mkdir(parents=True, exist_ok=True)
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
        atomic_write_bytes(pending / f"bands-{block.first:010d}.npz", buf.getvalue())
        meta = provenance(point.scenario, self.sweep.engine, completed=block.n, partial=False,
                          kind="outcomes")
        meta["siege.sweep_point"] = str(point.id)
        folder = self._outcomes(point.id)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_table(folder / f"part-{block.first:010d}.parquet",
                           block_table(block).replace_schema_metadata(meta), compression="zstd")

    def record_failure(self, point: int, error: str) -> None:
        text = json.dumps({"point": point, "error": error}, indent=2) + "\n"
        atomic_write_bytes(self._failure(point), text.encode())

    def finish_point(self, point: Point) -> None:
        """Merge the point's block histograms into its bands file."""
        bands = empty_bands(point.scenario)
        specs, n_days = bands.accumulator.specs, bands.accumulator.n_days
        pending = self._pending(point.id)
        for path in sorted(pending.glob("bands-*.npz")):
            with np.load(path) as z:
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
        target = self._bands(point.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_table(target, bands.table().replace_schema_metadata(meta), compression="zstd")
        shutil.rmtree(pending, ignore_errors=True)
        self._failure(point.id).unlink(missing_ok=True)

    def close(self, points: list[Point], failures: Mapping[int, str]) -> None:
        """Write the design table (with each point's status) and the summaries."""
        self._write_design(points, failures)
        rows = []
        for point in points:
            if not self.point_done(point.id):
                continue
            table = pq.ParquetDataset(self._outcomes(point.id)).read()
            table = table.sort_by("replication")
            cols = {
                c: np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=float)
                for c in table.column_names if c not in ("replication", "end_reason")
            }
            reasons = np.asarray(table.column("end_reason").to_pylist())
            rows.append(summary_row(point.id, summarize(reasons, cols)))
        atomic_write_table(self.root / "summary.parquet", _summary_table(rows), compression="zstd")

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
                errors.append(failures.get(i) or json.loads(self._failure(i).read_text())["error"])
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


# ------------------------------------------------------------------------------------------
# reading a store


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


def open_store(path: str | Path) -> StoreContents:
    """Read a store's manifest, design and summaries (raises SweepError if it is not one)."""
    root = Path(path)
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise SweepError(f"{root}: not a sweep store (no manifest.json)")
    man = json.loads(mpath.read_text())
    for name in ("design.parquet", "summary.parquet"):
        if not (root / name).is_file():
            raise SweepError(f"{root}: {name} is missing; rerun the sweep with --resume")
    return StoreContents(root, man, pq.read_table(root / "design.parquet"),
                         pq.read_table(root / "summary.parquet"))


def read_outcomes(path: str | Path) -> pa.Table:
    """Every point's per-replication outcomes in one table, with a ``point`` column."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(Path(path) / "outcomes", format="parquet", partitioning="hive")
    return dataset.to_table()
