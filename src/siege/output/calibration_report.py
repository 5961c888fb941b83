"""A calibration as a section of an HTML report: the generations, the posterior table, its
strongest correlations, the predictive check and the figures (PNG embedded), and a page that
holds just that section (``siege calibrate --report``)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from siege._version import __version__
from siege.analysis.calibrate import PosteriorSummary
from siege.analysis.predictive import PredictiveCheck
from siege.errors import CalibrationError
from siege.files import atomic_write_bytes
from siege.output.calibration_figures import _pyplot, calibration_figures
from siege.output.calibration_view import CHECK_HEAD, check_cells, stop_line
from siege.output.report import _CSS, _e, _table
from siege.output.terminal import fmt_value as num


def calibration_section(summary: PosteriorSummary, check: PredictiveCheck | None = None,
                        *, figures: bool = True) -> str:
    """The calibration's section (HTML): what was fitted, how the generations went, the
    posterior, and (given) the predictive check; figures embedded unless ``figures`` is
    False."""
    cal = summary.calibration
    parts = [
        f"<h2>Calibration: {_e(cal.file.name)}</h2>",
        f"<p class='note'>Scenario {_e(cal.scenario.name)}; ABC-SMC with "
        f"{cal.abc.population} particles, {_e(cal.abc.kernel)} kernel, tolerance at the "
        f"{cal.abc.quantile:g} quantile; {_e(stop_line(summary))}.</p>",
        _table("Generations", ["generation", "tolerance", "acceptance", "ESS", "proposals"],
               [[str(p.generation), num(p.tolerance), f"{p.acceptance:.3f}", f"{p.ess:.0f}",
                 f"{p.proposals:,}"] for p in summary.populations]),
        _table("Posterior", ["parameter", "median", "50 % interval", "90 % interval", "prior"],
               [[p.path, num(p.median), f"{num(p.q25)} – {num(p.q75)}",
                 f"{num(p.q05)} – {num(p.q95)}", p.prior.describe()]
                for p in summary.parameters]),
    ]
    if summary.correlations:
        parts.append(_table("Strongest posterior correlations", ["parameter", "with", "r"],
                            [[c.first, c.second, f"{c.r:+.2f}"]
                             for c in summary.correlations[:5]]))
    if check is not None:
        parts.append(_table("Posterior predictive check", CHECK_HEAD, check_cells(check)))
    if figures:
        plt = _pyplot()
        for name, fig in calibration_figures(summary, check).items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90)
            plt.close(fig)
            data = base64.b64encode(buf.getvalue()).decode("ascii")
            caption = name.replace("_", " ")
            parts.append(f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,"
                         f"{data}'><figcaption>{_e(caption)}</figcaption></figure>")
    return "".join(parts)


def write_calibration_report(summary: PosteriorSummary, path: str | Path,
                             check: PredictiveCheck | None = None) -> Path:
    """Write a page holding :func:`calibration_section` to ``path`` (``.html``)."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm") or not out.parent.is_dir():
        raise CalibrationError(f"{out}: give an .html file in an existing folder",
                               key="--report")
    heading = f"Calibration of {summary.calibration.scenario.name}"
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(heading)}</h1><p class='note'>siege {_e(__version__)}</p>"
            + calibration_section(summary, check) + "</body></html>\n")
    atomic_write_bytes(out, page.encode())
    return out
