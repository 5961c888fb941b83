"""`siege fit`: attrition laws fitted to daily records. Synthetic records from known laws and
coefficients (Poisson or negative-binomial losses, fixed seeds) are recovered; long records are
ranked to their generating law; the 95 % intervals cover the truth at their nominal rate; bad
records fail with a message naming row and column; JSON, figures and scenario fragments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from siege.analysis.fit import fit_law, fit_record
from siege.analysis.fit_laws import expected_losses, make_law, run_forward
from siege.analysis.fit_record import AttritionRecord, phases, record_from_arrays
from siege.model.laws import LAWS
from siege.model.params import AttritionParams

from conftest import SCENARIOS, run_cli, to_toml

# firer and target exponents (p, q) of each generating law
POWERS = {"square": (1.0, 0.0), "linear": (1.0, 1.0), "logarithmic": (0.0, 1.0),
          "helmbold": (0.5, 0.5), "general": (0.5, 0.9)}
# laws that contain another as a special case (AIC may prefer them by < a few units)
NESTING = {"square": {"helmbold", "general"}, "linear": {"general"},
           "logarithmic": {"helmbold", "general"}, "helmbold": {"general"}, "general": set()}


def model_rates(law: str, w: float, attacker: np.ndarray, defender: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The model's own expected losses (siege.model.laws) with kill rates 0.01 and 0.02."""
    params = AttritionParams(law, w, 0.01, 0.02, 0.0)
    return LAWS[law].rates(attacker, defender, np.full(3, 0.01), np.full(3, 0.02), params)


