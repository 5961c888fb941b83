"""Schema tables of the ground and supply: ``[[sectors]]``, ``[advance]``, ``[supply]``,
``[[routes]]`` and ``[encirclement]``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from siege.model.advance import ADVANCE_LAWS
from siege.scenario.fields import Fraction, Name, Probability, Strict
from siege.scenario.paths import KeyedError

# the allowed values of `advance.law` come from the model's registry of advance laws (type
# checkers see a plain string)
if TYPE_CHECKING:
    AdvanceLawName = str
else:
    AdvanceLawName = Literal[tuple(ADVANCE_LAWS)]


class Sector(Strict):
    """A sector of the front; control is the attacker's fraction of it (0..1)."""

    name: Name
    control: Fraction = Field(0.0, description="Attacker control on day 0 (fraction).")
    attacker_effort: float = Field(
        1.0, ge=0, description="Relative share of the attacker's force committed here (weight)."
    )
    defender_effort: float = Field(
        1.0, ge=0, description="Relative share of the defender's force committed here (weight)."
    )
    advance_rate: float = Field(
        0.01,
        ge=0,
        le=10,
        description="Fastest change of control at an overwhelming local force ratio (1/day; "
        "advance law `tanh`); with law `dupuy`, the change at twice parity; not read by law "
        "`losses`.",
    )
    terrain: float = Field(
        1.0, gt=0, le=10, description="Multiplier on the advance rate (urban < 1 < open)."
    )
    fortified: bool = Field(
        False, description="Part of the fortified town (the fortification multiplier applies)."
    )
    flank: bool = Field(False, description="A flank: its control drives the encirclement threat.")


class Advance(Strict):
    """How control moves with the local force ratio R (attacker over defender effective strength).

    Per step: ``dc = advance_rate * terrain * multiplier * drive(R) * dt * G``, with G a
    gamma variate of mean 1 and coefficient of variation ``noise_cv`` and ``drive`` given by
    the law (see `law`); gains scale with the ground still to take (1 - c), losses with the
    ground held (c). With law `losses` the rate is 1/day instead of the sectors' rates:
    ``dc = ground_per_loss * l * dt * G * (1 - c)``, l the sector's defender losses per day
    as a fraction of its defenders.
    """

    law: AdvanceLawName = Field(
        "tanh",
        description="Advance law, the drive at local force ratio R: "
        + "; ".join(f"`{law.name}`: {law.description}" for law in ADVANCE_LAWS.values())
        + ".",
    )
    sensitivity: float = Field(
        1.0,
        gt=0,
        le=100,
        description="Steepness of the response to the force ratio (law `tanh`).",
    )
    parity: float = Field(
        1.0,
        gt=0,
        le=100,
        description="Local effective force ratio at which the line does not move (ratio).",
    )
    exponent: float = Field(
        1.0,
        gt=0,
        le=5,
        description="Exponent of the excess of combat power over parity, (R / parity - 1), "
        "in the drive (dimensionless; law `dupuy`): 1, the rate grows in proportion to the "
        "excess; below 1, less than in proportion.",
    )
    ground_per_loss: float = Field(
        10.0,
        gt=0,
        le=100,
        description="Share of the ground still held that passes to the attacker per unit of "
        "the sector's defender losses as a fraction of its defenders (dimensionless; law "
        "`losses`): a garrison without reinforcements holds (strength / day-0 "
        "strength)**ground_per_loss of its ground. Assumption: 10 gives up nine tenths of a "
        "position at a fifth of its defenders lost, the median loss of beaten defenders in "
        "CDB90.",
    )
    noise_cv: float = Field(
        0.5, ge=0, le=10, description="Day-to-day variability of the advance (coef. of variation)."
    )
    multiplier: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Global multiplier on advance rates, e.g. weather (dimensionless).",
    )
    campaign_cv: float = Field(
        0.0,
        ge=0,
        le=5,
        description=(
            "Spread of the attacker's tempo between replications: each replication's advance "
            "rates are multiplied by one gamma variate of mean 1 and this coefficient of "
            "variation, drawn at day 0 (uncertainty about how hard the attacker can push)."
        ),
    )


    @model_validator(mode="after")
    def _law_reads(self) -> Advance:
        # compared with the default: a dumped scenario, validated again, sets every key
        default = type(self).model_fields["ground_per_loss"].default
        if self.ground_per_loss != default and "ground_per_loss" not in ADVANCE_LAWS[
            self.law
        ].reads:
            raise KeyedError(
                ("ground_per_loss",),
                f"advance law '{self.law}' does not read ground_per_loss; remove it or set "
                "law = "
                + " or ".join(
                    f"'{law.name}'" for law in ADVANCE_LAWS.values()
                    if "ground_per_loss" in law.reads
                ),
            )
        return self


