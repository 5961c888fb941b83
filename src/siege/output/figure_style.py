"""What every figure of siege shares: matplotlib loaded lazily with the Agg backend, the
style of the ``i``-th variant (line style, marker, shade and hatch, so that figures read in
grayscale), titles of measures, and tick labels that do not collide."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from siege.errors import SiegeError

LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
HATCHES = ("", "///", "...", "xxx", "\\\\\\", "ooo")
MARKERS = ("o", "s", "^", "D", "v", "P")
# dark to mid grays with a hint of hue: distinct in colour and in grayscale
SHADES = ("#1b1b1b", "#1f5fa8", "#b2521b", "#3a7d3a", "#7a3f8f", "#8c6d1f")

FORMATS = ("png", "svg")


def pyplot() -> Any:
    """matplotlib's pyplot with the Agg backend (files only, no window)."""
    try:
        import matplotlib
    except ImportError:  # a dependency of siege: only a broken install gets here
        raise SiegeError("figures need matplotlib, which is not importable: reinstall siege "
                         "with its dependencies") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def thousands(axis: Any, nbins: int = 6, integer: bool = False) -> None:
    """At most ``nbins`` ticks on an axis (whole numbers only with ``integer``: counts), large
    values with thousands separators (``12,500``), so that tick labels do not collide."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=nbins, integer=integer, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(
        lambda v, _: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}"))


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


def write_figure_files(figures: Mapping[str, Any], folder: Path, dpi: int = 110) -> list[Path]:
    """Write each figure as ``folder/<name>.png`` and ``.svg`` (no date in the SVG, so
    the files are reproducible) and close it; returns the paths. ``folder`` must exist."""
    plt = pyplot()
    written: list[Path] = []
    for name, fig in figures.items():
        for fmt in FORMATS:
            path = folder / f"{name}.{fmt}"
            fig.savefig(path, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
            written.append(path)
        plt.close(fig)
    return written
