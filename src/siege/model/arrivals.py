"""Arrivals: convoys reaching the town (or lost on the way) and dated reinforcement waves."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from siege import rng
from siege.model import rules, transitions
from siege.model.params import ModelParams, Real
from siege.model.state import SiegeState
from siege.rng import Streams

F64 = NDArray[np.float64]


def convoy_thresholds(state: SiegeState) -> F64:
    """Each route's convoy draw thresholds as contiguous rows ``(r, n)``. They change only
    when routes are updated (in a combat step), so an engine can compute them once per step
    for the many convoys in between."""
    return np.ascontiguousarray(rules.convoy_threshold(state.cut, state.interdiction).T)


def convoy_arrives(
    state: SiegeState,
    params: ModelParams,
    route: int,
    streams: Streams,
    threshold: F64 | None = None,
    count: int = 1,
) -> None:
    """``count`` convoys on route ``route`` reach (or fail to reach) every running
    replication, one uniform draw each from the route's stream.

    ``threshold`` is the route's row of :func:`convoy_thresholds` if the engine has it.
    Several convoys may be delivered at once when nothing reads the stockpile between their
    arrivals: the stockpile's cap at storage gives the same result (loads are never
    negative)."""
    if state.n == 0 or count <= 0:
        return
    if threshold is None:
        threshold = rules.convoy_threshold(state.cut[:, route], state.interdiction[:, route])
    uniform = streams.random_rows(rng.CONVOYS + route, count, state.n)
    delivered = rules.convoy_deliveries(uniform, threshold, float(params.convoy_load[route]))
    storage = params.storage_tonnes
    stock = state.stockpile + delivered
    state.stockpile = np.minimum(stock, storage, out=stock) if math.isfinite(storage) else stock


def add_wave(state: SiegeState, side: str, personnel: Real, quality: Real, day: float) -> None:
    """A dated wave of personnel joins one side (not a garrison already withdrawing)."""
    _join(state, side, personnel, quality, day < state.order_day)


def spread_waves(state: SiegeState, params: ModelParams, t: float, dt: float) -> None:
    """The personnel of waves spread over a window that arrive in ``[t, t + dt)`` (days) join
    their side, each at its quality; none for a garrison whose withdrawal has begun by
    ``t + dt`` or in a pocket that reinforcements do not reach (as for reinforcements)."""
    for wave in params.spread_waves:
        personnel = wave.inflow(t, dt)
        if personnel > 0 and state.n:
            staying = transitions.reinforced(state, params, t, dt)
            _join(state, wave.side, personnel, wave.quality, staying)


def _join(
    state: SiegeState, side: str, personnel: Real, quality: Real, staying: NDArray[np.bool_]
) -> None:
    """Personnel join one side, at ``quality``; on the defender's side only where ``staying``."""
    if side == "defender":
        strength, q, _ = rules.add_personnel(
            state.defender,
            state.defender_quality,
            personnel,
            quality,
            0.0,
            1.0,
            state.defender_reserves,
        )
        state.defender = np.where(staying, strength, state.defender)
        state.defender_quality = np.where(staying, q, state.defender_quality)
    else:
        state.attacker, state.attacker_quality, _ = rules.add_personnel(
            state.attacker,
            state.attacker_quality,
            personnel,
            quality,
            0.0,
            1.0,
            state.attacker_reserves,
        )
