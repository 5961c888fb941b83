"""Comparison of result sets: outcome measures, end reasons, paired or unpaired analysis,
and the replications needed for a given precision.

:func:`~siege.results.sets.load_variant` reads a results file of ``siege simulate`` (or a
sweep-store point); :func:`compare` takes the loaded variants and returns a
:class:`Comparison` of named results; nothing here prints.

The first variant is the reference: every difference is ``variant − reference``. The
analysis is *paired* when every variant has the same seed, the same engine and the same
replication ids as the reference (common random numbers), otherwise *unpaired*.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from siege.analysis.stats import (
    ChiSquare,
    Interval,
    TwoSampleTests,
    anderson_ksample,
    bootstrap_difference,
    bootstrap_interval,
    chi_square,
    newcombe_interval,
    newcombe_paired_interval,
    replications_needed,
    two_sample_tests,
)
from siege.model.rules import END_REASONS
from siege.results.sets import (
    COMPARE_MEASURES,
    CompareError,
    Variant,
    by_replication,
    load_variant,
    load_variants,
    pairing,
)
from siege.results.summary import wilson_interval

__all__ = [
    "COMPARE_MEASURES",
    "CompareError",
    "Comparison",
    "Variant",
    "compare",
    "load_variant",
    "load_variants",
    "pairing",
]

# ------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class MeasureStats:
    """One measure of one variant: median and mean with bootstrap intervals.

    ``n`` counts the replications with a value; ``n_infinite`` those with an infinite value
    (an exchange ratio with no defender losses), which make the mean infinite.
    """

    variant: str
    measure: str
    unit: str
    n: int
    n_infinite: int
    median: Interval
    mean: Interval


@dataclass(frozen=True)
class MeasureDifference:
    """One measure, variant − reference: differences of medians and of means with intervals,
    and the distribution tests. With a paired analysis, ``unpaired_mean`` is the interval an
    unpaired analysis would give and ``narrowing`` is ``1 − paired width / unpaired width``.
    """

    variant: str
    reference: str
    measure: str
    unit: str
    analysis: str
    median: Interval
    mean: Interval
    tests: TwoSampleTests
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
class Precision:
    """Precision of an estimated mean (of a variant, or of a difference from the reference).

    ``half_width`` is that of the 95 % interval achieved with ``n`` replications;
    ``n_needed`` the replications for ``target`` (None without a target).
    """

    variant: str
    measure: str
    unit: str
    quantity: str
    n: int
    half_width: float
    target: float | None
    n_needed: int | None


@dataclass(frozen=True)
class VariantInfo:
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
        """Nested plain data (JSON-ready apart from inf/NaN floats)."""
        data = asdict(self)
        data["reference"] = self.reference
        data["median_narrowing"] = self.median_narrowing
        data["anderson_all"] = {
            k: {"statistic": s, "pvalue": p} for k, (s, p) in self.anderson_all.items()
        }
        return data

    def to_table(self) -> pa.Table:
        """The statistics in long form, one row per (section, variant, measure, statistic)."""
        from siege.analysis.comparison_table import comparison_table

        return comparison_table(self)


# ------------------------------------------------------------------------------------------
# precision targets


def parse_precision(texts: list[str] | None) -> dict[str, tuple[float, bool]]:
    """``--precision`` values: ``MEASURE=HALFWIDTH`` (in the measure's unit) or ``P%``
    (relative to the estimate, for every measure without an absolute target).

    Returns ``{measure or "*": (value, relative)}``.
    """
    out: dict[str, tuple[float, bool]] = {}
    for text in texts or []:
        m = re.fullmatch(r"\s*(?:([A-Za-z_]+)\s*=\s*)?([0-9.eE+-]+)\s*(%?)\s*", text)
        if not m:
            raise CompareError(
                f"--precision {text!r}: expected MEASURE=HALFWIDTH (e.g. end_day=2) or a "
                "percentage of the estimate (e.g. 5%)"
            )
        name, number, pct = m.group(1), m.group(2), m.group(3)
        try:
            value = float(number)
        except ValueError:
            raise CompareError(f"--precision {text!r}: {number!r} is not a number") from None
        if not value > 0:
            raise CompareError(f"--precision {text!r}: the half-width must be positive")
        if name is not None and name not in COMPARE_MEASURES:
            raise CompareError(
                f"--precision {text!r}: unknown measure {name!r}; allowed: "
                f"{', '.join(COMPARE_MEASURES)}"
            )
        out[name or "*"] = (value / 100 if pct else value, bool(pct))
    return out


def _target(targets: dict[str, tuple[float, bool]], measure: str, estimate: float
            ) -> float | None:
    if measure in targets:
        value, relative = targets[measure]
    elif "*" in targets:
        value, relative = targets["*"]
    else:
        return None
    return value * abs(estimate) if relative else value


# ------------------------------------------------------------------------------------------
# the comparison


def _values(v: Variant, measure: str) -> NDArray[np.float64]:
    x = v.column(measure)
    return x[~np.isnan(x)]


def compare(
    variants: list[Variant],
    *,
    analysis: str = "auto",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    precision: dict[str, tuple[float, bool]] | None = None,
) -> Comparison:
    """Compare variants (the first is the reference).

    Parameters
    ----------
    analysis : ``"auto"`` (paired when the metadata allow it), ``"paired"`` (an error if
        they do not) or ``"unpaired"``.
    n_resamples : bootstrap resamples per interval.
    seed : seed of the bootstrap (the same seed gives the same intervals).
    precision : targets from :func:`parse_precision`.
    """
    if not variants:
        raise CompareError("nothing to compare: give at least one results file")
    if analysis not in ("auto", "paired", "unpaired"):
        raise CompareError(f"analysis {analysis!r}: allowed auto, paired, unpaired")
    variants = [by_replication(v) for v in variants]
    can_pair, why = pairing(variants)
    if analysis == "paired" and not can_pair:
        raise CompareError(f"a paired analysis needs common random numbers, but {why}")
    paired = can_pair and analysis != "unpaired"
    if analysis == "unpaired" and can_pair:
        why = "unpaired analysis requested"
    mode = "paired" if paired else "unpaired"
    targets = precision or {}
    rng = np.random.default_rng(seed)
    ref = variants[0]

    measures: list[MeasureStats] = []
    differences: list[MeasureDifference] = []
    precisions: list[Precision] = []
    anderson_all: dict[str, tuple[float, float]] = {}
    for measure, unit in COMPARE_MEASURES.items():
        for v in variants:
            x = _values(v, measure)
            n_inf = int(np.count_nonzero(np.isinf(x)))
            med = bootstrap_interval(x, "median", confidence=confidence,
                                     n_resamples=n_resamples, rng=rng)
            mean = bootstrap_interval(x, "mean", confidence=confidence,
                                      n_resamples=n_resamples, rng=rng)
            measures.append(MeasureStats(v.label, measure, unit, int(x.size), n_inf, med, mean))
            precisions.append(_precision(v.label, measure, unit, "mean", int(x.size), mean,
                                         targets))
        if len(variants) > 1:
            anderson_all[measure] = anderson_ksample([_values(v, measure) for v in variants])
        for v in variants[1:]:
            differences.append(
                _difference(v, ref, measure, unit, paired, confidence, n_resamples, rng)
            )
            d = differences[-1]
            precisions.append(_precision(v.label, measure, unit, "mean_difference",
                                         min(v.n, ref.n), d.mean, targets))

    reasons, reason_diffs, counts = _end_reasons(variants, paired, confidence)
    return Comparison(
        variants=[_info(v) for v in variants],
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


def _precision(label: str, measure: str, unit: str, quantity: str, n: int, iv: Interval,
               targets: dict[str, tuple[float, bool]]) -> Precision:
    target = _target(targets, measure, iv.estimate)
    needed = replications_needed(iv.half_width, n, target) if target is not None else None
    return Precision(label, measure, unit, quantity, n, iv.half_width, target, needed)


def _difference(v: Variant, ref: Variant, measure: str, unit: str, paired: bool,
                confidence: float, n_resamples: int, rng: np.random.Generator
                ) -> MeasureDifference:
    a_all, b_all = v.column(measure), ref.column(measure)
    kw: dict[str, Any] = dict(confidence=confidence, n_resamples=n_resamples)
    if paired:
        keep = ~(np.isnan(a_all) | np.isnan(b_all))
        a, b = a_all[keep], b_all[keep]
    else:
        a, b = a_all[~np.isnan(a_all)], b_all[~np.isnan(b_all)]
    med = bootstrap_difference(a, b, "median", paired=paired, rng=rng, **kw)
    mean = bootstrap_difference(a, b, "mean", paired=paired, rng=rng, **kw)
    tests = two_sample_tests(a, b, paired=paired)
    unpaired = None
    narrowing = math.nan
    if paired:
        unpaired = bootstrap_difference(a, b, "mean", paired=False, rng=rng, **kw)
        w_p, w_u = mean.high - mean.low, unpaired.high - unpaired.low
        if math.isfinite(w_p) and math.isfinite(w_u) and w_u > 0:
            narrowing = 1 - w_p / w_u
    return MeasureDifference(v.label, ref.label, measure, unit, "paired" if paired else
                             "unpaired", med, mean, tests, unpaired, narrowing)


def _end_reasons(variants: list[Variant], paired: bool, confidence: float
                 ) -> tuple[list[ReasonStats], list[ReasonDifference], NDArray[np.int64]]:
    ref = variants[0]
    ref_reason = ref.end_reason
    counts = np.zeros((len(variants), len(END_REASONS)), dtype=np.int64)
    reasons: list[ReasonStats] = []
    diffs: list[ReasonDifference] = []
    for i, v in enumerate(variants):
        vr = v.end_reason
        for j, r in enumerate(END_REASONS):
            c = int(np.count_nonzero(vr == r))
            counts[i, j] = c
            lo, hi = wilson_interval(c, v.n, confidence)
            reasons.append(ReasonStats(v.label, r, c, v.n, Interval(c / v.n, lo, hi)))
            if i == 0:
                continue
            if paired:
                iv = newcombe_paired_interval(vr == r, ref_reason == r, confidence)
            else:
                iv = newcombe_interval(c, v.n, int(np.count_nonzero(ref_reason == r)), ref.n,
                                       confidence)
            diffs.append(ReasonDifference(v.label, ref.label, r, "paired" if paired else
                                          "unpaired", iv))
    return reasons, diffs, counts


def _info(v: Variant) -> VariantInfo:
    m = v.metadata
    return VariantInfo(
        label=v.label,
        path=str(v.path),
        scenario_name=m.get("siege.scenario_name", ""),
        scenario_sha256=m.get("siege.scenario_sha256", ""),
        seed=m.get("siege.seed", ""),
        engine=m.get("siege.engine", ""),
        replications=v.n,
        partial=m.get("siege.partial") == "true",
    )
