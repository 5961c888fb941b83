"""``siege backtest`` on the terminal and as JSON: a row per siege (the observed end, the
forecast and its scores), the summary row, and with ``--leave-one-out`` a line per fold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table

from siege.analysis.abc import weighted_quantile
from siege.analysis.backtest import (
    CENTRAL,
    HIT_PROBABILITY,
    BacktestSummary,
    SiegeScore,
    summarize_scores,
)
from siege.analysis.backtest_run import Fold
from siege.output.terminal import fmt_value as num

SMOOTHING = ("log score: ln of the predicted probability of the observed end reason with "
             "add-one smoothing, (count + 1) / (replications + {k})")


def _reasons(score: SiegeScore) -> str:
    """``held 0.87, withdrew 0.13, encircled <0.01``, most likely first."""
    ranked = sorted(score.end_reasons.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{r} {p:.2f}" if p >= 0.005 else f"{r} <0.01" for r, p in ranked)


def scores_table(scores: Sequence[SiegeScore], title: str) -> Table:
    """One row per siege and the summary row."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for header, justify in (("siege", "left"), ("observed end", "left"),
                            ("P(observed)", "right"), ("end reasons (model)", "left"),
                            (f"end day [{CENTRAL:.0%}]", "right"),
                            ("percentile", "right"), ("CRPS (days)", "right"),
                            ("log score", "right"), ("hit", "left")):
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for s in scores:
        table.add_row(s.name, f"{s.observed_end_reason} {s.observed_end_day:g}",
                      f"{s.p_end_reason:.2f}", _reasons(s),
                      f"{s.end_day_median:.0f} [{s.end_day_low:.0f}–{s.end_day_high:.0f}]",
                      f"{s.end_day_percentile:.0f}", f"{s.crps:.1f}", f"{s.log_score:.2f}",
                      _hit(s))
    summary = summarize_scores(scores)
    table.add_section()
    table.add_row(f"{summary.sieges} sieges", "", f"{summary.reason_hits} ≥ {HIT_PROBABILITY}",
                  "", f"{summary.day_hits} inside", "", f"mean {summary.mean_crps:.1f}",
                  f"mean {summary.mean_log_score:.2f}", f"{summary.hits} hits")
    return table


def _hit(s: SiegeScore) -> str:
    if s.hit:
        return "hit"
    why = [] if s.reason_hit else ["reason"]
    return "miss: " + ", ".join(why + ([] if s.day_hit else ["day"]))


def fold_line(fold: Fold) -> str:
    """``left out avdiivka: fit on 8 sieges, 3 generations (the last generation allowed),
    tolerance 12.3, 2,310 replications``."""
    last = fold.fit.posterior
    return (f"left out {fold.left_out}: doctrine fitted on {len(fold.training)} sieges, "
            f"{len(fold.fit.populations)} generations ({fold.fit.stopped}), tolerance "
            f"{num(last.tolerance)}, ESS {last.ess:.0f}, {fold.fit.simulations:,} replications")


def _medians(fold: Fold, paths: Sequence[str]) -> dict[str, float]:
    """The fold's weighted posterior median of each doctrine parameter."""
    last = fold.fit.posterior
    return {path: float(weighted_quantile(last.values[:, j], last.weights, 0.5))
            for j, path in enumerate(paths)}


def backtest_dict(scores: Sequence[SiegeScore], *, replications: int, seed: int | None,
                  categories: int, folds: Sequence[Fold] = (),
                  doctrine_paths: Sequence[str] = (),
                  inputs: Mapping[str, Sequence[str]] | None = None,
                  fixed_inputs: bool = False) -> dict[str, Any]:
    """``{"sieges": [...], "summary": {...}}``: each siege's scores under the keys of
    :meth:`SiegeScore.scores`, and the summary row with what each forecast was (with
    ``folds``: each fit, and its posterior median of each of ``doctrine_paths``; each siege's
    uncertain ``inputs``, paths, and whether they were held at the scenario's values)."""
    summary: BacktestSummary = summarize_scores(scores)
    details = {s.name: {"end_reasons": s.end_reasons, "end_day_median": s.end_day_median,
                        "end_day_low": s.end_day_low, "end_day_high": s.end_day_high,
                        "hit": s.hit} for s in scores}
    extra: dict[str, Any] = {
        **summary.to_dict(), "replications": replications, "seed": seed,
        "hit_rule": f"p_end_reason >= {HIT_PROBABILITY} and the observed end day inside the "
                    f"central {CENTRAL:.0%} interval of the predicted end days",
        "log_score_floor": SMOOTHING.format(k=categories),
        "forecasts": details,
        "fixed_inputs": fixed_inputs,
        "uncertain_inputs": {name: list(paths) for name, paths in (inputs or {}).items()},
    }
    if folds:
        extra["leave_one_out"] = {f.left_out: {
            "training": list(f.training), "generations": len(f.fit.populations),
            "stopped": f.fit.stopped, "tolerance": f.fit.posterior.tolerance,
            "ess": f.fit.posterior.ess, "simulations": f.fit.simulations,
            "siege_scales": dict(zip(f.training, f.scales, strict=True)),
            "doctrine_median": _medians(f, doctrine_paths)} for f in folds}
    return {"sieges": [s.scores() for s in scores], "summary": extra}
