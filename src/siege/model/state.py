"""The state of the running replications: arrays over replications (first axis), and the
day-0 state of a scenario's parameters."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from siege.model import rules
from siege.model.params import ModelParams

F64 = NDArray[np.float64]


def _select(value: NDArray[np.generic], mask: NDArray[np.bool_]) -> NDArray[np.generic]:
    """The rows of ``value`` where ``mask`` is True; a column-major ``(n, k)`` array stays
    column-major (selected along the transpose's rows)."""
    if value.ndim == 2:
        return np.compress(mask, value.T, axis=1).T
    return value[mask]


@dataclass
class RollingWindow:
    """Each side's losses in the last ``w`` cells of the combat grid, ``(n, w)``, and their sums
    ``(n,)``: what the rolling exchange ratio is taken over.

    An engine opens a cell when combat enters a new grid cell (the batch engine every step;
    the event engine, whose pieces can split a cell, at the first piece in it); losses then
    add into the open cell. Opening a cell drops the oldest from the sums."""

    defender: F64
    attacker: F64
    sum_defender: F64
    sum_attacker: F64
    opened: int = 0  # cells opened so far; the open one is slot (opened - 1) % w

    @classmethod
    def empty(cls, n: int, cells: int) -> RollingWindow:
        """A window of ``cells`` cells (at least 1) over ``n`` replications, no losses yet."""
        return cls(
            defender=np.zeros((n, cells), order="F"),
            attacker=np.zeros((n, cells), order="F"),
            sum_defender=np.zeros(n),
            sum_attacker=np.zeros(n),
        )

    def open_cell(self) -> None:
        """Start a new cell: the oldest cell's losses leave the sums, and its slot is reused."""
        slot = self.opened % self.defender.shape[1]
        self.sum_defender -= self.defender[:, slot]
        self.sum_attacker -= self.attacker[:, slot]
        self.defender[:, slot] = 0.0
        self.attacker[:, slot] = 0.0
        self.opened += 1

    def add(self, defender_losses: F64, attacker_losses: F64) -> None:
        """Add losses ``(n,)`` to the open cell (and the sums)."""
        slot = (self.opened - 1) % self.defender.shape[1]
        self.sum_defender += defender_losses
        self.sum_attacker += attacker_losses
        self.defender[:, slot] += defender_losses
        self.attacker[:, slot] += attacker_losses

    def exchange_ratio(self) -> F64:
        """Attacker over defender losses in the window, ``(n,)`` (inf for x/0, NaN for 0/0)."""
        return rules.ratio(self.sum_attacker, self.sum_defender)

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Drop the replications where ``mask`` is False."""
        for name in ("defender", "attacker", "sum_defender", "sum_attacker"):
            setattr(self, name, _select(getattr(self, name), mask))


def window_cells(window_days: float, dt: float) -> int:
    """Number of combat-grid cells in the rolling exchange-ratio window (at least 1)."""
    return max(1, round(window_days / dt))


@dataclass
class SiegeState:
    """Arrays over running replications: ``(n,)``, ``(n, s)`` sectors, ``(n, r)`` routes,
    ``(n, t)`` triggers. Two-dimensional arrays are column-major (see
    :func:`siege.model.rules.outer`)."""

    rep: NDArray[np.int64]
    defender: F64  # personnel
    defender_quality: F64
    defender_reserves: F64
    attacker: F64
    attacker_quality: F64
    attacker_reserves: F64
    defender_losses: F64
    attacker_losses: F64
    control: F64  # (n, s) attacker control fraction
    cut: NDArray[np.bool_]  # (n, r)
    interdiction: F64  # (n, r) probability a convoy is lost
    stockpile: F64  # tonnes
    shortfall_days: F64
    route_open_days: F64  # (n, r)
    trigger_first: F64  # (n, t) day each trigger first held; NaN if never
    order_day: F64  # day a withdrawal order takes effect; inf if none
    pocketed: NDArray[np.bool_]  # in a pocket that holds out (siege.model.pocket)
    tempo: F64  # per-replication multiplier on advance rates (advance.campaign_cv)
    window: RollingWindow

    @property
    def n(self) -> int:
        return int(self.rep.shape[0])

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Drop the replications where ``mask`` is False (those that have ended)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                setattr(self, f.name, _select(value, mask))
        self.window.keep(mask)


def _flank_mean(control: F64, params: ModelParams) -> F64:
    """Mean control of the flank sectors, ``(n,)`` (0 if none)."""
    if not params.has_flanks:
        return np.zeros(control.shape[0])
    return np.asarray(control[:, params.flank].mean(axis=1), dtype=np.float64)


def init_state(params: ModelParams, rep_ids: NDArray[np.int64], dt: float) -> SiegeState:
    """Day-0 state of the given replications; ``dt`` is the combat grid (days)."""
    n = rep_ids.shape[0]
    full = np.full
    control = rules.outer(np.ones(n), params.initial_control)
    adj = rules.adjacent_control(control, params.adjacency)
    cut = rules.update_cuts(
        np.zeros((n, params.n_routes), dtype=bool, order="F"),
        adj,
        params.cut_at,
        params.restore_below,
    )
    if not params.route_ground.all():  # air and sea routes are not cut by ground control
        cut &= params.route_ground
    # a town may start in a pocket (every ground route cut, the flanks taken)
    # (as siege.model.pocket.closed_now: with no ground route at all, cut off from the start)
    pocketed = np.zeros(n, dtype=bool)
    if params.pocket:
        ground = cut[:, params.route_ground]
        pocketed = ~pocketed if ground.shape[1] == 0 else rules.pocket_closed(
            ground, _flank_mean(control, params), params.has_flanks,
            params.closure_flank_control)
    d, a = params.defender, params.attacker
    return SiegeState(
        rep=rep_ids.astype(np.int64),
        defender=full(n, d.strength, dtype=float),
        defender_quality=full(n, d.quality, dtype=float),
        defender_reserves=full(n, d.trained_reserves, dtype=float),
        attacker=full(n, a.strength, dtype=float),
        attacker_quality=full(n, a.quality, dtype=float),
        attacker_reserves=full(n, a.trained_reserves, dtype=float),
        defender_losses=np.zeros(n),
        attacker_losses=np.zeros(n),
        control=control,
        cut=cut,
        interdiction=rules.interdiction_probability(
            adj, params.interdiction_base, params.interdiction_full
        ),
        stockpile=full(n, params.stockpile_tonnes, dtype=float),
        shortfall_days=np.zeros(n),
        route_open_days=np.zeros((n, params.n_routes), order="F"),
        trigger_first=full((n, len(params.triggers)), np.nan, order="F"),
        order_day=full(n, np.inf),
        pocketed=pocketed,
        tempo=np.ones(n),
        window=RollingWindow.empty(n, window_cells(params.rolling_window_days, dt)),
    )
