"""Result sets: a run's outcome table with its bands and provenance, in memory.

A :class:`ResultSet` comes from a run in this process
(:meth:`siege.run.simulate.SimulationResult.result_set`), or from a results file of
``siege simulate`` or a sweep-store point (a folder of Parquet part files with the same
metadata) through :func:`load_result_set`, the one adapter from files. The comparison, the
figures and the report take result sets; :func:`pairing` says from their provenance whether
they can be compared replication by replication (common random numbers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from siege.errors import CompareError, ResultsError, ScenarioError
from siege.results.ledger import (
    LedgerUnreadable,
    bands_file,
    check_point,
    ledger_path,
    part_path,
    read_ledger,
)
from siege.results.parquet import read_metadata, read_results
from siege.results.summary import COMPARE_MEASURES
from siege.scenario import Scenario, scenario_from_json


@dataclass(frozen=True)
class Provenance:
    """Where a result set comes from: the resolved scenario (name, SHA-256, canonical JSON),
    the root seed (None if unknown), the engine, the replications asked for (count), whether
    the run was interrupted, and the file or folder read ("" for a run in memory)."""

    scenario_name: str
    scenario_sha256: str
    scenario_json: str
    seed: int | None
    engine: str
    replications: int
    partial: bool
    source: str = ""
    posterior_sha256: str = ""  # the hash of the posterior its parameters were drawn from

    @classmethod
    def of_run(
        cls, scenario: Scenario, engine: str, *, partial: bool,
        metadata: Mapping[str, str] | None = None,
    ) -> Provenance:
        """The provenance of a run of ``scenario`` in this process (``metadata``: the extra
        ``siege.*`` keys its results file takes, such as the posterior it drew from)."""
        sim = scenario.simulation
        posterior = (metadata or {}).get("siege.posterior_sha256", "")
        return cls(scenario.name, scenario.sha256(), scenario.to_json(), sim.seed, engine,
                   sim.replications, partial, posterior_sha256=posterior)

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], source: str) -> Provenance:
        """The provenance kept in a results file's ``siege.*`` metadata."""
        seed = meta.get("siege.seed", "")
        replications = meta.get("siege.replications", "")
        return cls(
            scenario_name=meta.get("siege.scenario_name", ""),
            scenario_sha256=meta.get("siege.scenario_sha256", ""),
            scenario_json=meta.get("siege.scenario", ""),
            seed=int(seed) if seed.isdigit() else None,
            engine=meta.get("siege.engine", ""),
            replications=int(replications) if replications.isdigit() else 0,
            partial=meta.get("siege.partial") == "true",
            source=source,
            posterior_sha256=meta.get("siege.posterior_sha256", ""),
        )

    def same_run(self, other: Provenance) -> bool:
        """Whether both record the same run, so their results are the same: the same resolved
        scenario (name, seed, replications and every value), engine and posterior draws."""
        return ((self.scenario_sha256, self.engine, self.posterior_sha256)
                == (other.scenario_sha256, other.engine, other.posterior_sha256))

    def describe(self) -> str:
        """The run in words, for messages: ``scenario bakhmut, seed 3, 10,000 replications,
        sha256 1a2b3c4d5e6f`` (and the engine where not batch, posterior draws, partial)."""
        seed = "unknown" if self.seed is None else str(self.seed)
        words = [f"scenario {self.scenario_name}", f"seed {seed}",
                 f"{self.replications:,} replications", f"sha256 {self.scenario_sha256[:12]}"]
        if self.engine != "batch":
            words.append(f"engine {self.engine}")
        if self.posterior_sha256:
            words.append("parameters drawn from a posterior")
        if self.partial:
            words.append("partial")
        return ", ".join(words)

    @property
    def scenario(self) -> Scenario:
        """The resolved scenario (validated again from its JSON)."""
        return scenario_from_json(self.scenario_json)

    @property
    def valid_scenario(self) -> Scenario | None:
        """The resolved scenario, or None where it no longer validates (a file of an older
        siege) or none was recorded."""
        try:
            return self.scenario
        except (ScenarioError, ValueError):
            return None


def held_results(path: str | Path) -> Provenance | None:
    """The run whose results a file at ``path`` holds; None where it holds none (no file, not
    a regular file, or not a siege results file). A FIFO is not opened (that would wait for a
    writer). A name the system refuses (too long) holds none: the output check names it."""
    try:
        if not Path(path).is_file():
            return None
        meta = read_metadata(path)
    except (ResultsError, OSError):
        return None
    if meta.get("siege.kind") != "outcomes":
        return None
    return Provenance.from_metadata(meta, str(path))


