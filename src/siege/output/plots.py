"""Figures of result sets: ECDFs and histograms of each outcome measure by variant, end-reason
bars with Wilson intervals; with :mod:`siege.output.timelines`, fan charts of the per-day
bands and the ends day by day. :func:`figures` draws them all, by name.

Every function returns a matplotlib ``Figure`` (nothing is shown); :func:`save_figures`
writes them as PNG and/or SVG, each with its caption (:mod:`siege.output.captions`) as the
file's description. Variants differ by line style, marker and hatch as well as by shade, so
the figures read in grayscale. matplotlib is imported lazily, with the Agg backend.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siege.errors import CompareError
from siege.files import atomic_path, make_folder
from siege.model.rules import END_REASONS
from siege.output.calendar import calendar_axis, start_date_of
from siege.output.captions import figure_captions
from siege.output.figure_style import FORMATS, pyplot, style, thousands, title
from siege.output.timelines import band_measures, ends_figure, fan_figure
from siege.results.sets import ResultSet, check_comparable
from siege.results.summary import COMPARE_MEASURES, wilson_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# measures with a mass at the horizon (every replication held to the end): drawn as its own bar
HORIZON_MEASURES = frozenset({"end_day"})


def _finite(rs: ResultSet, measure: str) -> np.ndarray:
    x = rs.column(measure)
    return x[np.isfinite(x)]


def _held(rs: ResultSet, measure: str) -> np.ndarray:
    """Which replications ``(n,)`` sit at the horizon in this measure (held to the end)."""
    if measure not in HORIZON_MEASURES:
        return np.zeros(rs.n, dtype=bool)
    return np.asarray(rs.end_reason == "held")


def distribution_figure(variants: Sequence[ResultSet], measure: str,
                        start_date: dt.date | None = None) -> Figure:
    """ECDF (left) and histogram (right) of one outcome measure, one curve per result set.
    The histogram shows the share of all replications in each bin; for the end day, those
    held to the horizon get their own bar (a third panel) instead of swamping the rest."""
    plt = pyplot()
    horizon = measure in HORIZON_MEASURES
    fig, axes = plt.subplots(1, 3 if horizon else 2, figsize=(11.5 if horizon else 10, 4),
                             layout="constrained", squeeze=False,
                             width_ratios=(5, 5, 1.4) if horizon else (1, 1))
    ax_e, ax_h = axes[0, 0], axes[0, 1]
    unit = COMPARE_MEASURES.get(measure, "")
    label = f"{title(measure)} ({unit})" if unit else title(measure)
    samples = [_finite(v, measure) for v in variants]
    before = [v.column(measure)[~_held(v, measure)] for v in variants]
    before = [x[np.isfinite(x)] for x in before]
    pooled = np.concatenate(before) if before else np.array([])
    lo, hi = (float(pooled.min()), float(pooled.max())) if pooled.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    bins = min(40, max(10, int(math.sqrt(pooled.size))))
    if horizon:  # whole weeks: a weekly review cycle would alias with other widths
        week = 7 * max(1, math.ceil((hi - lo) / bins / 7))
        edges = np.arange(math.floor(lo / week) * week, hi + week, week, dtype=float)
    else:  # round bin widths (1, 2, 2.5 or 5 times a power of ten)
        from matplotlib.ticker import MaxNLocator

        edges = np.asarray(MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi),
                           dtype=float)
    for i, (v, x, x_before) in enumerate(zip(variants, samples, before, strict=True)):
        st = style(i)
        if x.size == 0:  # every value missing or infinite: say so in the legend
            ax_e.plot([], [], color=st["color"], linestyle=st["linestyle"],
                      label=f"{v.label} (no finite values)")
            continue
        xs = np.sort(x)
        ys = np.arange(1, xs.size + 1) / max(xs.size, 1)
        every = max(1, xs.size // 8)
        ax_e.step(xs, ys, where="post", color=st["color"], linestyle=st["linestyle"],
                  marker=st["marker"], markevery=every, markersize=4, linewidth=1.6,
                  label=f"{v.label} (n={x.size:,})")
        ax_h.hist(x_before, bins=edges, weights=np.full(x_before.size, 100 / v.n),
                  histtype="step", color=st["color"], linestyle=st["linestyle"],
                  linewidth=1.6, hatch=st["hatch"] or None, label=v.label)
    width = float(edges[1] - edges[0])
    ax_e.set_xlabel(label)
    ax_e.set_ylabel("Cumulative probability (fraction of replications)")
    ax_e.set_ylim(0, 1.02)
    ax_e.legend(loc="lower right", fontsize=8)
    ax_h.set_xlabel(label + (" — ended before the horizon" if horizon else ""))
    ax_h.set_ylabel(f"Replications (% per bin of {width:,.4g}{' ' + unit if unit else ''})")
    ax_h.legend(fontsize=8)
    for ax in (ax_e, ax_h):
        ax.grid(alpha=0.3)
        thousands(ax.xaxis, nbins=5)
        if horizon:
            calendar_axis(ax, start_date, label=ax is ax_e)
    if horizon:
        _horizon_bars(axes[0, 2], variants, measure)
    fig.suptitle(f"{title(measure)}: distribution by variant")
    return fig


def _horizon_bars(ax: Any, variants: Sequence[ResultSet], measure: str) -> None:
    """One bar per variant: the share of replications held to the horizon."""
    for i, v in enumerate(variants):
        st = style(i)
        held = int(np.count_nonzero(_held(v, measure)))
        share = 100 * held / v.n
        ax.bar(i, share, 0.7, color="white" if i else "#bdbdbd", edgecolor=st["color"],
               hatch=st["hatch"] or None, linewidth=1.2)
        ax.annotate(f"{share:.0f} %", (i, share), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(variants)), [v.label for v in variants], rotation=30, ha="right",
                  fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("Replications held to the horizon (%)")
    ax.set_title("held to the\nhorizon", fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def end_reason_figure(variants: Sequence[ResultSet]) -> Figure:
    """Grouped bars: probability of each end reason per variant, with 95 % Wilson intervals."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    k = len(variants)
    width = 0.8 / max(k, 1)
    x = np.arange(len(END_REASONS))
    for i, v in enumerate(variants):
        st = style(i)
        reasons = v.end_reason
        counts = [int(np.count_nonzero(reasons == r)) for r in END_REASONS]
        p = np.array(counts) / v.n
        ci = np.array([wilson_interval(c, v.n) for c in counts])
        err = np.vstack([p - ci[:, 0], ci[:, 1] - p])
        ax.bar(x + (i - (k - 1) / 2) * width, p, width, color="white" if i else "#bdbdbd",
               edgecolor=st["color"], hatch=st["hatch"] or None, linewidth=1.2,
               yerr=err, capsize=3, ecolor="black", label=f"{v.label} (n={v.n:,})")
    ax.set_xticks(x, [r.replace("_", " ") for r in END_REASONS])
    ax.set_xlabel("End reason")
    ax.set_ylabel("Probability (fraction of replications)")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("End of siege by variant (bars: 95 % Wilson intervals)")
    return fig


