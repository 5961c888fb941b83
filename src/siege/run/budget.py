"""What a run will need in memory, estimated before it starts, and refused when it cannot fit.

A run that would exhaust the machine's memory fails late (``MemoryError`` after an hour, or
the system's out-of-memory killer); its needs are known up front from the scenario and the
plan, so :func:`check_memory` refuses it at once with the numbers. The estimate counts what
grows with the run (bytes):

* the outcome table ``simulate`` returns: replications × (outcome columns × 8 + 1), twice
  (the summary sorts copies of the columns);
* each block being run (on this machine): its replications × :data:`BYTES_PER_REPLICATION`
  of engine state, plus its daily band histograms;
* the merged band histograms: measures × (days + 1) × bins × 4 bytes;
* the sample trajectories: in memory (8 bytes a value) and as rows of the bands table.

The limit is the machine's physical memory (or the memory limit of this process's control
group, where lower): what the process could have if nothing else ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from siege.errors import RunError
from siege.model.outcomes import computed_columns
from siege.results.bands import band_specs
from siege.scenario import Scenario, build_params

# engine state per replication of a running block: about 1 kB measured for the bundled
# scenarios (bakhmut, 65,536 replications), doubled for scenarios with more sectors and routes
BYTES_PER_REPLICATION = 2048
BAND_ROW_BYTES = 120  # one row of the long-form bands table (strings, day, value, percentiles)
GB = 1e9


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by what needs them (``{"outcome table": 1.2e9, ...}``)."""

    parts: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def describe(self) -> str:
        """The parts in words, largest first: ``outcome table 120.0 GB, blocks 0.3 GB``."""
        ranked = sorted(self.parts.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name} {_gb(size)}" for name, size in ranked if size >= 0.005 * GB)


def estimate_memory(
    scenario: Scenario,
    *,
    block_size: int,
    local_blocks: int,
    outcome_table: bool = True,
) -> MemoryEstimate:
    """Memory a run of ``scenario`` needs on this machine: ``local_blocks`` blocks of
    ``block_size`` replications running here at once (0 when a cluster runs them), and the
    outcome table in memory when ``outcome_table`` (``simulate``; a sweep writes blocks out)."""
    params = build_params(scenario)
    specs = band_specs(params)
    total = scenario.simulation.replications
    days = scenario.simulation.whole_days + 1
    bins = max(s.bins for s in specs)
    histograms = len(specs) * days * bins * 4.0
    block = min(block_size, total)
    kept = min(scenario.simulation.sample_trajectories, total) * days * len(specs)
    parts = {
        "outcome table": 2.0 * total * (8 * len(computed_columns(params)) + 1)
        if outcome_table else 0.0,
        f"{local_blocks} running blocks of {block:,} replications":
            local_blocks * (block * BYTES_PER_REPLICATION + histograms),
        "daily band histograms": histograms,
        "sample trajectories": kept * (8.0 + BAND_ROW_BYTES),
    }
    return MemoryEstimate(parts)


def machine_memory() -> float | None:
    """Bytes of memory this process could use: physical memory, or its control group's
    limit where lower (None where neither is known)."""
    limits = []
    try:
        limits.append(float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(float(text))
    return min(limits) if limits else None


def check_memory(estimate: MemoryEstimate, available: float | None = None) -> None:
    """Refuse (:class:`RunError`, with the numbers) a run that needs more memory than the
    machine has (``available`` bytes; default :func:`machine_memory`)."""
    limit = machine_memory() if available is None else available
    if limit is None or estimate.total <= limit:
        return
    raise RunError(
        f"this run would need about {_gb(estimate.total)} of memory ({estimate.describe()}), "
        f"more than the {_gb(limit)} this machine has; nothing was run. Run fewer "
        "replications at a time (runs with different seeds can be compared), fewer workers "
        "or smaller blocks (--workers, --block-size), or a shorter horizon"
    )


def _gb(size: float) -> str:
    return f"{size / GB:,.1f} GB"
