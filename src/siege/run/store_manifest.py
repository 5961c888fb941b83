"""A sweep store's manifest: what the store was made from, so that a resumed run is the same
sweep (the same sweep file content, base scenario and siege version) or is refused."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import pyarrow as pa

from siege._version import __version__
from siege.errors import SweepError
from siege.run.sweep_file import Sweep

FORMAT = "siege-sweep-store/2"  # 2: a ledger of every block's files and checksums


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


def check_same_sweep(root: Path, mpath: Path, sweep: Sweep) -> None:
    """Refuse to resume a store made from another sweep, base scenario or siege version."""
    try:
        old = json.loads(mpath.read_bytes())
    except ValueError as exc:
        raise SweepError(f"{mpath}: unreadable manifest ({exc})") from None
    if not isinstance(old, dict):
        raise SweepError(f"{mpath}: unreadable manifest (not a JSON object)")
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
