"""The headline findings of a comparison, as data: for each variant, how its end reasons and
outcome measures stand against the reference.

Every number is one of the comparison's own statistics with its interval (paired where the
comparison is paired): nothing is computed again here, only picked and grouped, so a report's
sentences (:mod:`siege.output.sentences`) say exactly what its tables say. With a single result
set the findings are its levels: medians, means and end-reason probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

from siege.analysis.compare import Comparison
from siege.analysis.stats import Interval

# end reasons in which the defender loses the garrison: the headline of a policy's cost
GARRISON_LOST: tuple[str, ...] = ("encircled", "collapsed")


def excludes_zero(interval: Interval) -> bool:
    """Whether an interval of a difference lies wholly on one side of zero."""
    return interval.low > 0 or interval.high < 0


@dataclass(frozen=True)
class MeasureFinding:
    """One outcome measure of ``variant``: its median and mean with bootstrap intervals and,
    against a reference, the reference's and the differences variant − reference (None when
    the result set stands alone)."""

    measure: str
    unit: str
    median: Interval
    mean: Interval
    reference_median: Interval | None = None
    reference_mean: Interval | None = None
    median_difference: Interval | None = None
    mean_difference: Interval | None = None


@dataclass(frozen=True)
class ReasonFinding:
    """One end reason of ``variant``: its probability (Wilson interval) and, against a
    reference, the reference's and the difference (Newcombe interval; None alone)."""

    reason: str
    probability: Interval
    reference_probability: Interval | None = None
    difference: Interval | None = None

    @property
    def garrison_lost(self) -> bool:
        """Whether this end loses the garrison (see :data:`GARRISON_LOST`)."""
        return self.reason in GARRISON_LOST


@dataclass(frozen=True)
class Findings:
    """The findings of one variant against the reference (``reference`` "" for a result set
    on its own): end reasons that occur in either, garrison-lost ones first, then every
    compared measure in the comparison's order."""

    variant: str
    reference: str
    analysis: str
    confidence: float
    reasons: list[ReasonFinding]
    measures: list[MeasureFinding]


def findings(comparison: Comparison) -> list[Findings]:
    """The findings of each variant against the reference, in the comparison's order; with
    one result set, that set's levels."""
    c = comparison
    ref = c.reference
    stats = {(m.variant, m.measure): m for m in c.measures}
    probability = {(r.variant, r.reason): r for r in c.reasons}
    reason_diff = {(d.variant, d.reason): d.difference for d in c.reason_differences}
    measure_diff = {(d.variant, d.measure): d for d in c.differences}
    measure_names = list(dict.fromkeys(m.measure for m in c.measures))
    reason_names = list(dict.fromkeys(r.reason for r in c.reasons))
    reason_names.sort(key=lambda r: r not in GARRISON_LOST)  # stable: lost garrisons first
    alone = len(c.variants) == 1
    out = []
    for variant in ([ref] if alone else [v.label for v in c.variants[1:]]):
        reasons = []
        for reason in reason_names:
            mine, theirs = probability[(variant, reason)], probability[(ref, reason)]
            if mine.count == 0 and theirs.count == 0:
                continue
            reasons.append(ReasonFinding(
                reason, mine.probability,
                None if alone else theirs.probability,
                None if alone else reason_diff[(variant, reason)],
            ))
        measures = []
        for name in measure_names:
            mine_m, theirs_m = stats[(variant, name)], stats[(ref, name)]
            diff = None if alone else measure_diff[(variant, name)]
            measures.append(MeasureFinding(
                name, mine_m.unit, mine_m.statistics["median"], mine_m.statistics["mean"],
                None if alone else theirs_m.statistics["median"],
                None if alone else theirs_m.statistics["mean"],
                None if diff is None else diff.statistics["median"],
                None if diff is None else diff.statistics["mean"],
            ))
        out.append(Findings(variant, "" if alone else ref, c.analysis, c.confidence, reasons,
                            measures))
    return out
