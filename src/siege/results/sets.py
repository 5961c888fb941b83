"""Result sets to compare: a results file of ``siege simulate`` or a sweep-store point (a
folder of Parquet part files with the same metadata), read as a :class:`Variant`, and whether
a set of them can be compared replication by replication (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from siege.errors import CompareError, ResultsError
from siege.results.parquet import ResultsFile, read_metadata, read_results
from siege.results.summary import SUMMARY_MEASURES

# the summary's measures, less days_held (end_day and the withdrawal say the same for a policy)
COMPARE_MEASURES: dict[str, str] = {
    k: unit for k, unit in SUMMARY_MEASURES.items() if k != "days_held"
}


# ------------------------------------------------------------------------------------------
# loading


@dataclass
class Variant(ResultsFile):
    """One result set to compare: a results file (or sweep point) read back, with a label."""

    label: str

    @property
    def n(self) -> int:
        return int(self.outcomes.num_rows)

    @property
    def replication(self) -> NDArray[np.int64]:
        return np.asarray(self.outcomes.column("replication").to_numpy(zero_copy_only=False))

    @property
    def end_reason(self) -> NDArray[np.str_]:
        return np.asarray(self.outcomes.column("end_reason").to_pylist(), dtype=str)

    def column(self, name: str) -> NDArray[np.float64]:
        """A measure as floats (counts too), for the statistics."""
        return np.asarray(super().column(name), dtype=float)

    @property
    def scenario_name(self) -> str:
        return self.metadata.get("siege.scenario_name") or self.label


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


def _read_point(folder: Path) -> tuple[pa.Table, pa.Table | None, dict[str, str]]:
    """A sweep-store point: every ``*.parquet`` under the folder(s), split by ``siege.kind``."""
    parts = sorted(p for f in _point_folders(folder) for p in f.rglob("*.parquet") if p.is_file())
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
    meta = dict(meta)
    meta["siege.completed"] = str(table.num_rows)
    return table, band_table, meta


def load_variant(path: str | Path, label: str | None = None) -> Variant:
    """Read a results file or a sweep-store point folder as a :class:`Variant`.

    Raises :class:`ResultsError` when the path is missing or not siege results, and
    :class:`CompareError` when it lacks a compared measure or has no replications.
    """
    p = Path(path)
    if p.is_dir() or (p.name.startswith("point=") and _point_folders(p)):
        outcomes, bands, meta = _read_point(p)
    else:
        rf = read_results(p)
        outcomes, bands, meta = rf.outcomes, rf.bands, rf.metadata
    missing = [
        c
        for c in ("replication", "end_reason", *COMPARE_MEASURES)
        if c not in outcomes.column_names
    ]
    if missing:
        raise CompareError(
            f"{p}: results lack the measure(s) {', '.join(missing)}; compare needs "
            f"{', '.join(COMPARE_MEASURES)} (results of a different siege version?)"
        )
    if outcomes.num_rows == 0:
        raise CompareError(f"{p}: results hold no replications")
    default = p.name.removesuffix(".parquet") if p.is_file() else p.name
    return Variant(path=p, outcomes=outcomes, bands=bands, metadata=meta, label=label or default)


def load_variants(paths: list[str | Path], labels: list[str] | None = None) -> list[Variant]:
    """Load several variants; labels default to the file names (made unique)."""
    if labels and len(labels) != len(paths):
        raise CompareError(
            f"{len(labels)} label(s) for {len(paths)} results; give one label per results file"
        )
    variants = [load_variant(p, labels[i] if labels else None) for i, p in enumerate(paths)]
    seen: dict[str, int] = {}
    for v in variants:
        if v.label in seen:
            seen[v.label] += 1
            v.label = f"{v.label}#{seen[v.label]}"
        else:
            seen[v.label] = 1
    return variants


def pairing(variants: list[Variant]) -> tuple[bool, str]:
    """Whether the variants can be compared replication by replication, and why (not)."""
    if len(variants) < 2:
        return False, "a single result set"
    ref = variants[0]
    ref_ids = ref.replication
    for v in variants[1:]:
        for key, what in (("siege.seed", "seed"), ("siege.engine", "engine")):
            if v.metadata.get(key) != ref.metadata.get(key):
                return False, (
                    f"{v.label} and {ref.label} differ in {what} "
                    f"({v.metadata.get(key)} vs {ref.metadata.get(key)})"
                )
        if not np.array_equal(v.replication, ref_ids):
            return False, f"{v.label} and {ref.label} hold different replication ids"
    return True, (
        f"same seed ({ref.metadata.get('siege.seed')}) and replication ids (common random numbers)"
    )


def by_replication(v: Variant) -> Variant:
    """The variant with its rows in replication order (pairs are matched by id)."""
    ids = v.replication
    if ids.size < 2 or bool(np.all(ids[1:] >= ids[:-1])):
        return v
    return replace(v, outcomes=v.outcomes.sort_by("replication"))
