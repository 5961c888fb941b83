"""Advance laws: name -> how hard the front is pushed at a local force ratio, over arrays.

A law is one function and one entry in :data:`ADVANCE_LAWS`; the scenario schema takes its
allowed values (``advance.law``) and their documentation from here. Each function maps the
local effective force ratio R (attacker over defender, fortification and supply included),
shape ``(n, s)``, to a signed *drive* (a new array): the change of control per day is
``sector_rate * drive * noise`` times the ground left to take (drive > 0) or the ground held
(drive < 0), see :func:`siege.model.rules.advance_control`. Every engine (batch, event, mean)
calls the law through :func:`drive`, so they share it.

``tanh`` (the default) saturates: ``|drive| < 1``, so above a few times parity more force
buys no more ground, and the end date is set by the sectors' ``advance_rate``.

``dupuy`` does not saturate: ``drive = (R / parity - 1) ** exponent`` above parity (and the
mirror image, ``-(parity / R - 1) ** exponent``, below it), so ground keeps answering to force
over the whole range of ratios. It puts into a formula three of T. N. Dupuy's advance-rate
verities (Understanding War, 1987, as listed by The Dupuy Institute, "Trevor Dupuy's Combat
Advance Rate Verities", https://dupuyinstitute.org/category/dupuys-verities/page/3/):
"advance against opposition requires local combat power preponderance" (no advance at or
below ``parity``, a *combat-power* ratio), "there is no direct relationship between advance
rates and force strength ratios" (R is a ratio of combat power, personnel times quality,
fortification and supply, not of headcounts), and "advance rates vary inversely with the
strength of the defender's fortifications" (the fortification multiplier divides R). The
sector's ``advance_rate`` is then the rate at twice parity (drive 1). The shape of the curve
(``exponent``; 1 by default: the rate grows in proportion to the excess of combat power over
parity) is an assumption: Dupuy's tabulated opposed advance rates (Numbers, Predictions and
War, 1979) were not available to check it against, and CDB90's battles do not support it: the
pace of an advance there does not rise with the force ratio, only the chance of advancing does,
as ``tanh`` has it (:mod:`siege.analysis.advance_fit`, ``docs/scripts/cdb90_advance.py``).

``losses`` buys ground with the defender's losses: a sector's control grows by
``ground_per_loss * (1 - c) * l`` a day, ``l`` the defenders' expected losses per day in the
sector as a fraction of the defenders there (the attrition law's losses of the whole garrison,
shared over the sectors as the same law applied to each sector's forces shares them; see
:func:`siege.model.transitions.sector_loss_rates`). More attackers (more losses under any
attrition law) take ground faster with no ceiling, and a garrison without reinforcements
holds ``(strength / day-0 strength) ** ground_per_loss`` of each sector: a garrison nearly
spent has lost nearly all its ground. ``ground_per_loss`` is an assumption, bracketed by the
breakpoints of CDB90 (beaten defenders lost 9 %, 20 % and 38 % of their strength at the
quartiles, :mod:`siege.analysis.cdb90`): a position given up (nine tenths of it) at a fifth
of the garrison lost is ``ln 0.1 / ln 0.8``, about 10. Ground is not given back (no rule
says which losses of the attacker would give it back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.model.params import ModelParams
from siege.model.rules import advance_drive, per_row

F64 = NDArray[np.float64]
Drive = Callable[[F64, F64 | None, ModelParams], F64]

#: bounds on the ratio the dupuy law reads (a side with nobody in a sector gives 0 or inf):
#: far outside any ratio that occurs, they keep the drive finite so that gains stay finite
RATIO_BOUNDS = (1e-12, 1e12)


@dataclass(frozen=True)
class AdvanceLaw:
    """An advance law: ``drive(force_ratio (n, s), sector_losses (n, s) or None, params) ->
    (n, s)`` (a new array). ``sector_losses`` is given only to a law that ``reads_losses``:
    each sector's expected defender losses per day as a fraction of the defenders there."""

    name: str
    description: str  # the law, for the scenario reference
    drive: Drive
    reads: tuple[str, ...] = ()  # the [advance] keys it reads besides the sectors' rates
    reads_losses: bool = False  # its drive reads the defender's losses per sector
    paced: bool = True  # its drive is multiplied by the sectors' rates (else by 1/day)


def tanh(force_ratio: F64, sector_losses: F64 | None, params: ModelParams) -> F64:
    """``tanh(sensitivity * ln(R / parity))``: saturating, in (-1, 1)."""
    return advance_drive(force_ratio, params.sensitivity, params.parity)


def dupuy(force_ratio: F64, sector_losses: F64 | None, params: ModelParams) -> F64:
    """``(R / parity - 1) ** exponent`` for R >= parity, ``-(parity / R - 1) ** exponent``
    below: 0 at parity, 1 at twice parity, unbounded above (no saturation)."""
    x = np.clip(force_ratio, *RATIO_BOUNDS)
    x /= per_row(params.parity)
    ahead = x >= 1.0
    # R / parity above parity, parity / R below it: the excess of the stronger side, >= 0
    excess = np.where(ahead, x, np.reciprocal(x))
    excess -= 1.0
    np.power(excess, per_row(params.advance_exponent), out=excess)
    return np.where(ahead, excess, -excess)


def losses(force_ratio: F64, sector_losses: F64 | None, params: ModelParams) -> F64:
    """``ground_per_loss * sector_losses`` (1/day): the ground still held passes to the
    attacker at ``ground_per_loss`` times the rate at which the sector's defenders are lost
    (their expected losses per day over the defenders there); never negative."""
    if sector_losses is None:
        raise ValueError("the losses advance law needs the defender's losses per sector")
    return sector_losses * per_row(params.ground_per_loss)


ADVANCE_LAWS: dict[str, AdvanceLaw] = {
    law.name: law
    for law in (
        AdvanceLaw(
            "tanh",
            "tanh(sensitivity * ln(R / parity)); saturates, |drive| < 1, so `advance_rate` is "
            "the fastest change of control",
            tanh,
            reads=("sensitivity", "parity"),
        ),
        AdvanceLaw(
            "dupuy",
            "(R / parity - 1)**exponent above parity, -(parity / R - 1)**exponent below; no "
            "saturation, `advance_rate` is the rate at twice parity (after Dupuy's advance-rate "
            "verities: local combat-power preponderance needed, rates fall with fortification)",
            dupuy,
            reads=("parity", "exponent"),
        ),
        AdvanceLaw(
            "losses",
            "ground_per_loss * (the sector's defender losses per day / the defenders there); "
            "ground is bought with the defender's losses, with no ceiling (a garrison with no "
            "reinforcements holds (strength / day-0 strength)**ground_per_loss of its "
            "ground), and never given back; the sectors' `advance_rate`, `terrain` and "
            "`advance.multiplier` are not used",
            losses,
            reads=("ground_per_loss",),
            reads_losses=True,
            paced=False,
        ),
    )
}


def drive(force_ratio: F64, params: ModelParams, sector_losses: F64 | None = None) -> F64:
    """The drive of the law in force (``params.advance_law``) at ratios ``(n, s)`` (and the
    defender's losses per sector, ``(n, s)`` per day, for a law that reads them)."""
    return ADVANCE_LAWS[params.advance_law].drive(force_ratio, sector_losses, params)
