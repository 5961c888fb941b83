"""Expected rates of change of the state: the mean-field form of a combat step's transitions.

The same rules as :func:`siege.engines.base.combat_step`, with every random draw at its mean:
losses at the attrition law's expected rate, convoys as a flow of their expected deliveries
(capacity times the chance a convoy gets through, on routes not cut), the withdrawal's losses
at their rate, advance noise and campaign tempo at 1. Each rate is the limit of a step's
change over its length ``dt`` as ``dt`` goes to 0, bounds included: a side with nobody
present loses no more than arrives (losses are never more than present), trained
reinforcements stop when the pool is empty, and the stockpile stays between empty and full
(short of consumption while empty). Between discrete changes the rates are smooth functions
of the state; a :class:`Regime` holds what the changes decided: the clock (a withdrawal under
way, spread waves arriving) and the bounds reached. Units: per day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.model import rules, transitions
from siege.model.measures import ground_open_capacity, open_capacity
from siege.model.params import ForceParams, ModelParams, Real
from siege.model.state import SiegeState

F64 = NDArray[np.float64]
SIDES = ("defender", "attacker")


@dataclass(frozen=True)
class Regime:
    """What holds between two discrete changes, per side ``(defender, attacker)`` where paired:
    what the clock decided (a withdrawal, spread waves) and the bounds the state is held at."""

    withdrawing: bool = False  # the garrison is withdrawing (its withdrawal losses run)
    staying: bool = True  # the garrison has not begun to withdraw (it takes reinforcements)
    waves: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))
    # (persons/day, persons x quality/day) of the spread waves arriving, per side
    at_zero: tuple[bool, bool] = (False, False)  # nobody present, more lost than arriving
    exhausted: tuple[bool, bool] = (False, False)  # the trained pool is empty
    stockpile: int = 0  # -1: empty, deliveries short of consumption; 1: full, in excess


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
    d_loss, a_loss = transitions.loss_rates(state, params, eff)
    through = open_capacity(state, params)  # share of route capacity getting through
    if regime.withdrawing:
        share = rules.withdrawal_loss_rate(ground_open_capacity(state, params),
                                           params.withdrawal_loss_rate,
                                           params.withdrawal_loss_rate_no_routes)
        d_loss = d_loss + share * state.defender
    defender = _side(params.defender, state.defender_quality, d_loss,
                     regime.waves[0] if regime.staying else None, regime.exhausted[0],
                     regime.at_zero[0])
    attacker = _side(params.attacker, state.attacker_quality, a_loss, regime.waves[1],
                     regime.exhausted[1], regime.at_zero[1])
    if params.n_sectors:
        push, rate = transitions.advance_push(state, params, eff)
        control = rules.advance_velocity(state.control, push, rate)
    else:
        control = np.zeros((state.n, 0))
    per_person = params.consumption_per_person_day
    surplus = through * float(params.capacity.sum())
    if per_person > 0:
        surplus -= state.defender * per_person
    held = regime.stockpile != 0  # at empty or full, pushed beyond: it stays
    return Flows(
        personnel=(defender[0], attacker[0]),
        power=(defender[1], attacker[1]),
        reserves=(defender[2], attacker[2]),
        losses=(defender[3], attacker[3]),
        control=control,
        stockpile=np.zeros(state.n) if held else surplus,
        shortfall=np.full(state.n, 1.0 if regime.stockpile < 0 else 0.0),
        surplus=surplus,
    )


def _side(
    force: ForceParams,
    quality: F64,
    losses: F64,
    waves: tuple[float, float] | None,
    exhausted: bool,
    at_zero: bool,
) -> tuple[F64, F64, F64, F64]:
    """One side's rates: personnel, power (personnel x quality), trained reserves and losses
    (persons/day). ``waves``: the spread waves' (persons, power) a day, None if the side takes
    no one (a withdrawing garrison)."""
    joining = waves is not None
    trained: Real = force.reinforcement_rate if joining and not exhausted else 0.0
    replacements: Real = force.replacement_rate if joining else 0.0
    wave, wave_power = waves if waves is not None else (0.0, 0.0)
    arriving = trained + (replacements + wave)
    if at_zero:  # nobody present: no more lost than arrive
        losses = np.minimum(losses, arriving)
    power = trained * force.quality + replacements * force.replacement_quality + wave_power
    reserves = np.negative(np.multiply(trained, np.ones_like(losses)))
    return arriving - losses, power - losses * quality, reserves, losses
