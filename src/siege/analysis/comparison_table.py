"""A comparison in long form: one row per (section, variant, measure, statistic), for Parquet
and for dataframe users."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from siege.analysis.compare import Comparison


def comparison_table(comparison: Comparison) -> pa.Table:
    """The statistics in long form, one row per (section, variant, measure, statistic).

    Columns: ``section`` (measure, difference, test, end_reason, end_reason_difference,
    end_reason_test, precision), ``variant``, ``reference``, ``measure``, ``statistic``,
    ``value``, ``low``, ``high``, ``unit``, ``analysis``, ``n``; the analysis and the variants'
    provenance are in the schema metadata (``siege.*``).
    """
    rows: list[dict[str, Any]] = []

    def add(section: str, variant: str, reference: str | None, measure: str,
            statistic: str, value: float, low: float = math.nan, high: float = math.nan,
            unit: str = "", analysis: str = "", n: int | None = None) -> None:
        rows.append(dict(section=section, variant=variant, reference=reference,
                         measure=measure, statistic=statistic, value=float(value),
                         low=float(low), high=float(high), unit=unit, analysis=analysis,
                         n=n))

    for m in comparison.measures:
        for name, iv in m.statistics.items():
            add("measure", m.variant, None, m.measure, name, iv.estimate, iv.low, iv.high,
                m.unit, n=m.n)
    for d in comparison.differences:
        for name, iv in d.statistics.items():
            add("difference", d.variant, d.reference, d.measure, f"{name}_difference",
                iv.estimate, iv.low, iv.high, d.unit, d.analysis)
        if d.unpaired_mean is not None:
            u = d.unpaired_mean
            add("difference", d.variant, d.reference, d.measure,
                "unpaired_mean_difference", u.estimate, u.low, u.high, d.unit, "unpaired")
            add("difference", d.variant, d.reference, d.measure, "narrowing",
                d.narrowing, analysis=d.analysis)
        for key, value in d.tests.items():
            add("test", d.variant, d.reference, d.measure, key, value,
                analysis=d.analysis)
    for measure, (stat, p) in comparison.anderson_all.items():
        add("test", "all", None, measure, "anderson_all_statistic", stat)
        add("test", "all", None, measure, "anderson_all_pvalue", p)
    for r in comparison.reasons:
        iv = r.probability
        add("end_reason", r.variant, None, r.reason, "probability", iv.estimate, iv.low,
            iv.high, n=r.n)
    for rd in comparison.reason_differences:
        iv = rd.difference
        add("end_reason_difference", rd.variant, rd.reference, rd.reason,
            "probability_difference", iv.estimate, iv.low, iv.high, analysis=rd.analysis)
    cs = comparison.chi_square
    for key in ("statistic", "dof", "pvalue", "cramers_v"):
        add("end_reason_test", "all", None, "end_reason", f"chi_square_{key}",
            getattr(cs, key))
    for pr in comparison.precision:
        add("precision", pr.variant, None, pr.measure, f"{pr.quantity}_half_width",
            pr.half_width, unit=pr.unit, n=pr.n)
        if pr.target is not None:
            add("precision", pr.variant, None, pr.measure, f"{pr.quantity}_n_needed",
                math.nan if pr.n_needed is None else pr.n_needed, unit=pr.unit,
                n=pr.n)
    meta = {
        "siege.kind": "comparison",
        "siege.analysis": comparison.analysis,
        "siege.analysis_reason": comparison.analysis_reason,
        "siege.variants": json.dumps([asdict(v) for v in comparison.variants]),
    }
    columns = {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
    schema = pa.schema([
        ("section", pa.string()), ("variant", pa.string()), ("reference", pa.string()),
        ("measure", pa.string()), ("statistic", pa.string()), ("value", pa.float64()),
        ("low", pa.float64()), ("high", pa.float64()), ("unit", pa.string()),
        ("analysis", pa.string()), ("n", pa.int64()),
    ])
    return pa.table(columns, schema=schema).replace_schema_metadata(meta)
