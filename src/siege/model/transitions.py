"""The transitions of a combat step over ``[t, t + dt)``, each a function over the running
replications' arrays; the engines compose them (see :func:`siege.engines.base.combat_step`)
and supply the random streams.

In the order a step applies them: effectiveness (from the state at ``t``), attrition,
withdrawal losses, taking the losses, reinforcement, advance of the front, route status,
consumption. The campaign tempo is drawn once, before the first step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege import rng
from siege.errors import ModelError
from siege.model import advance as advance_laws
from siege.model import rules
from siege.model.laws import LAWS
from siege.model.measures import ground_open_capacity, supply_days, town_control
from siege.model.params import ModelParams
from siege.model.rules import TIME_EPS
from siege.model.state import SiegeState
from siege.rng import Streams

F64 = NDArray[np.float64]
#: the loss rate (fraction a day) of a sector with no defenders: far above any that occurs, it
#: takes the sector in one step under the ``losses`` advance law and keeps the gain finite
UNDEFENDED_LOSS_RATE = 1e12


def draw_campaign_tempo(state: SiegeState, params: ModelParams, streams: Streams) -> None:
    """Each replication's tempo, a multiplier on its advance rates for the whole campaign:
    gamma with mean 1 and coefficient of variation ``campaign_cv`` (none if 0)."""
    cv = params.campaign_cv
    if cv > 0 and state.n:
        state.tempo = streams.gamma(rng.CAMPAIGN, 1.0 / cv**2, cv**2, (state.n,))


@dataclass(frozen=True)
class Effectiveness:
    """Multipliers at the start of a step, ``(n,)`` each."""

    fortification: F64  # on the defender's power in fortified sectors
    defender_fortification: F64  # the same, weighted by the defender's effort over sectors
    supply: F64  # from the days of supply


def effectiveness(state: SiegeState, params: ModelParams, t: float) -> Effectiveness:
    """Fortification (eroded by lost ground and time ``t``, days) and supply multipliers."""
    fort = rules.fortification_multiplier(
        params.fortification_multiplier,
        params.erosion_exponent,
        params.fortification_decay_per_day,
        town_control(state, params),
        t,
    )
    if params.n_sectors:
        # the defender's effort-weighted multiplier: fortified sectors' share at fort
        share = params.defender_share
        fort_eff = fort * share[params.fortified].sum()
        fort_eff += share[~params.fortified].sum()
    else:
        fort_eff = fort
    if params.consumption_per_person_day > 0:
        supply = rules.supply_effectiveness(
            supply_days(state, params), params.full_effect_days, params.min_effectiveness
        )
    else:
        supply = np.ones(state.n)
    return Effectiveness(fort, fort_eff, supply)


def attrition(
    state: SiegeState, params: ModelParams, eff: Effectiveness, dt: float, streams: Streams
) -> tuple[F64, F64]:
    """Combat losses of a step (defender, attacker), ``(n,)``: counts drawn around the
    attrition law's expected losses, never more than the personnel present."""
    att = params.attrition
    d_rate, a_rate = loss_rates(state, params, eff)
    d_rate *= dt
    a_rate *= dt
    d_loss = rules.clip_losses(
        rng.negative_binomial(streams, rng.DEFENDER_LOSSES, d_rate, att.overdispersion),
        state.defender,
    )
    a_loss = rules.clip_losses(
        rng.negative_binomial(streams, rng.ATTACKER_LOSSES, a_rate, att.overdispersion),
        state.attacker,
    )
    return d_loss, a_loss


def loss_rates(state: SiegeState, params: ModelParams, eff: Effectiveness) -> tuple[F64, F64]:
    """Expected combat losses per day (defender, attacker), ``(n,)`` (new arrays): the
    attrition law applied to each side's personnel and fire (kill rate times effectiveness)."""
    att = params.attrition
    defender_fire = att.defender_kill_rate * state.defender_quality
    defender_fire *= eff.supply
    defender_fire *= eff.defender_fortification
    return LAWS[att.law].rates(
        state.attacker,
        state.defender,
        att.attacker_kill_rate * state.attacker_quality,
        defender_fire,
        att,
    )


