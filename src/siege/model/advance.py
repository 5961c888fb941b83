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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.model.params import ModelParams
from siege.model.rules import advance_drive, per_row

F64 = NDArray[np.float64]
Drive = Callable[[F64, ModelParams], F64]

#: bounds on the ratio the dupuy law reads (a side with nobody in a sector gives 0 or inf):
#: far outside any ratio that occurs, they keep the drive finite so that gains stay finite
RATIO_BOUNDS = (1e-12, 1e12)


@dataclass(frozen=True)
class AdvanceLaw:
    """An advance law: ``drive(force_ratio (n, s), params) -> (n, s)`` (a new array)."""

    name: str
    description: str  # the law, for the scenario reference
    drive: Drive
    reads: tuple[str, ...] = ()  # the [advance] keys it reads besides the sectors' rates


def tanh(force_ratio: F64, params: ModelParams) -> F64:
    """``tanh(sensitivity * ln(R / parity))``: saturating, in (-1, 1)."""
    return advance_drive(force_ratio, params.sensitivity, params.parity)


def dupuy(force_ratio: F64, params: ModelParams) -> F64:
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
    )
}


def drive(force_ratio: F64, params: ModelParams) -> F64:
    """The drive of the law in force (``params.advance_law``) at ratios ``(n, s)``."""
    return ADVANCE_LAWS[params.advance_law].drive(force_ratio, params)
