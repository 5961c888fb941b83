"""Scenario values laid out as arrays for the rules (per sector, per route, per trigger)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.scenario.schema import Scenario, Trigger


@dataclass(frozen=True)
class ModelParams:
    """Arrays derived from a scenario; rebuilt whenever a dated event changes a parameter.

    Sector arrays are ``(s,)``, route arrays ``(r,)``, ``adjacency`` is ``(r, s)``.
    """

    scenario: Scenario
    attacker_share: NDArray[np.float64]
    defender_share: NDArray[np.float64]
    sector_rate: NDArray[np.float64]  # advance_rate * terrain * advance.multiplier (1/day)
    fortified: NDArray[np.bool_]
    flank: NDArray[np.bool_]
    capacity: NDArray[np.float64]  # tonnes/day
    convoys_per_day: NDArray[np.float64]
    convoy_load: NDArray[np.float64]  # tonnes per convoy
    interdiction_base: NDArray[np.float64]
    interdiction_full: NDArray[np.float64]
    under_fire_at: NDArray[np.float64]
    cut_at: NDArray[np.float64]
    restore_below: NDArray[np.float64]
    adjacency: NDArray[np.bool_]
    triggers: tuple[Trigger, ...]

    @property
    def n_sectors(self) -> int:
        return int(self.attacker_share.shape[0])

    @property
    def n_routes(self) -> int:
        return int(self.capacity.shape[0])

    @property
    def has_flanks(self) -> bool:
        return bool(self.flank.any())

    @property
    def has_fortified(self) -> bool:
        return bool(self.fortified.any())


def _norm(x: NDArray[np.float64]) -> NDArray[np.float64]:
    total = x.sum()
    return x / total if total > 0 else x


def build_params(scenario: Scenario) -> ModelParams:
    """Lay a scenario's sector, route and trigger values out as arrays."""
    sectors = scenario.sectors
    routes = scenario.routes
    names = [s.name for s in sectors]
    adjacency = np.zeros((len(routes), len(sectors)), dtype=bool)
    for i, r in enumerate(routes):
        for s in r.sectors:
            adjacency[i, names.index(s)] = True
    f = np.array
    cap = f([r.capacity_tonnes_per_day for r in routes], dtype=float)
    cpd = f([r.convoys_per_day for r in routes], dtype=float)
    return ModelParams(
        scenario=scenario,
        attacker_share=_norm(f([s.attacker_effort for s in sectors], dtype=float)),
        defender_share=_norm(f([s.defender_effort for s in sectors], dtype=float)),
        sector_rate=f(
            [s.advance_rate * s.terrain * scenario.advance.multiplier for s in sectors],
            dtype=float,
        ),
        fortified=f([s.fortified for s in sectors], dtype=bool),
        flank=f([s.flank for s in sectors], dtype=bool),
        capacity=cap,
        convoys_per_day=cpd,
        convoy_load=cap / np.where(cpd > 0, cpd, 1.0),
        interdiction_base=f([r.interdiction_base for r in routes], dtype=float),
        interdiction_full=f([r.interdiction_at_full_control for r in routes], dtype=float),
        under_fire_at=f([r.under_fire_at for r in routes], dtype=float),
        cut_at=f([r.cut_at_control for r in routes], dtype=float),
        restore_below=f([r.restore_below_control for r in routes], dtype=float),
        adjacency=adjacency,
        triggers=scenario.policy.triggers,
    )
