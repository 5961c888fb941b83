"""Probes: per-replication observations an engine records on request, for calibration targets.

The bands keep histograms over replications; a calibration needs each replication's own value
of a measure on a given day, or the first day a condition held. A :class:`Probe` names one
such number; :class:`ProbeRecorder` fills one column per probe as the engine observes the
state on whole days. A probe reads a *probe column*: a band column (``control_north``,
``exchange_ratio``, ... see :func:`siege.model.measures.band_columns`), a measure recorded
without bands (``routes_under_fire``, ``strength_fraction``: :func:`unbanded_measures`), or a
route's state, ``route_cut_<route>`` and ``route_under_fire_<route>`` (1 where it is, else 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from siege.model import rules
from siege.model.measures import MEASURES, Measure, band_columns
from siege.model.params import ModelParams
from siege.model.state import SiegeState

F64 = NDArray[np.float64]
ROUTE_COLUMNS = ("route_cut", "route_under_fire")


@dataclass(frozen=True)
class Probe:
    """One number per replication.

    ``kind = "value"``: the value of ``column`` on ``day`` (days from day 0); a replication
    that ended before ``day`` reports its last observed value (the state it ended in).
    ``kind = "first"``: the first whole day on which ``column op threshold`` held; NaN if it
    never did before the replication ended.
    """

    kind: Literal["value", "first"]
    column: str
    day: int = 0
    op: str = ">="
    threshold: float = 0.0


def unbanded_measures() -> list[Measure]:
    """The measures of one value per replication that have no bands (trigger measures such
    as ``routes_under_fire``): a probe computes them from the state when it reads them."""
    return [m for m in MEASURES.values() if not m.band and m.per is None]


def probe_columns(params: ModelParams) -> list[str]:
    """Every column a probe may read: the band columns, the unbanded measures, then each
    route's state columns."""
    routes = [f"{kind}_{r}" for kind in ROUTE_COLUMNS for r in params.route_names]
    return ([c.name for c in band_columns(params)] + [m.name for m in unbanded_measures()]
            + routes)


class ProbeRecorder:
    """The probes' values of replications ``0..n-1`` of a block, ``(n, k)``, filled as the
    engine observes whole days."""

    def __init__(self, probes: Sequence[Probe], params: ModelParams, n: int) -> None:
        self.probes = tuple(probes)
        self.values = np.full((n, len(self.probes)), np.nan)
        bands = [c.name for c in band_columns(params)]
        self._unbanded = unbanded_measures()
        unbanded = [m.name for m in self._unbanded]
        self._source: list[tuple[str, int]] = []
        for probe in self.probes:
            if probe.column in bands:
                self._source.append(("band", bands.index(probe.column)))
                continue
            if probe.column in unbanded:
                self._source.append(("measure", unbanded.index(probe.column)))
                continue
            for kind in ROUTE_COLUMNS:
                route = probe.column.removeprefix(kind + "_")
                if probe.column.startswith(kind + "_") and route in params.route_names:
                    self._source.append((kind, params.route_names.index(route)))
                    break
            else:
                raise ValueError(f"no probe column {probe.column!r}; choose from "
                                 f"{', '.join(probe_columns(params))}")

    def observe(
        self,
        rows: NDArray[np.int64],
        state: SiegeState,
        params: ModelParams,
        day: int,
        band: Sequence[F64],
    ) -> None:
        """Record whole day ``day`` of the running replications at block positions ``rows``,
        whose band values (in :func:`band_columns` order) are ``band``."""
        for k, probe in enumerate(self.probes):
            if probe.kind == "value" and day > probe.day:
                continue
            kind, j = self._source[k]
            if kind == "band":
                value = band[j]
            elif kind == "measure":
                value = self._unbanded[j].value(state, params, day)
            elif kind == "route_cut":
                value = state.cut[:, j].astype(np.float64)
            else:
                fire_at = params.under_fire_at
                at = fire_at[:, j] if fire_at.ndim == 2 else fire_at[j]
                value = (state.cut[:, j] | (state.interdiction[:, j] >= at)).astype(np.float64)
            if probe.kind == "value":
                self.values[rows, k] = value
                continue
            first = self.values[rows, k]
            hit = rules.compare(value, probe.op, probe.threshold) & np.isnan(first)
            if hit.any():
                self.values[rows[hit], k] = day
