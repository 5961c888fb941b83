"""The outcome table and its Parquet files, with provenance in the file metadata.

``results.parquet``: one row per replication, the columns of
:data:`siege.model.outcomes.OUTCOMES` (:data:`OUTCOME_COLUMNS` plus one
``route_open_days_<route>`` per route and ``trigger_first_day_<trigger>`` per trigger).
``results.bands.parquet`` beside it: per-day percentile bands (``kind = "band"``; columns
:data:`BAND_COLUMNS`: percentiles, replications running, exact mean, sd, least and greatest
value) and the sample trajectories (``kind = "sample"``) in long form.

Metadata keys (both files): ``siege.scenario`` (resolved scenario, JSON), ``siege.scenario_sha256``,
``siege.seed``, ``siege.engine``, ``siege.version``, ``siege.replications`` (requested),
``siege.completed`` (replications in the file), ``siege.partial`` ("true" if the run was
interrupted), ``siege.kind`` ("outcomes" or "bands"); a run drawing its parameters from a
calibration's posterior adds ``siege.posterior`` (the store) and ``siege.posterior_sha256``.;
the bands file also has ``siege.percentile_resolution`` (per measure, the bins its
percentiles are read from).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from siege._version import __version__
from siege.errors import OutputError, ResultsError
from siege.files import check_target, commit, temporary_path, write_error
from siege.model.outcomes import OUTCOMES, outcome_columns
from siege.model.rules import END_REASONS
from siege.results.bands import PERCENTILES, BandAccumulator, MeasureSpec
from siege.results.block import BlockResult
from siege.scenario import Scenario, build_params, scenario_from_json

#: the outcome columns every results file has (besides one per route and per trigger)
OUTCOME_COLUMNS: tuple[str, ...] = tuple(o.name for o in OUTCOMES.values() if o.per is None)
_ARROW_TYPES = {"int64": pa.int64(), "string": pa.string(), "float64": pa.float64()}
#: the exact columns of a band row, after the percentiles (NaN in sample rows)
MOMENT_COLUMNS: tuple[str, ...] = ("mean", "sd", "min", "max")


def outcome_schema(scenario: Scenario) -> pa.Schema:
    """The outcome table's columns and types for a scenario, in file order."""
    columns = outcome_columns(build_params(scenario))
    return pa.schema([(name, _ARROW_TYPES[o.dtype]) for name, o in columns])


def bands_path(path: str | Path) -> Path:
    """Where the bands file of a results file lives: ``x.parquet`` -> ``x.bands.parquet``."""
    p = Path(path)
    stem = p.name[: -len(".parquet")] if p.name.endswith(".parquet") else p.name
    return p.with_name(stem + ".bands.parquet")


def block_table(block: BlockResult) -> pa.Table:
    """The outcome rows of one block, in replication order."""
    reasons = np.array(END_REASONS, dtype=object)[block.reason.astype(np.intp)]
    arrays: dict[str, pa.Array] = {
        "replication": pa.array(np.arange(block.first, block.first + block.n, dtype=np.int64)),
        "end_reason": pa.array(reasons.tolist(), type=pa.string()),
    }
    for name, values in block.columns.items():
        arrays[name] = pa.array(values, type=pa.float64())
    return pa.table(arrays)


def provenance(
    scenario: Scenario, engine: str, *, completed: int, partial: bool, kind: str
) -> dict[str, str]:
    """Metadata written into every results file."""
    return {
        "siege.kind": kind,
        "siege.scenario": scenario.to_json(),
        "siege.scenario_name": scenario.name,
        "siege.scenario_sha256": scenario.sha256(),
        "siege.seed": str(scenario.simulation.seed),
        "siege.engine": engine,
        "siege.version": __version__,
        "siege.replications": str(scenario.simulation.replications),
        "siege.completed": str(completed),
        "siege.partial": "true" if partial else "false",
        "siege.percentiles": json.dumps(list(PERCENTILES)),
    }


def percentile_resolution(specs: list[MeasureSpec]) -> dict[str, str]:
    """Metadata of a bands file: how finely each measure's percentiles are resolved."""
    return {"siege.percentile_resolution": json.dumps({s.name: s.resolution() for s in specs})}


