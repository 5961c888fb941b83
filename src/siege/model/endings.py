"""How a replication ends: the end conditions checked after each piece of combat."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from siege.model import rules
from siege.model.measures import flank_control
from siege.model.params import ModelParams
from siege.model.rules import COLLAPSED, CULMINATED, ENCIRCLED, HELD, TIME_EPS, WITHDREW
from siege.model.state import SiegeState

F64 = NDArray[np.float64]


def end_reasons(
    state: SiegeState, params: ModelParams, t_end: float
) -> tuple[NDArray[np.int8], F64]:
    """Which running replications end at ``t_end`` and why (``RUNNING`` = go on), and the end
    day of each. A withdrawal completed before ``t_end`` comes first (it happened first);
    among events seen at ``t_end`` the precedence is encircled, collapsed, withdrew, attacker
    culminated, held (horizon reached)."""
    n = state.n
    d, a = params.defender, params.attacker
    reason = np.full(n, rules.RUNNING, dtype=np.int8)
    end_day = np.full(n, t_end)
    reason[t_end >= params.horizon_days - TIME_EPS] = HELD
    power0 = a.strength * a.quality
    culminated = state.attacker * state.attacker_quality < params.culmination_fraction * power0
    reason[culminated] = CULMINATED
    w_end = state.order_day + params.withdrawal_days
    withdrew = w_end <= t_end + TIME_EPS
    reason[withdrew] = WITHDREW
    end_day = np.where(withdrew, np.minimum(w_end, t_end), end_day)
    collapsed = state.defender < params.collapse_fraction * d.strength
    reason[collapsed] = COLLAPSED
    closed = rules.pocket_closed(
        state.cut,
        flank_control(state, params),
        params.has_flanks,
        params.closure_flank_control,
    )
    reason[closed] = ENCIRCLED
    end_day = np.where(collapsed | closed, t_end, end_day)
    # a withdrawal completed strictly inside the step happened before anything seen at its end
    early = w_end < t_end - TIME_EPS
    reason[early] = WITHDREW
    end_day = np.where(early, w_end, end_day)
    return reason, end_day
