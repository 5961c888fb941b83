"""The siege's state and the transitions engines call: combat steps, convoy arrivals, reviews.

State is held as arrays over the *running* replications (first axis). Engines decide *when*
each transition runs (the batch engine on a fixed step for a block of replications, the event
engine in continuous time for one) and supply the random streams; the transitions themselves
are written once, here, from the rules in :mod:`siege.model.rules`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from siege import rng
from siege.errors import ModelError
from siege.model import rules
from siege.model.params import ModelParams
from siege.model.rules import CULMINATED, ENCIRCLED, HELD, WITHDREW
from siege.results.bands import MeasureSpec
from siege.rng import Streams

F64 = NDArray[np.float64]
EPS = 1e-9


@dataclass
class SiegeState:
    """Arrays over running replications: ``(n,)``, ``(n, s)`` sectors, ``(n, r)`` routes,
    ``(n, t)`` triggers, ``(n, w)`` rolling window. Two-dimensional arrays are column-major
    (see :func:`siege.model.rules.outer`)."""

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
    window_defender: F64  # (n, w) losses per step in the rolling window
    window_attacker: F64
    window_sum_defender: F64
    window_sum_attacker: F64
    tempo: F64  # per-replication multiplier on advance rates (advance.campaign_cv)
    step_count: int = 0

    @property
    def n(self) -> int:
        return int(self.rep.shape[0])

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Drop the replications where ``mask`` is False (those that have ended)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                # a column-major array stays column-major: select along the transpose's rows
                if value.ndim == 2:
                    setattr(self, f.name, np.compress(mask, value.T, axis=1).T)
                else:
                    setattr(self, f.name, value[mask])


def init_state(params: ModelParams, rep_ids: NDArray[np.int64], dt: float) -> SiegeState:
    """Day-0 state of the given replications."""
    sc = params.scenario
    n = rep_ids.shape[0]
    full = np.full
    control = rules.outer(np.ones(n), np.array([s.control for s in sc.sectors], dtype=float))
    adj = rules.adjacent_control(control, params.adjacency)
    cut = rules.update_cuts(
        np.zeros((n, params.n_routes), dtype=bool, order="F"),
        adj,
        params.cut_at,
        params.restore_below,
    )
    window = window_steps(sc.policy.rolling_window_days, dt)
    return SiegeState(
        rep=rep_ids.astype(np.int64),
        defender=full(n, float(sc.defender.strength)),
        defender_quality=full(n, sc.defender.quality),
        defender_reserves=full(n, sc.defender.trained_reserves),
        attacker=full(n, float(sc.attacker.strength)),
        attacker_quality=full(n, sc.attacker.quality),
        attacker_reserves=full(n, sc.attacker.trained_reserves),
        defender_losses=np.zeros(n),
        attacker_losses=np.zeros(n),
        control=control,
        cut=cut,
        interdiction=rules.interdiction_probability(
            adj, params.interdiction_base, params.interdiction_full
        ),
        stockpile=full(n, sc.supply.stockpile_tonnes),
        shortfall_days=np.zeros(n),
        route_open_days=np.zeros((n, params.n_routes), order="F"),
        trigger_first=full((n, len(params.triggers)), np.nan, order="F"),
        order_day=full(n, np.inf),
        window_defender=np.zeros((n, window), order="F"),
        window_attacker=np.zeros((n, window), order="F"),
        window_sum_defender=np.zeros(n),
        window_sum_attacker=np.zeros(n),
        tempo=np.ones(n),
    )


def window_steps(window_days: float, dt: float) -> int:
    """Number of combat steps in the rolling exchange-ratio window (at least 1)."""
    return max(1, round(window_days / dt))


# ------------------------------------------------------------------------------------------
# derived measures


def town_control(state: SiegeState, params: ModelParams) -> F64:
    """Mean attacker control of the fortified sectors, ``(n,)`` (0 if none)."""
    if not params.has_fortified:
        return np.zeros(state.n)
    return _column_mean(state.control, params.fortified)


def flank_control(state: SiegeState, params: ModelParams) -> F64:
    """Mean attacker control of the flank sectors, ``(n,)`` (0 if none)."""
    if not params.has_flanks:
        return np.zeros(state.n)
    return _column_mean(state.control, params.flank)


def _column_mean(values: F64, columns: NDArray[np.bool_]) -> F64:
    """Mean of the selected columns of ``(n, k)`` values, ``(n,)``: summed column by column,
    as numpy sums a short row, without copying the columns out."""
    idx = np.flatnonzero(columns)
    total = values[:, idx[0]].copy()
    for j in idx[1:]:
        total += values[:, j]
    total /= idx.size
    return total


def supply_days(state: SiegeState, params: ModelParams) -> F64:
    """Days of supply in the stockpile at current consumption, ``(n,)``."""
    return rules.days_of_supply(
        state.stockpile, state.defender, params.scenario.supply.consumption_tonnes_per_person_day
    )


def open_capacity(state: SiegeState, params: ModelParams) -> F64:
    """Share of route capacity getting through, ``(n,)``."""
    return rules.open_capacity_fraction(state.cut, state.interdiction, params.capacity)


def threat(state: SiegeState, params: ModelParams) -> F64:
    """Encirclement threat in [0, 1], ``(n,)``."""
    return rules.encirclement_threat(
        flank_control(state, params),
        open_capacity(state, params),
        params.scenario.encirclement.flank_weight,
    )


def routes_open(state: SiegeState) -> F64:
    """Routes not cut, ``(n,)``."""
    return np.asarray((~state.cut).sum(axis=1), dtype=float)


def routes_under_fire(state: SiegeState, params: ModelParams) -> F64:
    """Routes cut or interdicted at or above their under-fire level, ``(n,)``."""
    hot = state.cut | (state.interdiction >= params.under_fire_at[None, :])
    return np.asarray(hot.sum(axis=1), dtype=float)


def exchange_ratio(state: SiegeState) -> F64:
    """Cumulative exchange ratio, attacker over defender losses, ``(n,)``."""
    return rules.ratio(state.attacker_losses, state.defender_losses)


def measure(name: str, state: SiegeState, params: ModelParams, day: float) -> F64:
    """Value of a trigger measure on every running replication, ``(n,)``."""
    sc = params.scenario
    if name == "encirclement_threat":
        return threat(state, params)
    if name == "routes_open":
        return routes_open(state)
    if name == "routes_under_fire":
        return routes_under_fire(state, params)
    if name == "days_of_supply":
        return supply_days(state, params)
    if name == "strength_fraction":
        return state.defender / sc.defender.strength
    if name == "rolling_exchange_ratio":
        return rules.ratio(state.window_sum_attacker, state.window_sum_defender)
    if name == "day":
        return np.full(state.n, day)
    if name == "days_past_counteroffensive":
        co = sc.simulation.counteroffensive_day
        return np.full(state.n, day - (co if co is not None else math.inf))
    raise ValueError(f"unknown measure {name!r}")


# ------------------------------------------------------------------------------------------
# transitions


def combat_step(
    state: SiegeState, params: ModelParams, t: float, dt: float, streams: Streams
) -> None:
    """Advance every running replication over ``[t, t + dt)`` (days): attrition, withdrawal
    losses, reinforcements, advance, route status and consumption."""
    sc = params.scenario
    n = state.n
    if n == 0:
        return
    if state.step_count == 0 and sc.advance.campaign_cv > 0:
        cv = sc.advance.campaign_cv
        state.tempo = streams.gamma(rng.CAMPAIGN, 1.0 / cv**2, cv**2, (n,))
    # --- effectiveness -------------------------------------------------------------------
    fort = rules.fortification_multiplier(
        sc.fortification.multiplier,
        sc.fortification.erosion_exponent,
        sc.fortification.decay_per_day,
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
    if sc.supply.consumption_tonnes_per_person_day > 0:
        supply_eff = rules.supply_effectiveness(
            supply_days(state, params), sc.supply.full_effect_days, sc.supply.min_effectiveness
        )
    else:
        supply_eff = np.ones(n)
    # --- attrition -------------------------------------------------------------------------
    att = sc.attrition
    defender_fire = att.defender_kill_rate * state.defender_quality
    defender_fire *= supply_eff
    defender_fire *= fort_eff
    d_rate, a_rate = rules.attrition_rates(
        att.law,
        att.helmbold_exponent,
        state.attacker,
        state.defender,
        att.attacker_kill_rate * state.attacker_quality,
        defender_fire,
    )
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
    # --- withdrawal losses (the part of the step inside the withdrawal) ----------------------
    w_start = state.order_day
    # no replication withdrawing in this step (the usual case) needs no overlap computed
    withdrawing = bool(w_start.min() < t + dt)
    if withdrawing:
        w_end = w_start + sc.withdrawal.duration_days
        overlap = np.clip(np.minimum(t + dt, w_end) - np.maximum(t, w_start), 0.0, None)
        withdrawing = bool(np.any(overlap > 0))
    if withdrawing:
        rate = rules.withdrawal_loss_rate(
            open_capacity(state, params),
            sc.withdrawal.loss_rate_per_day,
            sc.withdrawal.loss_rate_no_routes_per_day,
        )
        p = -np.expm1(-rate * overlap)
        w_loss = streams.binomial(rng.WITHDRAWAL, state.defender - d_loss, p)
        d_total = d_loss + w_loss
    else:
        d_total = d_loss
    state.defender -= d_total
    state.attacker -= a_loss
    state.defender_losses += d_total
    state.attacker_losses += a_loss
    # --- rolling window ----------------------------------------------------------------------
    w = state.window_defender.shape[1]
    slot = state.step_count % w
    state.window_sum_defender -= state.window_defender[:, slot]
    state.window_sum_defender += d_total
    state.window_sum_attacker -= state.window_attacker[:, slot]
    state.window_sum_attacker += a_loss
    state.window_defender[:, slot] = d_total
    state.window_attacker[:, slot] = a_loss
    state.step_count += 1
    # --- reinforcements (none once the withdrawal has begun) ---------------------------------
    d_side, a_side = sc.defender, sc.attacker
    staying = t + dt <= w_start + EPS
    everyone_staying = bool(staying.all())
    strength, quality, reserves = rules.reinforce(
        state.defender,
        state.defender_quality,
        state.defender_reserves,
        d_side.reinforcement_rate,
        d_side.replacement_rate,
        d_side.quality,
        d_side.replacement_quality,
        dt,
    )
    if everyone_staying:
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
        a_side.reinforcement_rate,
        a_side.replacement_rate,
        a_side.quality,
        a_side.replacement_quality,
        dt,
    )
    # --- ground ------------------------------------------------------------------------------
    if params.n_sectors:
        ratio = rules.local_force_ratio(
            state.attacker * state.attacker_quality,
            state.defender * state.defender_quality * supply_eff,  # after the step's losses
            params.attacker_share,
            params.defender_share,
            params.fortified,
            fort,
        )
        cv = sc.advance.noise_cv
        shape = (n, params.n_sectors)
        noise = (
            streams.gamma(rng.ADVANCE, 1.0 / cv**2, cv**2, shape)
            if cv > 0
            else np.ones(shape, order="F")
        )
        if sc.advance.campaign_cv > 0:
            noise *= state.tempo[:, None]
        state.control = rules.advance_control(
            state.control,
            ratio,
            params.sector_rate,
            sc.advance.sensitivity,
            sc.advance.parity,
            dt,
            noise,
        )
    update_routes(state, params)
    if dt == 1.0:
        state.route_open_days += ~state.cut
    else:
        state.route_open_days += (~state.cut) * dt
    # --- consumption ---------------------------------------------------------------------------
    per_person = sc.supply.consumption_tonnes_per_person_day
    if per_person > 0:
        state.stockpile, short = rules.consume(state.stockpile, state.defender, per_person, dt)
        state.shortfall_days += short * dt
    check_finite(state, t + dt)


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


def update_routes(state: SiegeState, params: ModelParams) -> None:
    """Recompute interdiction probabilities and cut states from current control."""
    if params.n_routes == 0:
        return
    adj = rules.adjacent_control(state.control, params.adjacency)
    state.interdiction = rules.interdiction_probability(
        adj, params.interdiction_base, params.interdiction_full
    )
    state.cut = rules.update_cuts(state.cut, adj, params.cut_at, params.restore_below)


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
    storage = params.scenario.supply.storage_tonnes
    stock = state.stockpile + delivered
    state.stockpile = np.minimum(stock, storage, out=stock) if math.isfinite(storage) else stock


def review(state: SiegeState, params: ModelParams, day: float) -> None:
    """A decision review: record the first day each trigger holds and, under a threshold
    policy, order a withdrawal ``decision_latency_days`` after the decision."""
    if state.n == 0 or not params.triggers:
        return
    policy = params.scenario.policy
    fired = np.zeros((state.n, len(params.triggers)), dtype=bool, order="F")
    for j, trig in enumerate(params.triggers):
        fired[:, j] = rules.compare(
            measure(trig.measure, state, params, day), trig.op, trig.threshold
        )
    first = state.trigger_first
    state.trigger_first = np.where(fired & np.isnan(first), day, first)
    if policy.kind == "threshold":
        decide = rules.combine(fired, policy.combine) & np.isinf(state.order_day)
        state.order_day = np.where(decide, day + policy.decision_latency_days, state.order_day)


def add_wave(state: SiegeState, side: str, personnel: float, quality: float, day: float) -> None:
    """A dated wave of personnel joins one side (not a garrison already withdrawing)."""
    if side == "defender":
        staying = day < state.order_day
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


def end_reasons(
    state: SiegeState, params: ModelParams, t_end: float, horizon: float
) -> tuple[NDArray[np.int8], F64]:
    """Which running replications end at ``t_end`` and why (``RUNNING`` = go on), and the end
    day of each. A withdrawal completed before ``t_end`` comes first (it happened first);
    among events seen at ``t_end`` the precedence is encircled, collapsed, withdrew, attacker
    culminated, held (horizon reached)."""
    sc = params.scenario
    n = state.n
    reason = np.full(n, rules.RUNNING, dtype=np.int8)
    end_day = np.full(n, t_end)
    at_horizon = t_end >= horizon - EPS
    reason[at_horizon] = HELD
    power0 = sc.attacker.strength * sc.attacker.quality
    culminated = state.attacker * state.attacker_quality < sc.attacker.culmination_fraction * power0
    reason[culminated] = CULMINATED
    w_end = state.order_day + sc.withdrawal.duration_days
    withdrew = w_end <= t_end + EPS
    reason[withdrew] = WITHDREW
    end_day = np.where(withdrew, np.minimum(w_end, t_end), end_day)
    collapsed = state.defender < sc.defender.collapse_fraction * sc.defender.strength
    reason[collapsed] = rules.COLLAPSED
    closed = rules.pocket_closed(
        state.cut,
        flank_control(state, params),
        params.has_flanks,
        sc.encirclement.closure_flank_control,
    )
    reason[closed] = ENCIRCLED
    end_day = np.where(collapsed | closed, t_end, end_day)
    # a withdrawal completed strictly inside the step happened before anything seen at its end
    early = w_end < t_end - EPS
    reason[early] = WITHDREW
    end_day = np.where(early, w_end, end_day)
    return reason, end_day


def days_held(reason: NDArray[np.int8], end_day: F64, order_day: F64, horizon: float) -> F64:
    """Days the defender held the town: to the horizon if held or the attacker culminated,
    else to the start of the withdrawal or the end, whichever came first."""
    kept = (reason == HELD) | (reason == CULMINATED)
    return np.where(kept, horizon, np.minimum(end_day, order_day))


# ------------------------------------------------------------------------------------------
# what is observed each day, and what each replication reports


def observation_specs(params: ModelParams) -> list[MeasureSpec]:
    """The per-day measures recorded as percentile bands and sample trajectories."""
    specs = [
        MeasureSpec.log("defender_strength", "personnel", 1.0, 2.0**27),  # to 1.3e8
        MeasureSpec.log("attacker_strength", "personnel", 1.0, 2.0**27),
        MeasureSpec.log("exchange_ratio", "attacker/defender losses", 2.0**-10, 2.0**10),
        MeasureSpec.log("rolling_exchange_ratio", "attacker/defender losses", 2.0**-10, 2.0**10),
        MeasureSpec.log("days_of_supply", "days", 2.0**-7, 2.0**14),  # 0.008 to 16384
        MeasureSpec("routes_open", "routes", "count", 0, params.n_routes, params.n_routes + 1),
        MeasureSpec("encirclement_threat", "0..1", "linear", 0.0, 1.0, 1000),
    ]
    for name in params.scenario.sector_names:
        specs.append(MeasureSpec(f"control_{name}", "attacker fraction", "linear", 0.0, 1.0, 1000))
    return specs


def observe(state: SiegeState, params: ModelParams) -> list[F64]:
    """Current values of the observation measures, one ``(n,)`` array each, in spec order."""
    values = [
        state.defender,
        state.attacker,
        exchange_ratio(state),
        rules.ratio(state.window_sum_attacker, state.window_sum_defender),
        supply_days(state, params),
        routes_open(state),
        threat(state, params),
    ]
    values.extend(state.control[:, j] for j in range(params.n_sectors))
    return values


def outcome_columns(params: ModelParams) -> list[str]:
    """Names of the per-replication outcome columns, in file order (besides ``replication``
    and ``end_reason``)."""
    cols = [
        "end_day",
        "days_held",
        "withdrawal_start_day",
        "defender_losses",
        "attacker_losses",
        "exchange_ratio",
        "days_beyond_counteroffensive",
        "supply_shortfall_days",
        "defender_final_strength",
        "attacker_final_strength",
    ]
    cols += [f"route_open_days_{r}" for r in params.scenario.route_names]
    cols += [f"trigger_first_day_{t.name}" for t in params.triggers]
    return cols


def final_outcomes(
    state: SiegeState,
    params: ModelParams,
    mask: NDArray[np.bool_],
    reason: NDArray[np.int8],
    end_day: F64,
) -> dict[str, F64]:
    """Outcome values of the replications in ``mask`` that end now, one array per column.

    An encircled garrison is lost: its remaining personnel count as defender losses.
    """
    sc = params.scenario
    horizon = sc.simulation.horizon_days
    r = reason[mask]
    e = end_day[mask]
    order = state.order_day[mask]
    encircled = r == ENCIRCLED
    remaining = state.defender[mask]
    d_losses = state.defender_losses[mask] + np.where(encircled, remaining, 0.0)
    a_losses = state.attacker_losses[mask]
    held = days_held(r, e, order, horizon)
    co = sc.simulation.counteroffensive_day
    beyond = np.maximum(held - co, 0.0) if co is not None else np.zeros(r.shape[0])
    out: dict[str, F64] = {
        "end_day": e,
        "days_held": held,
        "withdrawal_start_day": np.where(np.isinf(order) | (order > e), np.nan, order),
        "defender_losses": d_losses,
        "attacker_losses": a_losses,
        "exchange_ratio": rules.ratio(a_losses, d_losses),
        "days_beyond_counteroffensive": beyond,
        # a step that ends after the replication does is counted only up to its end
        "supply_shortfall_days": np.minimum(state.shortfall_days[mask], e),
        "defender_final_strength": np.where(encircled, 0.0, remaining),
        "attacker_final_strength": state.attacker[mask],
    }
    for j, name in enumerate(sc.route_names):
        out[f"route_open_days_{name}"] = np.minimum(state.route_open_days[mask, j], e)
    for j, trig in enumerate(params.triggers):
        out[f"trigger_first_day_{trig.name}"] = state.trigger_first[mask, j]
    return out
