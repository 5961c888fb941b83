"""Random streams: one numpy Generator per (stream block of replications, mechanism).

Two-dimensional draws are returned column-major, like the state (see
:func:`siege.model.rules.outer`), with the values in the same order as drawn row by row.
Replications are grouped in fixed stream blocks of ``STREAM_BLOCK`` (4096) by replication id.
Each mechanism (defender losses, attacker losses, advance, withdrawal, each route's convoys)
draws from its own stream, seeded ``SeedSequence(seed, spawn_key=(block, mechanism))``. A
block's draws depend only on the seed, the block and which of its replications are still
running, never on how blocks are batched, so results do not depend on the block size or the
number of workers, and two variants of a scenario share draws while their states agree
(common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

STREAM_BLOCK = 4096
MAX_MEAN = 1e15  # largest mean passed to the Poisson sampler (see negative_binomial)

DEFENDER_LOSSES = 0
ATTACKER_LOSSES = 1
ADVANCE = 2
WITHDRAWAL = 3
CAMPAIGN = 4  # one draw per replication, at its first combat step (advance.campaign_cv)
CONVOYS = 16  # + route index
CONVOY_TIMING = 4096  # + route index: when each convoy arrives (event engine only)
REPLICATION_KEY = 1  # third spawn-key entry of the event engine's per-replication streams


def stream_seed(seed: int, block: int, mechanism: int) -> np.random.SeedSequence:
    """The SeedSequence of one mechanism's stream in one stream block."""
    return np.random.SeedSequence(seed, spawn_key=(block, mechanism))


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
        draw: Callable[[np.random.Generator, int, int], NDArray[Any]],
    ) -> NDArray[np.float64]:
        for block, s0, s1 in self._segments:
            out[s0:s1] = draw(self._gen(block, mechanism), s0, s1)
        return out

    def random_rows(self, mechanism: int, rows: int, n: int) -> NDArray[np.float32]:
        """Uniform [0, 1) variates ``(rows, n)`` in single precision (24 bits), one row per
        event on the ``n`` running replications (convoys)."""
        out = np.empty((rows, n), dtype=np.float32)
        for block, s0, s1 in self._segments:
            out[:, s0:s1] = self._gen(block, mechanism).random((rows, s1 - s0), dtype=np.float32)
        return out

    def poisson(self, mechanism: int, lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Poisson counts with means ``lam`` (first axis: running replications)."""
        out = np.empty(lam.shape)
        return self._each(mechanism, out, lambda g, a, b: g.poisson(lam[a:b]))

    def gamma(
        self, mechanism: int, shape_param: float, scale: float, shape: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """Gamma variates with one shape and scale (first axis: running replications), drawn
        in single precision (24 bits; they multiply rates)."""
        out = np.empty(shape, order="F")
        tail = shape[1:]
        self._each(
            mechanism,
            out,
            lambda g, a, b: g.standard_gamma(shape_param, (b - a, *tail), dtype=np.float32),
        )
        out *= scale
        return out

    def gamma_poisson(
        self, mechanism: int, mean: NDArray[np.float64], shape_param: float
    ) -> NDArray[np.float64]:
        """Poisson counts with means ``mean * G``, G gamma with mean 1 and shape
        ``shape_param`` (drawn in single precision), means capped at MAX_MEAN (first axis:
        running replications). Each stream block draws its gammas, then its counts."""
        lam = np.empty(mean.shape)
        gens = [(self._gen(block, mechanism), s0, s1) for block, s0, s1 in self._segments]
        for g, s0, s1 in gens:
            lam[s0:s1] = g.standard_gamma(shape_param, s1 - s0, dtype=np.float32)
        lam *= mean
        lam *= 1.0 / shape_param
        np.minimum(lam, MAX_MEAN, out=lam)
        for g, s0, s1 in gens:
            lam[s0:s1] = g.poisson(lam[s0:s1])
        return lam

    def binomial(
        self, mechanism: int, n: NDArray[np.float64], p: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Binomial counts (first axis: running replications)."""
        out = np.empty(n.shape)
        n_int = n.astype(np.int64)
        return self._each(mechanism, out, lambda g, a, b: g.binomial(n_int[a:b], p[a:b]))


class ReplicationStreams:
    """Streams of one replication, for the event engine (arrays of length one).

    Each mechanism's stream is seeded ``SeedSequence(seed, spawn_key=(block, mechanism,
    REPLICATION_KEY, rep))``: a function of the seed and the replication id only, so the event
    engine too gives the same results whatever the block size or number of workers. The
    streams differ from the batch engine's (which share one stream per block), so the two
    engines agree in distribution, not draw for draw. Uniform variates are drawn in chunks
    of ``chunk`` per stream and handed out one by one: a convoy costs a slice, not a call
    into the generator.
    """

    def __init__(self, seed: int, rep: int, chunk: int = 64) -> None:
        self.seed = seed
        self.rep = rep
        self.chunk = chunk
        self._gens: dict[int, np.random.Generator] = {}
        self._uniform: dict[int, tuple[NDArray[np.float64], int]] = {}

    def _gen(self, mechanism: int) -> np.random.Generator:
        gen = self._gens.get(mechanism)
        if gen is None:
            block, offset = divmod(self.rep, STREAM_BLOCK)
            seq = np.random.SeedSequence(
                self.seed, spawn_key=(block, mechanism, REPLICATION_KEY, offset)
            )
            gen = np.random.Generator(np.random.PCG64(seq))
            self._gens[mechanism] = gen
        return gen

    def uniform(self, mechanism: int) -> float:
        """One uniform [0, 1) variate from the mechanism's stream (chunked)."""
        buf, i = self._uniform.get(mechanism, (np.empty(0), 0))
        if i >= buf.shape[0]:
            buf, i = self._gen(mechanism).random(self.chunk), 0
        self._uniform[mechanism] = (buf, i + 1)
        return float(buf[i])

    def random_rows(self, mechanism: int, rows: int, n: int) -> NDArray[np.float64]:
        """Uniform [0, 1) variates ``(rows, 1)`` (chunked), one row per event."""
        if n != 1:
            raise ValueError("replication streams draw for one replication")
        return np.array([[self.uniform(mechanism)] for _ in range(rows)])

    def poisson(self, mechanism: int, lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Poisson counts with means ``lam``."""
        return np.asarray(self._gen(mechanism).poisson(lam), dtype=np.float64)

    def gamma(
        self, mechanism: int, shape_param: float, scale: float, shape: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """Gamma variates with one shape and scale."""
        return self._gen(mechanism).gamma(shape_param, scale, shape)

    def gamma_poisson(
        self, mechanism: int, mean: NDArray[np.float64], shape_param: float
    ) -> NDArray[np.float64]:
        """Poisson counts with means ``mean * G`` (G gamma, mean 1), capped at MAX_MEAN."""
        g = self._gen(mechanism)
        lam = g.gamma(shape_param, 1.0 / shape_param, mean.shape) * mean
        return np.asarray(g.poisson(np.minimum(lam, MAX_MEAN)), dtype=np.float64)

    def binomial(
        self, mechanism: int, n: NDArray[np.float64], p: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Binomial counts."""
        return np.asarray(
            self._gen(mechanism).binomial(n.astype(np.int64), p), dtype=np.float64
        )


class Streams(Protocol):
    """Where model transitions get random variates (first axis: running replications)."""

    def random_rows(self, mechanism: int, rows: int, n: int) -> NDArray[np.floating[Any]]: ...
    def poisson(self, mechanism: int, lam: NDArray[np.float64]) -> NDArray[np.float64]: ...
    def gamma(
        self, mechanism: int, shape_param: float, scale: float, shape: tuple[int, ...]
    ) -> NDArray[np.float64]: ...
    def gamma_poisson(
        self, mechanism: int, mean: NDArray[np.float64], shape_param: float
    ) -> NDArray[np.float64]: ...
    def binomial(
        self, mechanism: int, n: NDArray[np.float64], p: NDArray[np.float64]
    ) -> NDArray[np.float64]: ...


def negative_binomial(
    streams: Streams, mechanism: int, mean: NDArray[np.float64], overdispersion: float
) -> NDArray[np.float64]:
    """Counts with the given means: Poisson, or negative binomial (gamma-Poisson mixture) with
    variance ``mean + overdispersion * mean**2`` when overdispersion > 0.

    Means are capped at ``MAX_MEAN`` (1e15): counts are losses, clipped to a force of at most
    1e8 persons, so any larger mean gives the same outcome (everyone lost), and numpy's Poisson
    sampler cannot take means near 1e19. Overdispersion below 1e-12 is Poisson to within
    sampling error (the gamma's coefficient of variation is below 1e-6)."""
    if overdispersion > 1e-12:
        return streams.gamma_poisson(mechanism, mean, 1.0 / overdispersion)
    return streams.poisson(mechanism, np.minimum(mean, MAX_MEAN))
