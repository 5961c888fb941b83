"""Schema tables of the two forces and how they fight: ``[defender]``, ``[attacker]`` (with
their dated waves), ``[attrition]`` and ``[fortification]``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from siege.model.laws import LAWS
from siege.scenario.fields import MAX_HORIZON_DAYS, Fraction, Strict

# the allowed values of `attrition.law` come from the model's registry of laws (type checkers
# see a plain string)
if TYPE_CHECKING:
    LawName = str
else:
    LawName = Literal[tuple(LAWS)]


class Wave(Strict):
    """A dated reinforcement: personnel that arrive at once, or spread evenly over a window."""

    day: float = Field(
        ge=0, description="Arrival day, or the start of the window (days from day 0)."
    )
    personnel: float = Field(ge=0, description="Personnel arriving (persons).")
    duration_days: float = Field(
        0.0,
        ge=0,
        le=MAX_HORIZON_DAYS,
        description="Days over which the personnel arrive, evenly: personnel / duration_days "
        "persons a day from `day` on (days); 0: all at once on `day`.",
    )
    quality: float | None = Field(
        None,
        gt=0,
        le=10,
        description="Quality of the wave (multiplier); default: the side's `quality`.",
    )


class _Force(Strict):
    strength: float = Field(
        ge=0,
        le=1e8,
        description="Personnel present on day 0 (persons); 0: the side arrives later, by waves "
        "or reinforcement (it cannot then collapse or culminate: those are fractions of day 0).",
    )
    quality: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Combat effectiveness multiplier of the day-0 force and trained troops.",
    )
    reinforcement_rate: float = Field(
        0.0,
        ge=0,
        description="Trained personnel sent per day while trained reserves last (persons/day).",
    )
    trained_reserves: float = Field(
        math.inf,
        ge=0,
        description="Pool the reinforcement rate draws on (persons); inf: unlimited.",
    )
    replacement_rate: float = Field(
        0.0,
        ge=0,
        description=(
            "Untrained replacements per day, not drawn from the trained pool (persons/day)."
        ),
    )
    replacement_quality: float = Field(
        0.5,
        gt=0,
        le=10,
        description="Quality of untrained replacements (multiplier, same scale as `quality`).",
    )
    waves: tuple[Wave, ...] = Field(
        (), description="Dated reinforcement waves ([[defender.waves]] / [[attacker.waves]])."
    )


class Defender(_Force):
    """The garrison of the town."""

    collapse_fraction: Fraction = Field(
        0.25,
        description=(
            "The defence collapses when personnel present fall below this fraction of day-0 "
            "strength (fraction). Default 0.25 in a siege; 0 (fight on) in an engagement, a "
            "scenario with no sectors and no routes."
        ),
    )


class Attacker(_Force):
    """The besieging force."""

    culmination_fraction: Fraction = Field(
        0.3,
        description=(
            "The attacker culminates (can no longer attack) when its combat power, personnel "
            "times mean quality, falls below this fraction of its day-0 combat power (fraction). "
            "Default 0.3 in a siege; 0 (fight on) in an engagement."
        ),
    )


# --------------------------------------------------------------------------------------------
# attrition and fortification


class Attrition(Strict):
    """Stochastic Lanchester attrition.

    With A attackers and D defenders, expected defender losses per day are
    ``attacker_kill_rate * E_A * f(A, D)`` and attacker losses
    ``defender_kill_rate * E_D * f(D, A)``, E being each side's effectiveness and f given by
    the law (see `law`).

    Losses are Poisson counts, or negative binomial with ``overdispersion`` > 0
    (variance = mean + overdispersion * mean**2), never more than the force present.
    """

    law: LawName = Field(
        "square",
        description="Attrition law: "
        + "; ".join(f"`{law.name}`: {law.description}" for law in LAWS.values())
        + ".",
    )
    helmbold_exponent: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Helmbold exponent W in [0, 1] (dimensionless); used when law = "
        + " or ".join(f"'{law.name}'" for law in LAWS.values() if "helmbold_exponent" in law.reads)
        + ".",
    )
    attacker_firer_exponent: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Exponent p of the attackers present A in the defender's losses, "
        "a E_A A**p D**q (dimensionless; law 'general').",
    )
    defender_target_exponent: float = Field(
        0.0,
        ge=0,
        le=2,
        description="Exponent q of the defenders present D in the defender's losses "
        "(dimensionless; law 'general').",
    )
    defender_firer_exponent: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Exponent p of the defenders present D in the attacker's losses, "
        "b E_D D**p A**q (dimensionless; law 'general').",
    )
    attacker_target_exponent: float = Field(
        0.0,
        ge=0,
        le=2,
        description="Exponent q of the attackers present A in the attacker's losses "
        "(dimensionless; law 'general').",
    )
    attacker_kill_rate: float = Field(
        ge=0,
        description=(
            "Defender casualties caused per unit of attacker fire per day (unit depends on the "
            "law; see `law`)."
        ),
    )
    defender_kill_rate: float = Field(
        ge=0,
        description="Attacker casualties caused per unit of defender fire per day (as above).",
    )
    overdispersion: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Negative-binomial overdispersion 1/k (dimensionless); 0: Poisson losses.",
    )


class Fortification(Strict):
    """Fortified town: a multiplier on defender effectiveness that erodes as ground is lost.

    In fortified sectors the multiplier is
    ``1 + (multiplier - 1) * (1 - town_control)**erosion_exponent * exp(-decay_per_day * t)``,
    with town_control the attacker's mean control of the fortified sectors.
    """

    multiplier: float = Field(
        1.0, ge=1, le=100, description="Effectiveness multiplier of intact defences (>= 1)."
    )
    erosion_exponent: float = Field(
        1.0,
        ge=0,
        le=20,
        description="How fast the advantage falls as the town is taken (dimensionless).",
    )
    decay_per_day: float = Field(
        0.0, ge=0, le=10, description="Erosion by bombardment alone (1/day)."
    )
