"""Figures of result sets: ECDFs and histograms of each outcome measure by variant, end-reason
bars with Wilson intervals, and fan charts of the per-day bands.

Every function returns a matplotlib ``Figure`` (nothing is shown); :func:`save_figures`
writes them as PNG and/or SVG. Variants differ by line style, marker and hatch as well as
by shade, so the figures read in grayscale. matplotlib is optional (``pip install
siege[plot]``) and imported lazily with the Agg backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siege.errors import CompareError
from siege.model.rules import END_REASONS
from siege.results.sets import ResultSet, check_comparable
from siege.results.summary import COMPARE_MEASURES, wilson_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
HATCHES = ("", "///", "...", "xxx", "\\\\\\", "ooo")
MARKERS = ("o", "s", "^", "D", "v", "P")
# dark to mid grays with a hint of hue: distinct in colour and in grayscale
SHADES = ("#1b1b1b", "#1f5fa8", "#b2521b", "#3a7d3a", "#7a3f8f", "#8c6d1f")

FORMATS = ("png", "svg")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise CompareError(
            "figures need matplotlib, which is not installed: pip install 'siege[plot]'"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def style(i: int) -> dict[str, Any]:
    """Line style, marker, colour and hatch of the ``i``-th variant."""
    return {
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
        "marker": MARKERS[i % len(MARKERS)],
        "color": SHADES[i % len(SHADES)],
        "hatch": HATCHES[i % len(HATCHES)],
    }


def title(measure: str) -> str:
    """A measure's name as a title: ``control_town`` -> "Attacker control of sector town",
    ``end_day`` -> "End day"."""
    if measure.startswith("control_"):
        return f"Attacker control of sector {measure.removeprefix('control_')}"
    return measure.replace("_", " ").capitalize()


def _finite(rs: ResultSet, measure: str) -> np.ndarray:
    x = rs.column(measure)
    return x[np.isfinite(x)]


def distribution_figure(variants: Sequence[ResultSet], measure: str) -> Figure:
    """ECDF (left) and histogram (right) of one outcome measure, one curve per result set."""
    plt = _pyplot()
    fig, (ax_e, ax_h) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    unit = COMPARE_MEASURES.get(measure, "")
    label = f"{title(measure)} ({unit})" if unit else title(measure)
    samples = [_finite(v, measure) for v in variants]
    pooled = np.concatenate(samples) if samples else np.array([])
    lo, hi = (float(pooled.min()), float(pooled.max())) if pooled.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.histogram_bin_edges(pooled, bins=min(40, max(10, int(math.sqrt(pooled.size)))),
                                   range=(lo, hi))
    for i, (v, x) in enumerate(zip(variants, samples, strict=True)):
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
        ax_h.hist(x, bins=edges, density=True, histtype="step", color=st["color"],
                  linestyle=st["linestyle"], linewidth=1.6, hatch=st["hatch"] or None,
                  label=v.label)
    ax_e.set_xlabel(label)
    ax_e.set_ylabel("Cumulative probability (fraction of replications)")
    ax_e.set_ylim(0, 1.02)
    ax_e.grid(alpha=0.3)
    ax_e.legend(loc="lower right", fontsize=8)
    ax_h.set_xlabel(label)
    ax_h.set_ylabel(f"Density (per {unit or 'unit'})")
    ax_h.grid(alpha=0.3)
    ax_h.legend(fontsize=8)
    fig.suptitle(f"{title(measure)}: distribution by variant")
    return fig


def end_reason_figure(variants: Sequence[ResultSet]) -> Figure:
    """Grouped bars: probability of each end reason per variant, with 95 % Wilson intervals."""
    plt = _pyplot()
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


def _band(v: ResultSet, measure: str) -> tuple[dict[str, np.ndarray], str]:
    assert v.bands is not None
    t = v.bands
    kind = np.asarray(t.column("kind").to_pylist())
    meas = np.asarray(t.column("measure").to_pylist())
    rows = np.flatnonzero((kind == "band") & (meas == measure))
    sub = t.take(rows)
    cols = {c: np.asarray(sub.column(c).to_numpy(zero_copy_only=False), dtype=float)
            for c in ("day", "p5", "p25", "p50", "p75", "p95")}
    order = np.argsort(cols["day"])
    unit = str(sub.column("unit")[0].as_py()) if sub.num_rows else ""
    return {k: c[order] for k, c in cols.items()}, unit


def fan_figure(variants: Sequence[ResultSet], measure: str) -> Figure:
    """Fan chart of a per-day band: one panel per variant (median, 25–75 % and 5–95 %
    bands), and with several variants a last panel overlaying their medians."""
    plt = _pyplot()
    k = len(variants)
    panels = k + (1 if k > 1 else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.6), sharey=True,
                             layout="constrained", squeeze=False)
    heading = title(measure)
    unit = ""
    for i, v in enumerate(variants):
        band, unit = _band(v, measure)
        st = style(i)
        ax = axes[0, i]
        ax.fill_between(band["day"], band["p5"], band["p95"], color="#d9d9d9",
                        label="5–95 %", linewidth=0)
        ax.fill_between(band["day"], band["p25"], band["p75"], color="#969696",
                        label="25–75 %", linewidth=0)
        ax.plot(band["day"], band["p50"], color="black", linestyle=st["linestyle"],
                linewidth=1.8, label="median")
        ax.set_title(v.label, fontsize=10)
        ax.set_xlabel("Day of siege (days)")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8, loc="best")
    if k > 1:
        ax = axes[0, -1]
        for i, v in enumerate(variants):
            band, _ = _band(v, measure)
            st = style(i)
            every = max(1, band["day"].size // 8)
            ax.plot(band["day"], band["p50"], color=st["color"], linestyle=st["linestyle"],
                    marker=st["marker"], markevery=every, markersize=4, linewidth=1.6,
                    label=v.label)
        ax.set_title("medians", fontsize=10)
        ax.set_xlabel("Day of siege (days)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel(f"{heading} ({unit})" if unit else heading)
    fig.suptitle(f"{heading}: per-day percentiles over replications")
    return fig


def figures(variants: Sequence[ResultSet]) -> dict[str, Figure]:
    """Every figure of the result sets, by file stem (bands only where every set has them)."""
    for rs in variants:
        check_comparable(rs)
    out: dict[str, Figure] = {}
    for measure in COMPARE_MEASURES:
        out[f"distribution_{measure}"] = distribution_figure(variants, measure)
    out["end_reasons"] = end_reason_figure(variants)
    for measure in band_measures(variants):
        out[f"fan_{measure}"] = fan_figure(variants, measure)
    return out


def save_figures(
    variants: Sequence[ResultSet],
    folder: str | Path,
    *,
    formats: tuple[str, ...] = FORMATS,
    dpi: int = 110,
) -> list[Path]:
    """Draw every figure and write it as ``FOLDER/<name>.<format>``; returns the paths."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise CompareError(f"formats {bad[0]!r}: allowed {', '.join(FORMATS)}",
                           parameter="formats")
    plt = _pyplot()
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise CompareError(f"folder {out}: exists and is not a folder", parameter="folder")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, fig in figures(variants).items():
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            fig.savefig(path, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
            written.append(path)
        plt.close(fig)
    return written
