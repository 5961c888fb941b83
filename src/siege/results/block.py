"""What an engine returns for a block of replications (the unit every executor passes on)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from siege.results.bands import BandAccumulator


@dataclass
class BlockResult:
    """Outcomes of replications ``[first, first + n)``: end reasons ``(n,)`` (codes into
    ``END_REASONS``), outcome columns ``(n,)`` each, daily bands, and sample trajectories
    ``(k, n_days + 1, m)`` of the replications ``sample_ids`` (those with id below K), and the
    values of the probes the block was asked for ``(n, probes)`` (see
    :mod:`siege.model.probes`)."""

    first: int
    n: int
    reason: NDArray[np.int8]
    columns: dict[str, NDArray[np.float64]]
    bands: BandAccumulator
    sample_ids: NDArray[np.int64]
    samples: NDArray[np.float64]
    probes: NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 0)))
