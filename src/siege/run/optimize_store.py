"""The store of ``siege optimize``: a folder that holds every evaluated candidate as it
finishes, so that ``--resume`` (after Ctrl-C or kill -9) continues to the identical result.

Layout::

    OPT.store/
      manifest.json                    the optimization (as parsed) and its SHA-256, the file's
                                       text, the base scenario, package versions
      optimize.toml                    the optimization file as given
      candidate=<K>/outcomes.parquet   candidate K's per-replication outcomes at its current
                                       replications (a ``siege simulate`` results file's
                                       ``siege.*`` metadata, so ``siege compare
                                       OPT.store/candidate=3 OPT.store/candidate=7`` pairs them
                                       by replication), plus ``siege.optimize_levers`` and
                                       ``siege.optimize_search`` (the estimates the search saw,
                                       from its first replications); under a sweep
                                       ensemble, a ``member`` column and
                                       ``siege.optimize_ensemble`` (the members' values),
                                       kind ``optimize_ensemble_outcomes`` (not one run's
                                       results: ``siege compare`` refuses it);
                                       under a posterior, ``siege.posterior`` and its hash
      candidates.parquet               one row per candidate: levers, replications, objective
                                       estimates and 95 % intervals, constraints, rank
      generations.parquet              one row per generation: candidates, hypervolume,
                                       ε-progress
      racing.json                      each racing round's {candidate: replications}, logged
                                       before it runs
      .lock                            the writer's lock (:mod:`siege.run.lock`)

A candidate's file appears under its final name only when complete (:mod:`siege.files`);
racing rewrites it, whole, with more replications. Nothing depends on the time or on the
order in which candidates finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from siege.errors import OptimizeError
from siege.files import atomic_write_bytes, atomic_write_table, new_store_folder, write_error
from siege.run.lock import LockedStore, StoreLock
from siege.run.optimize_file import Optimization
from siege.run.store_manifest import versions

FORMAT = "siege-optimize-store/1"
LEVERS_KEY = "siege.optimize_levers"
SEARCH_KEY = "siege.optimize_search"
ENSEMBLE_KEY = "siege.optimize_ensemble"
ENSEMBLE_KIND = "optimize_ensemble_outcomes"  # siege.kind of a candidate run at every member


def candidate_file(root: Path, candidate: int) -> Path:
    """Where candidate ``candidate``'s outcomes live."""
    return root / f"candidate={candidate}" / "outcomes.parquet"


