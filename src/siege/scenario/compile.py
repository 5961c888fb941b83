"""A scenario laid out as the model's parameters: the values the rules read, as numbers and
arrays (per sector, per route, per trigger)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.model.laws import GENERAL_EXPONENTS
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
            **{key: getattr(att, key) for key in GENERAL_EXPONENTS},
        ),
        fortification_multiplier=sc.fortification.multiplier,
        erosion_exponent=sc.fortification.erosion_exponent,
        fortification_decay_per_day=sc.fortification.decay_per_day,
        advance_law=sc.advance.law,
        sensitivity=sc.advance.sensitivity,
        parity=sc.advance.parity,
        advance_exponent=sc.advance.exponent,
        ground_per_loss=sc.advance.ground_per_loss,
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
        route_ground=np.array([r.kind == "ground" for r in routes], dtype=bool),
        flank_weight=sc.encirclement.flank_weight,
        closure_flank_control=sc.encirclement.closure_flank_control,
        **_capture_and_pocket(sc),
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


def _capture_and_pocket(scenario: Scenario) -> dict[str, Any]:
    """The capture and pocket parameters (inf, -inf and NaN where a rule is not used)."""
    cap, poc = scenario.capture, scenario.pocket
    inf = math.inf

    def given(value: float | None, default: float) -> float:
        return default if value is None else value

    return {
        "capture_control": inf if cap is None else cap.capture_control,
        "escape_fraction": 0.0 if cap is None else cap.escape_fraction,
        "escape_fraction_no_routes": 0.0 if cap is None else cap.escape_fraction_no_routes,
        "pocket": poc is not None,
        "reinforced_in_pocket": poc is not None and poc.reinforced_in_pocket,
        "surrender_strength_fraction": -inf if poc is None else given(
            poc.surrender_strength_fraction, -inf),
        "surrender_supply_days": -inf if poc is None else given(poc.surrender_supply_days, -inf),
        "surrender_shortfall_days": inf if poc is None else given(
            poc.surrender_shortfall_days, inf),
        "relief_day": inf if poc is None else given(poc.relief_day, inf),
        "relief_flank_control": math.nan if poc is None else given(
            poc.relief_flank_control, math.nan),
    }


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


# ------------------------------------------------------------------------------------------
# one value per replication

_FORCE_KEYS = ("strength", "quality", "reinforcement_rate", "trained_reserves",
               "replacement_rate", "replacement_quality")
#: scenario table.key -> the ModelParams attribute it sets, for values that may vary per
#: replication (sectors' and routes' keys are below)
_VARYING: dict[str, str] = {
    **{f"{side}.{key}": f"{side}.{key}"
       for side in ("defender", "attacker") for key in _FORCE_KEYS},
    "defender.collapse_fraction": "collapse_fraction",
    "attacker.culmination_fraction": "culmination_fraction",
    "attrition.helmbold_exponent": "attrition.helmbold_exponent",
    "attrition.attacker_kill_rate": "attrition.attacker_kill_rate",
    "attrition.defender_kill_rate": "attrition.defender_kill_rate",
    "fortification.multiplier": "fortification_multiplier",
    "fortification.erosion_exponent": "erosion_exponent",
    "fortification.decay_per_day": "fortification_decay_per_day",
    "advance.sensitivity": "sensitivity",
    "advance.parity": "parity",
    "advance.exponent": "advance_exponent",
    "advance.ground_per_loss": "ground_per_loss",
    **{f"attrition.{key}": f"attrition.{key}" for key in GENERAL_EXPONENTS},
    "supply.stockpile_tonnes": "stockpile_tonnes",
    "supply.full_effect_days": "full_effect_days",
    "supply.min_effectiveness": "min_effectiveness",
    "encirclement.flank_weight": "flank_weight",
    "encirclement.closure_flank_control": "closure_flank_control",
    "policy.decision_latency_days": "decision_latency_days",
    "withdrawal.loss_rate_per_day": "withdrawal_loss_rate",
    "withdrawal.loss_rate_no_routes_per_day": "withdrawal_loss_rate_no_routes",
    **{f"capture.{key}": key
       for key in ("capture_control", "escape_fraction", "escape_fraction_no_routes")},
    **{f"pocket.{key}": key for key in ("surrender_strength_fraction", "surrender_supply_days",
                                        "surrender_shortfall_days")},
}
#: optional tables: their keys vary per replication only where a scenario has the table
OPTIONAL_TABLES = ("capture", "pocket")
_SECTOR_KEYS = ("advance_rate", "terrain")  # and advance.multiplier: the sector rates
_ROUTE_KEYS = {"interdiction_base": "interdiction_base",
               "interdiction_at_full_control": "interdiction_full",
               "under_fire_at": "under_fire_at", "cut_at_control": "cut_at",
               "restore_below_control": "restore_below"}
_FIXED_WHY = {
    "advance.noise_cv": "it sets the spread of the daily advance noise, drawn with one spread "
                        "per block",
    "advance.campaign_cv": "it sets the spread of the campaign tempo, drawn with one spread "
                           "per block",
    "attrition.overdispersion": "it chooses how losses are drawn (Poisson or negative "
                                "binomial), once per block",
    "attrition.law": "it is a name, not a number",
    "advance.law": "it is a name, not a number",
    "supply.storage_tonnes": "it decides whether deliveries are capped, once per block",
    "supply.consumption_tonnes_per_person_day": "it decides whether supply is modelled, once "
                                                "per block",
}
_WHEN_KEYS = ("horizon_days", "time_step_days", "counteroffensive_day", "review_interval_days",
              "first_review_day", "rolling_window_days", "duration_days", "day")


def why_not_varied(scenario: Scenario, path: str) -> str | None:
    """Why ``path`` cannot take one value per replication (None if it can): only the numbers
    the rules read as arrays may, and not one that a dated event sets (the event's value
    would be lost)."""
    parts = path.split(".")
    if path in _FIXED_WHY:
        why = _FIXED_WHY[path]
    elif parts[0] in OPTIONAL_TABLES and getattr(scenario, parts[0]) is None:
        why = f"the scenario has no [{parts[0]}] table"
    elif path in _VARYING or path == "advance.multiplier":
        why = None
    elif len(parts) == 3 and parts[0] == "sectors" and parts[2] in _SECTOR_KEYS:
        why = None
    elif len(parts) == 3 and parts[0] == "routes" and parts[2] in _ROUTE_KEYS:
        why = None
    elif len(parts) == 4 and parts[:2] == ["policy", "triggers"] and parts[3] == "threshold":
        why = None
    elif parts[-1] in _WHEN_KEYS:
        why = "it sets when something happens, the same for the whole block"
    else:
        why = "it is read as one value for the whole block"
    if why is not None:
        return f"'{path}' cannot take one value per replication: {why}"
    for event in scenario.events:
        if path in event.set:
            return (f"'{path}' is set by a dated event on day {event.day:g}; a value per "
                    "replication would be overwritten there")
    return None


def build_varied_params(
    scenario: Scenario, values: Mapping[str, NDArray[np.float64]]
) -> ModelParams:
    """The model's parameters of ``scenario`` with each dotted path of ``values`` taking one
    value per replication, ``(n,)`` each (every path one :func:`why_not_varied` allows; the
    values valid for the schema, which the caller checks)."""
    params = build_params(scenario)
    if not values:
        return params
    sizes = {np.shape(v) for v in values.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise ValueError(f"per-replication values must all have one shape (n,); got {sizes}")
    n = next(iter(sizes))[0]
    changes: dict[str, NDArray[np.float64]] = {}
    sector_rate = False
    for path, rows in values.items():
        why = why_not_varied(scenario, path)
        if why is not None:
            raise ValueError(why)
        rows = np.asarray(rows, dtype=np.float64)
        parts = path.split(".")
        named = {"sectors": params.sector_names, "routes": params.route_names,
                 "policy": params.trigger_names}.get(parts[0], ())
        if len(parts) > 2 and parts[-2] not in named:
            raise ValueError(f"'{path}': no {parts[-3].rstrip('s')} named '{parts[-2]}'")
        if path in _VARYING:
            changes[_VARYING[path]] = rows
        elif path == "advance.multiplier" or parts[0] == "sectors":
            sector_rate = True
        elif parts[0] == "routes":
            name = _ROUTE_KEYS[parts[2]]
            if name not in changes:
                changes[name] = np.asfortranarray(
                    np.broadcast_to(getattr(params, name), (n, params.n_routes)))
            changes[name][:, params.route_names.index(parts[1])] = rows
        else:
            names = params.trigger_names
            changes[f"triggers.{names.index(parts[2])}.threshold"] = rows
    if sector_rate:
        changes["sector_rate"] = _sector_rates(scenario, values, n)
    return params.vary(changes)


def _sector_rates(
    scenario: Scenario, values: Mapping[str, NDArray[np.float64]], n: int
) -> NDArray[np.float64]:
    """``advance_rate * terrain * advance.multiplier`` of each sector, ``(n, s)``, as
    :func:`build_params` computes it, with the values per replication given."""
    multiplier = values.get("advance.multiplier", scenario.advance.multiplier)
    out = np.empty((n, len(scenario.sectors)), order="F")
    for j, s in enumerate(scenario.sectors):
        rate = values.get(f"sectors.{s.name}.advance_rate", s.advance_rate)
        terrain = values.get(f"sectors.{s.name}.terrain", s.terrain)
        out[:, j] = np.multiply(rate, terrain) * multiplier
    return out
