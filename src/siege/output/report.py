"""One self-contained HTML report of result sets: the headline findings in sentences, the
scenarios, the summary, the comparison tables and the figures with their captions (PNG
embedded as base64 ``data:`` URIs; no network access needed). With a start date (the
scenario's, or given), days of the siege also read as calendar dates.

The page carries a small inline script that, once loaded, records on ``<body>`` how many of
its figures decoded (``data-figures-loaded``, ``data-figures-total``): a check any browser
(and the test suite's headless Chromium) can read.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from siege._version import __version__
from siege.analysis.compare import Comparison, compare
from siege.analysis.findings import findings
from siege.analysis.stats import STATISTICS
from siege.errors import CompareError
from siege.files import atomic_write_text
from siege.output.calendar import fmt_date, start_date_of
from siege.output.captions import figure_captions
from siege.output.sentences import DAY_MEASURES, finding_sentences, lead_sentence
from siege.output.terminal import (
    chi_square_line,
    fmt,
    fmt_interval,
    fmt_narrowing,
    fmt_p,
    header_lines,
    statistic_names,
)
from siege.results.sets import ResultSet, distinct_labels
from siege.scenario import to_toml

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; color: #111;
       line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #999; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; } td.n { text-align: right; white-space: nowrap; }
.wide { overflow-x: auto; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #333; max-width: 60em; }
.findings { background: #f4f7fb; border-left: 4px solid #1f5fa8; padding: 0.6em 1.2em; }
.findings h2 { margin-top: 0.4em; }
.findings p.lead { font-size: 1.1em; font-weight: 600; }
.findings li { margin: 0.25em 0; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.note { color: #333; font-size: 0.95em; }
"""

_CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-figures-total', String(imgs.length));
  document.body.setAttribute('data-figures-loaded', String(ok.length));
  document.body.setAttribute('data-figure-widths',
    imgs.map(function (i) { return i.naturalWidth; }).join(','));
});
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_NUMBER = re.compile(r"^(?:[+\-−<]?\d[\d,.]*|-?inf|–)(?: |$)")  # 2,000; 0.35 (0.33 – 0.37); <0.001


def _table(caption: str, head: list[str], rows: list[list[str]]) -> str:
    """An HTML table; cells that start with a number are right-aligned and kept on one
    line, and a table too wide for the page scrolls on its own."""
    out = [f"<div class='wide'><table><caption>{_e(caption)}</caption><thead><tr>"]
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(
            f"<td class='n'>{_e(c)}</td>" if _NUMBER.match(c) else f"<td>{_e(c)}</td>"
            for c in row) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def figure_html(fig: Any, caption: str) -> str:
    """A matplotlib figure as an HTML ``<figure>`` with its PNG (90 dpi) embedded as a
    ``data:`` URI and a plain caption; the figure is closed."""
    from siege.output.figure_style import pyplot

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    pyplot().close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def html_page(heading: str, body: str) -> str:
    """A self-contained HTML page: the report's style, ``heading`` as title and first
    heading, the siege version, then ``body`` (HTML)."""
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(heading)}</h1><p class='note'>siege {_e(__version__)}</p>"
            + body + "</body></html>\n")


def _findings(c: Comparison, start_date: dt.date | None) -> str:
    """The headline findings, one block per variant: a lead sentence, then every finding."""
    pct = round(100 * c.confidence)
    parts = ["<section class='findings'><h2>Findings</h2>"]
    for f in findings(c):
        against = (f"{f.variant} against {f.reference}, {f.analysis} analysis"
                   if f.reference else f"{f.variant} alone")
        parts.append(f"<p class='lead'>{_e(lead_sentence(f, start_date))}</p>")
        parts.append(f"<p class='note'>{_e(against)}; {pct} % intervals in brackets "
                     "(bootstrap for measures, Wilson and Newcombe for end reasons):</p><ul>")
        parts += [f"<li>{_e(s)}</li>" for s in finding_sentences(f, start_date)]
        parts.append("</ul>")
    parts.append("</section>")
    return "".join(parts)


def _scenarios(sets: list[ResultSet], start_date: dt.date | None) -> str:
    parts = ["<h2>Scenarios</h2>"]
    rows = []
    for rs in sets:
        p = rs.provenance
        rows.append([rs.label, p.scenario_name, p.scenario_sha256[:12],
                     "" if p.seed is None else str(p.seed), p.engine, f"{rs.n:,}",
                     "yes" if p.partial else "no", p.source or "(in memory)"])
    caption = "Result sets (the first is the reference)"
    if start_date is not None:
        caption += f"; day 0 is {fmt_date(0, start_date)}"
    parts.append(_table(caption, ["label", "scenario", "sha256", "seed", "engine",
                                  "replications", "partial", "file"], rows))
    for rs in sets:
        scenario = rs.provenance.valid_scenario
        text = "(scenario not shown: it no longer validates)" if scenario is None else to_toml(
            scenario)
        parts.append(f"<details><summary>Scenario of {_e(rs.label)} (resolved)</summary>"
                     f"<pre>{_e(text)}</pre></details>")
    return "".join(parts)


def _with_date(text: str, day: float, start_date: dt.date | None) -> str:
    return text if start_date is None or not math.isfinite(day) else (
        f"{text}; {fmt_date(day, start_date)}")


