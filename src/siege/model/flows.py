"""Expected rates of change of the state: the mean-field form of a combat step's transitions.

The same rules as :func:`siege.engines.base.combat_step`, with every random draw at its mean:
losses at the attrition law's expected rate, convoys as a flow of their expected deliveries
(capacity times the chance a convoy gets through, on routes not cut), the withdrawal's losses
at their rate, advance noise and campaign tempo at 1. Each rate is the limit of a step's
change over its length ``dt`` as ``dt`` goes to 0. Between discrete changes (a route cut, the
stockpile running empty, a side at zero, reserves used up, a withdrawal beginning or ending) the
rates are smooth functions of the state; a :class:`Regime` holds what those changes decided.
Units: per day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.model import rules, transitions
from siege.model.measures import open_capacity
from siege.model.params import ModelParams
from siege.model.state import SiegeState

F64 = NDArray[np.float64]
SIDES = ("defender", "attacker")


@dataclass(frozen=True)
class Regime:
    """What holds between two discrete changes, per side ``(defender, attacker)`` where paired."""

    withdrawing: bool = False  # the garrison is withdrawing (its withdrawal losses run)
    staying: bool = True  # the garrison has not begun to withdraw (it takes reinforcements)
    exhausted: tuple[bool, bool] = (False, False)  # trained reserves used up
    empty: tuple[bool, bool] = (False, False)  # at 0 personnel: losses capped at arrivals
    stockpile: int = 0  # -1: empty (deliveries short of consumption); 1: full; 0: between
    waves: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))
    # (persons/day, persons x quality/day) of the spread waves arriving, per side


@dataclass(frozen=True)
class Flows:
    """Rates of change per day, ``(n,)`` each (``control``: ``(n, s)``)."""

    personnel: tuple[F64, F64]  # per side
    power: tuple[F64, F64]  # personnel x quality, per side
    reserves: tuple[F64, F64]  # trained reserves, per side
    losses: tuple[F64, F64]  # casualties (>= 0), per side; the defender's with the withdrawal's
    control: F64
    stockpile: F64  # tonnes/day
    shortfall: F64  # days per day: 1 while consumption goes unmet
    surplus: F64  # deliveries minus consumption (tonnes/day)


def wave_inflow(params: ModelParams, t: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Persons and persons x quality a day arriving at ``t`` from spread waves, per side."""
    out = {side: [0.0, 0.0] for side in SIDES}
    for wave in params.spread_waves:
        if wave.day <= t < wave.day + wave.duration_days:
            rate = wave.personnel / wave.duration_days
            out[wave.side][0] += rate
            out[wave.side][1] += rate * wave.quality
    d, a = out["defender"], out["attacker"]
    return (d[0], d[1]), (a[0], a[1])


def interdiction(control: F64, params: ModelParams) -> F64:
    """Probability a convoy on each route is lost, ``(n, r)``, from sector control ``(n, s)``."""
    adjacent = rules.adjacent_control(control, params.adjacency)
    return rules.interdiction_probability(adjacent, params.interdiction_base,
                                          params.interdiction_full)


def flows(state: SiegeState, params: ModelParams, t: float, regime: Regime) -> Flows:
    """Expected rates of change of the running replications' state at ``t`` (days)."""
    eff = transitions.effectiveness(state, params, t)
    combat = transitions.loss_rates(state, params, eff)
    losses = list(combat)
    if regime.withdrawing:
        share = rules.withdrawal_loss_rate(open_capacity(state, params),
                                           params.withdrawal_loss_rate,
                                           params.withdrawal_loss_rate_no_routes)
        losses[0] = losses[0] + share * state.defender
    personnel, power, reserves = [], [], []
    for i, (force, quality, pool) in enumerate((
        (params.defender, state.defender_quality, state.defender_reserves),
        (params.attacker, state.attacker_quality, state.attacker_reserves),
    )):
        joining = regime.staying or i == 1  # a withdrawing garrison takes no more troops
        trained = force.reinforcement_rate if joining and not regime.exhausted[i] else 0.0
        replacements = force.replacement_rate if joining else 0.0
        wave, wave_power = regime.waves[i] if joining else (0.0, 0.0)
        arriving = np.asarray(trained + replacements + wave, dtype=np.float64)
        if regime.empty[i]:  # nobody present: no more lost than arrive
            losses[i] = np.minimum(losses[i], arriving)
        personnel.append(arriving - losses[i])
        power.append(trained * force.quality + replacements * force.replacement_quality
                     + wave_power - losses[i] * quality)
        reserves.append(np.where(np.isinf(pool), 0.0, -trained))
    if params.n_sectors:
        control = rules.advance_velocity(state.control, transitions.force_ratio(state, params, eff),
                                         params.sector_rate, params.sensitivity, params.parity)
    else:
        control = np.zeros((state.n, 0))
    consumption = state.defender * params.consumption_per_person_day
    surplus = open_capacity(state, params) * float(params.capacity.sum()) - consumption
    pinned = regime.stockpile != 0  # empty or full: the stockpile stays where it is
    stockpile = np.zeros(state.n) if pinned else surplus
    short = regime.stockpile < 0 and params.consumption_per_person_day > 0
    return Flows(
        personnel=(personnel[0], personnel[1]),
        power=(power[0], power[1]),
        reserves=(reserves[0], reserves[1]),
        losses=(losses[0], losses[1]),
        control=control,
        stockpile=stockpile,
        shortfall=np.full(state.n, 1.0 if short else 0.0),
        surplus=surplus,
    )
