"""``siege calibrate`` on the terminal: a line per generation, the posterior table, the strongest
correlations and the posterior predictive check."""

from __future__ import annotations

import math

from rich import box
from rich.table import Table

from siege.analysis.abc import AbcResult, Population
from siege.analysis.calibrate import PosteriorSummary
from siege.analysis.predictive import PredictiveCheck
from siege.output.terminal import fmt_value as num

STOPS = {
    "max_generations": "the last generation allowed (max_generations)",
    "min_tolerance": "the tolerance reached min_tolerance",
    "max_simulations": "the simulation budget (max_simulations) ran out; the generation "
                       "under way is discarded",
    "min_acceptance": "the acceptance rate fell below min_acceptance; the generation under way "
                      "is discarded",
    "wall_time": "the wall-time limit; the generation under way is discarded (--resume goes on)",
    "tolerance_stalled": "the tolerance can shrink no further",
    "interrupted": "interrupted (--resume goes on)",
}


def generation_line(p: Population) -> str:
    """``generation 3: tolerance 2.41, acceptance 0.183, ESS 412 of 500, 2,730 proposals``."""
    low = ("; the weights rest on few particles (kernel = \"twice_covariance\" or a larger "
           "population may help)" if p.ess < 0.1 * p.weights.size else "")
    return (f"generation {p.generation}: tolerance {num(p.tolerance)}, acceptance "
            f"{p.acceptance:.3f}, ESS {p.ess:.0f} of {p.weights.size}, {p.proposals:,} "
            f"proposals ({p.simulations:,} replications){low}")


def stop_line(result: AbcResult | PosteriorSummary) -> str:
    """Why the run stopped, and how many generations it holds."""
    why = STOPS.get(result.stopped, result.stopped)
    if not result.populations:
        return f"stopped before any generation finished: {why}"
    return f"stopped after generation {result.populations[-1].generation}: {why}"


def posterior_table(summary: PosteriorSummary) -> Table:
    """Per parameter: posterior median, 50 % and 90 % credible intervals, and the prior."""
    last = summary.posterior
    table = Table(title=f"posterior (generation {last.generation}, {last.weights.size} "
                  f"particles, ESS {last.ess:.0f}, tolerance {num(last.tolerance)})",
                  box=box.SIMPLE_HEAD)
    table.add_column("parameter", overflow="fold")
    table.add_column("median", justify="right")
    table.add_column("50 % interval", justify="right")
    table.add_column("90 % interval", justify="right")
    table.add_column("prior", overflow="fold")
    for p in summary.parameters:
        low, high = p.prior.support()
        table.add_row(p.path, num(p.median), f"{num(p.q25)} – {num(p.q75)}",
                      f"{num(p.q05)} – {num(p.q95)}",
                      f"{p.prior.describe()} on [{num(low)}, {num(high)}]")
    return table


def correlations_table(summary: PosteriorSummary, top: int = 5) -> Table:
    """The ``top`` strongest posterior correlations between parameters."""
    table = Table(title="strongest posterior correlations (log scale for log-scale priors)",
                  box=box.SIMPLE_HEAD)
    table.add_column("parameter", overflow="fold")
    table.add_column("with", overflow="fold")
    table.add_column("r", justify="right")
    for c in summary.correlations[:top]:
        table.add_row(c.first, c.second, f"{c.r:+.2f}")
    return table


def check_cells(check: PredictiveCheck) -> list[list[str]]:
    """The check's rows as text: target, observed, predictive median, 90 % interval, where the
    observation sits (percentile of a value, ``p = `` of an interval or end reason), in 90 %."""
    reasons = {c.label: c.reason for c in check.components}
    rows = []
    for r in check.rows:
        if reasons[r.label] is not None:
            observed, median, interval = str(reasons[r.label]), "", ""
        else:
            observed = num(r.low) if r.low == r.high else f"{num(r.low)} – {num(r.high)}"
            never = f" (never {r.never:.0%})" if r.never > 0 else ""
            median, interval = num(r.median) + never, f"{num(r.q05)} – {num(r.q95)}"
        sits = (f"{100 * r.percentile:.0f}" if math.isfinite(r.percentile)
                else f"p = {r.probability:.2f}")
        rows.append([r.label, observed, median, interval, sits, "yes" if r.inside else "no"])
    return rows


CHECK_HEAD = ["target", "observed", "predictive median", "90 % interval", "percentile",
              "in 90 %"]


def check_table(check: PredictiveCheck) -> Table:
    """Per target component: observation, predictive median and 90 % interval, percentile."""
    table = Table(title=f"posterior predictive check ({check.simulated.shape[0]:,} draws, one "
                  "replication each)", box=box.SIMPLE_HEAD)
    for name in CHECK_HEAD:
        table.add_column(name, justify="left" if name == "target" else "right",
                         overflow="fold")
    for row in check_cells(check):
        table.add_row(*row)
    return table