class OptimizeStore(LockedStore):
    """An optimization store on disk (layout in the module docstring), held with its lock.

    :meth:`create` starts one in a new or empty folder; :meth:`resume` reopens one made from
    the same optimization (the same content, base scenario and siege version) and refuses
    any other."""

    def __init__(self, root: Path, lock: StoreLock) -> None:
        self.root = root
        self._lock = lock

    @classmethod
    def create(cls, path: str | Path, opt: Optimization) -> OptimizeStore:
        root = Path(path)
        new_store_folder(root, "optimization", OptimizeError)
        store = cls(root, StoreLock(root))
        atomic_write_bytes(root / "optimize.toml", opt.text.encode())
        atomic_write_bytes(root / "manifest.json", _manifest_text(opt).encode())
        return store

    @classmethod
    def resume(cls, path: str | Path, opt: Optimization) -> OptimizeStore:
        root = Path(path)
        mpath = root / "manifest.json"
        if not root.is_dir():
            raise OptimizeError(f"{root}: no such folder, so there is nothing to resume; "
                                "leave out --resume to start there")
        lock = StoreLock(root)
        if not mpath.is_file():
            if any(p for p in root.iterdir() if p.name not in (".lock", "optimize.toml")):
                lock.release()
                raise OptimizeError(f"{root}: not an optimization store (no manifest.json)")
            store = cls(root, lock)  # a start cut short before its manifest
            atomic_write_bytes(root / "optimize.toml", opt.text.encode())
            atomic_write_bytes(mpath, _manifest_text(opt).encode())
            return store
        try:
            old = read_manifest(root)
            _same_ensemble(root, old, opt)
            if old.get("optimization_sha256") != opt.sha256():
                raise OptimizeError(
                    f"{root}: made from another optimization ({old.get('file')}) or base "
                    f"scenario than {opt.file}; refusing to resume. Use a new --out folder")
            if old.get("versions", {}).get("siege") != versions()["siege"]:
                raise OptimizeError(f"{root}: written by another siege version; results "
                                    "could differ, so the store is not resumed")
            for tmp in root.rglob(".*.tmp"):  # half-written files of a killed run
                tmp.unlink()
        except BaseException:
            lock.release()
            raise
        return cls(root, lock)

    # ---- candidates ---------------------------------------------------------------------
    def read_candidate(self, candidate: int) -> pa.Table | None:
        """Candidate's stored outcomes with their metadata, or None if not stored (or
        unreadable: it is then run again)."""
        path = candidate_file(self.root, candidate)
        if not path.is_file():
            return None
        try:
            return pq.read_table(path)
        except (pa.ArrowInvalid, OSError):
            return None

    def write_candidate(self, candidate: int, table: pa.Table) -> None:
        """Write a candidate's outcomes (replacing a smaller evaluation of it)."""
        path = candidate_file(self.root, candidate)
        try:
            path.parent.mkdir(exist_ok=True)
        except OSError as exc:
            raise write_error(path.parent, exc) from None
        atomic_write_table(path, table, compression="zstd")

    def read_racing(self) -> list[dict[int, int]]:
        """The racing rounds decided so far ({candidate: replications} each), in order."""
        path = self.root / "racing.json"
        if not path.is_file():
            return []
        rounds = json.loads(path.read_bytes())
        return [{int(k): int(v) for k, v in r.items()} for r in rounds]

    def write_racing(self, rounds: list[dict[int, int]]) -> None:
        """Log the racing rounds, before the last one runs (so a resumed run replays it)."""
        text = json.dumps([{str(k): v for k, v in sorted(r.items())} for r in rounds])
        atomic_write_bytes(self.root / "racing.json", (text + "\n").encode())

    def write_tables(self, candidates: pa.Table, generations: pa.Table) -> None:
        """The summary tables (rewritten whole after a run)."""
        atomic_write_table(self.root / "candidates.parquet", candidates, compression="zstd")
        atomic_write_table(self.root / "generations.parquet", generations,
                           compression="zstd")


def _same_ensemble(root: Path, old: dict[str, Any], opt: Optimization) -> None:
    """Refuse to resume when the ``[uncertainty]`` ensemble (a posterior recalibrated in
    place, an edited sweep file) is not the one the store was made over."""
    was = old.get("optimization", {}).get("ensemble")
    now = opt.to_dict().get("ensemble")
    if was is None or now is None or was == now:
        return
    kind = "posterior" if "posterior" in now else "sweep"
    raise OptimizeError(f"{root}: made over another [uncertainty] {kind} (sha256 "
                        f"{str(was.get('sha256'))[:12]}…; {now[kind]} is now "
                        f"{str(now.get('sha256'))[:12]}…); refusing to resume. Use a new "
                        "--out folder")


def _manifest_text(opt: Optimization) -> str:
    data = {
        "format": FORMAT,
        "file": str(opt.file),
        "file_text": opt.text,
        "optimization": opt.to_dict(),
        "optimization_sha256": opt.sha256(),
        "base_scenario_file": str(opt.scenario_file),
        "base_scenario": opt.base.to_dict(),
        "versions": versions(),
    }
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def read_manifest(root: Path) -> dict[str, Any]:
    """A store's manifest (OptimizeError if the folder is not an optimization store)."""
    mpath = root / "manifest.json"
    try:
        man = json.loads(mpath.read_bytes())
    except FileNotFoundError:
        raise OptimizeError(f"{root}: not an optimization store (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise OptimizeError(f"{mpath}: unreadable manifest ({exc})") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise OptimizeError(f"{root}: not an optimization store (format "
                            f"{man.get('format') if isinstance(man, dict) else None!r})")
    return man