@dataclass(frozen=True)
class ResultSet:
    """One run's outcomes to compare, draw or report, under a ``label``.

    ``outcomes`` has one row per replication: ``replication`` (id), ``end_reason`` (text) and
    one float column per outcome measure; ``bands`` the per-day bands and sample trajectories
    in long form (as in ``R.bands.parquet``; None if not known).
    """

    label: str
    outcomes: pa.Table
    provenance: Provenance
    bands: pa.Table | None = None

    @classmethod
    def from_arrays(
        cls,
        scenario: Scenario,
        engine: str,
        replication: NDArray[np.int64],
        end_reason: NDArray[np.object_] | NDArray[np.str_],
        columns: Mapping[str, NDArray[np.float64]],
        *,
        bands: pa.Table | None,
        partial: bool,
        label: str | None = None,
    ) -> ResultSet:
        """A result set of a run in memory: ids, end reasons and outcome columns ``(n,)``
        (the float columns are not copied); the label defaults to the scenario's name."""
        arrays = {
            "replication": pa.array(np.asarray(replication, dtype=np.int64)),
            "end_reason": pa.array(np.asarray(end_reason, dtype=object), type=pa.string()),
        }
        for name, values in columns.items():
            arrays[name] = pa.array(values, type=pa.float64())
        return cls(label or scenario.name, pa.table(arrays),
                   Provenance.of_run(scenario, engine, partial=partial), bands)

    @property
    def n(self) -> int:
        """Replications in the set."""
        return int(self.outcomes.num_rows)

    @property
    def replication(self) -> NDArray[np.int64]:
        """Replication ids ``(n,)``."""
        return np.asarray(self.outcomes.column("replication").to_numpy(zero_copy_only=False))

    @property
    def end_reason(self) -> NDArray[np.str_]:
        """End reason of each replication ``(n,)``."""
        return np.asarray(self.outcomes.column("end_reason").to_pylist(), dtype=str)

    def column(self, name: str) -> NDArray[np.float64]:
        """An outcome measure ``(n,)`` as floats (counts too), for the statistics."""
        return np.asarray(self.outcomes.column(name).to_numpy(zero_copy_only=False), dtype=float)


# ------------------------------------------------------------------------------------------
# reading files


def _point_folders(folder: Path) -> list[Path]:
    """The folders holding a sweep-store point's files: ``STORE/point=<id>`` stands for
    ``STORE/outcomes/point=<id>`` and ``STORE/bands/point=<id>``; a point's outcomes folder
    brings its bands folder along."""
    if folder.name.startswith("point=") and not folder.exists():
        store = folder.parent
        found = [store / sub / folder.name for sub in ("outcomes", "bands")]
        return [f for f in found if f.is_dir()]
    if folder.name.startswith("point=") and folder.parent.name == "outcomes":
        bands = folder.parent.parent / "bands" / folder.name
        return [folder, bands] if bands.is_dir() else [folder]
    return [folder]


def _ledger_files(folder: Path) -> list[Path] | None:
    """The files of a sweep-store point that its store's ledger lists (its blocks' parts,
    and its bands once finished), each checked against its checksum; None when ``folder``
    is not a point of a store with a ledger. Damage is a :class:`ResultsError`."""
    number = folder.name.removeprefix("point=")
    if not (folder.name.startswith("point=") and number.isdigit()):
        return None
    root = folder.parent.parent if folder.parent.name in ("outcomes", "bands") else folder.parent
    point = int(number)
    if not ledger_path(root, point).is_file():
        return None
    try:
        ledger = read_ledger(root, point)
        problems = [] if ledger is None else check_point(root, ledger)
    except LedgerUnreadable as exc:
        ledger, problems = None, [str(exc)]
    if ledger is None or problems:
        raise ResultsError(f"{folder}: sweep store point damaged: {'; '.join(problems)}; "
                           f"`siege store check {root}` lists the damage, `siege sweep "
                           "SWEEP --out STORE --resume` runs it again")
    files = [part_path(root, point, first) for first in sorted(ledger.blocks)]
    return [*files, bands_file(root, point)] if ledger.finished else files


def _read_point(folder: Path) -> tuple[pa.Table, pa.Table | None, dict[str, str]]:
    """A sweep-store point: the files its ledger lists, or else every ``*.parquet`` under
    the folder(s); split by ``siege.kind``."""
    parts = _ledger_files(folder)
    if parts is None:
        parts = sorted(p for f in _point_folders(folder) for p in f.rglob("*.parquet")
                       if p.is_file())
    if not parts:
        raise ResultsError(f"{folder}: folder holds no Parquet files (expected a sweep point)")
    outcomes: list[Path] = []
    bands: list[Path] = []
    meta: dict[str, str] | None = None
    for part in parts:
        part_meta = read_metadata(part)
        kind = part_meta.get("siege.kind", "outcomes")
        if kind == "bands":
            bands.append(part)
            continue
        if meta is None:
            meta = part_meta
        elif part_meta.get("siege.scenario_sha256") != meta.get("siege.scenario_sha256"):
            raise ResultsError(f"{folder}: part files come from different scenarios ({part})")
        outcomes.append(part)
    if meta is None:
        raise ResultsError(f"{folder}: no outcomes part files (only bands)")
    import pyarrow.dataset as ds

    table = ds.dataset(outcomes, format="parquet").to_table()
    if "replication" in table.column_names:
        table = table.sort_by("replication")
    band_table = pa.concat_tables([pq.read_table(p) for p in bands]) if bands else None
    return table, band_table, meta


