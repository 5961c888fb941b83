"""Comparison of result sets: outcome measures, end reasons, paired or unpaired analysis,
and the replications needed for a given precision.

:func:`compare` takes :class:`~siege.results.sets.ResultSet` s (a run in memory,
``SimulationResult.result_set()``, or a results file or sweep-store point read by
:func:`~siege.results.sets.load_result_set`) and returns a :class:`Comparison` of named
results; nothing here reads files or prints.

The first result set is the reference: every difference is ``variant − reference``. The
analysis is *paired* when every set has the same seed, the same engine and the same
replication ids as the reference (common random numbers), otherwise *unpaired*. The
statistics of each measure are those of :data:`~siege.analysis.stats.STATISTICS` and
:data:`~siege.analysis.stats.TWO_SAMPLE_TESTS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.analysis.precision import Precision, Targets, mean_precision
from siege.analysis.stats import (
    STATISTICS,
    ChiSquare,
    Interval,
    anderson_ksample,
    bootstrap_difference,
    bootstrap_interval,
    chi_square,
    newcombe_interval,
    newcombe_paired_interval,
    two_sample_tests,
)
from siege.errors import CompareError
from siege.model.rules import END_REASONS
from siege.results.sets import (
    ResultSet,
    by_replication,
    check_comparable,
    distinct_labels,
    pairing,
)
from siege.results.summary import COMPARE_MEASURES, wilson_interval

__all__ = ["COMPARE_MEASURES", "CompareError", "Comparison", "ResultSet", "compare"]

# ------------------------------------------------------------------------------------------
# results


def _flat(obj: Any) -> dict[str, Any]:
    """``asdict`` with the ``statistics`` spread in place: keys ``median``, ``mean``, ..."""
    out: dict[str, Any] = {}
    for key, value in asdict(obj).items():
        if key == "statistics":
            out.update(value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class MeasureStats:
    """One measure of one result set: each statistic of :data:`STATISTICS` with its bootstrap
    interval.

    ``n`` counts the replications with a value; ``n_infinite`` those with an infinite value
    (an exchange ratio with no defender losses), which make the mean infinite.
    """

    variant: str
    measure: str
    unit: str
    n: int
    n_infinite: int
    statistics: dict[str, Interval]


@dataclass(frozen=True)
class MeasureDifference:
    """One measure, variant − reference: the difference of each statistic with its interval,
    and the distribution tests (``{result name: value}``, see ``TWO_SAMPLE_TESTS``). With a
    paired analysis, ``unpaired_mean`` is the interval of the mean difference that an
    unpaired analysis would give and ``narrowing`` is ``1 − paired width / unpaired width``
    (NaN where the paired differences do not vary, as for a run compared with itself).
    """

    variant: str
    reference: str
    measure: str
    unit: str
    analysis: str
    statistics: dict[str, Interval]
    tests: dict[str, float]
    unpaired_mean: Interval | None = None
    narrowing: float = math.nan


@dataclass(frozen=True)
class ReasonStats:
    """Probability of one end reason in one variant, with its 95 % Wilson interval."""

    variant: str
    reason: str
    count: int
    n: int
    probability: Interval


@dataclass(frozen=True)
class ReasonDifference:
    """Difference of one end reason's probability, variant − reference (Newcombe interval)."""

    variant: str
    reference: str
    reason: str
    analysis: str
    difference: Interval


@dataclass(frozen=True)
class VariantInfo:
    """Provenance of one compared result set; ``path`` is the file read ("" in memory)."""

    label: str
    path: str
    scenario_name: str
    scenario_sha256: str
    seed: str
    engine: str
    replications: int
    partial: bool