@dataclass
class Bands:
    """Merged daily bands and sample trajectories of a run."""

    specs: list[MeasureSpec]
    accumulator: BandAccumulator
    sample_ids: list[NDArray[np.int64]] = field(default_factory=list)
    samples: list[NDArray[np.float64]] = field(default_factory=list)

    def add(self, block: BlockResult) -> None:
        self.accumulator.merge(block.bands)
        if block.sample_ids.size:
            self.sample_ids.append(block.sample_ids)
            self.samples.append(block.samples)

    def table(self) -> pa.Table:
        """Long-form table: one row per (measure, day) band and per (sample, measure, day)."""
        acc = self.accumulator
        q = acc.quantiles(PERCENTILES)
        n_days = acc.n_days + 1
        m = len(self.specs)
        days = np.tile(np.arange(n_days, dtype=np.int32), m)
        measures = np.repeat([s.name for s in self.specs], n_days)
        units = np.repeat([s.unit for s in self.specs], n_days)
        cols: dict[str, list[object] | NDArray[np.generic]] = {
            "kind": ["band"] * (m * n_days),
            "measure": measures.tolist(),
            "unit": units.tolist(),
            "day": days,
            "replication": [None] * (m * n_days),
            "value": np.full(m * n_days, np.nan),
            "n_active": np.tile(acc.n_active, m),
        }
        for j, p in enumerate(PERCENTILES):
            cols[f"p{p}"] = q[:, :, j].reshape(-1)
        mean, sd = acc.mean_sd()
        for name, values in zip(MOMENT_COLUMNS, (mean, sd, acc.moments.low,
                                                 acc.moments.high), strict=True):
            cols[name] = values.reshape(-1)
        band = pa.table(
            {
                k: pa.array(v, type=pa.int64() if k == "replication" else None)
                for k, v in cols.items()
            }
        )
        if not self.sample_ids:
            return band
        ids = np.concatenate(self.sample_ids)
        order = np.argsort(ids, kind="stable")  # blocks arrive in any order
        ids, samples = ids[order], np.concatenate(self.samples)[order]  # (k, days, m)
        k = ids.size
        rows = k * m * n_days
        sample_cols = {
            "kind": pa.array(["sample"] * rows),
            "measure": pa.array(
                np.tile(np.repeat([s.name for s in self.specs], n_days), k).tolist()
            ),
            "unit": pa.array(np.tile(np.repeat([s.unit for s in self.specs], n_days), k).tolist()),
            "day": pa.array(np.tile(np.arange(n_days, dtype=np.int32), k * m)),
            "replication": pa.array(np.repeat(ids, m * n_days), type=pa.int64()),
            "value": pa.array(samples.transpose(0, 2, 1).reshape(-1)),
            "n_active": pa.array(np.zeros(rows, dtype=np.int64)),
        }
        for name in [f"p{p}" for p in PERCENTILES] + list(MOMENT_COLUMNS):
            sample_cols[name] = pa.array(np.full(rows, np.nan))
        sample = pa.table(sample_cols).select(band.column_names)
        return pa.concat_tables([band, sample.cast(band.schema)])


ROW_GROUP_ROWS = 65536  # replications per Parquet row group, whatever the blocks and workers