def synthetic(
    law: str, n_days: int, seed: int, *, overdispersion: float = 0.0, period: int = 20,
    rates_change_on: int | None = None,
) -> tuple[AttritionRecord, tuple[float, float]]:
    """A record from ``law`` with about 400 defender and 600 attacker losses on day 0 and
    waves of reinforcements (so the force ratio moves and exponents are identified).
    Returns the record and the true (attacker_kill_rate, defender_kill_rate)."""
    p, q = POWERS[law]
    a0, d0 = 40_000.0, 30_000.0
    a, b = 400.0 / (a0**p * d0**q), 600.0 / (d0**p * a0**q)
    day = np.arange(n_days, dtype=np.float64)
    # waves that replace the losses on average, half a period apart: the force ratio swings
    ra = np.where(day % period == period // 4, 600.0 * period, 0.0)
    rd = np.where(day % period == 3 * period // 4, 400.0 * period, 0.0)
    rate_a, rate_b = np.full(n_days, a), np.full(n_days, b)
    if rates_change_on is not None:
        rate_a[rates_change_on:] *= 2.0
        rate_b[rates_change_on:] *= 0.5
    attacker, defender, a_lost, d_lost = run_forward(
        rate_a, rate_b, p, q, a0, d0, ra, rd, np.random.default_rng(seed), overdispersion
    )
    return record_from_arrays(day, attacker, defender, a_lost, d_lost, ra, rd), (a, b)


def write_csv(path: Path, record: AttritionRecord) -> Path:
    rows = ["day,attacker_strength,defender_strength,attacker_losses,defender_losses"]
    rows += [",".join(f"{v:g}" for v in values) for values in zip(
        record.day, record.attacker_strength, record.defender_strength,
        record.attacker_losses, record.defender_losses, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# the convention is siege's own


def test_laws_match_the_rules_the_engines_run() -> None:
    attacker = np.array([40_000.0, 1_000.0, 5.0])
    defender = np.array([20_000.0, 3_000.0, 7.0])
    for law, w in (("square", 0.5), ("linear", 0.5), ("helmbold", 0.3)):
        p, q = POWERS[law] if law != "helmbold" else (w, 1.0 - w)
        ours = expected_losses(0.01, 0.02, p, q, attacker, defender)
        theirs = model_rates(law, w, attacker, defender)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    # logarithmic: losses proportional to own strength, Helmbold's form with W = 0
    ours = expected_losses(0.01, 0.02, 0.0, 1.0, attacker, defender)
    np.testing.assert_allclose(ours, (0.01 * defender, 0.02 * attacker))
    np.testing.assert_allclose(
        ours, model_rates("helmbold", 0.0, attacker, defender), rtol=1e-12)


def test_square_law_estimates_have_their_closed_forms() -> None:
    record, _ = synthetic("square", 32, seed=1)
    phase = phases(record.day, ())
    a, d = record.attacker_strength, record.defender_strength
    ls = fit_law(record, make_law("square"), "ls", phase).params
    poisson = fit_law(record, make_law("square"), "poisson", phase).params
    # least squares of each day's losses on that day's firer strength, through the origin
    assert ls["attacker_kill_rate"].estimate == pytest.approx(
        (a @ record.defender_losses) / (a @ a), rel=1e-9)
    assert ls["defender_kill_rate"].estimate == pytest.approx(
        (d @ record.attacker_losses) / (d @ d), rel=1e-9)
    # Poisson maximum likelihood: total losses over total fire
    assert poisson["attacker_kill_rate"].estimate == pytest.approx(
        record.defender_losses.sum() / a.sum(), rel=1e-9)


# --------------------------------------------------------------------------------------------
# recovery, ranking, coverage


@pytest.mark.parametrize("law", list(POWERS))
@pytest.mark.parametrize("estimator", ["ls", "poisson", "negbin"])
def test_a_32_day_record_gives_back_its_coefficients(law: str, estimator: str) -> None:
    overdispersion = 0.01 if estimator == "negbin" else 0.0
    record, (a, b) = synthetic(law, 32, seed=5, overdispersion=overdispersion, period=20)
    fit = fit_law(record, make_law(law), estimator, phases(record.day, ()))
    assert fit.converged and fit.identified
    truth = {"attacker_kill_rate": a, "defender_kill_rate": b}
    p, q = POWERS[law]
    truth.update({"helmbold_exponent": p, "firer_exponent": p, "target_exponent": q,
                  "overdispersion": overdispersion})
    for name, e in fit.params.items():
        # within about 4 standard errors: twice the half-width of the 95 % interval
        rate = name.endswith("kill_rate")
        scale = math.log if rate else float
        half = (scale(e.high) - scale(e.low)) / 2
        assert abs(scale(e.estimate) - scale(truth[name])) < 2 * half + 1e-12, (name, e)
    if law in ("square", "linear", "logarithmic") and estimator == "poisson":
        # with the exponents known, a log kill rate's standard error is 1 / sqrt(total losses)
        for name, losses in (("attacker_kill_rate", record.defender_losses),
                             ("defender_kill_rate", record.attacker_losses)):
            e = fit.params[name]
            se = (math.log(e.high) - math.log(e.low)) / (2 * 1.96)
            assert se == pytest.approx(1 / math.sqrt(losses.sum()), rel=0.05)
            assert abs(math.log(e.estimate / truth[name])) < 4 / math.sqrt(losses.sum())


@pytest.mark.parametrize("law", list(POWERS))
def test_on_a_long_record_aic_ranks_the_generating_law_first(law: str) -> None:
    """AIC is not consistent between nested laws: a law that contains the generating one
    (Helmbold contains the square law) may rank first by a few units. So: the first law is
    the generating law or contains it, the generating law is within 4 AIC units of the
    first, and every law that cannot express it is far behind."""
    for seed in (0, 1):
        record, _ = synthetic(law, 120, seed)
        ranked = fit_record(record).fits
        assert ranked[0].law in {law} | NESTING[law]
        delta = {f.law: f.delta_aic for f in ranked}
        assert delta[law] <= 4.0
        for other in set(POWERS) - {law} - NESTING[law]:
            assert delta[other] > 10.0, (other, delta)


@pytest.mark.slow
def test_intervals_cover_the_truth_at_their_nominal_rate() -> None:
    """95 % profile-likelihood intervals over repeated 32-day records: coverage within about
    3.5 binomial standard errors of 0.95."""
    cases = [("square", "poisson", 0.0, 400), ("helmbold", "poisson", 0.0, 150),
             ("square", "negbin", 0.01, 80)]
    for law, estimator, overdispersion, n_records in cases:
        hits: list[bool] = []
        for seed in range(n_records):
            record, (a, b) = synthetic(law, 32, seed, overdispersion=overdispersion,
                                       period=20)
            fit = fit_law(record, make_law(law), estimator, phases(record.day, ()))
            truth = {"attacker_kill_rate": a, "defender_kill_rate": b,
                     "helmbold_exponent": 0.5, "overdispersion": overdispersion}
            hits += [e.low <= truth[name] <= e.high for name, e in fit.params.items()]
        coverage = float(np.mean(hits))
        assert abs(coverage - 0.95) < 3.5 * math.sqrt(0.95 * 0.05 / len(hits)), (
            law, estimator, coverage)


def test_breaks_give_each_phase_its_own_kill_rates() -> None:
    record, (a, b) = synthetic("square", 40, seed=2, rates_change_on=20)
    with_breaks = fit_record(record, laws=("square",), breaks=(20.0,)).fits[0]
    without = fit_record(record, laws=("square",)).fits[0]
    for name, truth in (("attacker_kill_rate[1]", a), ("attacker_kill_rate[2]", 2 * a),
                        ("defender_kill_rate[1]", b), ("defender_kill_rate[2]", b / 2)):
        e = with_breaks.params[name]
        assert e.low < truth < e.high or abs(math.log(e.estimate / truth)) < 0.02, name
    assert with_breaks.aic < without.aic - 100


def test_a_constant_force_ratio_leaves_helmbold_exponent_not_identified() -> None:
    """With the ratio D/A the same every day, W trades off exactly against the kill rates:
    the profile likelihood is flat, and the fit says so."""
    n = 30
    rng = np.random.default_rng(0)
    attacker, defender = np.full(n, 40_000.0), np.full(n, 20_000.0)
    record = record_from_arrays(np.arange(n), attacker, defender,
                                rng.poisson(600, n), rng.poisson(400, n))
    fit = fit_law(record, make_law("helmbold"), "poisson", phases(record.day, ()))
    assert not fit.identified
    exponent = fit.params["helmbold_exponent"]
    assert not exponent.identified and ("flat" in exponent.note or "bound" in exponent.note)


# --------------------------------------------------------------------------------------------
# the command


@pytest.fixture(scope="module")
def record_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    record, _ = synthetic("square", 32, seed=3, period=20)
    return write_csv(tmp_path_factory.mktemp("fit") / "record.csv", record)


def test_fit_prints_ranking_and_parameters(record_csv: Path) -> None:
    proc = run_cli("fit", str(record_csv), "--estimator", "poisson,ls")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ranked by AIC" in out and "profile likelihood" in out
    assert "attacker_kill_rate" in out and "helmbold_exponent" in out
    assert "estimator ls" in out and "estimator poisson" in out


def test_fit_json_lists_fits_with_params_and_statistics(record_csv: Path) -> None:
    proc = run_cli("fit", str(record_csv), "--json", "--estimator", "all", "--law",
                   "square,helmbold")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data["fits"]) == 6 and data["days"] == 32
    for fit in data["fits"]:
        assert {"law", "estimator", "params", "aic", "bic", "loglik", "r2", "rmse",
                "identified", "rank", "residual_autocorrelation"} <= set(fit)
        assert set(fit["r2"]) == {"defender", "attacker"}
        for param in fit["params"].values():
            assert {"estimate", "low", "high"} <= set(param)
    first = next(f for f in data["fits"] if f["estimator"] == "poisson" and f["rank"] == 1)
    assert first["law"] == "square"


def test_fit_maps_columns_and_fixes_helmbold_w(tmp_path: Path, record_csv: Path) -> None:
    text = record_csv.read_text().replace("attacker_strength", "US", 1)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(text)
    proc = run_cli("fit", str(renamed), "--columns", "attacker_strength=US", "--law",
                   "helmbold", "--helmbold-w", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    fit = json.loads(proc.stdout)["fits"][0]
    assert fit["fixed"] == {"helmbold_exponent": 0.5}
    assert "helmbold_exponent" not in fit["params"]


BAD_RECORDS = {
    "missing column": ("day,attacker_strength,defender_strength,attacker_losses\n1,9,9,1\n",
                       ["'defender_losses'", "missing"]),
    "not a number": ("{h}\n1,100,50,3,2\n2,97,48,x,2\n", ["row 2", "'attacker_losses'"]),
    "nan": ("{h}\n1,100,50,3,2\n2,97,48,3,nan\n", ["row 2", "'defender_losses'"]),
    "empty cell": ("{h}\n1,100,50,3,2\n2,,48,3,2\n", ["row 2", "'attacker_strength'"]),
    "negative strength": ("{h}\n1,100,50,3,2\n2,97,-48,3,2\n3,90,40,1,1\n",
                          ["row 2", "'defender_strength'"]),
    "repeated day": ("{h}\n1,100,50,3,2\n2,97,48,3,2\n2,95,46,3,2\n", ["row 3", "'day'"]),
    "decreasing day": ("{h}\n1,100,50,3,2\n3,97,48,3,2\n2,95,46,3,2\n", ["row 3", "'day'"]),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_bad_records_exit_2_naming_row_and_column(case: str, tmp_path: Path) -> None:
    text, expected = BAD_RECORDS[case]
    header = "day,attacker_strength,defender_strength,attacker_losses,defender_losses"
    path = tmp_path / "bad.csv"
    path.write_text(text.format(h=header))
    proc = run_cli("fit", str(path))
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr
    for fragment in expected:
        assert fragment in proc.stderr, proc.stderr


@pytest.mark.parametrize("args", [("--breaks", "1"), ("--law", "cubic"),
                                  ("--estimator", "bayes"), ("--columns", "day")])
def test_bad_options_exit_2(args: tuple[str, str], record_csv: Path) -> None:
    proc = run_cli("fit", str(record_csv), *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert args[0] in proc.stderr


def test_written_scenario_fragment_validates(record_csv: Path, tmp_path: Path) -> None:
    fragment = tmp_path / "attrition.toml"
    proc = run_cli("fit", str(record_csv), "--breaks", "16", "--write-scenario", str(fragment))
    assert proc.returncode == 0, proc.stderr
    text = fragment.read_text()
    assert "[attrition]" in text and 'law = "square"' in text and "[[events]]" in text
    engagement = tmp_path / "engagement.toml"
    engagement.write_text(to_toml({"name": "engagement",
                                   "defender": {"strength": 30_000.0},
                                   "attacker": {"strength": 40_000.0}}) + text)
    proc = run_cli("validate", str(engagement))
    assert proc.returncode == 0, proc.stderr
    assert "attrition.attacker_kill_rate" in proc.stdout
    extended = tmp_path / "extended.toml"
    extended.write_text(f'extends = "{(SCENARIOS / "bakhmut.toml").as_posix()}"\n' + text)
    assert run_cli("validate", str(extended)).returncode == 0


def test_logarithmic_fit_is_written_as_helmbold_with_exponent_zero(tmp_path: Path) -> None:
    record, _ = synthetic("logarithmic", 32, seed=4)
    fragment = tmp_path / "log.toml"
    proc = run_cli("fit", str(write_csv(tmp_path / "r.csv", record)), "--law", "logarithmic",
                   "--write-scenario", str(fragment))
    assert proc.returncode == 0, proc.stderr
    text = fragment.read_text()
    assert 'law = "helmbold"' in text and "helmbold_exponent = 0.0" in text


@pytest.mark.slow  # draws every figure of a fit
def test_figures_are_drawn(record_csv: Path, tmp_path: Path) -> None:
    proc = run_cli("fit", str(record_csv), "--law", "square,linear", "--figures",
                   str(tmp_path / "figs"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "figs" / "fit_poisson.png").stat().st_size > 10_000


def test_cdb90_cross_sectional_fit_from_the_cli() -> None:
    from siege.analysis.cdb90 import fit_helmbold_exponent, load_cdb90

    battles = load_cdb90()  # the extract shipped with siege
    expected = fit_helmbold_exponent(battles.attacker_strength, battles.defender_strength,
                                     battles.attacker_casualties, battles.defender_casualties)
    proc = run_cli("fit", "--cdb90")
    assert proc.returncode == 0, proc.stderr
    assert f"Helmbold exponent W = {expected.exponent:.2f}" in proc.stdout
    assert "fortified" in proc.stdout
    data = json.loads(run_cli("fit", "--cdb90", "--json").stdout)
    assert data["helmbold_exponent"] == pytest.approx(expected.exponent, rel=1e-12)
    assert data["battles"] == expected.n
