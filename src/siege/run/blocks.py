"""Blocks of replications: how a run is split into units of work, and how many workers run them.

A block is replications ``[first, first + n)`` of one scenario, whole random-stream blocks
(:data:`siege.rng.STREAM_BLOCK`) for the batch engine. Results depend only on the scenario and
its seed, never on the blocks or the workers: these choices trade speed and memory only.
"""

from __future__ import annotations

import os

from siege.results.bands import BandAccumulator, band_specs
from siege.results.parquet import Bands
from siege.rng import STREAM_BLOCK
from siege.scenario import Scenario, build_params

DEFAULT_BLOCK_SIZE = 65536  # replications per batch-engine run of `simulate`
# replications few enough to keep a sweep's memory flat with many points in flight, and many
# enough to be worth a worker process: a sweep point's default block, and the least work that
# `siege simulate` starts a worker process for
SMALL_BLOCK_SIZE = 16384


def plan_blocks(
    replications: int, block_size: int, granularity: int = STREAM_BLOCK, workers: int = 1
) -> list[tuple[int, int]]:
    """(first, n) of each block; the block size is rounded up to a whole number of
    ``granularity`` replications (the batch engine's stream blocks).

    With several workers, a run of at least two units per worker gets at least one block per
    worker, and the number of blocks is rounded up to a multiple of the workers with the
    replications spread evenly over them, so that the workers finish together instead of one
    running a last block alone. Results do not depend on the blocks."""
    size = max(1, -(-block_size // granularity))  # in units of granularity
    units = -(-replications // granularity)
    count = -(-units // size)
    if workers > 1 and units >= 2 * workers:
        count = max(count, workers)  # every worker gets a share
    if workers <= 1 or count <= 1:
        step = size * granularity
        return [(first, min(step, replications - first)) for first in range(0, replications, step)]
    count = min(units, -(-count // workers) * workers)
    base, extra = divmod(units, count)
    blocks = []
    first = 0
    for b in range(count):
        n = min((base + (b < extra)) * granularity, replications - first)
        blocks.append((first, n))
        first += n
    return blocks


def default_block_size(engine: str, replications: int, workers: int) -> int:
    """Replications per block when the caller does not choose: large blocks for the batch
    engine (per-step overhead is shared by the whole block), and for the event engine (which
    runs replications one at a time) about four blocks per worker, so that work spreads
    evenly over the workers. Results do not depend on it."""
    if engine == "batch":
        return DEFAULT_BLOCK_SIZE
    return max(1, min(STREAM_BLOCK, -(-replications // (4 * workers))))


def default_workers(replications: int | None = None) -> int:
    """Worker processes used by default: every core this process may use, but with
    ``replications`` given no more than one per :data:`SMALL_BLOCK_SIZE` of them (starting
    a process costs more than a small share of work saves)."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        cores = max(1, os.cpu_count() or 1)
    if replications is None:
        return cores
    return min(cores, max(1, -(-replications // SMALL_BLOCK_SIZE)))


def empty_bands(scenario: Scenario) -> Bands:
    """Empty daily bands of a run of ``scenario`` (its measures on days 0..whole days), which
    the bands of its finished blocks are merged into."""
    specs = band_specs(build_params(scenario))
    return Bands(specs, BandAccumulator(specs, scenario.simulation.whole_days))