def withdrawal_losses(
    state: SiegeState,
    params: ModelParams,
    t: float,
    dt: float,
    combat_losses: F64,
    streams: Streams,
) -> F64 | None:
    """Losses to the withdrawal in the part of ``[t, t + dt)`` inside it, ``(n,)``, out of the
    personnel left after the step's combat losses; None if nobody withdraws in the step."""
    w_start = state.order_day
    # no replication withdrawing in this step (the usual case) needs no overlap computed
    if not w_start.min() < t + dt:
        return None
    w_end = w_start + params.withdrawal_days
    overlap = np.clip(np.minimum(t + dt, w_end) - np.maximum(t, w_start), 0.0, None)
    if not np.any(overlap > 0):
        return None
    rate = rules.withdrawal_loss_rate(
        ground_open_capacity(state, params),
        params.withdrawal_loss_rate,
        params.withdrawal_loss_rate_no_routes,
    )
    p = -np.expm1(-rate * overlap)
    return streams.binomial(rng.WITHDRAWAL, state.defender - combat_losses, p)


def take_losses(state: SiegeState, defender_losses: F64, attacker_losses: F64) -> None:
    """Remove a step's losses ``(n,)`` from each side, and count them (in the rolling window
    too)."""
    state.defender -= defender_losses
    state.attacker -= attacker_losses
    state.defender_losses += defender_losses
    state.attacker_losses += attacker_losses
    state.window.add(defender_losses, attacker_losses)


def reinforce(state: SiegeState, params: ModelParams, t: float, dt: float) -> None:
    """A step's reinforcements and replacements on both sides; none for a garrison whose
    withdrawal has begun by ``t + dt``, nor for one in a pocket that none reach."""
    d, a = params.defender, params.attacker
    staying = reinforced(state, params, t, dt)
    strength, quality, reserves = rules.reinforce(
        state.defender,
        state.defender_quality,
        state.defender_reserves,
        d.reinforcement_rate,
        d.replacement_rate,
        d.quality,
        d.replacement_quality,
        dt,
    )
    if staying.all():
        state.defender, state.defender_quality, state.defender_reserves = (
            strength,
            quality,
            reserves,
        )
    else:
        state.defender = np.where(staying, strength, state.defender)
        state.defender_quality = np.where(staying, quality, state.defender_quality)
        state.defender_reserves = np.where(staying, reserves, state.defender_reserves)
    state.attacker, state.attacker_quality, state.attacker_reserves = rules.reinforce(
        state.attacker,
        state.attacker_quality,
        state.attacker_reserves,
        a.reinforcement_rate,
        a.replacement_rate,
        a.quality,
        a.replacement_quality,
        dt,
    )


def reinforced(state: SiegeState, params: ModelParams, t: float, dt: float) -> NDArray[np.bool_]:
    """Where the garrison takes reinforcements in ``[t, t + dt)``, ``(n,)``: its withdrawal
    has not begun by ``t + dt``, and it is not in a pocket unless reinforcements reach the
    pocket (by air or sea: ``pocket.reinforced_in_pocket``)."""
    staying = t + dt <= state.order_day + TIME_EPS
    if params.reinforced_in_pocket or not state.pocketed.any():
        return staying
    return staying & ~state.pocketed


def advance(
    state: SiegeState, params: ModelParams, eff: Effectiveness, dt: float, streams: Streams
) -> None:
    """Move the front: each sector's control by the advance law (its local force ratio, or
    its defender's losses, after the step's losses and reinforcements), times daily noise
    and the campaign tempo."""
    if not params.n_sectors:
        return
    cv = params.noise_cv
    shape = (state.n, params.n_sectors)
    noise = (
        streams.gamma(rng.ADVANCE, 1.0 / cv**2, cv**2, shape)
        if cv > 0
        else np.ones(shape, order="F")
    )
    if params.campaign_cv > 0:
        noise *= state.tempo[:, None]
    push, rate = advance_push(state, params, eff)
    state.control = rules.advance_control(state.control, push, rate, dt, noise)


