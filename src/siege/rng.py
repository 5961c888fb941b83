"""Random streams: one numpy Generator per (stream block of replications, mechanism).

Replications are grouped in fixed stream blocks of ``STREAM_BLOCK`` (1024) by replication id.
Each mechanism (defender losses, attacker losses, advance, withdrawal, each route's convoys)
draws from its own stream, seeded ``SeedSequence(seed, spawn_key=(block, mechanism))``. A
block's draws depend only on the seed, the block and which of its replications are still
running, never on how blocks are batched, so results do not depend on the block size or the
number of workers, and two variants of a scenario share draws while their states agree
(common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

STREAM_BLOCK = 1024

DEFENDER_LOSSES = 0
ATTACKER_LOSSES = 1
ADVANCE = 2
WITHDRAWAL = 3
CONVOYS = 16  # + route index


def stream_seed(seed: int, block: int, mechanism: int) -> np.random.SeedSequence:
    """The SeedSequence of one mechanism's stream in one stream block."""
    return np.random.SeedSequence(seed, spawn_key=(block, mechanism))


def round_block_size(block_size: int) -> int:
    """Execution block size rounded up to a whole number of stream blocks."""
    return max(1, -(-block_size // STREAM_BLOCK)) * STREAM_BLOCK


class BatchStreams:
    """Streams of the stream blocks covering replications ``[first, first + n)``.

    ``first`` must be a multiple of STREAM_BLOCK. Draw methods take arrays whose first axis
    runs over the *running* replications, in replication order; ``set_counts`` tells the
    streams how many of each block's replications are still running.
    """

    def __init__(self, seed: int, first: int, n: int) -> None:
        if first % STREAM_BLOCK:
            raise ValueError(f"first replication {first} is not a multiple of {STREAM_BLOCK}")
        self.seed = seed
        self.first_block = first // STREAM_BLOCK
        n_blocks = -(-n // STREAM_BLOCK)
        counts = np.full(n_blocks, STREAM_BLOCK, dtype=np.int64)
        counts[-1] = n - STREAM_BLOCK * (n_blocks - 1)
        self._gens: dict[tuple[int, int], np.random.Generator] = {}
        self.set_counts(counts)

    def set_counts(self, counts: NDArray[np.int64]) -> None:
        """Running replications per stream block (in block order)."""
        bounds = np.concatenate([[0], np.cumsum(counts)])
        self._segments = [
            (self.first_block + b, int(bounds[b]), int(bounds[b + 1]))
            for b in range(len(counts))
            if counts[b] > 0
        ]

    def block_of(self, rep_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Stream-block index (relative to this batch) of each replication id."""
        return rep_ids // STREAM_BLOCK - self.first_block

    def _gen(self, block: int, mechanism: int) -> np.random.Generator:
        key = (block, mechanism)
        gen = self._gens.get(key)
        if gen is None:
            gen = np.random.Generator(np.random.PCG64(stream_seed(self.seed, block, mechanism)))
            self._gens[key] = gen
        return gen

    def _each(
        self,
        mechanism: int,
        out: NDArray[np.float64],
        draw: Callable[[np.random.Generator, int, int], NDArray[np.float64]],
    ) -> NDArray[np.float64]:
        for block, s0, s1 in self._segments:
            out[s0:s1] = draw(self._gen(block, mechanism), s0, s1)
        return out

    def random(self, mechanism: int, shape: tuple[int, ...]) -> NDArray[np.float64]:
        """Uniform [0, 1) variates of the given shape (first axis: running replications)."""
        out = np.empty(shape)
        tail = shape[1:]
        return self._each(mechanism, out, lambda g, a, b: g.random((b - a, *tail)))

    def poisson(self, mechanism: int, lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Poisson counts with means ``lam`` (first axis: running replications)."""
        out = np.empty(lam.shape)
        return self._each(mechanism, out, lambda g, a, b: g.poisson(lam[a:b]))

    def gamma(
        self, mechanism: int, shape_param: float, scale: float, shape: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """Gamma variates with one shape and scale (first axis: running replications)."""
        out = np.empty(shape)
        tail = shape[1:]
        return self._each(
            mechanism, out, lambda g, a, b: g.gamma(shape_param, scale, (b - a, *tail))
        )

    def binomial(
        self, mechanism: int, n: NDArray[np.float64], p: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Binomial counts (first axis: running replications)."""
        out = np.empty(n.shape)
        n_int = n.astype(np.int64)
        return self._each(mechanism, out, lambda g, a, b: g.binomial(n_int[a:b], p[a:b]))


class Streams(Protocol):
    """Where model transitions get random variates (first axis: running replications)."""

    def random(self, mechanism: int, shape: tuple[int, ...]) -> NDArray[np.float64]: ...
    def poisson(self, mechanism: int, lam: NDArray[np.float64]) -> NDArray[np.float64]: ...
    def gamma(
        self, mechanism: int, shape_param: float, scale: float, shape: tuple[int, ...]
    ) -> NDArray[np.float64]: ...
    def binomial(
        self, mechanism: int, n: NDArray[np.float64], p: NDArray[np.float64]
    ) -> NDArray[np.float64]: ...


def negative_binomial(
    streams: Streams, mechanism: int, mean: NDArray[np.float64], overdispersion: float
) -> NDArray[np.float64]:
    """Counts with the given means: Poisson, or negative binomial (gamma-Poisson mixture) with
    variance ``mean + overdispersion * mean**2`` when overdispersion > 0."""
    if overdispersion > 0:
        k = 1.0 / overdispersion
        mean = mean * streams.gamma(mechanism, k, 1.0 / k, mean.shape)
    return streams.poisson(mechanism, mean)
