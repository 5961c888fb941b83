"""Headline findings: every number is the comparison's own statistic (paired where paired),
and the sentences say those numbers, with their intervals, in words that read right."""

from __future__ import annotations

import datetime as dt

import pytest

from siege.analysis.compare import Comparison, compare
from siege.analysis.findings import GARRISON_LOST, findings
from siege.analysis.stats import Interval
from siege.output.calendar import fmt_date
from siege.output.sentences import (
    finding_sentences,
    lead_sentence,
    level,
    number,
    percent,
    shift,
)
from siege.output.terminal import fmt_narrowing
from siege.results.sets import ResultSet

from conftest import scenario_data


@pytest.fixture(scope="module")
def sets() -> list[ResultSet]:
    from siege.run.simulate import simulate
    from siege.scenario import scenario_from_dict

    scenario = scenario_from_dict(scenario_data(name="small_town"))
    hold = scenario.with_overrides({"policy.kind": "hold"})
    return [simulate(s, replications=300, seed=9, workers=1).result_set(label)
            for s, label in ((scenario, "threshold"), (hold, "hold"))]


@pytest.fixture(scope="module")
def comparison(sets: list[ResultSet]) -> Comparison:
    return compare(sets, n_resamples=300, seed=1)


def test_findings_are_the_comparisons_own_paired_statistics(comparison: Comparison) -> None:
    assert comparison.analysis == "paired"
    (f,) = findings(comparison)
    assert (f.variant, f.reference, f.analysis) == ("hold", "threshold", "paired")
    diffs = {d.measure: d for d in comparison.differences}
    stats = {(m.variant, m.measure): m for m in comparison.measures}
    assert [m.measure for m in f.measures] == list(diffs)
    for m in f.measures:
        assert m.median_difference == diffs[m.measure].statistics["median"]
        assert m.mean_difference == diffs[m.measure].statistics["mean"]
        assert m.median == stats[("hold", m.measure)].statistics["median"]
        assert m.reference_median == stats[("threshold", m.measure)].statistics["median"]
    probability = {(r.variant, r.reason): r for r in comparison.reasons}
    difference = {d.reason: d.difference for d in comparison.reason_differences}
    for r in f.reasons:
        assert r.probability == probability[("hold", r.reason)].probability
        assert r.reference_probability == probability[("threshold", r.reason)].probability
        assert r.difference == difference[r.reason]
    # only reasons that occur, and the garrison-lost ones first
    assert all(probability[("hold", r.reason)].count + probability[("threshold", r.reason)].count
               for r in f.reasons)
    lost = [r.garrison_lost for r in f.reasons]
    assert lost == sorted(lost, reverse=True)


def test_one_result_set_gives_its_levels(sets: list[ResultSet]) -> None:
    c = compare(sets[:1], n_resamples=200)
    (f,) = findings(c)
    assert f.reference == "" and f.variant == "threshold"
    assert all(m.median_difference is None and m.reference_median is None for m in f.measures)
    sentences = finding_sentences(f)
    assert sentences[0].startswith("The siege ends on day ")
    assert lead_sentence(f).startswith("threshold ends the siege on day ")


def test_sentences_say_the_numbers_with_their_intervals(comparison: Comparison) -> None:
    (f,) = findings(comparison)
    text = " ".join(finding_sentences(f))
    end = next(m for m in f.measures if m.measure == "end_day")
    assert end.median_difference is not None
    d = end.median_difference
    assert f"{number(abs(d.estimate))} days" in text
    for r in f.reasons:
        assert percent(r.probability.estimate) in text
        assert r.difference is not None
        assert f"{100 * r.difference.estimate + 0.0:+.1f}".replace("-", "−") in text
    lead = lead_sentence(f)
    assert lead.startswith("Against threshold, hold ends the siege")
    for r in f.reasons:
        if r.reason in GARRISON_LOST:
            assert f"({r.reason}) in {percent(r.probability.estimate)}" in lead


def test_differences_read_as_words_in_the_right_direction() -> None:
    assert shift(Interval(34.0, 27.0, 41.0), "days", "later", "earlier") == \
        "34 days later (27–41)"
    assert shift(Interval(-79.3, -80.4, -78.1), "days", "later", "earlier") == \
        "79.3 days earlier (78.1–80.4)"
    assert shift(Interval(0.5, -2.0, 3.0), "days", "later", "earlier").startswith(
        "not clearly different (+0.50 days, −2 to 3)")
    assert shift(Interval(0.0, 0.0, 0.0), "days", "later", "earlier") == "the same"
    assert shift(Interval(126.0, 82.5, 173.0), "personnel", "higher", "lower") == \
        "126 higher (82.5–173)"


def test_paired_intervals_wider_than_unpaired_say_wider() -> None:
    assert fmt_narrowing(0.19) == "19 % narrower"
    assert fmt_narrowing(-0.24) == "24 % wider"
    assert fmt_narrowing(float("nan")) == "–"


def test_days_read_as_dates_from_a_start_date(comparison: Comparison) -> None:
    start = dt.date(2022, 8, 1)
    assert level(Interval(266.0, 259.0, 273.0), "end_day", "days", start) == \
        "24 Apr 2023 (day 266, 259–273)"
    assert level(Interval(300.0, 300.0, 300.0), "end_day", "days") == "day 300"
    (f,) = findings(comparison)
    end = next(m for m in f.measures if m.measure == "end_day")
    first = finding_sentences(f, start)[0]
    assert f"{fmt_date(end.median.estimate, start)} (day {end.median.estimate:g}" in first
