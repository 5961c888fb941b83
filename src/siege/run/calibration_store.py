"""The calibration store: a folder holding every generation of an ABC-SMC run as it finishes.

Layout::

    STORE/
      manifest.json                   the calibration file (path, text, hash of what shapes
                                      the generations), the base scenario (resolved) and its
                                      hash, the engine, package versions
      calibration.toml                the calibration file as given
      generations/generation=<t>.parquet
                                      generation t's particles: particle, weight, distance,
                                      one column per prior path, ``distance.<target>`` (each
                                      target's part of the distance), ``summary.<component>``
                                      (the simulated summaries); the generation's tolerance
                                      and counts in the file metadata
      generations.parquet             one row per generation: tolerance, proposals, accepted,
                                      acceptance, ESS, simulations (replications)
      particles.parquet               the last generation's weighted particles (the posterior)
      posterior.parquet               per path: median, q05, q25, q75, q95
      status.json                     why the last run stopped

Every file is written whole under a temporary name and renamed into place (:mod:`siege.files`);
a generation counts as done when its file is there. Nothing depends on the time or on how the
work was spread, so a run killed at any point and resumed (``--resume``) ends with the same
files as one never stopped.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from siege._version import __version__
from siege.errors import CalibrationError
from siege.files import atomic_write_bytes, atomic_write_table, new_store_folder
from siege.run.store_manifest import versions
from siege.scenario import scenario_from_json
from siege.scenario.calibration import Calibration, parse_calibration

FORMAT = "siege-calibration-store/1"
_GENERATION = re.compile(r"generation=(\d+)\.parquet")


class CalibrationStore:
    """A calibration store on disk (layout in the module docstring): :meth:`create` a new one,
    :meth:`resume` one made from the same calibration, or :meth:`open` one to read."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest

    # ---- opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, calibration: Calibration, engine: str) -> CalibrationStore:
        root = Path(path)
        new_store_folder(root, "calibration", CalibrationError)
        (root / "generations").mkdir()
        manifest = {
            "format": FORMAT,
            "calibration_file": str(calibration.file.resolve()),
            "calibration_text": calibration.text,
            "calibration_sha256": calibration.sha256(),
            "base_scenario_file": str(calibration.scenario_file),
            "base_scenario": calibration.scenario.to_dict(),
            "base_scenario_sha256": calibration.scenario.sha256(),
            "engine": engine,
            "versions": versions(),
        }
        atomic_write_bytes(root / "calibration.toml", calibration.text.encode())
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(root / "manifest.json", text.encode())  # last: a complete start
        return cls(root, manifest)

    @classmethod
    def resume(cls, path: str | Path, calibration: Calibration, engine: str) -> CalibrationStore:
        root = Path(path)
        if not (root / "manifest.json").is_file() and root.is_dir() and not any(
            p for p in root.iterdir() if p.name not in ("generations", "calibration.toml")
            and not p.name.startswith(".")
        ):
            return cls.create_over(root, calibration, engine)
        store = cls.open(root)
        old = store.manifest
        if old.get("calibration_sha256") != calibration.sha256():
            raise CalibrationError(
                f"{root}: made from a different calibration ({old.get('calibration_file')}) "
                f"than {calibration.file}: the scenario, seed, population, quantile, kernel, "
                "priors or targets differ. Refusing to resume; use a new --out folder")
        if old.get("engine") != engine:
            raise CalibrationError(f"{root}: made with the {old.get('engine')} engine, not "
                                   f"{engine}; refusing to resume", key="--engine")
        if old.get("versions", {}).get("siege") != __version__:
            raise CalibrationError(
                f"{root}: written by siege {old.get('versions', {}).get('siege')}, this is "
                f"{__version__}; results could differ, so the store is not resumed")
        for tmp in root.rglob(".*.tmp"):  # half-written files of a killed run
            tmp.unlink()
        return store

    @classmethod
    def create_over(cls, root: Path, calibration: Calibration, engine: str) -> CalibrationStore:
        """Start afresh in a folder a killed run left before its manifest was written."""
        for item in sorted(root.rglob("*"), reverse=True):
            item.rmdir() if item.is_dir() else item.unlink()
        return cls.create(root, calibration, engine)

    @classmethod
    def open(cls, path: str | Path) -> CalibrationStore:
        """An existing store, to read (raises CalibrationError if it is not one)."""
        root = Path(path)
        mpath = root / "manifest.json"
        if not mpath.is_file():
            raise CalibrationError(f"{root}: not a calibration store (no manifest.json)")
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{mpath}: unreadable manifest ({exc})") from None
        if manifest.get("format") != FORMAT:
            raise CalibrationError(f"{root}: store format {manifest.get('format')!r}, "
                                   f"expected {FORMAT}")
        return cls(root, manifest)

    # ---- contents -----------------------------------------------------------------------
    @property
    def engine(self) -> str:
        return str(self.manifest["engine"])

    def calibration(self) -> Calibration:
        """The calibration the store was made from, rebuilt from its stored text and base
        scenario (whatever has become of the files since)."""
        m = self.manifest
        scenario = scenario_from_json(json.dumps(m["base_scenario"]))
        text = m["calibration_text"]
        return parse_calibration(tomllib.loads(text), Path(m["calibration_file"]), text,
                                 scenario=scenario)

    def generation_tables(self) -> list[pa.Table]:
        """The stored generations' particle tables, from generation 0 on (up to the first one
        missing)."""
        found = {}
        for path in (self.root / "generations").glob("generation=*.parquet"):
            match = _GENERATION.fullmatch(path.name)
            if match:
                found[int(match.group(1))] = path
        tables: list[pa.Table] = []
        while len(tables) in found:
            tables.append(pq.read_table(found[len(tables)]))
        return tables

    def write_generation(self, generation: int, table: pa.Table) -> None:
        """Write a finished generation (the commit point of a resumable run)."""
        path = self.root / "generations" / f"generation={generation}.parquet"
        atomic_write_table(path, table, compression="zstd")

    def write(self, name: str, table: pa.Table) -> None:
        """Write (or replace) ``STORE/<name>.parquet``."""
        atomic_write_table(self.root / f"{name}.parquet", table, compression="zstd")

    def read(self, name: str) -> pa.Table:
        """Read ``STORE/<name>.parquet``."""
        path = self.root / f"{name}.parquet"
        if not path.is_file():
            raise CalibrationError(f"{self.root}: {path.name} is missing; no generation has "
                                   "finished (rerun with --resume)")
        return pq.read_table(path)

    def write_status(self, status: dict[str, Any]) -> None:
        text = json.dumps(status, indent=2, sort_keys=True, default=str) + "\n"
        atomic_write_bytes(self.root / "status.json", text.encode())

    def status(self) -> dict[str, Any]:
        path = self.root / "status.json"
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    def particles_sha256(self) -> str:
        """SHA-256 of ``particles.parquet`` (what a run drawing from the posterior records)."""
        path = self.root / "particles.parquet"
        if not path.is_file():
            raise CalibrationError(f"{self.root}: particles.parquet is missing; no generation "
                                   "has finished")
        return hashlib.sha256(path.read_bytes()).hexdigest()