def figure_makers(variants: Sequence[ResultSet], start_date: dt.date | None = None
                  ) -> dict[str, Callable[[], Figure]]:
    """Every figure of the result sets, by file stem, as a function that draws it (so that a
    caller can draw, save and close one at a time); bands only where every set has them.
    Time axes carry calendar dates from ``start_date``, or from the reference scenario's
    start date when it has one."""
    for rs in variants:
        check_comparable(rs)
    start = start_date or start_date_of(variants)
    out: dict[str, Callable[[], Figure]] = {}
    for measure in COMPARE_MEASURES:
        out[f"distribution_{measure}"] = partial(distribution_figure, variants, measure, start)
    out["end_reasons"] = partial(end_reason_figure, variants)
    out["ends_over_time"] = partial(ends_figure, variants, start)
    for measure in band_measures(variants):
        out[f"fan_{measure}"] = partial(fan_figure, variants, measure, start)
    return out


def figures(variants: Sequence[ResultSet], start_date: dt.date | None = None
            ) -> dict[str, Figure]:
    """Every figure of the result sets, drawn, by file stem (see :func:`figure_makers`)."""
    return {name: draw() for name, draw in figure_makers(variants, start_date).items()}


def save_figures(
    variants: Sequence[ResultSet],
    folder: str | Path,
    *,
    formats: tuple[str, ...] = FORMATS,
    dpi: int = 110,
    start_date: dt.date | None = None,
) -> list[Path]:
    """Draw every figure and write it as ``FOLDER/<name>.<format>``, its caption as the
    file's description; returns the paths."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise CompareError(f"formats {bad[0]!r}: allowed {', '.join(FORMATS)}",
                           parameter="formats")
    plt = pyplot()
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise CompareError(f"folder {out}: exists and is not a folder", parameter="folder")
    make_folder(out)
    start = start_date or start_date_of(variants)
    makers = figure_makers(variants, start)
    captions = figure_captions(variants, list(makers), start)
    written: list[Path] = []
    for name, draw in makers.items():
        fig = draw()
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            meta: dict[str, str | None] = {"Description": captions[name]}
            if fmt == "svg":
                meta["Date"] = None  # no timestamp: the same results give the same file
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)
            written.append(path)
        plt.close(fig)
    return written
