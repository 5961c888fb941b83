"""Captions of the figures: what each shows and how to read it, in sentences that use the
scenarios' own numbers (horizon, review interval, counter-offensive date) where they matter.

The report puts them under its figures; ``siege plot`` writes them into each file's
description.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from siege.output.calendar import fmt_date
from siege.output.figure_style import title
from siege.results.sets import ResultSet
from siege.scenario import Scenario

ECDF = ("Left: the ECDF, for each value the fraction of replications at or below it (a curve "
        "further right means larger values; a vertical step is many replications at one "
        "value). Right: the share of all replications in each bin.")

MEASURE_NOTES: dict[str, str] = {
    "defender_losses": "An encircled garrison counts as lost in full, which puts lost "
                       "garrisons far to the right.",
    "attacker_losses": "Casualties of the attacker, trained and untrained alike.",
    "exchange_ratio": "Attacker losses per defender loss; replications in which the "
                      "defender lost nobody have an infinite ratio and are left out (the "
                      "legend counts the rest).",
    "supply_shortfall_days": "Days on which the stockpile could not meet the garrison's "
                             "consumption.",
}

BAND_NOTES: dict[str, str] = {
    "defender_strength": "Personnel in the garrison.",
    "attacker_strength": "Personnel of the attacker, trained and untrained.",
    "exchange_ratio": "Attacker losses per defender loss, cumulated from day 0.",
    "rolling_exchange_ratio": "Attacker losses per defender loss over the recent window "
                              "(policy.rolling_window_days).",
    "days_of_supply": "The stockpile, in days of the garrison's consumption.",
    "routes_open": "Supply routes not cut, a count.",
    "encirclement_threat": "From 0 to 1: the attacker's control of the flanks and the route "
                           "capacity lost, combined.",
}


def _scenarios(variants: Sequence[ResultSet]) -> list[tuple[str, Scenario]]:
    out = []
    for v in variants:
        scenario = v.provenance.valid_scenario
        if scenario is not None:
            out.append((v.label, scenario))
    return out


def _day(day: float, start_date: dt.date | None) -> str:
    text = f"day {day:g}"
    return text if start_date is None else f"{text}, {fmt_date(day, start_date)}"


def _distribution(measure: str, variants: Sequence[ResultSet],
                  start_date: dt.date | None) -> str:
    parts = [f"{title(measure)} of each variant.", ECDF]
    scenarios = _scenarios(variants)
    if measure == "end_day":
        horizons = sorted({s.simulation.horizon_days for _, s in scenarios})
        at = f" (day {', '.join(f'{h:g}' for h in horizons)})" if horizons else ""
        parts.append(f"Replications held to the horizon{at} are not in the histogram: the "
                     "narrow panel on the right shows their share, so the days on which the "
                     "others ended stay readable.")
    elif measure == "days_beyond_counteroffensive":
        days = sorted({d for _, s in scenarios
                       if (d := s.simulation.counteroffensive_day) is not None})
        when = (" (" + "; ".join(_day(d, start_date) for d in days) + ")") if days else ""
        parts.append(f"Days the town was held after the counter-offensive was ready{when}: "
                     "time bought. Sieges that ended before that date count 0.")
    elif measure in MEASURE_NOTES:
        parts.append(MEASURE_NOTES[measure])
    return " ".join(parts)


def _reviews(variants: Sequence[ResultSet]) -> str:
    """Why the 5–95 % band may show regular teeth: withdrawals start only after reviews."""
    notes = []
    for label, s in _scenarios(variants):
        policy = s.policy
        if policy.kind != "threshold" or policy.review_interval_days <= s.simulation.time_step_days:
            continue
        latency = (f", ordered {policy.decision_latency_days:g} days later"
                   if policy.decision_latency_days else "")
        notes.append(f"{label} reviews withdrawal every {policy.review_interval_days:g} days"
                     f"{latency}")
    if not notes:
        return ""
    return ("Regular teeth in the light 5–95 % band come from the reviews: "
            + "; ".join(notes) + ". Withdrawals therefore start on the same days of each cycle; "
            "garrisons pulling out lose men on the way and sit at the edge of the band until "
            "they are out, then leave it.")


def _fan(measure: str, variants: Sequence[ResultSet], first: bool) -> str:
    """A fan chart's caption: how to read it in full on the first, briefly on the others."""
    note = BAND_NOTES.get(measure, "")
    if measure.startswith("control_"):
        note = "From 0 (none of the sector) to 1 (all of it)."
    if not first:
        teeth = (" Regular teeth in the light band: the reviews, as under the first fan chart."
                 if _reviews(variants) else "")
        return (f"{title(measure)}, day by day. {note} Median, 25–75 % and 5–95 % of the "
                "replications still running, read as the first fan chart; the strip shows the "
                f"share still running.{teeth}")
    several = (" The last column overlays the variants' medians and shares still running."
               if len(variants) > 1 else "")
    parts = [
        f"{title(measure)}, day by day. {note} The line is the median, the dark band the "
        "middle half (25–75 %) and the light band 5–95 % — of the replications still running "
        "that day. Replications that have ended (withdrawn, garrison lost, attacker "
        "culminated) leave the band: the strip under each panel shows the share still "
        "running, so late in the siege a band can describe only the survivors (the figure of "
        "ends over time shows the others)." + several,
    ]
    if comb := _reviews(variants):
        parts.append(comb)
    return " ".join(parts)


def figure_captions(variants: Sequence[ResultSet], names: Sequence[str],
                    start_date: dt.date | None = None) -> dict[str, str]:
    """The caption of each named figure (names as :func:`siege.output.plots.figures` gives
    them)."""
    dates = ("" if start_date is None else
             f" Dates along the top count from day 0 = {fmt_date(0, start_date)}.")
    out: dict[str, str] = {}
    for name in names:
        if name.startswith("distribution_"):
            text = _distribution(name.removeprefix("distribution_"), variants, start_date)
            text += dates if name == "distribution_end_day" else ""
        elif name == "end_reasons":
            text = ("How the siege ends in each variant: the probability of each end, with "
                    "95 % Wilson intervals as whiskers. 'held' is held to the horizon; "
                    "'encircled' and 'collapsed' lose the garrison; 'attacker culminated' is "
                    "an assault that ran out of strength.")
        elif name == "ends_over_time":
            text = ("How many replications have ended by each day, stacked by end reason; "
                    "the white space above is the share still running (at the horizon: held "
                    "to the end). A lost garrison shows here, although it leaves the bands of "
                    "the fan charts." + dates)
        elif name.startswith("fan_"):
            first = not any(n.startswith("fan_") for n in out)
            text = _fan(name.removeprefix("fan_"), variants, first) + (dates if first else "")
        else:
            text = name.replace("_", " ")
        out[name] = text
    return out