class ResultsWriter:
    """Streams outcome blocks to Parquet in replication order as they finish.

    The target and its bands file are checked when the writer is made, before any run (see
    :func:`siege.files.check_target`: not one of ``inputs``, a regular file in a writable
    folder; and a file already there must be Parquet, so that only results are replaced).
    Rows go to a temporary file beside the target in row groups of :data:`ROW_GROUP_ROWS`
    replications, so the file's bytes depend only on the results, never on the blocks or the
    workers. :meth:`close` adds the provenance to the footer and renames both files into
    place, replacing the target only with something worth keeping: a complete run, or the
    finished blocks of a run stopped early (marked partial). A write error (a full disk)
    raises :class:`~siege.errors.OutputError` and leaves the target as it was.
    """

    def __init__(
        self, path: str | Path, scenario: Scenario, engine: str, *,
        inputs: tuple[str | Path, ...] = (), metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)  # as given, for messages
        self.bands_path = bands_path(path)
        self._targets = [check_target(p, inputs) for p in (self.path, self.bands_path)]
        for target, given in zip(self._targets, (self.path, self.bands_path), strict=True):
            _refuse_other_files(target, given)
        self.scenario = scenario
        self.engine = engine
        # extra provenance (e.g. the posterior a run drew from): siege.* keys only
        self.metadata = {k: v for k, v in (metadata or {}).items() if k.startswith("siege.")}
        self.tmp = temporary_path(self._targets[0])
        self._sink: pa.NativeFile | None = None
        self._writer: pq.ParquetWriter | None = None
        try:
            self._sink = pa.OSFile(str(self.tmp), "wb")
            # no Arrow schema in the footer (the plain Parquet types read back the same), so
            # the provenance added at close is what readers see as the schema's metadata
            self._writer = pq.ParquetWriter(self._sink, outcome_schema(scenario),
                                            compression="zstd", store_schema=False)
        except OSError as exc:
            self.discard()
            raise write_error(self.path, exc) from None
        self._pending: dict[int, pa.Table] = {}  # blocks that finished ahead of their turn
        self._buffer: list[pa.Table] = []  # rows in order, not yet a whole row group
        self._next = 0
        self.completed = 0  # replications accepted (written or buffered)

    def add(self, block: BlockResult) -> None:
        """Accept a finished block (any order); write the row groups now complete."""
        self._pending[block.first] = block_table(block)
        self.completed += block.n
        while self._next in self._pending:
            table = self._pending.pop(self._next)
            self._buffer.append(table)
            self._next += table.num_rows
        self._write_groups(final=False)

    def _write_groups(self, *, final: bool) -> None:
        """Write the buffered rows as row groups of ROW_GROUP_ROWS (and, when ``final``, the
        rest as a last, shorter one)."""
        buffered = sum(t.num_rows for t in self._buffer)
        if buffered < ROW_GROUP_ROWS and not (final and buffered):
            return
        rows = pa.concat_tables(self._buffer).combine_chunks()  # pages independent of blocks
        whole = buffered if final else buffered - buffered % ROW_GROUP_ROWS
        for start in range(0, whole, ROW_GROUP_ROWS):
            self._write(rows.slice(start, min(ROW_GROUP_ROWS, whole - start)))
        self._buffer = [rows.slice(whole)] if whole < buffered else []

    def _write(self, table: pa.Table) -> None:
        assert self._writer is not None, "the writer was closed"
        try:
            self._writer.write_table(table)
        except OSError as exc:
            self.discard()
            raise write_error(self.path, exc) from None

    def close(self, bands: Bands, *, partial: bool) -> bool:
        """Finish the results file (provenance in its footer, no rewrite) and its bands file,
        and rename both into place; True if written. A partial run with no finished block
        is discarded (the target is left as it was), as is a writer that failed."""
        writer, sink = self._writer, self._sink
        if writer is None or sink is None or (partial and self.completed == 0):
            self.discard()
            return False
        self._write_groups(final=True)
        for first in sorted(self._pending):  # out-of-order blocks of an interrupted run
            self._write(self._pending.pop(first))
        meta = provenance(
            self.scenario, self.engine, completed=self.completed, partial=partial, kind="outcomes"
        ) | self.metadata
        bmeta = provenance(
            self.scenario, self.engine, completed=self.completed, partial=partial, kind="bands"
        ) | self.metadata | percentile_resolution(bands.specs)
        bands_tmp = temporary_path(self._targets[1])
        writing = self.path
        try:
            writer.add_key_value_metadata(meta)
            writer.close()
            sink.close()
            writing = self.bands_path
            pq.write_table(bands.table().replace_schema_metadata(bmeta), bands_tmp,
                           compression="zstd")
            commit(self.tmp, self._targets[0])
            commit(bands_tmp, self._targets[1])
        except OSError as exc:
            bands_tmp.unlink(missing_ok=True)
            self.discard()
            raise write_error(writing, exc) from None
        finally:
            self._writer = self._sink = None
        return True

    def discard(self) -> None:
        """Give up the file: close and remove the temporary file; the target is untouched."""
        if self._writer is not None:
            with contextlib.suppress(OSError):  # a full disk: the footer cannot be written
                self._writer.close()
            self._writer.is_open = False  # not to be closed again when collected
            self._writer = None
        if self._sink is not None:
            with contextlib.suppress(OSError):
                self._sink.close()
            self._sink = None
        self.tmp.unlink(missing_ok=True)


def _refuse_other_files(path: Path, given: Path) -> None:
    """Refuse to replace a file that is not Parquet (a scenario, a notebook...): results
    replace only results. ``given``: the path as the user wrote it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(given, exc) from None
    if head and head != b"PAR1":
        raise OutputError(f"{given}: exists and is not a Parquet file; refusing to replace it "
                          "with results (choose another --out, or remove it first)")


# ------------------------------------------------------------------------------------------
# reading


@dataclass
class ResultsFile:
    """A results file read back: the outcome table, the bands table and the provenance."""

    path: Path
    outcomes: pa.Table
    bands: pa.Table | None
    metadata: dict[str, str]

    @property
    def scenario(self) -> Scenario:
        return scenario_from_json(self.metadata["siege.scenario"])

    @property
    def partial(self) -> bool:
        return self.metadata.get("siege.partial") == "true"

    def column(self, name: str) -> NDArray[np.float64]:
        return np.asarray(self.outcomes.column(name).to_numpy(zero_copy_only=False))


def read_metadata(path: str | Path) -> dict[str, str]:
    """The siege metadata of a results file (raises ResultsError if it is not one)."""
    p = Path(path)
    if not p.exists():
        raise ResultsError(f"{p}: file not found")
    try:
        schema = pq.read_schema(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ResultsError(f"{p}: not a Parquet file ({exc})") from None
    raw = schema.metadata or {}
    meta = {k.decode(): v.decode() for k, v in raw.items() if k.startswith(b"siege.")}
    if "siege.scenario" not in meta:
        raise ResultsError(f"{p}: not a siege results file (no siege metadata)")
    return meta


def read_results(path: str | Path) -> ResultsFile:
    """Read a results file written by ``siege simulate`` (and its bands file, if present)."""
    p = Path(path)
    meta = read_metadata(p)
    if meta.get("siege.kind") != "outcomes":
        raise ResultsError(f"{p}: is a siege '{meta.get('siege.kind')}' file, not outcomes")
    outcomes = pq.read_table(p)
    bp = bands_path(p)
    bands = pq.read_table(bp) if bp.exists() else None
    return ResultsFile(path=p, outcomes=outcomes, bands=bands, metadata=meta)
