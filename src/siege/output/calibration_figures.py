"""Figures of ``siege calibrate``: the posterior's marginals and pairs, and from a predictive
check the predictive bands over each observed series and histograms of milestone days.
matplotlib is imported lazily (Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siege.analysis.calibrate import PosteriorSummary
from siege.analysis.predictive import PredictiveCheck
from siege.errors import CalibrationError
from siege.output.figure_style import write_figure_files
from siege.output.plots import style, title
from siege.results.bands import PERCENTILES

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise CalibrationError("--figures needs matplotlib: pip install 'siege[plot]'"
                               ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def marginals_figure(summary: PosteriorSummary) -> Figure:
    """One weighted histogram per parameter over its prior's range (where finite), with the
    median and the 90 % credible interval."""
    plt = _pyplot()
    post = summary.posterior
    d = len(summary.parameters)
    cols = min(d, 3)
    rows = -(-d // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False,
                             layout="constrained")
    for j, p in enumerate(summary.parameters):
        ax = axes[j // cols, j % cols]
        ax.hist(post.values[:, j], bins=30, weights=post.weights, color=style(1)["color"],
                alpha=0.7)
        for x, ls in ((p.median, "-"), (p.q05, ":"), (p.q95, ":")):
            ax.axvline(x, color="black", linestyle=ls, linewidth=1.0)
        low, high = p.prior.support()
        if np.isfinite(low) and np.isfinite(high):
            ax.set_xlim(low, high)
        ax.set_title(p.path, fontsize=9)
        ax.set_yticks([])
    for j in range(d, rows * cols):
        axes[j // cols, j % cols].set_visible(False)
    fig.suptitle(f"posterior marginals (generation {post.generation}; median, 90 % interval)")
    return fig


def pairs_figure(summary: PosteriorSummary) -> Figure:
    """Every pair of parameters: the weighted particles (darker: heavier)."""
    plt = _pyplot()
    post = summary.posterior
    paths = [p.path for p in summary.parameters]
    d = len(paths)
    fig, axes = plt.subplots(d, d, figsize=(2.2 * d + 1, 2.2 * d + 1), squeeze=False,
                             layout="constrained")
    alpha = np.clip(post.weights / post.weights.max(), 0.05, 1.0)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(post.values[:, j], bins=25, weights=post.weights,
                        color=style(1)["color"], alpha=0.7)
                ax.set_yticks([])
            else:
                colors = np.zeros((alpha.size, 4))
                colors[:, 3] = alpha
                ax.scatter(post.values[:, j], post.values[:, i], s=5, c=colors, linewidths=0)
            if i == d - 1:
                ax.set_xlabel(paths[j], fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(paths[i], fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle("posterior pairs")
    return fig


def series_figure(check: PredictiveCheck, target: int) -> Figure:
    """A series target's predictive bands (5-95 %, 25-75 %, median per day) and the
    observations (points with one sd, or intervals)."""
    plt = _pyplot()
    spec = check.calibration.targets[target]
    measure = str(spec.table["measure"])
    acc = check.bands.accumulator
    names = [s.name for s in acc.specs]
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    if measure in names:
        q = acc.quantiles(PERCENTILES)[names.index(measure)]
        days = np.arange(q.shape[0])
        ax.fill_between(days, q[:, 0], q[:, 4], color="#bbbbbb", label="5–95 %")
        ax.fill_between(days, q[:, 1], q[:, 3], color="#888888", label="25–75 %")
        ax.plot(days, q[:, 2], color="black", linewidth=1.5, label="median")
    for c in spec.components:
        assert c.probe is not None
        day = c.probe.day
        if c.low == c.high:
            ax.errorbar(day, c.low, yerr=c.scale, fmt="o", color=style(2)["color"],
                        capsize=3)
        else:
            top = c.high if np.isfinite(c.high) else ax.get_ylim()[1]
            ax.plot([day, day], [c.low, top], color=style(2)["color"], linewidth=3)
    ax.plot([], [], "o", color=style(2)["color"], label="observed")
    ax.set_xlabel("day")
    ax.set_title(f"{title(measure)}: posterior predictive bands ({spec.name})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def milestones_figure(check: PredictiveCheck) -> Figure | None:
    """Predictive histograms of every milestone's day, with the observed day or interval;
    None without milestones."""
    targets = [t for t in check.calibration.targets if t.kind == "milestone"]
    if not targets:
        return None
    plt = _pyplot()
    labels = [c.label for c in check.components]
    fig, axes = plt.subplots(len(targets), 1, figsize=(8, 2.6 * len(targets)), squeeze=False,
                             layout="constrained")
    for ax, t in zip(axes[:, 0], targets, strict=True):
        c = t.components[0]
        days = check.simulated[:, labels.index(c.label)]
        happened = days[days != c.never]
        ax.hist(happened, bins=40, color=style(1)["color"], alpha=0.7)
        share = 1.0 - happened.size / max(days.size, 1)
        if c.low == c.high:
            ax.axvspan(c.low - c.scale, c.low + c.scale, color="#dddddd", zorder=0)
            ax.axvline(c.low, color="black", linewidth=1.5)
        else:
            high = c.high if np.isfinite(c.high) else c.never
            ax.axvspan(c.low, high, color="#dddddd", zorder=0)
        ax.set_title(f"{t.name}: predictive first day (never before the end: {share:.0%})",
                     fontsize=9)
        ax.set_yticks([])
    axes[-1, 0].set_xlabel("day")
    return fig


def calibration_figures(summary: PosteriorSummary, check: PredictiveCheck | None = None
                        ) -> dict[str, Figure]:
    """Every figure, by file name: ``posterior_marginals``, ``posterior_pairs`` (two or more
    parameters) and, with a check, ``predictive_<target>`` per series and
    ``predictive_milestones``."""
    out = {"posterior_marginals": marginals_figure(summary)}
    if len(summary.parameters) > 1:
        out["posterior_pairs"] = pairs_figure(summary)
    if check is not None:
        for i, t in enumerate(check.calibration.targets):
            if t.kind == "series":
                out[f"predictive_{t.key}"] = series_figure(check, i)
        milestones = milestones_figure(check)
        if milestones is not None:
            out["predictive_milestones"] = milestones
    return out


def save_calibration_figures(
    summary: PosteriorSummary, folder: str | Path, check: PredictiveCheck | None = None,
    *, dpi: int = 110,
) -> list[Path]:
    """Write every figure as ``FOLDER/<name>.png`` and ``.svg``; returns the paths."""
    _pyplot()  # matplotlib, or a CalibrationError naming what to install
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise CalibrationError(f"{out}: exists and is not a folder", key="--figures")
    out.mkdir(parents=True, exist_ok=True)
    return write_figure_files(calibration_figures(summary, check), out, dpi)
