"""How a replication ends: the end conditions checked after each piece of combat."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from siege.model import pocket, rules
from siege.model.measures import strength_fraction, supply_days, town_sectors_control
from siege.model.params import ModelParams
from siege.model.rules import (
    CAPTURED,
    COLLAPSED,
    CULMINATED,
    ENCIRCLED,
    HELD,
    SURRENDERED,
    TIME_EPS,
    WITHDREW,
)
from siege.model.state import SiegeState

F64 = NDArray[np.float64]


def end_reasons(
    state: SiegeState, params: ModelParams, t_end: float
) -> tuple[NDArray[np.int8], F64]:
    """Which running replications end at ``t_end`` and why (``RUNNING`` = go on), and the end
    day of each. A withdrawal completed before ``t_end`` comes first (it happened first);
    among events seen at ``t_end`` the precedence is encircled, surrendered, collapsed (in a
    pocket that holds out: encircled), captured, withdrew, attacker culminated, held (horizon
    or a relief that ends the siege reached)."""
    n = state.n
    d, a = params.defender, params.attacker
    reason = np.full(n, rules.RUNNING, dtype=np.int8)
    end_day = np.full(n, t_end)
    reason[t_end >= params.horizon_days - TIME_EPS] = HELD
    if math.isnan(params.relief_flank_control) and t_end >= params.relief_day - TIME_EPS:
        reason[:] = HELD  # relieved: the siege is lifted
        end_day = np.full(n, min(t_end, params.relief_day))
    power0 = a.strength * a.quality
    culminated = state.attacker * state.attacker_quality < params.culmination_fraction * power0
    reason[culminated] = CULMINATED
    w_end = state.order_day + params.withdrawal_days
    withdrew = w_end <= t_end + TIME_EPS
    reason[withdrew] = WITHDREW
    end_day = np.where(withdrew, np.minimum(w_end, t_end), end_day)
    taken = pocket.captured(town_sectors_control(state, params), params.capture_control)
    reason[taken] = CAPTURED
    collapsed = state.defender < params.collapse_fraction * d.strength
    reason[collapsed] = COLLAPSED
    if params.pocket:  # a closed pocket holds out: lost only by collapse, or surrendered
        reason[collapsed & state.pocketed] = ENCIRCLED
        closed = pocket.surrenders(
            state.pocketed,
            strength_fraction(state, params, t_end),
            supply_days(state, params),
            state.shortfall_days,
            params.surrender_strength_fraction,
            params.surrender_supply_days,
            params.surrender_shortfall_days,
        )
        reason[closed] = SURRENDERED
    else:
        closed = pocket.closed_now(state, params)  # the garrison is lost in the pocket
        reason[closed] = ENCIRCLED
    end_day = np.where(collapsed | closed | taken, t_end, end_day)
    # a withdrawal completed strictly inside the step happened before anything seen at its end
    early = w_end < t_end - TIME_EPS
    reason[early] = WITHDREW
    end_day = np.where(early, w_end, end_day)
    return reason, end_day
