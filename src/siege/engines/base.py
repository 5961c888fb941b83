"""What an engine returns for a block of replications, and the bookkeeping all engines share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.bands import BandAccumulator, MeasureSpec
from siege.model import dynamics
from siege.model.params import ModelParams
from siege.model.rules import RUNNING


@dataclass
class BlockResult:
    """Outcomes of replications ``[first, first + n)``: end reasons ``(n,)`` (codes into
    ``END_REASONS``), outcome columns ``(n,)`` each, daily bands, and sample trajectories
    ``(k, n_days + 1, m)`` of the replications ``sample_ids`` (those with id below K)."""

    first: int
    n: int
    reason: NDArray[np.int8]
    columns: dict[str, NDArray[np.float64]]
    bands: BandAccumulator
    sample_ids: NDArray[np.int64]
    samples: NDArray[np.float64]


class Recorder:
    """Collects outcomes, daily bands and sample trajectories for one block."""

    def __init__(self, params: ModelParams, first: int, n: int) -> None:
        sc = params.scenario
        self.first = first
        self.n = n
        self.n_days = int(np.floor(sc.simulation.horizon_days + 1e-9))
        self.specs: list[MeasureSpec] = dynamics.observation_specs(params)
        self.bands = BandAccumulator(self.specs, self.n_days)
        self.reason = np.full(n, RUNNING, dtype=np.int8)
        self.columns = {c: np.full(n, np.nan) for c in dynamics.outcome_columns(params)}
        k = sc.simulation.sample_trajectories
        self.sample_ids = np.arange(first, min(first + n, k), dtype=np.int64)
        self.samples = np.full((self.sample_ids.size, self.n_days + 1, len(self.specs)), np.nan)

    def observe(self, state: dynamics.SiegeState, params: ModelParams, day: int) -> None:
        """Record the running replications' state on a whole day."""
        if day > self.n_days or state.n == 0:
            return
        self.add_values(day, state.rep, dynamics.observe(state, params))

    def add_values(
        self, day: int, rep: NDArray[np.int64], values: list[NDArray[np.float64]]
    ) -> None:
        """Record observed values ``(k,)`` per measure of replications ``rep`` on ``day``."""
        if day > self.n_days or rep.shape[0] == 0:
            return
        self.bands.add(day, values)
        if self.sample_ids.size:
            sel = rep < self.first + self.sample_ids.size
            if sel.any():
                rows = rep[sel] - self.first
                for m, v in enumerate(values):
                    self.samples[rows, day, m] = v[sel]

    def retire(
        self,
        state: dynamics.SiegeState,
        params: ModelParams,
        reason: NDArray[np.int8],
        end_day: NDArray[np.float64],
    ) -> NDArray[np.bool_]:
        """Write the outcomes of replications that end now; return the mask of those that go on."""
        ending = reason != RUNNING
        if not ending.any():
            return ~ending
        rows = state.rep[ending] - self.first
        self.reason[rows] = reason[ending]
        for col, values in dynamics.final_outcomes(state, params, ending, reason, end_day).items():
            self.columns[col][rows] = values
        return ~ending

    def result(self) -> BlockResult:
        if np.any(self.reason == RUNNING):
            raise RuntimeError("a replication did not end; this is a bug in the engine")
        return BlockResult(
            first=self.first,
            n=self.n,
            reason=self.reason,
            columns=self.columns,
            bands=self.bands,
            sample_ids=self.sample_ids,
            samples=self.samples,
        )
