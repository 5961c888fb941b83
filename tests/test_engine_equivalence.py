"""The batch engine agrees in distribution with the event engine (the continuous-time reference).

Each comparison runs the event engine on ``n_event`` replications and the batch engine on
``n_batch`` (other seeds, so the samples are independent) and applies two-sample
Kolmogorov–Smirnov tests on the end day and each side's losses and a chi-square test on the
end reasons. Seeds are fixed, so the outcome is reproducible; the level ``ALPHA`` is per test.
The smallest difference between the two distribution functions that a test would flag at
that level is ``ks_critical(n_event, n_batch)``, asserted below to be a few percent, so a
real difference of that size does not go unnoticed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import stats

from siege.run.simulate import SimulationResult, simulate
from siege.scenario import Scenario, load_scenario

from conftest import SCENARIOS, scenario_data

pytestmark = pytest.mark.slow  # thousands of event-engine replications

ALPHA = 0.001
COLUMNS = ("end_day", "defender_losses", "attacker_losses")


def ks_critical(n: int, m: int, alpha: float = ALPHA) -> float:
    """Asymptotic two-sample KS critical distance at level ``alpha`` (fraction of the CDF)."""
    c = math.sqrt(-0.5 * math.log(alpha / 2))
    return c * math.sqrt((n + m) / (n * m))


@dataclass
class Agreement:
    ks: dict[str, tuple[float, float]]  # column -> (D, p)
    chi2_p: float
    reasons_event: dict[str, float]
    reasons_batch: dict[str, float]

    def failures(self) -> list[str]:
        out = [f"{c}: D={d:.4f} p={p:.2e}" for c, (d, p) in self.ks.items() if p < ALPHA]
        if self.chi2_p < ALPHA:
            out.append(
                f"end reasons: p={self.chi2_p:.2e} event {self.reasons_event} "
                f"batch {self.reasons_batch}"
            )
        return out


def end_reason_chi2(a: np.ndarray, b: np.ndarray) -> float:
    """p-value of the chi-square test of homogeneity of two samples of end reasons; reasons
    rarer than 5 expected cases in either sample are pooled into one category."""
    names = sorted(set(a.tolist()) | set(b.tolist()))
    table = np.array([[np.sum(a == k) for k in names], [np.sum(b == k) for k in names]], float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    rare = (expected < 5).any(axis=0)
    if rare.any():
        table = np.column_stack([table[:, ~rare], table[:, rare].sum(axis=1)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def compare(scenario: Scenario, n_event: int, n_batch: int) -> Agreement:
    event = simulate(scenario, replications=n_event, seed=101, engine="event", workers=2)
    batch = simulate(scenario, replications=n_batch, seed=202, engine="batch", workers=1)
    return agreement(event, batch)


def agreement(event: SimulationResult, batch: SimulationResult) -> Agreement:
    ks = {}
    for col in COLUMNS:
        r = stats.ks_2samp(event.columns[col], batch.columns[col])
        ks[col] = (float(r.statistic), float(r.pvalue))
    return Agreement(
        ks=ks,
        chi2_p=end_reason_chi2(event.end_reason, batch.end_reason),
        reasons_event={k: round(v.p, 3) for k, v in event.summary().end_reasons.items()},
        reasons_batch={k: round(v.p, 3) for k, v in batch.summary().end_reasons.items()},
    )


# bakhmut is the reference scenario: the largest sample; the variants share most dynamics.
# The event engine costs ~0.1 s a replication (more since the calibrated scenario holds to the
# horizon more often): these sizes keep the whole suite inside CI's 20 minutes.
BUNDLED = [
    ("bakhmut.toml", 1500),
    ("bakhmut_early_withdrawal.toml", 600),
    ("bakhmut_hold.toml", 600),
    ("bakhmut_interdiction.toml", 600),
]
N_BATCH = 16384


def test_samples_catch_differences_of_a_few_percent() -> None:
    assert ks_critical(1500, N_BATCH) < 0.055  # reference scenario: 5.3 % of the CDF
    assert ks_critical(600, N_BATCH) < 0.085  # variants: 8.1 %


@pytest.mark.parametrize(("name", "n_event"), BUNDLED)
def test_engines_agree_on_bundled_scenario(name: str, n_event: int) -> None:
    path = SCENARIOS / name
    if not path.exists():
        pytest.skip(f"{name} is not bundled")
    result = compare(load_scenario(path), n_event, N_BATCH)
    assert not result.failures(), result.failures()


def random_scenario(seed: int) -> Scenario:
    """A valid scenario drawn at random: laws, forces, sectors, routes, policy timing (with
    review times and latencies off the combat grid), withdrawal, waves, horizon."""
    g = np.random.default_rng(seed)
    u = g.uniform
    law = str(g.choice(["square", "linear", "helmbold"]))
    defender = float(round(u(3000, 12000)))
    attacker = float(round(defender * u(1.5, 3.5)))
    scale = {"square": 1.0, "linear": 1.0 / defender, "helmbold": 1.0}[law]
    data: dict[str, Any] = scenario_data(
        simulation={
            "horizon_days": float(round(u(20, 40))),
            "time_step_days": 1.0,
            "replications": 100,
            "seed": 1,
        },
        defender={"strength": defender, "reinforcement_rate": u(0, 40)},
        attacker={
            "strength": attacker,
            "reinforcement_rate": u(0, 100),
            "trained_reserves": u(0, 5000),
            "replacement_rate": u(0, 80),
            "waves": [{"day": float(round(u(5, 25), 2)), "personnel": u(500, 4000)}],
        },
        attrition={
            "law": law,
            "attacker_kill_rate": u(0.002, 0.008) * scale,
            "defender_kill_rate": u(0.005, 0.02) * scale,
            "overdispersion": u(0, 0.3),
        },
    )
    for sector in data["sectors"]:
        sector["advance_rate"] = u(0.01, 0.08)
    data["supply"]["stockpile_tonnes"] = u(100, 1500)
    for route in data["routes"]:
        route["capacity_tonnes_per_day"] = u(40, 200)
        route["convoys_per_day"] = float(g.integers(1, 6))
    policy = data["policy"]
    policy["review_interval_days"] = float(round(u(1.5, 8), 2))
    policy["first_review_day"] = float(round(u(0, 3), 2))
    policy["decision_latency_days"] = float(round(u(0, 4), 2))
    policy["triggers"][0]["threshold"] = u(0.3, 0.7)
    if law == "helmbold":
        data["attrition"]["helmbold_exponent"] = u(0.3, 0.9)
    data["withdrawal"] = {"duration_days": float(round(u(1, 6), 2))}
    return Scenario.model_validate(data)


FINE_STEP = 0.125  # days; below this the engines' own time-step errors are undetectable here


@pytest.mark.parametrize("seed", range(4))
def test_engines_agree_on_random_scenario(seed: int) -> None:
    """Random scenarios put reviews, latencies, waves and withdrawals off the combat grid,
    where the batch engine's step matters (a review sees the state of the last grid point);
    at a fine step the two engines must agree."""
    scenario = random_scenario(seed).with_overrides({"simulation.time_step_days": FINE_STEP})
    result = compare(scenario, 200, 8192)
    assert not result.failures(), (scenario.to_json(), result.failures())


def test_batch_time_step_error_shrinks_with_the_step() -> None:
    """Off-grid reviews make the batch engine's end day late by O(step): the error against a
    fine-step reference shrinks as the step does. (In this scenario every replication
    withdraws after the same review, so the mean end day carries no sampling noise.)"""
    scenario = random_scenario(4)
    n = 8192

    def mean_end_day(step: float) -> float:
        s = scenario.with_overrides({"simulation.time_step_days": step})
        return float(simulate(s, replications=n, seed=9).columns["end_day"].mean())

    reference = mean_end_day(1 / 32)
    errors = [mean_end_day(step) - reference for step in (1.0, 0.5, 0.25)]
    assert errors[0] > errors[1] > errors[2] >= 0, errors
    assert errors[0] > 0.1, errors