def advance_push(
    state: SiegeState, params: ModelParams, eff: Effectiveness
) -> tuple[F64, F64 | float]:
    """The advance law's drive in each sector ``(n, s)`` (a new array) and the rate it is
    multiplied by: the sectors' rates ``(s,)`` or ``(n, s)`` (1/day), or 1 for a law that is
    not paced by them."""
    law = advance_laws.ADVANCE_LAWS[params.advance_law]
    ratio = force_ratio(state, params, eff)
    losses = sector_loss_rates(state, params, eff) if law.reads_losses else None
    return law.drive(ratio, losses, params), params.sector_rate if law.paced else 1.0


def sector_loss_rates(state: SiegeState, params: ModelParams, eff: Effectiveness) -> F64:
    """The defender's expected losses per day in each sector as a fraction of the defenders
    there, ``(n, s)`` (1/day): the garrison's losses under the attrition law, shared over the
    sectors as the same law shares them when applied to each sector's forces (personnel
    times effort share). A sector with no defenders is lost at once (a bound far above any
    rate that occurs)."""
    att = params.attrition
    total, _ = loss_rates(state, params, eff)  # (n,)
    # the law on each sector's forces, laid out (s, n) so that per-replication exponents
    # (n,) broadcast; the fire is a common factor of every law, so it cancels in the shares
    attackers = np.multiply.outer(params.attacker_share, state.attacker)
    defenders = np.multiply.outer(params.defender_share, state.defender)
    ones = np.ones_like(attackers)
    local, _ = LAWS[att.law].rates(attackers, defenders, ones, ones, att)
    spread = local.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(spread > 0, local / spread, 0.0)
        rate = np.where(defenders > 0, share * total / defenders, UNDEFENDED_LOSS_RATE)
    return np.asfortranarray(np.minimum(rate, UNDEFENDED_LOSS_RATE).T)


def force_ratio(state: SiegeState, params: ModelParams, eff: Effectiveness) -> F64:
    """Local effective force ratio, attacker over defender, in each sector ``(n, s)``."""
    return rules.local_force_ratio(
        state.attacker * state.attacker_quality,
        state.defender * state.defender_quality * eff.supply,
        params.attacker_share,
        params.defender_share,
        params.fortified,
        eff.fortification,
    )


def update_routes(state: SiegeState, params: ModelParams) -> None:
    """Recompute interdiction probabilities and cut states from current control."""
    if params.n_routes == 0:
        return
    adj = rules.adjacent_control(state.control, params.adjacency)
    state.interdiction = rules.interdiction_probability(
        adj, params.interdiction_base, params.interdiction_full
    )
    state.cut = rules.update_cuts(state.cut, adj, params.cut_at, params.restore_below)
    if not params.route_ground.all():  # air and sea routes are not cut by ground control
        state.cut &= params.route_ground


def count_open_route_days(state: SiegeState, dt: float) -> None:
    """Add a step of ``dt`` days to each route not cut."""
    if dt == 1.0:
        state.route_open_days += ~state.cut
    else:
        state.route_open_days += (~state.cut) * dt


def consume(state: SiegeState, params: ModelParams, dt: float) -> None:
    """Consume a step's supplies, counting the days the stockpile fell short."""
    per_person = params.consumption_per_person_day
    if per_person > 0:
        state.stockpile, short = rules.consume(state.stockpile, state.defender, per_person, dt)
        state.shortfall_days += short * dt


def check_finite(state: SiegeState, day: float) -> None:
    """Raise :class:`ModelError` if forces or their quality left the range of floating point
    (parameters too extreme to simulate), rather than go on with inf or NaN."""
    names = ("defender", "attacker", "defender_quality", "attacker_quality")
    # one sum per array: finite sums (the usual case) mean finite values
    if all(math.isfinite(getattr(state, name).sum()) for name in names):
        return
    for name in names:
        values = getattr(state, name)
        if not np.isfinite(values).all():
            bad = values[~np.isfinite(values)][0]
            raise ModelError(
                f"{name.replace('_', ' ')} became {bad} on day {day:g}: the scenario's "
                "rates are too large to simulate (check reinforcement, replacement and wave "
                "sizes)"
            )
