"""Scenario discovery (``siege discover``): the condition language, PRIM's coverage and density
(Bryant and Lempert 2010) by hand, a planted box found in a real store, paired conditions, the
bootstrap, and the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from siege.analysis.conditions import Column, check_columns, evaluate, parse_condition
from siege.analysis.prim import Lever, PrimOptions, bootstrap_sides, prim
from siege.errors import DiscoverError
from siege.model.rules import END_REASONS
from siege.results.summary import wilson_interval

from conftest import ROOT, run_cli

# ---- the condition language -------------------------------------------------------------


def test_conditions_evaluate_per_replication_and_nan_satisfies_no_comparison() -> None:
    cond = parse_condition('end_reason in ["encircled", "collapsed"] or '
                           '(attacker_losses < 40000 and not withdrawal_start_day != 3)')
    frame = {
        Column("end_reason"): np.array(["held", "encircled", "held", "held"], dtype=object),
        Column("attacker_losses"): np.array([30000.0, 50000.0, 30000.0, 30000.0]),
        Column("withdrawal_start_day"): np.array([3.0, 1.0, np.nan, 4.0]),
    }
    assert evaluate(cond.tree, frame).tolist() == [True, True, True, False]
    nan_only = parse_condition("withdrawal_start_day != 3")
    assert evaluate(nan_only.tree, frame).tolist() == [False, True, False, True]


def test_a_paired_condition_names_its_lever_and_values() -> None:
    cond = parse_condition('end_reason[policy.decision_latency_days=14] in ["encircled"] and '
                           'end_reason[policy.decision_latency_days=0] not in ["encircled"]')
    assert cond.pair_path == "policy.decision_latency_days"
    assert cond.pair_values == (14.0, 0.0)


@pytest.mark.parametrize(("where", "problem", "at"), [
    ("end_reason in encircled", "expected a list such as", 15),
    ("attacker_losses <", "expected an outcome column or a number, found the end", 18),
    ("__import__('os').system('x')", "unexpected character '.'", 17),
    ("end_reason in [\"encircled\"] and", "found the end", 32),
    ("end_day > 3 end_day < 9", "expected 'and', 'or' or the end", 13),
    ("end_day ; 3", "unexpected character ';'", 9),
    ("3 < 4", "a comparison needs at least one column", 1),
    ("end_reason[p=1] in [\"held\"] and end_day > 3", "every column names its point", None),
    ("end_day[a=1] > end_day[b=2]", "over one lever", None),
    ("", "empty condition", None),
])
def test_bad_conditions_say_what_and_where(where: str, problem: str, at: int | None) -> None:
    with pytest.raises(DiscoverError) as err:
        parse_condition(where)
    message = str(err.value)
    assert message.startswith("where: ") and problem in message, message
    assert err.value.parameter == "where"
    if at is not None:
        assert f"(at character {at})" in message
        assert message.splitlines()[-1] == "  " + " " * (at - 1) + "^"


@pytest.mark.parametrize(("where", "problem"), [
    ('end_reason in ["encircle"]', "'encircle' is not an end reason; choose from held"),
    ("attacker_loss < 4", "no outcome column 'attacker_loss'; the columns are: end_reason, "
                          "attacker_losses"),
    ('attacker_losses in ["held"]', "needs end_reason"),
    ("end_reason < 3", "end_reason compares with == or !="),
    ('end_day == "held"', "a number column compares with a number"),
])
def test_conditions_are_checked_against_the_outcome_columns(where: str, problem: str) -> None:
    with pytest.raises(DiscoverError, match="where: ") as err:
        check_columns(parse_condition(where), {"attacker_losses": "", "end_day": ""},
                      END_REASONS)
    assert problem in str(err.value)


# ---- PRIM by hand ---------------------------------------------------------------------------


def test_coverage_density_and_quasi_p_by_hand() -> None:
    """Four points x = 1..4, k = 0, 1, 8, 9 of 10 replications; peel_alpha 0.25 removes one
    point a peel, mass_min 0.5 stops at two points. Bryant and Lempert (2010): coverage =
    hits in the box / all hits (18), density = hits in the box / replications in it."""
    lever = Lever("x", (1.0, 2.0, 3.0, 4.0), np.arange(4))
    k, n = np.array([0, 1, 8, 9]), np.full(4, 10)
    trajectory = prim([lever], k, n, PrimOptions(peel_alpha=0.25, paste_alpha=0.25,
                                                 mass_min=0.5))
    got = [(b.n_points, b.coverage, b.density) for b in trajectory.boxes]
    assert got == [(4, 1.0, 18 / 40), (3, 1.0, 18 / 30), (2, 17 / 18, 17 / 20)]
    last = trajectory.boxes[-1]
    assert last.allowed[0].tolist() == [False, False, True, True] and last.mass == 0.5
    assert (last.density_low, last.density_high) == wilson_interval(17, 20)
    # the box without its restriction on x is the whole sweep: 18 of 40
    assert last.quasi_p[0] == pytest.approx(stats.binom.sf(16, 20, 18 / 40), rel=1e-9)


def test_a_categorical_lever_is_restricted_to_a_subset_of_its_levels() -> None:
    lever = Lever("attrition.law", ("square", "linear", "helmbold"),
                  np.array([0, 1, 2, 0, 1, 2]), categorical=True)
    k, n = np.array([9, 1, 8, 9, 0, 8]), np.full(6, 10)
    last = prim([lever], k, n, PrimOptions(mass_min=0.5)).boxes[-1]
    assert last.allowed[0].tolist() == [True, False, True]
    assert last.density == 34 / 40 and last.coverage == 34 / 35


def test_bootstrap_is_seeded_and_reproduces_a_strong_restriction() -> None:
    """x decides the outcome, y is noise; the last box restricts both."""
    rng = np.random.default_rng(3)
    x, y = rng.random(30), rng.random(30)
    levers = [Lever(p, tuple(np.sort(v)), np.argsort(np.argsort(v)))
              for p, v in (("x", x), ("y", y))]
    n = np.full(30, 50)
    k = rng.binomial(n, np.where(x > 0.5, 0.8, 0.05))
    trajectory = prim(levers, k, n)
    box = len(trajectory.boxes) - 1
    first = bootstrap_sides(trajectory, box, k, n, 8, seed=4)
    assert first == bootstrap_sides(trajectory, box, k, n, 8, seed=4)
    assert first[("x", "low")] == 1.0
    assert first != bootstrap_sides(trajectory, box, k, n, 8, seed=5)


@pytest.mark.slow  # importing scikit-learn takes a second
def test_cart_leaves_are_boxes_with_the_same_coverage_and_density() -> None:
    """The example above: with every leaf holding half the replications, the one split is
    between x = 2 and x = 3."""
    pytest.importorskip("sklearn")
    from siege.analysis.cart import cart_leaves

    lever = Lever("x", (1.0, 2.0, 3.0, 4.0), np.arange(4))
    leaves = cart_leaves([lever], np.array([0, 1, 8, 9]), np.full(4, 10), mass_min=0.5)
    assert [leaf.allowed[0].tolist() for leaf in leaves] == [[False, False, True, True],
                                                               [True, True, False, False]]
    assert (leaves[0].coverage, leaves[0].density) == (17 / 18, 17 / 20)


def test_a_condition_that_never_holds_is_refused() -> None:
    lever = Lever("x", (1.0, 2.0), np.arange(2))
    with pytest.raises(DiscoverError, match="no replication satisfies"):
        prim([lever], np.zeros(2), np.full(2, 5))


# ---- a real store with a planted box ------------------------------------------------------

LEVELS = 5
STRENGTHS = np.linspace(20000, 60000, LEVELS)
THRESHOLDS = np.linspace(0.5, 0.9, LEVELS)
P_IN, P_OUT, REPS = 0.7, 0.1, 100


def _planted(values: dict[str, object]) -> bool:
    strength = float(values["attacker.strength"])  # type: ignore[arg-type]
    threshold = float(values["policy.triggers.encirclement.threshold"])  # type: ignore[arg-type]
    return (strength >= STRENGTHS[3] - 1 and threshold <= THRESHOLDS[2] + 1e-9
            and values["attrition.law"] == "square")


@pytest.fixture(scope="module")
def planted_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep store written by the store's own writer: a 5 x 5 x 2 grid whose points end
    `encircled` with probability 0.7 inside the planted box (strength >= 50,000, threshold
    <= 0.7, law square) and 0.1 outside, 100 replications each (the outcomes are drawn,
    not simulated; the 5-day horizon keeps the bands small)."""
    from siege.results.block import BlockResult
    from siege.run.blocks import empty_bands
    from siege.run.store import DirectoryStore
    from siege.run.sweep import design, load_sweep, point_scenarios

    folder = tmp_path_factory.mktemp("planted")
    (folder / "s.toml").write_text(f"""
scenario = "{(ROOT / 'scenarios' / 'bakhmut.toml').as_posix()}"
replications = {REPS}
seed = 3
[fixed]
"simulation.horizon_days" = 5
"simulation.sample_trajectories" = 0
[design]
method = "grid"
[[parameter]]
path = "attacker.strength"
low = 20000
high = 60000
levels = {LEVELS}
[[parameter]]
path = "policy.triggers.encirclement.threshold"
low = 0.5
high = 0.9
levels = {LEVELS}
[[parameter]]
path = "attrition.law"
values = ["square", "helmbold"]
""")
    sweep = load_sweep(folder / "s.toml")
    points = point_scenarios(sweep, design(sweep))
    rng = np.random.default_rng(7)
    enc, held = END_REASONS.index("encircled"), END_REASONS.index("held")
    with DirectoryStore.create(folder / "store", sweep) as store:
        for point in points:
            hit = rng.random(REPS) < (P_IN if _planted(point.values) else P_OUT)
            block = BlockResult(
                0, REPS, np.where(hit, enc, held).astype(np.int8),
                {"attacker_losses": rng.normal(40000, 5000, REPS)},
                empty_bands(point.scenario).accumulator, np.empty(0, dtype=np.int64),
                np.empty((0, 0, 0)))
            store.write_block(point, block)
            store.finish_point(point)
        store.close(points, {})
    return folder / "store"


