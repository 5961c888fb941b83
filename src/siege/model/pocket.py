"""Capture of the town and pockets that hold out: their rules (pure array functions) and the
transitions built from them.

Capture: the town falls when the attacker's mean control of the town (non-flank) sectors
reaches ``capture_control``; a share of what remains of the garrison gets out, interpolated
between all ground route capacity open and none, the rest is lost.

Pocket (a scenario's ``[pocket]`` table): a closed pocket is a state, not the end. It closes
when every ground route is cut and flank control reaches the closure level (a town with no
ground route at all, supplied only by air or sea, is in its pocket from day 0), and stays closed
while every ground route stays cut (the routes' own hysteresis keeps it from flickering) or
until a dated relief reopens it. In the pocket the garrison gets no reinforcement or
replacements, unless the scenario says they are flown or shipped in (dated waves always
arrive: paratroops, boats, helicopters), air
and sea routes go on delivering, a withdrawal ordered by the policy is a break-out with the
losses of a withdrawal with no route open, a collapse loses the garrison in the pocket
(``encircled``), and the garrison surrenders when its strength, its days of supply or the days
it went short reach their thresholds (``surrendered``).
"""

from __future__ import annotations

import math

import numpy as np

from siege.model import rules, transitions
from siege.model.measures import flank_control, ground_cut
from siege.model.params import ModelParams, Real
from siege.model.rules import BoolArray, FloatArray
from siege.model.state import SiegeState

# ------------------------------------------------------------------------------------------
# rules


def captured(town_control: FloatArray, capture_control: Real) -> BoolArray:
    """True where the attacker's mean control of the town sectors has reached
    ``capture_control`` (a fraction; inf: capture is not modelled), ``(n,)``."""
    return np.asarray(town_control >= capture_control, dtype=bool)


def escaped(remaining: FloatArray, open_capacity: FloatArray, at_open: Real,
            at_no_routes: Real) -> FloatArray:
    """Personnel of a captured town's garrison that get out, ``(n,)``: ``remaining`` times the
    escape fraction, interpolated between all ground route capacity open (``at_open``) and
    none (``at_no_routes``)."""
    return np.asarray(remaining * rules.by_open_routes(open_capacity, at_open, at_no_routes),
                      dtype=np.float64)


def update_pocket(pocketed: BoolArray, closed: BoolArray, ground_all_cut: BoolArray) -> BoolArray:
    """Pocket states after a step, ``(n,)``: a pocket forms where it ``closed`` (every ground
    route cut and the flanks taken) and lasts while every ground route stays cut."""
    return np.asarray(np.where(pocketed, ground_all_cut, closed), dtype=bool)


def surrenders(
    pocketed: BoolArray,
    strength_fraction: FloatArray,
    supply_days: FloatArray,
    shortfall_days: FloatArray,
    at_strength_fraction: Real,
    at_supply_days: Real,
    after_shortfall_days: Real,
) -> BoolArray:
    """True where a pocketed garrison surrenders, ``(n,)``: its personnel over day-0 strength
    at or below ``at_strength_fraction``, its days of supply at or below ``at_supply_days``, or
    its days short of supply at or above ``after_shortfall_days`` (-inf, -inf and inf: never).
    NaN never triggers."""
    with np.errstate(invalid="ignore"):
        give_up = strength_fraction <= at_strength_fraction
        give_up |= supply_days <= at_supply_days
        give_up |= shortfall_days >= after_shortfall_days
    return np.asarray(pocketed & give_up, dtype=bool)


def relieved_control(control: FloatArray, flank: BoolArray, level: float) -> FloatArray:
    """Control after a relief has pushed the attacker back to at most ``level`` on the flank
    sectors, ``(n, s)`` (a new array; other sectors unchanged)."""
    out = control.copy(order="F")
    for j in np.flatnonzero(flank):
        np.minimum(out[:, j], level, out=out[:, j])
    return out


# ------------------------------------------------------------------------------------------
# transitions


def closed_now(state: SiegeState, params: ModelParams, cut: BoolArray | None = None
               ) -> BoolArray:
    """True where the pocket is closed by the ground now: every ground route cut and mean
    flank control at the closure level, ``(n,)``. A town with a ``[pocket]`` and no ground
    route at all is cut off by the ground from the start: closed. ``cut``: the ground routes'
    cut states ``(n, g)`` if the caller has them."""
    if cut is None:
        cut = ground_cut(state, params)
    if params.pocket and cut.shape[1] == 0:
        return np.ones(state.n, dtype=bool)
    return rules.pocket_closed(cut, flank_control(state, params), params.has_flanks,
                               params.closure_flank_control)


def update(state: SiegeState, params: ModelParams) -> None:
    """Form or open the pocket after the step's routes are updated (``[pocket]`` scenarios)."""
    if not params.pocket:
        return
    cut = ground_cut(state, params)
    all_cut = np.asarray(cut.all(axis=1) if cut.shape[1] else np.ones(state.n, dtype=bool))
    state.pocketed = update_pocket(state.pocketed, closed_now(state, params, cut), all_cut)


def relieve(state: SiegeState, params: ModelParams) -> None:
    """A dated relief that reopens the pocket: the attacker is pushed back to
    ``relief_flank_control`` on the flanks, routes are updated (a ground route reopens below
    its restore level) and the pocket opens. Nothing for a relief that ends the siege (the end
    conditions end it ``held``)."""
    level = params.relief_flank_control
    if math.isnan(level) or state.n == 0:
        return
    state.control = relieved_control(state.control, params.flank, level)
    transitions.update_routes(state, params)
    state.pocketed = np.zeros(state.n, dtype=bool)
