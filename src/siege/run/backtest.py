"""Simulating documented sieges for the backtest: each siege's replications on an executor,
with its own seed, optionally with parameter values per replication (posterior draws).

Seeds: a run without a seed uses each scenario's own; with a root seed, every siege and
every fold of the leave-one-out derive theirs from ``SeedSequence(seed, spawn_key=...)``
keyed by the siege's name (its CRC-32), so a siege's numbers do not depend on which other
sieges the folder holds, nor on the executor, its workers or the block size.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.run.executors import Executor
from siege.run.simulate import simulate
from siege.scenario.history import DocumentedSiege

F64 = NDArray[np.float64]


def name_key(name: str) -> int:
    """A siege's name as a spawn-key entry: its CRC-32."""
    return zlib.crc32(name.encode())


def derived_seed(seed: int, *key: int) -> int:
    """A 63-bit seed drawn from ``SeedSequence(seed, spawn_key=key)``."""
    state = np.random.SeedSequence(seed, spawn_key=key).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


@dataclass(frozen=True)
class SiegeRun:
    """A siege's simulated ends: end reason (text) and end day (days from day 0) of each
    replication, ``(n,)`` each, and the seed that gave them."""

    name: str
    end_reason: NDArray[np.object_]
    end_day: F64
    seed: int


def run_seed(siege: DocumentedSiege, seed: int | None) -> int:
    """The seed a siege is simulated with: its scenario's own without a root ``seed``."""
    if seed is None:
        return siege.scenario.simulation.seed
    return derived_seed(seed, name_key(siege.name))


def simulate_siege(
    siege: DocumentedSiege,
    executor: Executor,
    *,
    replications: int,
    seed: int,
    values: Mapping[str, F64] | None = None,
    engine: str = "batch",
    block_size: int | None = None,
) -> SiegeRun:
    """``replications`` of a siege's scenario with ``seed`` on ``executor`` (``values``: one
    value per replication of scenario paths, as ``siege simulate --posterior`` draws them)."""
    result = simulate(siege.scenario, replications=replications, seed=seed, engine=engine,
                      block_size=block_size, executor=executor, values=values)
    return SiegeRun(siege.name, result.end_reason, result.columns["end_day"], seed)
