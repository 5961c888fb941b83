"""Terminal tables of a comparison (rich renderables; no printing)."""

from __future__ import annotations

import math

from rich.table import Table

from siege.analysis.compare import Comparison
from siege.analysis.stats import STATISTICS, Interval


def fmt(x: float) -> str:
    """A number for a table: thousands separators for large values, 3 significant digits."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if abs(x) >= 0.1 or x == 0 else f"{x:.3g}"


def fmt_value(x: float) -> str:
    """A parameter value: 4 significant digits (``–`` for NaN)."""
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.4g}"


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_interval(iv: Interval, signed: bool = False) -> str:
    est = fmt(iv.estimate)
    if signed and math.isfinite(iv.estimate) and iv.estimate > 0:
        est = "+" + est
    if math.isnan(iv.low):
        return est
    return f"{est} ({fmt(iv.low)} – {fmt(iv.high)})"


def fmt_narrowing(narrowing: float) -> str:
    """How a paired interval compares with the unpaired one, from ``1 − paired width /
    unpaired width``: ``19 % narrower`` or ``24 % wider``."""
    if math.isnan(narrowing):
        return "–"
    return f"{100 * abs(narrowing):.0f} % " + ("narrower" if narrowing >= 0 else "wider")


def header_lines(c: Comparison) -> list[str]:
    lines = []
    for i, v in enumerate(c.variants):
        role = "reference" if i == 0 else "variant"
        partial = ", PARTIAL run" if v.partial else ""
        lines.append(
            f"{role} {v.label}: {v.scenario_name} (sha256 {v.scenario_sha256[:12]}), "
            f"seed {v.seed}, {v.replications:,} replications{partial}  [{v.path}]"
        )
    pct = round(100 * c.confidence)
    lines.append(
        f"analysis: {c.analysis.upper()} — {c.analysis_reason}; {pct} % intervals: "
        f"percentile bootstrap ({c.n_resamples:,} resamples) for measures, Wilson/Newcombe "
        "for end reasons"
    )
    if c.analysis == "paired" and math.isfinite(c.median_narrowing):
        lines.append(
            f"paired intervals of mean differences are {fmt_narrowing(c.median_narrowing)} "
            "than unpaired ones (median over measures; per measure below)"
        )
    return lines


def statistic_names() -> str:
    """The compared statistics in words: ``median and mean``."""
    names = list(STATISTICS)
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def measures_table(c: Comparison) -> Table:
    pct = round(100 * c.confidence)
    t = Table(title=f"outcome measures: {statistic_names()} ({pct} % bootstrap interval)")
    for name, justify in (("measure", "left"), ("unit", "left"), ("variant", "left"),
                          ("n", "right"), *((s, "right") for s in STATISTICS)):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    last = None
    for m in c.measures:
        first = m.measure != last
        last = m.measure
        n = f"{m.n:,}" + (f" ({m.n_infinite} inf)" if m.n_infinite else "")
        t.add_row(m.measure if first else "", m.unit if first else "", m.variant, n,
                  *(fmt_interval(iv) for iv in m.statistics.values()))
    return t


def differences_table(c: Comparison) -> Table:
    pct = round(100 * c.confidence)
    t = Table(title=f"differences from {c.reference} ({c.analysis}; {pct} % bootstrap "
              "intervals)")
    t.add_column("measure", no_wrap=True)
    t.add_column("variant", no_wrap=True)
    for name in STATISTICS:
        t.add_column(f"Δ {name}", justify="right", no_wrap=True)
    if c.analysis == "paired":
        t.add_column("unpaired Δ mean", justify="right", no_wrap=True)
        t.add_column("paired vs unpaired", justify="right", no_wrap=True)
    for d in c.differences:
        row = [d.measure, d.variant, *(fmt_interval(iv, True) for iv in d.statistics.values())]
        if c.analysis == "paired":
            row.append(fmt_interval(d.unpaired_mean, True) if d.unpaired_mean else "–")
            row.append(fmt_narrowing(d.narrowing))
        t.add_row(*row)
    return t


def tests_table(c: Comparison) -> Table:
    t = Table(title=f"distribution tests against {c.reference}, with effect sizes")
    t.add_column("measure", no_wrap=True)
    t.add_column("variant", no_wrap=True)
    for name in ("KS D", "KS p", "Cliff's δ", "Mann–Whitney p", "Anderson–Darling p"):
        t.add_column(name, justify="right")
    if c.analysis == "paired":
        t.add_column("Wilcoxon p", justify="right")
    for d in c.differences:
        tests = d.tests
        delta = "–" if math.isnan(tests["cliffs_delta"]) else f"{tests['cliffs_delta']:+.2f}"
        row = [d.measure, d.variant, fmt(tests["ks_statistic"]), fmt_p(tests["ks_pvalue"]),
               delta, fmt_p(tests["mannwhitney_pvalue"]), fmt_p(tests["anderson_pvalue"])]
        if c.analysis == "paired":
            row.append(fmt_p(tests["wilcoxon_pvalue"]))
        t.add_row(*row)
    return t


def reasons_table(c: Comparison) -> Table:
    pct = round(100 * c.confidence)
    t = Table(title=f"end reasons: probability ({pct} % Wilson interval) and difference from "
              f"{c.reference} (Newcombe, {c.analysis})")
    t.add_column("end reason")
    labels = [v.label for v in c.variants]
    for label in labels:
        t.add_column(label, justify="right")
    for label in labels[1:]:
        t.add_column(f"Δ {label}", justify="right")
    by = {(r.variant, r.reason): r for r in c.reasons}
    diffs = {(d.variant, d.reason): d for d in c.reason_differences}
    reasons = list(dict.fromkeys(r.reason for r in c.reasons))
    for reason in reasons:
        cells = [reason]
        cells += [fmt_interval(by[(label, reason)].probability) for label in labels]
        cells += [fmt_interval(diffs[(label, reason)].difference, True) for label in labels[1:]]
        t.add_row(*cells)
    return t


def chi_square_line(c: Comparison) -> str:
    cs = c.chi_square
    if math.isnan(cs.statistic):
        return "chi-square test of end reasons: not defined (fewer than two reasons occur)"
    return (f"chi-square test of end reason × variant: χ² = {cs.statistic:.1f}, "
            f"dof {cs.dof}, p {fmt_p(cs.pvalue)}, Cramér's V {cs.cramers_v:.2f}")


def precision_table(c: Comparison) -> Table:
    with_target = any(p.target is not None for p in c.precision)
    t = Table(title="precision: half-width of the 95 % interval of means"
              + (" and replications needed" if with_target else ""))
    for name in ("measure", "variant", "quantity", "n", "half-width"):
        t.add_column(name, justify="right" if name in ("n", "half-width") else "left")
    if with_target:
        t.add_column("target", justify="right")
        t.add_column("n needed", justify="right")
    for p in c.precision:
        row = [p.measure, p.variant, p.quantity.replace("_", " "), f"{p.n:,}",
               f"{fmt(p.half_width)} {p.unit}"]
        if with_target:
            row += ["–" if p.target is None else fmt(p.target),
                    "–" if p.n_needed is None else f"{p.n_needed:,}"]
        t.add_row(*row)
    return t