def _file_label(path: Path) -> str:
    """A results file or folder by name: ``bakhmut.results.parquet`` -> ``bakhmut.results``."""
    return path.name.removesuffix(".parquet")


def load_result_set(path: str | Path, label: str | None = None) -> ResultSet:
    """Read a results file or a sweep-store point folder as a :class:`ResultSet`; the label
    defaults to the scenario's name for a results file (its file name if it has none) and to
    the folder name for a sweep-store point (``point=12``: every point has the sweep's
    scenario name).

    Raises :class:`ResultsError` when the path is missing or not siege results.
    """
    p = Path(path)
    if p.is_dir() or (p.name.startswith("point=") and _point_folders(p)):
        outcomes, bands, meta = _read_point(p)
        provenance = Provenance.from_metadata(meta, str(p))
        default = p.name
    else:
        rf = read_results(p)
        outcomes, bands = rf.outcomes, rf.bands
        provenance = Provenance.from_metadata(rf.metadata, str(p))
        default = provenance.scenario_name or _file_label(p)
    return ResultSet(label or default, outcomes, provenance, bands)


def load_result_sets(
    paths: Sequence[str | Path], labels: Sequence[str] | None = None
) -> list[ResultSet]:
    """Read several result sets. Labels default to the scenario names; where several files
    share one, each is labelled ``NAME (FILE)`` by its file name; then repeats are made
    distinct (``#2``)."""
    if labels and len(labels) != len(paths):
        raise CompareError(
            f"labels: {len(labels)} given for {len(paths)} result sets; give one label per "
            "result set", parameter="labels",
        )
    sets = [load_result_set(p, labels[i] if labels else None) for i, p in enumerate(paths)]
    if not labels:
        counts = Counter(rs.label for rs in sets)
        shared = {label for label, k in counts.items() if k > 1}
        sets = [
            replace(rs, label=f"{rs.label} ({_file_label(Path(p))})")
            if rs.label in shared and _file_label(Path(p)) != rs.label else rs
            for rs, p in zip(sets, paths, strict=True)
        ]
    return distinct_labels(sets)


# ------------------------------------------------------------------------------------------
# checks before a comparison


def distinct_labels(sets: Sequence[ResultSet]) -> list[ResultSet]:
    """The result sets with repeated labels made distinct (``label#2``, ``label#3``, ...)."""
    seen: dict[str, int] = {}
    out = []
    for rs in sets:
        seen[rs.label] = seen.get(rs.label, 0) + 1
        out.append(rs if seen[rs.label] == 1 else replace(rs, label=f"{rs.label}#{seen[rs.label]}"))
    return out


def check_comparable(rs: ResultSet) -> None:
    """Raise :class:`CompareError` when a result set has no replications or lacks a compared
    measure (results of another siege version)."""
    where = rs.provenance.source or rs.label
    missing = [
        c for c in ("replication", "end_reason", *COMPARE_MEASURES)
        if c not in rs.outcomes.column_names
    ]
    if missing:
        raise CompareError(
            f"{where}: results lack the measure(s) {', '.join(missing)}; compare needs "
            f"{', '.join(COMPARE_MEASURES)} (results of a different siege version?)"
        )
    if rs.n == 0:
        raise CompareError(f"{where}: results hold no replications")


def pairing(sets: Sequence[ResultSet]) -> tuple[bool, str]:
    """Whether the result sets can be compared replication by replication (same seed, same
    engine, same replication ids: common random numbers), and why (not)."""
    if len(sets) < 2:
        return False, "a single result set"
    ref = sets[0]
    if ref.provenance.seed is None:
        return False, f"the seed of {ref.label} is not known"
    ref_ids = ref.replication
    for rs in sets[1:]:
        for what in ("seed", "engine"):
            mine, theirs = getattr(rs.provenance, what), getattr(ref.provenance, what)
            if mine != theirs:
                return False, f"{rs.label} and {ref.label} differ in {what} ({mine} vs {theirs})"
        if not np.array_equal(rs.replication, ref_ids):
            return False, f"{rs.label} and {ref.label} hold different replication ids"
    return True, f"same seed ({ref.provenance.seed}) and replication ids (common random numbers)"


def by_replication(rs: ResultSet) -> ResultSet:
    """The result set with its rows in replication order (pairs are matched by id)."""
    ids = rs.replication
    if ids.size < 2 or bool(np.all(ids[1:] >= ids[:-1])):
        return rs
    return replace(rs, outcomes=rs.outcomes.sort_by("replication"))
