"""Attrition laws: name -> the expected losses per day of each side, over arrays.

A law is one function and one entry in :data:`LAWS`; the scenario schema takes its allowed
values (``attrition.law``) and their documentation from here. Each function returns the
expected losses per day ``(defender, attacker)``, shapes ``(n,)``, from the personnel present
and each side's fire (kill rate times effectiveness) ``(n,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siege.model.params import AttritionParams

F64 = NDArray[np.float64]
Rates = Callable[[F64, F64, F64, F64, AttritionParams], tuple[F64, F64]]
#: the [attrition] keys of the per-side law "general" (dimensionless exponents)
GENERAL_EXPONENTS = ("attacker_firer_exponent", "defender_target_exponent",
                     "defender_firer_exponent", "attacker_target_exponent")


@dataclass(frozen=True)
class Law:
    """An attrition law: ``rates(attacker, defender, attacker_fire, defender_fire, params)``."""

    name: str
    description: str  # the law, for the scenario reference
    rates: Rates
    reads: tuple[str, ...] = ()  # the [attrition] keys it reads besides the kill rates


def square(
    attacker: F64, defender: F64, attacker_fire: F64, defender_fire: F64, p: AttritionParams
) -> tuple[F64, F64]:
    """Aimed fire: dD/dt = -a A (kill rates in casualties per firer-day)."""
    return attacker_fire * attacker, defender_fire * defender


def linear(
    attacker: F64, defender: F64, attacker_fire: F64, defender_fire: F64, p: AttritionParams
) -> tuple[F64, F64]:
    """Area fire: dD/dt = -a A D (kill rates per firer-target-day)."""
    both = attacker * defender
    return attacker_fire * both, defender_fire * both


def helmbold(
    attacker: F64, defender: F64, attacker_fire: F64, defender_fire: F64, p: AttritionParams
) -> tuple[F64, F64]:
    """Helmbold's form: dD/dt = -a A (D/A)^(1-W); W = 1 is the square law. A side with nobody
    present inflicts no losses."""
    power = 1.0 - p.helmbold_exponent
    if attacker.size and min(attacker.min(), defender.min()) >= 1e-300:  # both sides present
        d_rate = attacker_fire * attacker
        d_rate *= (defender / attacker) ** power
        a_rate = defender_fire * defender
        a_rate *= (attacker / defender) ** power
        return d_rate, a_rate
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(attacker > 0, defender / np.maximum(attacker, 1e-300), 0.0)
        d_rate = attacker_fire * attacker * np.where(attacker > 0, ratio**power, 0.0)
        inv = np.where(defender > 0, attacker / np.maximum(defender, 1e-300), 0.0)
        a_rate = defender_fire * defender * np.where(defender > 0, inv**power, 0.0)
    return d_rate, a_rate


def general(
    attacker: F64, defender: F64, attacker_fire: F64, defender_fire: F64, p: AttritionParams
) -> tuple[F64, F64]:
    """The general law ``a A^p D^q`` with each side's own exponents (Bracken's generalised
    Lanchester form, per side): dD/dt = -a A**attacker_firer D**defender_target,
    dA/dt = -b D**defender_firer A**attacker_target. A side with nobody present inflicts no
    losses (0**0 would otherwise count as 1)."""
    d_rate = attacker_fire * _power(attacker, p.attacker_firer_exponent)
    d_rate *= _power(defender, p.defender_target_exponent)
    a_rate = defender_fire * _power(defender, p.defender_firer_exponent)
    a_rate *= _power(attacker, p.attacker_target_exponent)
    if attacker.size and min(attacker.min(), defender.min()) > 0:  # both sides present
        return d_rate, a_rate
    return np.where(attacker > 0, d_rate, 0.0), np.where(defender > 0, a_rate, 0.0)


def _power(base: F64, exponent: float | F64) -> F64 | float:
    """``base ** exponent``; a number exponent of 1 or 0 without computing a power."""
    if np.ndim(exponent) == 0 and exponent == 1.0:
        return base
    if np.ndim(exponent) == 0 and exponent == 0.0:
        return 1.0
    return np.asarray(np.power(base, exponent), dtype=np.float64)


LAWS: dict[str, Law] = {
    law.name: law
    for law in (
        Law("square", "aimed fire, f = A (kill rates in casualties per firer-day)", square),
        Law(
            "linear",
            "area fire, f = A*D (kill rates in casualties per firer-target-day)",
            linear,
        ),
        Law(
            "helmbold",
            "f = A*(D/A)**(1 - helmbold_exponent) (Helmbold's form, kill rates per firer-day; "
            "exponent 1 is square)",
            helmbold,
            reads=("helmbold_exponent",),
        ),
        Law(
            "general",
            "f = A**attacker_firer_exponent * D**defender_target_exponent for the defender's "
            "losses and D**defender_firer_exponent * A**attacker_target_exponent for the "
            "attacker's (each side its own exponents; kill rates per firer**p target**q-day; "
            "1 and 0 is square, 1 and 1 linear, W and 1 - W Helmbold's)",
            general,
            reads=GENERAL_EXPONENTS,
        ),
    )
}
