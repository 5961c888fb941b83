"""Calendar dates for days of a siege: day ``d`` is ``start_date + d days`` (day 0 is the
start date), for tables, sentences and the time axes of figures.

The start date is the scenario's ``simulation.start_date`` when its schema has one, or what a
caller passes; without one, days stay day numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from siege.results.sets import ResultSet


def start_date_of(result_sets: Sequence[ResultSet]) -> dt.date | None:
    """The reference scenario's ``simulation.start_date``, or None where the scenario (or the
    schema it was written with) has none or no longer validates."""
    scenario = result_sets[0].provenance.valid_scenario if result_sets else None
    value = getattr(scenario.simulation, "start_date", None) if scenario else None
    return value if isinstance(value, dt.date) else None


def date_of(day: float, start_date: dt.date) -> dt.date:
    """The calendar date of a (possibly fractional) day of the siege: the day it falls in."""
    return start_date + dt.timedelta(days=math.floor(day))


def fmt_date(day: float, start_date: dt.date) -> str:
    """A day of the siege as a date: ``24 Apr 2023``."""
    d = date_of(day, start_date)
    return f"{d.day} {d:%b %Y}"


def calendar_axis(ax: Any, start_date: dt.date | None, *, label: bool = True) -> None:
    """Add calendar dates along the top of an axes whose x axis counts days of the siege
    (``label``: name the axis, on the first of a row of panels)."""
    if start_date is None:
        return
    import matplotlib.dates as mdates

    origin = float(mdates.date2num(start_date))
    top = ax.secondary_xaxis("top", functions=(lambda d: d + origin, lambda n: n - origin))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    top.xaxis.set_major_locator(locator)
    top.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    top.tick_params(labelsize=8)
    if label:
        top.set_xlabel(f"Date (day 0 = {fmt_date(0, start_date)})", fontsize=8)
