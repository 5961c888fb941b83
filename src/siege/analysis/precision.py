"""How precise the estimated means are: targets for the half-width of their 95 % intervals
(``siege compare --precision``), and the replications a target needs, from the ``1/sqrt(n)``
law (:func:`~siege.analysis.stats.replications_needed`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from siege.analysis.stats import Interval, replications_needed
from siege.errors import CompareError
from siege.results.summary import COMPARE_MEASURES

#: Targets by measure (``"*"``: every measure without one): (half-width, relative to the
#: estimate?); a relative half-width is a fraction (0.05 for 5 %).
Targets = dict[str, tuple[float, bool]]


@dataclass(frozen=True)
class Precision:
    """Precision of an estimated mean (of a variant, or of a difference from the reference).

    ``half_width`` is that of the 95 % interval achieved with ``n`` replications;
    ``n_needed`` the replications for ``target`` (None without a target).
    """

    variant: str
    measure: str
    unit: str
    quantity: str
    n: int
    half_width: float
    target: float | None
    n_needed: int | None


def parse_precision(texts: Sequence[str] | None) -> Targets:
    """Precision targets: ``MEASURE=HALFWIDTH`` (in the measure's unit) or ``P%`` (relative
    to the estimate, for every measure without an absolute target).

    Returns ``{measure or "*": (value, relative)}``.
    """
    out: Targets = {}
    for text in texts or []:
        m = re.fullmatch(r"\s*(?:([A-Za-z_]+)\s*=\s*)?([0-9.eE+-]+)\s*(%?)\s*", text)
        if not m:
            raise _bad_target(text, "expected MEASURE=HALFWIDTH (e.g. end_day=2) or a "
                              "percentage of the estimate (e.g. 5%)")
        name, number, pct = m.group(1), m.group(2), m.group(3)
        try:
            value = float(number)
        except ValueError:
            raise _bad_target(text, f"{number!r} is not a number") from None
        if not value > 0:
            raise _bad_target(text, "the half-width must be positive")
        if name is not None and name not in COMPARE_MEASURES:
            raise _bad_target(
                text, f"unknown measure {name!r}; allowed: {', '.join(COMPARE_MEASURES)}"
            )
        out[name or "*"] = (value / 100 if pct else value, bool(pct))
    return out


def _bad_target(text: str, problem: str) -> CompareError:
    return CompareError(f"precision {text!r}: {problem}", parameter="precision")


def _target(targets: Targets, measure: str, estimate: float) -> float | None:
    if measure in targets:
        value, relative = targets[measure]
    elif "*" in targets:
        value, relative = targets["*"]
    else:
        return None
    return value * abs(estimate) if relative else value


def mean_precision(label: str, measure: str, unit: str, quantity: str, n: int, iv: Interval,
              targets: Targets) -> Precision:
    """The precision of an estimated mean ``iv`` from ``n`` replications, with the
    replications its target in ``targets`` needs (if it has one)."""
    target = _target(targets, measure, iv.estimate)
    needed = replications_needed(iv.half_width, n, target) if target is not None else None
    return Precision(label, measure, unit, quantity, n, iv.half_width, target, needed)