@pytest.mark.slow
def test_prim_finds_the_planted_box_within_its_sampling_error(planted_store: Path) -> None:
    from siege.analysis.discover import discover

    found = discover(planted_store, 'end_reason in ["encircled"]', resamples=50, seed=1)
    box = found.trajectory.boxes[found.box]
    assert found.restrictions(found.box) == {
        "attacker.strength": [pytest.approx(STRENGTHS[3]), 60000.0],
        "policy.triggers.encirclement.threshold": [0.5, pytest.approx(THRESHOLDS[2])],
        "attrition.law": ["square"],
    }
    inside, outside = 2 * 3, 2 * LEVELS * LEVELS - 2 * 3
    assert box.n_points == inside
    # density: a proportion of inside * REPS replications
    assert abs(box.density - P_IN) < 4 * math.sqrt(P_IN * (1 - P_IN) / (inside * REPS))
    # coverage H_in / (H_in + H_out): its standard error by the delta method
    h_in, h_out = inside * REPS * P_IN, outside * REPS * P_OUT
    var_in, var_out = inside * REPS * P_IN * (1 - P_IN), outside * REPS * P_OUT * (1 - P_OUT)
    se = math.sqrt(h_out**2 * var_in + h_in**2 * var_out) / (h_in + h_out) ** 2
    assert abs(box.coverage - h_in / (h_in + h_out)) < 4 * se
    assert all(p < 1e-6 for p in box.quasi_p.values())
    assert min(found.reproduced.values()) > 0.5  # most resamples find each restriction


