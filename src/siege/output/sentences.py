"""The findings of a comparison (:mod:`siege.analysis.findings`) as plain sentences, each
number with its interval: "the siege ends 34 days later (27–41) in the median".

:func:`lead_sentence` sums up one variant against the reference (time and the garrison);
:func:`finding_sentences` says every finding, one sentence each, without repeating the
variants' names (the caller heads them). Plain text, so a report or a terminal can use them.
"""

from __future__ import annotations

import datetime as dt
import math

from siege.analysis.findings import Findings, MeasureFinding, ReasonFinding, excludes_zero
from siege.analysis.stats import Interval
from siege.output.calendar import fmt_date
from siege.output.terminal import fmt

# per measure: the subject of its sentence, then the words for a higher and a lower value
MEASURE_WORDS: dict[str, tuple[str, str, str]] = {
    "end_day": ("The siege ends", "later", "earlier"),
    "defender_losses": ("Defender losses are", "higher", "lower"),
    "attacker_losses": ("Attacker losses are", "higher", "lower"),
    "exchange_ratio": ("The exchange ratio (attacker losses per defender loss) is", "higher",
                       "lower"),
    "days_beyond_counteroffensive": ("Time held beyond the counter-offensive date is",
                                     "longer", "shorter"),
    "supply_shortfall_days": ("Days short of supply are", "more", "fewer"),
}
# per end reason: its subject and verb, for "... in 14 % of replications"
REASON_WORDS: dict[str, str] = {
    "held": "The town is held to the horizon",
    "withdrew": "The garrison withdraws",
    "encircled": "The garrison is lost in the pocket (encircled)",
    "collapsed": "The garrison is lost as it collapses below its breaking strength",
    "attacker_culminated": "The attacker's assault culminates",
}
# measures whose values are days of the siege: "on day 266", with the date when known
DAY_MEASURES = ("end_day",)
# units said with a difference ("34 days later"); others go without ("126 higher")
SPOKEN_UNITS = frozenset({"days"})


def number(x: float) -> str:
    """A number for a sentence: whole numbers without decimals, others as in the tables; a
    true minus sign."""
    text = f"{x:,.0f}" if math.isfinite(x) and float(x).is_integer() else fmt(x)
    return text.replace("-", "−")


def percent(p: float) -> str:
    """A probability as a percentage: ``14 %``, ``2.5 %``, ``0.19 %``, ``0 %``."""
    x = 100 * p
    if x == 0 or not math.isfinite(x) or x >= 9.95:
        return f"{x:.0f} %"
    return f"{x:.2g} %"


def _percent_interval(iv: Interval) -> str:
    """``14 % (12–15 %)``."""
    return f"{percent(iv.estimate)} ({percent(iv.low).removesuffix(' %')}–{percent(iv.high)})"


def _points(p: float) -> str:
    """A difference of probabilities in signed percentage points: ``+14``, ``−0.4``."""
    return f"{100 * p + 0.0:+.1f}".replace("-", "−")


def _interval(low: float, high: float) -> str:
    if low < 0 or high < 0:
        return f"{number(low)} to {number(high)}"
    return f"{number(low)}–{number(high)}"


def level(value: Interval, measure: str, unit: str, start_date: dt.date | None = None) -> str:
    """A level with its interval (none where it is a single value): ``13,964 personnel
    (13,925–13,998)``, ``day 266 (259–273)`` or with a start date ``24 Apr 2023 (day 266,
    259–273)``."""
    spread = "" if value.low == value.high else _interval(value.low, value.high)
    if measure in DAY_MEASURES:
        day = f"day {number(value.estimate)}"
        if start_date is None:
            return f"{day} ({spread})" if spread else day
        inside = f"{day}, {spread}" if spread else day
        return f"{fmt_date(value.estimate, start_date)} ({inside})"
    named = "" if unit in ("", "attacker/defender") else f" {unit}"
    return f"{number(value.estimate)}{named}" + (f" ({spread})" if spread else "")