def _summary(c: Comparison, start_date: dt.date | None) -> str:
    labels = [v.label for v in c.variants]
    by_reason = {(r.variant, r.reason): r for r in c.reasons}
    reasons = list(dict.fromkeys(r.reason for r in c.reasons))
    rows = [[reason] + [fmt_interval(by_reason[(lab, reason)].probability) for lab in labels]
            for reason in reasons]
    parts = ["<h2>Summary</h2>",
             _table("End of siege: probability (95 % Wilson interval); held = held to the "
                    "horizon", ["end reason", *labels], rows)]
    rows = []
    for m in c.measures:
        cells = []
        for iv in m.statistics.values():
            cell = fmt_interval(iv)
            cells.append(_with_date(cell, iv.estimate, start_date)
                         if m.measure in DAY_MEASURES else cell)
        rows.append([m.measure, m.unit, m.variant, f"{m.n:,}", *cells])
    parts.append(_table(f"Outcome measures: {statistic_names()} (95 % bootstrap interval)",
                        ["measure", "unit", "variant", "n", *STATISTICS], rows))
    return "".join(parts)


def _comparison(c: Comparison) -> str:
    if len(c.variants) < 2:
        return ""
    parts = ["<h2>Comparison</h2>"]
    parts += [f"<p class='note'>{_e(line)}</p>" for line in header_lines(c)[len(c.variants):]]
    head = ["measure", "variant", *(f"Δ {name}" for name in STATISTICS)]
    if c.analysis == "paired":
        head.append("paired interval of Δ mean vs unpaired")
    rows = []
    for d in c.differences:
        row = [d.measure, d.variant, *(fmt_interval(iv, True) for iv in d.statistics.values())]
        if c.analysis == "paired":
            row.append(fmt_narrowing(d.narrowing))
        rows.append(row)
    parts.append(_table(f"Differences from {c.reference} ({c.analysis} analysis, 95 % "
                        "intervals)", head, rows))
    rows = []
    for d in c.differences:
        t = d.tests
        rows.append([d.measure, d.variant, fmt(t["ks_statistic"]), fmt_p(t["ks_pvalue"]),
                     f"{t['cliffs_delta']:+.2f}", fmt_p(t["mannwhitney_pvalue"]),
                     fmt_p(t["anderson_pvalue"])])
    parts.append(_table(f"Distribution tests against {c.reference}, with effect sizes",
                        ["measure", "variant", "KS D", "KS p", "Cliff's δ", "Mann–Whitney p",
                         "Anderson–Darling p"], rows))
    rows = [[d.reason, d.variant, fmt_interval(d.difference, True)]
            for d in c.reason_differences]
    parts.append(_table(f"End reasons: difference of probability from {c.reference} "
                        f"(Newcombe 95 % interval, {c.analysis})",
                        ["end reason", "variant", "difference"], rows))
    parts.append(f"<p class='note'>{_e(chi_square_line(c))}</p>")
    rows = [[p.measure, p.variant, p.quantity.replace("_", " "), f"{p.n:,}",
             f"{fmt(p.half_width)} {p.unit}"] for p in c.precision]
    parts.append(_table("Precision: half-width of the 95 % interval of means",
                        ["measure", "variant", "quantity", "n", "half-width"], rows))
    return "".join(parts)


def _figures(sets: list[ResultSet], start_date: dt.date | None) -> str:
    from siege.output.figure_style import pyplot
    from siege.output.plots import figure_makers

    plt = pyplot()
    makers = figure_makers(sets, start_date)
    captions = figure_captions(sets, list(makers), start_date)
    parts = ["<h2>Figures</h2>"]
    for number, (name, draw) in enumerate(makers.items(), start=1):
        fig = draw()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        heading = name.replace("_", " ")
        parts.append(f"<figure id='fig-{_e(name)}'><img alt='{_e(heading)}' "
                     f"src='data:image/png;base64,{data}'><figcaption><b>Figure {number} "
                     f"({_e(heading)}).</b> {_e(captions[name])}</figcaption></figure>")
    return "".join(parts)


def render_report(result_sets: Sequence[ResultSet], comparison: Comparison, *,
                  title: str | None = None, start_date: dt.date | None = None) -> str:
    """The report as one HTML string (figures embedded) of the result sets and their
    comparison (from :func:`~siege.analysis.compare.compare` of the same sets). Days read
    as dates from ``start_date``, or from the reference scenario's start date if it has
    one."""
    sets = distinct_labels(result_sets)
    start = start_date or start_date_of(sets)
    names = ", ".join(dict.fromkeys(rs.provenance.scenario_name or rs.label for rs in sets))
    heading = title or f"Siege report: {names}"
    body: list[Any] = [
        f"<h1>{_e(heading)}</h1>",
        f"<p class='note'>siege {_e(__version__)}; {len(sets)} result set(s); "
        f"{_e(comparison.analysis)} analysis ({_e(comparison.analysis_reason)}).</p>",
        _findings(comparison, start),
        _scenarios(sets, start),
        _summary(comparison, start),
        _comparison(comparison),
        _figures(sets, start),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(heading)}</title><style>{_CSS}</style>"
        f"<script>{_CHECK_SCRIPT}</script></head><body>"
        + "".join(body) + "</body></html>\n"
    )


def write_report(result_sets: Sequence[ResultSet], path: str | Path, *,
                 title: str | None = None, n_resamples: int = 2000, seed: int = 0,
                 start_date: dt.date | None = None) -> Path:
    """Compare the result sets and write the report to ``path`` (an ``.html`` file)."""
    p = Path(path)
    if p.suffix.lower() not in (".html", ".htm"):
        raise CompareError(f"path {p}: the report is HTML; give a file ending in .html",
                           parameter="path")
    if not p.parent.is_dir():
        raise CompareError(f"path {p}: folder {p.parent} does not exist", parameter="path")
    comparison = compare(result_sets, n_resamples=n_resamples, seed=seed)
    atomic_write_text(p, render_report(result_sets, comparison, title=title,
                                       start_date=start_date))
    return p
