"""Decision reviews: which triggers hold, and the withdrawal order a threshold policy gives."""

from __future__ import annotations

import numpy as np

from siege.model import rules
from siege.model.measures import MEASURES
from siege.model.params import ModelParams
from siege.model.state import SiegeState


def review(state: SiegeState, params: ModelParams, day: float) -> None:
    """A decision review on ``day``: record the first day each trigger holds and, under a
    threshold policy, order a withdrawal ``decision_latency_days`` after the decision."""
    if state.n == 0 or not params.triggers:
        return
    fired = np.zeros((state.n, len(params.triggers)), dtype=bool, order="F")
    for j, trig in enumerate(params.triggers):
        value = MEASURES[trig.measure].value(state, params, day)
        fired[:, j] = rules.compare(value, trig.op, trig.threshold)
    first = state.trigger_first
    state.trigger_first = np.where(fired & np.isnan(first), day, first)
    if params.withdraw_on_triggers:
        decide = rules.combine(fired, params.combine) & np.isinf(state.order_day)
        state.order_day = np.where(decide, day + params.decision_latency_days, state.order_day)
