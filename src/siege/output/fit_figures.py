"""Figures of ``siege fit``: per estimator, observed against fitted daily and cumulative losses
(every law), the standardised residuals of the best law, and the recorded strengths against
the best law run forward from the first day. matplotlib is imported lazily (Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from siege.analysis.fit import FitSet, forward_strengths
from siege.analysis.fit_laws import SIDES
from siege.errors import FitError
from siege.files import atomic_path, make_folder
from siege.output.figure_style import FORMATS, pyplot, style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

def fit_figure(fits: FitSet, estimator: str) -> Figure:
    """Four rows (daily losses, cumulative losses, residuals, strengths) by two columns
    (defender, attacker) for one estimator's fits."""
    plt = pyplot()
    record = fits.record
    group = [f for f in fits.fits if f.estimator == estimator]
    best = group[0]
    day = record.day
    observed = {"defender": record.defender_losses, "attacker": record.attacker_losses}
    fig, axes = plt.subplots(4, 2, figsize=(11, 13), sharex=True, layout="constrained")
    for col, side in enumerate(SIDES):
        daily, cumulative, resid, strength = axes[:, col]
        daily.plot(day, observed[side], "o", color="black", markersize=3.5, label="recorded")
        cumulative.plot(day, np.cumsum(observed[side]), "o", color="black", markersize=3.5,
                        label="recorded")
        for i, f in enumerate(group):
            st = style(i + 1)
            width = 2.0 if f is best else 1.1
            label = f"{f.law} (ΔAIC {f.delta_aic:.1f})"
            daily.plot(day, f.fitted[side], color=st["color"], linestyle=st["linestyle"],
                       linewidth=width, label=label)
            cumulative.plot(day, np.cumsum(f.fitted[side]), color=st["color"],
                            linestyle=st["linestyle"], linewidth=width, label=label)
        resid.axhline(0.0, color="black", linewidth=0.8)
        for level in (-2.0, 2.0):
            resid.axhline(level, color="grey", linewidth=0.8, linestyle=":")
        resid.plot(day, best.residuals[side], "o-", color=style(1)["color"], markersize=3.5,
                   linewidth=0.8)
        daily.set_title(f"{side} losses per day", fontsize=10)
        cumulative.set_title(f"cumulative {side} losses", fontsize=10)
        resid.set_title(f"{side}: standardised residuals of {best.law} (lag-1 autocorrelation "
                        f"{best.residual_autocorrelation[side]:.2f})", fontsize=10)
        for ax in (daily, cumulative, resid, strength):
            ax.grid(alpha=0.3)
        daily.set_ylabel("persons/day")
        cumulative.set_ylabel("persons")
        resid.set_ylabel("(observed - fitted) / sd")
    attacker, defender = forward_strengths(fits, best)
    for ax, side, recorded, run in ((axes[3, 0], "defender", record.defender_strength, defender),
                                    (axes[3, 1], "attacker", record.attacker_strength, attacker)):
        ax.plot(day, recorded, "o", color="black", markersize=3.5, label="recorded")
        ax.plot(day, run, color=style(1)["color"], linewidth=2.0,
                label=f"{best.law} run forward from day {day[0]:g}")
        ax.set_title(f"{side} strength", fontsize=10)
        ax.set_ylabel("persons")
        ax.set_xlabel("day")
        ax.legend(fontsize=8)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{record.source}: attrition laws fitted by {estimator} (best: {best.law})")
    return fig


def save_fit_figures(fits: FitSet, folder: str | Path, dpi: int = 110) -> list[Path]:
    """Write ``FOLDER/fit_<estimator>.png`` and ``.svg`` for each estimator; returns paths."""
    plt = pyplot()
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise FitError(f"--figures {out}: exists and is not a folder")
    make_folder(out)
    written: list[Path] = []
    for estimator in dict.fromkeys(f.estimator for f in fits.fits):
        fig = fit_figure(fits, estimator)
        for fmt in FORMATS:
            path = out / f"fit_{estimator}.{fmt}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi,
                            metadata={"Date": None} if fmt == "svg" else None)
            written.append(path)
        plt.close(fig)
    return written