# --------------------------------------------------------------------------------------------
# supply


class Supply(Strict):
    """The defender's stockpile, its consumption and the effect of running short."""

    stockpile_tonnes: float = Field(
        0.0, ge=0, description="Stockpile in the town on day 0 (tonnes)."
    )
    storage_tonnes: float = Field(
        math.inf,
        gt=0,
        description=(
            "Most the town can hold (tonnes); convoys bring no more than fills it. inf: no limit."
        ),
    )
    consumption_tonnes_per_person_day: float = Field(
        0.0, ge=0, le=10, description="Consumption per person present per day (tonnes)."
    )
    full_effect_days: float = Field(
        3.0,
        gt=0,
        description="Days of supply at and above which supply does not limit effectiveness (days).",
    )
    min_effectiveness: Fraction = Field(
        0.3, description="Effectiveness multiplier with an empty stockpile (fraction)."
    )


class Route(Strict):
    """A named supply route into the town.

    Each convoy is lost with probability
    ``interdiction_base + (interdiction_at_full_control - interdiction_base) * c``, c the
    highest attacker control among the adjacent sectors. The route is cut (nothing gets through)
    once c reaches ``cut_at_control`` and reopens when c falls below ``restore_below_control``.
    An air or sea route (``kind``) is never cut by ground control (only interdicted).
    """

    name: Name
    kind: Literal["ground", "air", "sea"] = Field(
        "ground",
        description="ground: cut by the control of its sectors; air or sea: never cut by "
        "ground control, only interdicted, so it supplies a closed pocket.",
    )
    sectors: tuple[Name, ...] = Field(
        (), description="Adjacent sectors, by name, whose control threatens the route."
    )
    capacity_tonnes_per_day: float = Field(
        gt=0, description="Deliveries per day with every convoy getting through (tonnes/day)."
    )
    convoys_per_day: float = Field(
        4.0, gt=0, le=1000, description="Convoys sent per day, evenly spaced (count/day)."
    )
    interdiction_base: Probability = Field(
        0.0, description="Probability a convoy is lost with no adjacent attacker control."
    )
    interdiction_at_full_control: Probability = Field(
        0.5, description="Probability a convoy is lost when adjacent control is 1."
    )
    under_fire_at: Probability = Field(
        0.2,
        description="Interdiction probability at which the route counts as under fire.",
    )
    cut_at_control: float = Field(
        0.8, gt=0, le=1, description="Adjacent control at which the route is cut (fraction)."
    )
    restore_below_control: Fraction = Field(
        0.6, description="A cut route reopens when adjacent control falls below this (fraction)."
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> Route:
        if self.kind != "ground":
            for key in ("cut_at_control", "restore_below_control"):
                # compared with the default: a dumped scenario, validated again, sets every key
                if getattr(self, key) != type(self).model_fields[key].default:
                    raise KeyedError(
                        (key,),
                        f"an {self.kind} route is never cut by ground control; remove {key} "
                        "(its losses are interdiction_base and interdiction_at_full_control)",
                    )
        if self.restore_below_control > self.cut_at_control:
            raise ValueError(
                f"restore_below_control ({self.restore_below_control:g}) must not exceed "
                f"cut_at_control ({self.cut_at_control:g})"
            )
        return self


class Encirclement(Strict):
    """The encirclement-threat measure and the closing of the pocket.

    ``threat = flank_weight * mean flank control + (1 - flank_weight) * (1 - open capacity)``,
    open capacity being the share of route capacity neither cut nor interdicted. The pocket
    closes when every ground route is cut and mean flank control reaches
    ``closure_flank_control`` (ending the run ``encircled``, unless a ``[pocket]`` holds out).
    """

    flank_weight: Fraction = Field(0.5, description="Weight of flank control in the threat.")
    closure_flank_control: float = Field(
        0.9, gt=0, le=1, description="Mean flank control at which the pocket can close."
    )
