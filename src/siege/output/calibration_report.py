"""A calibration as a section of an HTML report: the generations, the posterior table, its
strongest correlations, the predictive check and the figures (PNG embedded), and a page that
holds just that section (``siege calibrate --report``)."""

from __future__ import annotations

from pathlib import Path

from siege.analysis.calibrate import PosteriorSummary
from siege.analysis.predictive import PredictiveCheck
from siege.errors import CalibrationError
from siege.files import atomic_write_bytes
from siege.output.calibration_figures import _pyplot, calibration_figures
from siege.output.calibration_view import CHECK_HEAD, check_cells, stop_line
from siege.output.report import _e, _table, figure_html, html_page
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
        _pyplot()  # matplotlib, or a CalibrationError naming what to install
        parts += [figure_html(fig, name.replace("_", " "))
                  for name, fig in calibration_figures(summary, check).items()]
    return "".join(parts)


def write_calibration_report(summary: PosteriorSummary, path: str | Path,
                             check: PredictiveCheck | None = None) -> Path:
    """Write a page holding :func:`calibration_section` to ``path`` (``.html``)."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm") or not out.parent.is_dir():
        raise CalibrationError(f"{out}: give an .html file in an existing folder",
                               key="--report")
    heading = f"Calibration of {summary.calibration.scenario.name}"
    atomic_write_bytes(out, html_page(heading, calibration_section(summary, check)).encode())
    return out
