"""Figures of a scenario discovery (``siege discover --figures DIR``): PRIM's trade-off
between coverage and density along its trajectory, with the inspected box marked, and the
inspected box's limits against each lever's range."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from siege.analysis.discover import Discovery
from siege.errors import DiscoverError
from siege.output.figure_style import SHADES, pyplot, write_figure_files

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def lever_value(x: float) -> str:
    """A lever's value: whole numbers with thousands separators from 1,000, else 4
    significant digits."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def tradeoff_figure(d: Discovery) -> Figure:
    """Density (y) against coverage (x) of every box on the trajectory, shaded by the number
    of levers restricted; the inspected box ringed and labelled."""
    plt = pyplot()
    boxes = d.trajectory.boxes
    fig, ax = plt.subplots(figsize=(6.4, 4.6), constrained_layout=True)
    coverage = np.array([b.coverage for b in boxes])
    density = np.array([b.density for b in boxes])
    dims = np.array([len(b.restricted) for b in boxes])
    ax.plot(coverage, density, color="#999999", linewidth=0.8, zorder=1)
    scatter = ax.scatter(coverage, density, c=dims, cmap="viridis", s=22, zorder=2,
                         vmin=0, vmax=max(1, int(dims.max())))
    chosen = boxes[d.box]
    ax.scatter([chosen.coverage], [chosen.density], s=140, facecolors="none",
               edgecolors=SHADES[2], linewidths=2, zorder=3)
    ax.annotate(f"box {d.box}", (chosen.coverage, chosen.density), textcoords="offset points",
                xytext=(8, -14), color=SHADES[2])
    ax.set_xlabel("coverage (share of the condition's replications in the box)")
    ax.set_ylabel("density (share of the box's replications)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, min(1.02, max(density) * 1.1 + 0.02))
    ticks = range(int(dims.max()) + 1)
    fig.colorbar(scatter, ax=ax, label="levers restricted", ticks=list(ticks))
    ax.set_title(f"PRIM trajectory: {d.condition}", fontsize=9)
    return fig


def limits_figure(d: Discovery) -> Figure:
    """One row per lever: its range over the sweep (grey) and the inspected box's limits
    (a blue bar) where it restricts the lever, on a scale from the lever's lowest to its
    highest value; a categorical lever's kept levels are listed."""
    plt = pyplot()
    levers = d.trajectory.levers
    box = d.trajectory.boxes[d.box]
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.55 * len(levers)), constrained_layout=True)
    for row, (lever, allowed) in enumerate(zip(levers, box.allowed, strict=True)):
        y = len(levers) - 1 - row
        ax.plot([0, 1], [y, y], color="#cccccc", linewidth=6, solid_capstyle="butt")
        kept = np.flatnonzero(allowed)
        if lever.categorical:
            shown = ", ".join(str(lever.levels[i]) for i in kept)
            ax.text(0.5, y + 0.22, shown, ha="center", fontsize=8)
            continue
        low, high = lever.levels[0], lever.levels[-1]
        if row in box.restricted:
            span = (high - low) or 1.0
            a, b = (lever.levels[kept[0]] - low) / span, (lever.levels[kept[-1]] - low) / span
            ax.plot([a, b], [y, y], color=SHADES[1], linewidth=6, solid_capstyle="butt")
            ax.text(a, y + 0.22, lever_value(lever.levels[kept[0]]), ha="center", fontsize=8)
            ax.text(b, y + 0.22, lever_value(lever.levels[kept[-1]]), ha="center", fontsize=8)
        else:
            ax.text(0.5, y + 0.22, "not restricted", ha="center", fontsize=8, color="#777777")
        ax.text(0, y - 0.32, lever_value(low), ha="left", fontsize=7, color="#777777")
        ax.text(1, y - 0.32, lever_value(high), ha="right", fontsize=7, color="#777777")
    ax.set_yticks(range(len(levers)))
    ax.set_yticklabels([lv.path for lv in reversed(levers)], fontsize=8)
    ax.set_xticks([])
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.7, len(levers) - 0.3)
    ax.set_title(f"Box {d.box}: coverage {box.coverage:.2f}, density {box.density:.2f}",
                 fontsize=9)
    return fig


def discovery_figures(d: Discovery) -> dict[str, Figure]:
    """Every figure, by file name: ``prim_tradeoff``, ``prim_box_limits``."""
    return {"prim_tradeoff": tradeoff_figure(d), "prim_box_limits": limits_figure(d)}


def save_discovery_figures(d: Discovery, folder: str | Path, *, dpi: int = 110) -> list[Path]:
    """Write every figure as ``FOLDER/<name>.png`` and ``.svg``; returns the paths."""
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise DiscoverError(f"folder {out}: exists and is not a folder", parameter="folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiscoverError(f"folder {out}: cannot be made ({exc.strerror})",
                            parameter="folder") from None
    return write_figure_files(discovery_figures(d), out, dpi)