@dataclass(frozen=True)
class Comparison:
    """Everything ``siege compare`` reports, as data."""

    variants: list[VariantInfo]
    analysis: str
    analysis_reason: str
    confidence: float
    n_resamples: int
    measures: list[MeasureStats]
    differences: list[MeasureDifference]
    anderson_all: dict[str, tuple[float, float]]
    reasons: list[ReasonStats]
    reason_differences: list[ReasonDifference]
    chi_square: ChiSquare
    precision: list[Precision] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return self.variants[0].label

    @property
    def median_narrowing(self) -> float:
        """Median over measures and variants of how much narrower paired intervals are."""
        values = [d.narrowing for d in self.differences if math.isfinite(d.narrowing)]
        return float(np.median(values)) if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Nested plain data (JSON-ready apart from inf/NaN floats, see
        :func:`siege.jsonsafe.json_safe`); each statistic is a key of its measure."""
        data = asdict(self)
        data["measures"] = [_flat(m) for m in self.measures]
        data["differences"] = [_flat(d) for d in self.differences]
        data["anderson_all"] = {
            k: {"statistic": s, "pvalue": p} for k, (s, p) in self.anderson_all.items()
        }
        data["reference"] = self.reference
        data["median_narrowing"] = self.median_narrowing
        return data


# ------------------------------------------------------------------------------------------
# the comparison


def _values(rs: ResultSet, measure: str) -> NDArray[np.float64]:
    x = rs.column(measure)
    return x[~np.isnan(x)]


def compare(
    result_sets: Sequence[ResultSet],
    *,
    analysis: str = "auto",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    precision: Targets | None = None,
) -> Comparison:
    """Compare result sets (the first is the reference; repeated labels are made distinct).

    Parameters
    ----------
    analysis : ``"auto"`` (paired when the provenance allows it), ``"paired"`` (an error if
        it does not) or ``"unpaired"``.
    n_resamples : bootstrap resamples per interval.
    seed : seed of the bootstrap (the same seed gives the same intervals).
    precision : half-width targets of the means, from
        :func:`~siege.analysis.precision.parse_precision`.
    """
    if not result_sets:
        raise CompareError("result_sets: nothing to compare; give at least one result set",
                           parameter="result_sets")
    if analysis not in ("auto", "paired", "unpaired"):
        raise CompareError(f"analysis {analysis!r}: allowed auto, paired, unpaired",
                           parameter="analysis")
    for rs in result_sets:
        check_comparable(rs)
    sets = [by_replication(rs) for rs in distinct_labels(result_sets)]
    can_pair, why = pairing(sets)
    if analysis == "paired" and not can_pair:
        raise CompareError(f"analysis 'paired' needs common random numbers, but {why}",
                           parameter="analysis")
    paired = can_pair and analysis != "unpaired"
    if analysis == "unpaired" and can_pair:
        why = "unpaired analysis requested"
    mode = "paired" if paired else "unpaired"
    targets = precision or {}
    rng = np.random.default_rng(seed)
    ref = sets[0]

    measures: list[MeasureStats] = []
    differences: list[MeasureDifference] = []
    precisions: list[Precision] = []
    anderson_all: dict[str, tuple[float, float]] = {}
    for measure, unit in COMPARE_MEASURES.items():
        for rs in sets:
            x = _values(rs, measure)
            n_inf = int(np.count_nonzero(np.isinf(x)))
            intervals = {
                name: bootstrap_interval(x, name, confidence=confidence,
                                         n_resamples=n_resamples, rng=rng)
                for name in STATISTICS
            }
            measures.append(MeasureStats(rs.label, measure, unit, int(x.size), n_inf,
                                         intervals))
            precisions.append(mean_precision(rs.label, measure, unit, "mean", int(x.size),
                                             intervals["mean"], targets))
        if len(sets) > 1:
            anderson_all[measure] = anderson_ksample([_values(rs, measure) for rs in sets])
        for rs in sets[1:]:
            d = _difference(rs, ref, measure, unit, paired, confidence, n_resamples, rng)
            differences.append(d)
            precisions.append(mean_precision(rs.label, measure, unit, "mean_difference",
                                             min(rs.n, ref.n), d.statistics["mean"], targets))

    reasons, reason_diffs, counts = _end_reasons(sets, paired, confidence)
    return Comparison(
        variants=[_info(rs) for rs in sets],
        analysis=mode,
        analysis_reason=why,
        confidence=confidence,
        n_resamples=n_resamples,
        measures=measures,
        differences=differences,
        anderson_all=anderson_all,
        reasons=reasons,
        reason_differences=reason_diffs,
        chi_square=chi_square(counts),
        precision=precisions,
    )


def _difference(rs: ResultSet, ref: ResultSet, measure: str, unit: str, paired: bool,
                confidence: float, n_resamples: int, rng: np.random.Generator
                ) -> MeasureDifference:
    a_all, b_all = rs.column(measure), ref.column(measure)
    kw: dict[str, Any] = dict(confidence=confidence, n_resamples=n_resamples)
    if paired:
        keep = ~(np.isnan(a_all) | np.isnan(b_all))
        a, b = a_all[keep], b_all[keep]
    else:
        a, b = a_all[~np.isnan(a_all)], b_all[~np.isnan(b_all)]
    intervals = {name: bootstrap_difference(a, b, name, paired=paired, rng=rng, **kw)
                 for name in STATISTICS}
    tests = two_sample_tests(a, b, paired=paired)
    unpaired = None
    narrowing = math.nan
    if paired:
        unpaired = bootstrap_difference(a, b, "mean", paired=False, rng=rng, **kw)
        mean = intervals["mean"]
        w_p, w_u = mean.high - mean.low, unpaired.high - unpaired.low
        # identical runs (a file compared with itself) have no spread of differences to narrow
        if math.isfinite(w_p) and math.isfinite(w_u) and w_p > 0 and w_u > 0:
            narrowing = 1 - w_p / w_u
    return MeasureDifference(rs.label, ref.label, measure, unit, "paired" if paired else
                             "unpaired", intervals, tests, unpaired, narrowing)


def _end_reasons(sets: list[ResultSet], paired: bool, confidence: float
                 ) -> tuple[list[ReasonStats], list[ReasonDifference], NDArray[np.int64]]:
    ref = sets[0]
    ref_reason = ref.end_reason
    counts = np.zeros((len(sets), len(END_REASONS)), dtype=np.int64)
    reasons: list[ReasonStats] = []
    diffs: list[ReasonDifference] = []
    for i, rs in enumerate(sets):
        vr = rs.end_reason
        for j, r in enumerate(END_REASONS):
            c = int(np.count_nonzero(vr == r))
            counts[i, j] = c
            lo, hi = wilson_interval(c, rs.n, confidence)
            reasons.append(ReasonStats(rs.label, r, c, rs.n, Interval(c / rs.n, lo, hi)))
            if i == 0:
                continue
            if paired:
                iv = newcombe_paired_interval(vr == r, ref_reason == r, confidence)
            else:
                iv = newcombe_interval(c, rs.n, int(np.count_nonzero(ref_reason == r)), ref.n,
                                       confidence)
            diffs.append(ReasonDifference(rs.label, ref.label, r, "paired" if paired else
                                          "unpaired", iv))
    return reasons, diffs, counts


def _info(rs: ResultSet) -> VariantInfo:
    p = rs.provenance
    return VariantInfo(
        label=rs.label,
        path=p.source,
        scenario_name=p.scenario_name,
        scenario_sha256=p.scenario_sha256,
        seed="" if p.seed is None else str(p.seed),
        engine=p.engine,
        replications=rs.n,
        partial=p.partial,
    )