@pytest.mark.slow
def test_a_paired_condition_counts_pairs_replication_by_replication(planted_store: Path
                                                                    ) -> None:
    from siege.analysis.discover import count_points
    from siege.run.store_read import read_outcomes

    cond = parse_condition('end_reason[attrition.law="square"] in ["encircled"] and '
                           'end_reason[attrition.law=helmbold] == "held"')
    counts = count_points(planted_store, cond)
    assert [lv.path for lv in counts.levers] == ["attacker.strength",
                                                 "policy.triggers.encirclement.threshold"]
    table = read_outcomes(planted_store, ["replication", "end_reason"]).to_pylist()
    reason = {(r["point"], r["replication"]): r["end_reason"] for r in table}
    for (square, helmbold), k in zip(counts.points, counts.k, strict=True):
        assert k == sum(reason[(square, r)] == "encircled" and reason[(helmbold, r)] == "held"
                        for r in range(REPS))


@pytest.mark.slow
def test_discover_command_smoke(planted_store: Path, tmp_path: Path) -> None:
    proc = run_cli("discover", str(planted_store), "--where", 'end_reason in ["encircled"]',
                   "--json", "--bootstrap", "0", "--figures", str(tmp_path / "fig"),
                   "--report", str(tmp_path / "r.html"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for box in result["boxes"]:
        assert {"coverage", "density", "restrictions", "n_points"} <= set(box)
        assert all(len(limits) == 2 for limits in box["restrictions"].values())
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == [
        "prim_box_limits.png", "prim_box_limits.svg", "prim_tradeoff.png", "prim_tradeoff.svg"]
    assert "Scenario discovery" in (tmp_path / "r.html").read_text()
    text = run_cli("discover", str(planted_store), "--where", "attacker_losses < 40000",
                   "--bootstrap", "0", "--box", "1")
    assert text.returncode == 0 and "box 1:" in text.stdout
    unknown = run_cli("discover", str(planted_store), "--where", "attacker_loss < 5")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: --where: no outcome column 'attacker_loss'")


def test_discover_bad_where_is_one_message_and_status_2(tmp_path: Path) -> None:
    proc = run_cli("discover", str(tmp_path), "--where", "end_reason in encircled")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: --where: expected a list such as")
    assert len(proc.stderr.splitlines()) <= 4 and "Traceback" not in proc.stderr
