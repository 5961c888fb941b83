"""A scenario laid out as the model's parameters: the values the rules read, as numbers and
arrays (per sector, per route, per trigger)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from siege.model.params import (
    AttritionParams,
    ForceParams,
    ModelParams,
    SpreadWave,
    TriggerParams,
)
from siege.scenario.forces import Attacker, Defender
from siege.scenario.schema import Scenario


def _force(side: Defender | Attacker) -> ForceParams:
    return ForceParams(
        strength=float(side.strength),
        quality=side.quality,
        reinforcement_rate=side.reinforcement_rate,
        trained_reserves=side.trained_reserves,
        replacement_rate=side.replacement_rate,
        replacement_quality=side.replacement_quality,
    )


def _floats(values: list[float]) -> NDArray[np.float64]:
    return np.array(values, dtype=float)


def _norm(x: NDArray[np.float64]) -> NDArray[np.float64]:
    total = x.sum()
    return x / total if total > 0 else x


def build_params(scenario: Scenario) -> ModelParams:
    """The model's parameters of a scenario (rebuilt after each dated event that changes one)."""
    sc = scenario
    sectors, routes = sc.sectors, sc.routes
    names = [s.name for s in sectors]
    adjacency = np.zeros((len(routes), len(sectors)), dtype=bool)
    for i, r in enumerate(routes):
        for s in r.sectors:
            adjacency[i, names.index(s)] = True

    capacity = _floats([r.capacity_tonnes_per_day for r in routes])
    convoys = _floats([r.convoys_per_day for r in routes])
    co = sc.simulation.counteroffensive_day
    att = sc.attrition
    return ModelParams(
        horizon_days=sc.simulation.horizon_days,
        counteroffensive_day=math.inf if co is None else co,
        defender=_force(sc.defender),
        attacker=_force(sc.attacker),
        collapse_fraction=sc.defender.collapse_fraction,
        culmination_fraction=sc.attacker.culmination_fraction,
        attrition=AttritionParams(
            law=att.law,
            helmbold_exponent=att.helmbold_exponent,
            attacker_kill_rate=att.attacker_kill_rate,
            defender_kill_rate=att.defender_kill_rate,
            overdispersion=att.overdispersion,
        ),
        fortification_multiplier=sc.fortification.multiplier,
        erosion_exponent=sc.fortification.erosion_exponent,
        fortification_decay_per_day=sc.fortification.decay_per_day,
        sensitivity=sc.advance.sensitivity,
        parity=sc.advance.parity,
        noise_cv=sc.advance.noise_cv,
        campaign_cv=sc.advance.campaign_cv,
        sector_names=tuple(names),
        initial_control=_floats([s.control for s in sectors]),
        attacker_share=_norm(_floats([s.attacker_effort for s in sectors])),
        defender_share=_norm(_floats([s.defender_effort for s in sectors])),
        sector_rate=_floats(
            [s.advance_rate * s.terrain * sc.advance.multiplier for s in sectors]
        ),
        fortified=np.array([s.fortified for s in sectors], dtype=bool),
        flank=np.array([s.flank for s in sectors], dtype=bool),
        stockpile_tonnes=sc.supply.stockpile_tonnes,
        storage_tonnes=sc.supply.storage_tonnes,
        consumption_per_person_day=sc.supply.consumption_tonnes_per_person_day,
        full_effect_days=sc.supply.full_effect_days,
        min_effectiveness=sc.supply.min_effectiveness,
        route_names=tuple(r.name for r in routes),
        capacity=capacity,
        convoys_per_day=convoys,
        convoy_load=capacity / np.where(convoys > 0, convoys, 1.0),
        interdiction_base=_floats([r.interdiction_base for r in routes]),
        interdiction_full=_floats([r.interdiction_at_full_control for r in routes]),
        under_fire_at=_floats([r.under_fire_at for r in routes]),
        cut_at=_floats([r.cut_at_control for r in routes]),
        restore_below=_floats([r.restore_below_control for r in routes]),
        adjacency=adjacency,
        flank_weight=sc.encirclement.flank_weight,
        closure_flank_control=sc.encirclement.closure_flank_control,
        withdraw_on_triggers=sc.policy.kind == "threshold",
        combine=sc.policy.combine,
        first_review_day=sc.policy.first_review_day,
        review_interval_days=sc.policy.review_interval_days,
        decision_latency_days=sc.policy.decision_latency_days,
        rolling_window_days=sc.policy.rolling_window_days,
        triggers=tuple(
            TriggerParams(t.name, t.measure, t.op, t.threshold) for t in sc.policy.triggers
        ),
        withdrawal_days=sc.withdrawal.duration_days,
        withdrawal_loss_rate=sc.withdrawal.loss_rate_per_day,
        withdrawal_loss_rate_no_routes=sc.withdrawal.loss_rate_no_routes_per_day,
        spread_waves=_spread_waves(sc),
    )


def _spread_waves(scenario: Scenario) -> tuple[SpreadWave, ...]:
    """The waves spread over a window (``duration_days`` > 0), in the order written."""
    out = []
    for side_name in ("defender", "attacker"):
        side = getattr(scenario, side_name)
        for wave in side.waves:
            if wave.duration_days > 0:
                quality = wave.quality if wave.quality is not None else side.quality
                out.append(SpreadWave(side_name, wave.day, wave.duration_days, wave.personnel,
                                      quality))
    return tuple(out)