def shift(diff: Interval, unit: str, more: str, less: str, same: str = "the same") -> str:
    """A difference in words: ``34 days later (27–41)``, ``79 days earlier (78–80)``; one
    whose interval reaches zero is ``not clearly different (+0.5, −2 to 3)``, and none at
    all ``same``."""
    est = diff.estimate
    named = f" {unit}" if unit in SPOKEN_UNITS else ""
    if not excludes_zero(diff):
        if est == 0 and diff.low == 0 and diff.high == 0:
            return same
        sign = "+" if est > 0 else ""
        return (f"not clearly different ({sign}{number(est)}{named}, "
                f"{_interval(diff.low, diff.high)})")
    low, high = sorted((abs(diff.low), abs(diff.high)))
    spread = "" if low == high else f" ({_interval(low, high)})"
    return f"{number(abs(est))}{named} {more if est > 0 else less}{spread}"


def measure_sentence(m: MeasureFinding, reference: str = "",
                     start_date: dt.date | None = None) -> str:
    """One measure: its median and mean alone, or their shifts from the reference and then
    both medians."""
    subject, more, less = MEASURE_WORDS.get(
        m.measure, (f"{m.measure.replace('_', ' ').capitalize()} is", "higher", "lower"))
    on = " on" if m.measure in DAY_MEASURES else ""  # "ends on day 266"
    if m.median_difference is None or m.mean_difference is None or m.reference_median is None:
        return (f"{subject}{on} {level(m.median, m.measure, m.unit, start_date)} in the median "
                f"and{on} {level(m.mean, m.measure, m.unit, start_date)} in the mean.")
    same = "on the same day" if m.measure in DAY_MEASURES else "the same"
    return (f"{subject} {shift(m.median_difference, m.unit, more, less, same)} in the median "
            f"and {shift(m.mean_difference, m.unit, more, less, same)} in the mean: medians "
            f"{level(m.median, m.measure, m.unit, start_date)} against "
            f"{level(m.reference_median, m.measure, m.unit, start_date)} with {reference}.")


def reason_sentence(r: ReasonFinding, reference: str = "") -> str:
    """One end reason: its probability and, against the reference, the reference's and the
    difference in percentage points."""
    what = REASON_WORDS.get(r.reason, f"The siege ends as {r.reason.replace('_', ' ')}")
    text = f"{what} in {_percent_interval(r.probability)} of replications"
    if r.reference_probability is None or r.difference is None:
        return text + "."
    d = r.difference
    return (f"{text}, against {_percent_interval(r.reference_probability)} with {reference}: "
            f"{_points(d.estimate)} percentage points ({_points(d.low)} to {_points(d.high)}).")


def lead_sentence(f: Findings, start_date: dt.date | None = None) -> str:
    """The headline of one variant: when the siege ends and how often the garrison is lost."""
    end = next((m for m in f.measures if m.measure in DAY_MEASURES), None)
    lost = [r for r in f.reasons if r.garrison_lost]
    parts = []
    if end is not None and end.median_difference is not None:
        when = shift(end.median_difference, end.unit, "later", "earlier", "on the same day")
        parts.append(f"ends the siege {when} in the median")
    elif end is not None:
        parts.append(f"ends the siege on {level(end.median, end.measure, end.unit, start_date)}"
                     " in the median")
    for r in lost:
        against = ("" if r.reference_probability is None
                   else f" (against {percent(r.reference_probability.estimate)} with "
                   f"{f.reference})")
        parts.append(f"loses the garrison ({r.reason}) in {_percent_interval(r.probability)} "
                     f"of replications{against}")
    if not lost:
        parts.append("loses the garrison in no replication")
    who = f"Against {f.reference}, {f.variant}" if f.reference else f.variant
    return f"{who} {' and '.join(parts)}."


def finding_sentences(f: Findings, start_date: dt.date | None = None) -> list[str]:
    """Every finding of one variant, a sentence each: the end day, how the siege ends
    (garrison lost first), then the other measures."""
    first = [m for m in f.measures if m.measure in DAY_MEASURES]
    rest = [m for m in f.measures if m.measure not in DAY_MEASURES]
    return ([measure_sentence(m, f.reference, start_date) for m in first]
            + [reason_sentence(r, f.reference) for r in f.reasons]
            + [measure_sentence(m, f.reference, start_date) for m in rest])
