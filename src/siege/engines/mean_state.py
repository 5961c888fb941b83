"""The mean engine's continuous state and the thresholds it may cross.

The state is one vector ``y``: each side's personnel, combat power (personnel x mean quality,
so that quality stays personnel-weighted as troops join and fall), trained reserves and
losses; each sector's control; the stockpile, the shortfall days and each route's open days.
The discrete part (routes cut, the withdrawal order, the days triggers first held) lives in a
template :class:`~siege.model.state.SiegeState` of one replication, which :meth:`Continuum.state`
fills with ``y`` so that the model's own functions read it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.model import flows
from siege.model.params import ModelParams
from siege.model.state import SiegeState

F64 = NDArray[np.float64]
D, A, PD, PA, RD, RA, LD, LA = range(8)  # personnel, power, reserves, losses of each side
SCALARS = 8
LEAVES = 1e-9  # persons or tonnes a day: a balance this far past 0 has turned


class Event:
    """An integration event for ``solve_ivp``: ``g(t, y)`` crossing 0 in ``direction``
    (terminal: the integration stops there), and what it means (``kind``, ``index``)."""

    terminal = True

    def __init__(self, kind: str, g: Callable[[float, F64], float], direction: int,
                 index: int = 0) -> None:
        self.kind, self.g, self.direction, self.index = kind, g, direction, index

    def __call__(self, t: float, y: F64, *args: Any) -> float:
        return self.g(t, y)  # (solve_ivp passes the rates' extra arguments to events too)


class Continuum:
    """The layout of ``y`` for a scenario's sectors and routes, and what reads it."""

    def __init__(self, template: SiegeState) -> None:
        self.template = template
        self.s = template.control.shape[1]
        self.r = template.cut.shape[1]
        self.c0 = SCALARS  # control columns, then the stockpile, shortfall, route-open days
        self.stock = self.c0 + self.s
        self.unlimited = (math.isinf(template.defender_reserves[0]),
                          math.isinf(template.attacker_reserves[0]))

    def initial(self) -> F64:
        """``y`` of the template's day-0 state."""
        st = self.template
        return np.concatenate([
            [st.defender[0], st.attacker[0],
             st.defender[0] * st.defender_quality[0], st.attacker[0] * st.attacker_quality[0],
             0.0 if self.unlimited[0] else st.defender_reserves[0],
             0.0 if self.unlimited[1] else st.attacker_reserves[0], 0.0, 0.0],
            st.control[0], [st.stockpile[0], 0.0], np.zeros(self.r),
        ])

    def state(self, y: F64, params: ModelParams) -> SiegeState:
        """The state with continuous values from ``y`` and discrete ones (cuts, orders,
        triggers) as they stand; interdiction follows control."""
        # a copy of the template's fields, then the continuous ones (this runs at every
        # evaluation of the rates: no dataclass machinery)
        state = object.__new__(SiegeState)
        state.__dict__.update(self.template.__dict__)
        state.defender, state.attacker = y[D : D + 1], y[A : A + 1]
        state.defender_quality = _quality(y, D, PD, params.defender.quality)
        state.attacker_quality = _quality(y, A, PA, params.attacker.quality)
        state.defender_reserves = np.array([np.inf if self.unlimited[0] else y[RD]])
        state.attacker_reserves = np.array([np.inf if self.unlimited[1] else y[RA]])
        state.defender_losses, state.attacker_losses = y[LD : LD + 1], y[LA : LA + 1]
        state.control = y[self.c0 : self.stock].reshape(1, self.s)
        if self.r:
            state.interdiction = flows.interdiction(state.control, params)
        state.stockpile = y[self.stock : self.stock + 1]
        state.shortfall_days = y[self.stock + 1 : self.stock + 2]
        state.route_open_days = y[self.stock + 2 :].reshape(1, self.r)
        return state

    def absorb(self, y: F64, state: SiegeState) -> None:
        """Write a state's personnel and quality back into ``y`` (after a wave joined)."""
        y[D], y[A] = state.defender[0], state.attacker[0]
        y[PD] = state.defender[0] * state.defender_quality[0]
        y[PA] = state.attacker[0] * state.attacker_quality[0]

    def rates(self, t: float, y: F64, params: ModelParams, regime: flows.Regime) -> F64:
        """``dy/dt`` at ``t``: the model's expected flows."""
        f = flows.flows(self.state(y, params), params, t, regime)
        out = np.empty_like(y)
        out[D], out[A] = f.personnel[0][0], f.personnel[1][0]
        out[PD], out[PA] = f.power[0][0], f.power[1][0]
        out[RD] = 0.0 if self.unlimited[0] else f.reserves[0][0]
        out[RA] = 0.0 if self.unlimited[1] else f.reserves[1][0]
        out[LD], out[LA] = f.losses[0][0], f.losses[1][0]
        out[self.c0 : self.stock] = f.control[0]
        out[self.stock] = f.stockpile[0]
        out[self.stock + 1] = f.shortfall[0]
        out[self.stock + 2 :] = ~self.template.cut[0]
        return out

    def balance(self, t: float, y: F64, params: ModelParams, regime: flows.Regime) -> flows.Flows:
        """The flows were no side held at zero: each side's arrivals less its losses, and the
        stockpile's surplus."""
        free = dataclasses.replace(regime, at_zero=(False, False))
        return flows.flows(self.state(y, params), params, t, free)

    def settle(self, t: float, y: F64, params: ModelParams, regime: flows.Regime) -> flows.Regime:
        """The bounds the state is held at from ``t``: a side at zero losing more than
        arrives, an empty pool, a stockpile empty and short or full and in excess."""
        f = self.balance(t, y, params, regime)
        at_zero = [bool(y[k] <= 0 and f.personnel[i][0] < 0) for i, k in enumerate((D, A))]
        exhausted = [not free and bool(y[k] <= 0)
                     for k, free in zip((RD, RA), self.unlimited, strict=True)]
        surplus, stock = float(f.surplus[0]), y[self.stock]
        held = 0
        if stock <= 0 and surplus < 0 and params.consumption_per_person_day > 0:
            held = -1
        elif stock >= params.storage_tonnes and surplus > 0:
            held = 1
        return dataclasses.replace(regime, at_zero=(at_zero[0], at_zero[1]),
                                   exhausted=(exhausted[0], exhausted[1]), stockpile=held)

    def events(self, y: F64, params: ModelParams, regime: flows.Regime) -> list[Event]:
        """The thresholds the state may cross from ``y`` under ``regime``: routes cut or
        reopened, the pocket closing, collapse and culmination (ends), variables reaching the
        bound they are then held at (a side at zero, an empty pool, an empty or full
        stockpile), and the balance that holds one there turning (by more than
        :data:`LEAVES` a day, so that a balance of exactly 0 is no crossing)."""
        p = params
        out: list[Event] = []
        cut = self.template.cut[0]
        for j in map(int, np.flatnonzero(p.route_ground)):  # air and sea routes: never cut
            level = float(p.restore_below[j] if cut[j] else p.cut_at[j])
            out.append(Event("route", self._route(p, j, level), -1 if cut[j] else 1, j))
        if p.has_flanks and cut[p.route_ground].all():
            closure = float(p.closure_flank_control)
            flank = self.c0 + np.flatnonzero(p.flank)
            out.append(Event("end", lambda t, y: float(y[flank].mean()) - closure, 1))
        if math.isfinite(float(p.capture_control)) and (~p.flank).any():
            capture = float(p.capture_control)
            town = self.c0 + np.flatnonzero(~p.flank)
            out.append(Event("end", lambda t, y: float(y[town].mean()) - capture, 1))
        collapse = float(p.collapse_fraction * p.defender.strength)
        if collapse > 0:
            out.append(Event("end", lambda t, y: y[D] - collapse, -1))
        culmination = float(p.culmination_fraction * p.attacker.strength * p.attacker.quality)
        if culmination > 0:
            out.append(Event("end", lambda t, y: y[PA] - culmination, -1))

        def net(i: int) -> Callable[[float, F64], float]:
            return lambda t, y: float(self.balance(t, y, p, regime).personnel[i][0])

        def surplus(t: float, y: F64) -> float:
            return float(self.balance(t, y, p, regime).surplus[0])

        for i, k in enumerate((D, A)):
            if regime.at_zero[i]:  # leaves zero once more arrive than are lost
                out.append(_turning(net(i), 1, i))
            elif y[k] > 0:
                out.append(Event("zero", _value(k), -1, k))
            else:  # at zero, as many arriving as lost: held there once fewer arrive
                out.append(_turning(net(i), -1, i))
        for i, k in enumerate((RD, RA)):
            if not self.unlimited[i] and not regime.exhausted[i] and y[k] > 0:
                out.append(Event("zero", _value(k), -1, k))
        consumed = p.consumption_per_person_day > 0
        stock, storage = self.stock, p.storage_tonnes
        if regime.stockpile:  # held empty or full until the surplus turns
            out.append(_turning(surplus, -regime.stockpile, -1))
        else:
            if y[stock] > 0 and consumed:
                out.append(Event("zero", _value(stock), -1, stock))
            elif consumed:
                out.append(_turning(surplus, -1, -1))
            if y[stock] < storage:
                out.append(Event("full", _value(stock, storage), 1, stock))
            else:
                out.append(_turning(surplus, 1, -1))
        return out

    def _route(self, params: ModelParams, route: int, level: float) -> Callable[[float, F64],
                                                                              float]:
        """Highest control among a route's adjacent sectors (0 with none), less ``level``."""
        cols = self.c0 + np.flatnonzero(params.adjacency[route])

        def g(t: float, y: F64) -> float:
            return (float(y[cols].max()) if cols.size else 0.0) - level

        return g

    def apply(self, event: Event, y: F64, params: ModelParams) -> None:
        """What an event changes (an end is the engine's business)."""
        if event.kind == "route":
            cut = self.template.cut.copy()
            cut[0, event.index] = not cut[0, event.index]
            self.template.cut = cut
        elif event.kind == "zero":  # held at 0 from here; a side's power goes with it
            y[event.index] = 0.0
            if event.index in (D, A):
                y[event.index + PD - D] = 0.0
        elif event.kind == "full":
            y[event.index] = params.storage_tonnes

    def nudged_past(self, state: SiegeState, params: ModelParams) -> SiegeState:
        """The state moved one ulp further across the ending thresholds (personnel down,
        control up: the flanks' for closure, the town's for capture): a root is found to
        within rounding, on either side."""
        state.defender = np.nextafter(state.defender, -np.inf)
        state.attacker = np.nextafter(state.attacker, -np.inf)
        control = np.nextafter(state.control, np.inf)
        state.control = control
        return state


def _value(k: int, level: float = 0.0) -> Callable[[float, F64], float]:
    """``y[k] - level``."""
    return lambda t, y: float(y[k]) - level


def _turning(balance: Callable[[float, F64], float], direction: int, index: int) -> Event:
    """An event for a balance (persons or tonnes a day) turning past :data:`LEAVES` in
    ``direction`` (+1: becoming positive)."""
    return Event("turn", lambda t, y: balance(t, y) - direction * LEAVES, direction, index)


def _quality(y: F64, personnel: int, power: int, default: Any) -> F64:
    """Mean quality: power over personnel (the side's own quality while nobody is there)."""
    present = y[personnel]
    return np.array([y[power] / present if present > 0 else float(default)])
