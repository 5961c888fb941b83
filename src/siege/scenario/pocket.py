"""Schema tables of how a siege may end besides withdrawal and collapse: ``[capture]`` (the
town taken) and ``[pocket]`` (a closed pocket that holds out). Both are absent by default: a
scenario without them never ends ``captured``, and a closed pocket ends it ``encircled``."""

from __future__ import annotations

from pydantic import Field, model_validator

from siege.scenario.fields import Fraction, Strict
from siege.scenario.paths import KeyedError


class Capture(Strict):
    """The town falls when the attacker's mean control of the town sectors (every sector that
    is not a flank) reaches ``capture_control``: the run ends ``captured``. Of the garrison
    then present, a share gets out (interpolated between all ground route capacity open and
    none, as the withdrawal's losses are); the rest is lost (counted in `defender_losses`)."""

    capture_control: float = Field(
        gt=0,
        le=1,
        description="Mean attacker control of the non-flank sectors at which the town falls "
        "(fraction).",
    )
    escape_fraction: Fraction = Field(
        0.5,
        description="Share of the garrison present that gets out of the falling town with "
        "every ground route open (fraction; assumption by default, set it from the siege).",
    )
    escape_fraction_no_routes: Fraction = Field(
        0.0,
        description="The same with no ground route open (fraction; by default none: a garrison "
        "with no way out is lost).",
    )


class Pocket(Strict):
    """A closed pocket (every ground route cut and mean flank control at
    `encirclement.closure_flank_control`) holds out instead of ending the run `encircled`.

    In the pocket the garrison gets no reinforcement or replacements unless
    `reinforced_in_pocket` (dated waves still arrive: air-landed or by sea), lives on its
    stockpile and on its air and sea routes, and fights on. A withdrawal the policy orders is
    a break-out, with the losses of a withdrawal with no route open. It ends `encircled` if it
    collapses in the pocket, `surrendered` when a surrender threshold is reached, `withdrew`
    if a break-out completes. The pocket lasts while every ground route stays cut; a dated
    relief ends the siege (`held`) or pushes the attacker back on the flanks so that the
    routes can reopen. A town may start encircled (flank control at closure and its ground
    routes cut on day 0); one with no ground route at all (only air or sea) is in its pocket
    from day 0."""

    reinforced_in_pocket: bool = Field(
        False,
        description="Whether the defender's reinforcement and replacement rates (and waves "
        "spread over a window) go on in the pocket, flown or shipped in; false: they stop.",
    )
    surrender_strength_fraction: float | None = Field(
        None,
        ge=0,
        le=1,
        description="In the pocket, the garrison surrenders when its personnel fall to this "
        "share of day-0 strength (fraction). None: never on strength.",
    )
    surrender_supply_days: float | None = Field(
        None,
        ge=0,
        description="In the pocket, the garrison surrenders when its days of supply fall to "
        "this (days; 0: when the stockpile is empty). None: never on supply.",
    )
    surrender_shortfall_days: float | None = Field(
        None,
        gt=0,
        description="In the pocket, the garrison surrenders once its stockpile has fallen "
        "short of consumption on this many days in all (days). None: never on hunger.",
    )
    relief_day: float | None = Field(
        None,
        ge=0,
        description="Day a relief or counter-offensive reaches the town (days from day 0). "
        "None: no relief.",
    )
    relief_flank_control: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Flank control the relief leaves (fraction): the attacker is pushed back "
        "to at most this on the flank sectors, ground routes reopen below their restore level, "
        "and the siege goes on. None: the relief ends the siege, `held`.",
    )

    @model_validator(mode="after")
    def _relief(self) -> Pocket:
        if self.relief_flank_control is not None and self.relief_day is None:
            raise KeyedError(("relief_flank_control",),
                             "relief_flank_control needs relief_day (the day of the relief)")
        return self
