"""Figures over the days of the siege: fan charts of the per-day bands, and how the
replications have ended by each day.

A band's percentiles are over the replications *still running* that day (a garrison that
withdrew or was lost leaves it), so every fan chart has a strip under it with the share still
running, and :func:`ends_figure` shows the rest: the share ended by each end reason, day by day.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from siege.model.rules import END_REASONS
from siege.output.calendar import calendar_axis
from siege.output.figure_style import HATCHES, SHADES, pyplot, style, thousands, title
from siege.results.sets import ResultSet

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DAY_LABEL = "Day of siege (days)"


def band_measures(variants: Sequence[ResultSet]) -> list[str]:
    """Band measures present in every variant's bands (in the first variant's order)."""
    names: list[str] | None = None
    for v in variants:
        if v.bands is None:
            return []
        kinds = v.bands.column("kind").to_pylist()
        present = [m for m, k in zip(v.bands.column("measure").to_pylist(), kinds, strict=True)
                   if k == "band"]
        ordered = list(dict.fromkeys(present))
        names = ordered if names is None else [m for m in names if m in set(ordered)]
    return names or []


def band(v: ResultSet, measure: str) -> tuple[dict[str, np.ndarray], str]:
    """One measure's per-day band of a result set, in day order: ``day``, ``p5`` ... ``p95``
    and ``n_active`` (replications still running), each ``(days,)``; and its unit."""
    assert v.bands is not None
    t = v.bands
    kind = np.asarray(t.column("kind").to_pylist())
    meas = np.asarray(t.column("measure").to_pylist())
    sub = t.take(np.flatnonzero((kind == "band") & (meas == measure)))
    cols = {c: np.asarray(sub.column(c).to_numpy(zero_copy_only=False), dtype=float)
            for c in ("day", "p5", "p25", "p50", "p75", "p95", "n_active")}
    order = np.argsort(cols["day"])
    unit = str(sub.column("unit")[0].as_py()) if sub.num_rows else ""
    return {k: c[order] for k, c in cols.items()}, unit


def _running_share(b: dict[str, np.ndarray]) -> np.ndarray:
    """Percentage of the day-0 replications still running each day."""
    start = b["n_active"][0] if b["n_active"].size and b["n_active"][0] > 0 else 1.0
    return 100 * b["n_active"] / start


def _value_axis(ax: Any, values: np.ndarray) -> None:
    """Whole-number ticks for counts (routes open), thousands separators for large values."""
    finite = values[np.isfinite(values)]
    count = bool(finite.size and np.all(finite == np.round(finite))
                 and finite.max() - finite.min() < 20)
    thousands(ax.yaxis, integer=count)


def fan_figure(variants: Sequence[ResultSet], measure: str,
               start_date: dt.date | None = None) -> Figure:
    """Fan chart of a per-day band: one column per variant (median, 25–75 % and 5–95 % of
    the replications still running), with several variants a last column overlaying their
    medians; under each, the share of replications still running."""
    plt = pyplot()
    k = len(variants)
    panels = k + (1 if k > 1 else 0)
    fig, axes = plt.subplots(2, panels, figsize=(4 * panels, 4.6), sharex=True, sharey="row",
                             layout="constrained", squeeze=False,
                             gridspec_kw={"height_ratios": (4, 1.2)})
    heading = title(measure)
    bands = [band(v, measure) for v in variants]
    unit = bands[0][1] if bands else ""
    for i, (v, (b, _)) in enumerate(zip(variants, bands, strict=True)):
        st = style(i)
        ax = axes[0, i]
        ax.fill_between(b["day"], b["p5"], b["p95"], color="#d9d9d9", linewidth=0,
                        label="5–95 % of those running")
        ax.fill_between(b["day"], b["p25"], b["p75"], color="#969696", linewidth=0,
                        label="25–75 %")
        ax.plot(b["day"], b["p50"], color="black", linestyle=st["linestyle"], linewidth=1.8,
                label="median")
        ax.set_title(v.label, fontsize=10)
        ax.grid(alpha=0.3)
        _value_axis(ax, np.concatenate([b["p5"], b["p95"]]))
        calendar_axis(ax, start_date, label=i == 0)
        if i == 0:
            ax.legend(fontsize=8, loc="best")
        strip = axes[1, i]
        strip.fill_between(b["day"], 0, _running_share(b), color="#bdbdbd", linewidth=0)
        strip.plot(b["day"], _running_share(b), color=st["color"], linestyle=st["linestyle"],
                   linewidth=1.2)
    if k > 1:
        ax, strip = axes[0, -1], axes[1, -1]
        for i, (v, (b, _)) in enumerate(zip(variants, bands, strict=True)):
            st = style(i)
            every = max(1, b["day"].size // 8)
            ax.plot(b["day"], b["p50"], color=st["color"], linestyle=st["linestyle"],
                    marker=st["marker"], markevery=every, markersize=4, linewidth=1.6,
                    label=v.label)
            strip.plot(b["day"], _running_share(b), color=st["color"],
                       linestyle=st["linestyle"], marker=st["marker"], markevery=every,
                       markersize=3, linewidth=1.2)
        ax.set_title("medians", fontsize=10)
        ax.grid(alpha=0.3)
        calendar_axis(ax, start_date, label=False)
        ax.legend(fontsize=8)
    for strip in axes[1]:
        strip.set_ylim(0, 105)
        strip.set_yticks([0, 50, 100])
        strip.grid(alpha=0.3)
        strip.set_xlabel(DAY_LABEL)
    label = f"{heading} ({unit})" if unit else heading
    axes[0, 0].set_ylabel(textwrap.fill(label, 30))
    axes[1, 0].set_ylabel("running (%)", fontsize=8)
    fig.suptitle(f"{heading}: per-day percentiles over the replications still running")
    return fig


def _ended_by(v: ResultSet, days: int) -> dict[str, np.ndarray]:
    """Percentage of replications ended by each reason on or before each day ``0..days``
    ``(days + 1,)``; those held to the horizon are left out (they never end before it)."""
    end_day = v.column("end_day")
    reasons = v.end_reason
    on_day = np.clip(np.ceil(np.nan_to_num(end_day, nan=days)), 0, days).astype(np.intp)
    return {r: 100 * np.cumsum(np.bincount(on_day[reasons == r], minlength=days + 1)) / v.n
            for r in END_REASONS if r != "held"}


def ends_figure(variants: Sequence[ResultSet], start_date: dt.date | None = None) -> Figure:
    """How the replications have ended by each day: stacked shares of the replications that
    withdrew, were encircled, collapsed or outlasted the attacker; what is left is running
    (or held to the horizon). One panel per variant, on the same axes."""
    plt = pyplot()
    k = len(variants)
    fig, axes = plt.subplots(1, k, figsize=(max(5.0, 4 * k), 3.6), sharey=True,
                             layout="constrained", squeeze=False)
    last = int(np.ceil(max(float(np.nanmax(v.column("end_day"))) for v in variants)))
    days = np.arange(last + 1, dtype=float)
    ended = [r for r in END_REASONS if r != "held"]
    for i, v in enumerate(variants):
        ax = axes[0, i]
        shares = _ended_by(v, last)
        areas = ax.stackplot(days, *(shares[r] for r in ended),
                             labels=[r.replace("_", " ") for r in ended],
                             colors=[SHADES[(j + 1) % len(SHADES)] for j in range(len(ended))],
                             alpha=0.55, edgecolor="white", linewidth=0.4)
        for j, area in enumerate(areas):  # hatches too, so the reasons read in grayscale
            area.set_hatch(HATCHES[(j + 1) % len(HATCHES)] or None)
        ax.set_title(v.label, fontsize=10)
        ax.set_xlabel(DAY_LABEL)
        ax.set_xlim(-0.03 * last, 1.03 * last)  # end ticks clear of the next panel's
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        calendar_axis(ax, start_date, label=i == 0)
    axes[0, 0].set_ylabel("Replications ended (%)")
    axes[0, -1].legend(fontsize=8, loc="upper left", title="ended by", title_fontsize=8)
    fig.suptitle("How the replications have ended, day by day (the rest are still running)")
    return fig
