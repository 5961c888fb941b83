"""Elasticities of the end day of the bundled scenarios, under two advance laws.

    python docs/scripts/elasticities.py [--replications N] [--step 0.1] [--statistic mean]

For each bundled scenario (scenarios/bakhmut*.toml) and each of attacker strength (day 0),
defender strength (day 0), fortification multiplier and supply capacity (every route's
``capacity_tonnes_per_day``), the elasticity of the mean (``--statistic median``: the median)
end day, by central finite differences with common random numbers (the scenario's seed at
every point)::

    E = (mean(x * (1 + step)) - mean(x * (1 - step))) / (2 * step * mean(x))

under the advance law of the scenario as written (``tanh``) and under ``dupuy``. The dupuy
variant keeps the scenario's parity and exponent 1 and scales every sector's
``advance_rate`` by one factor k, found by bisection so that bakhmut.toml's mean (or median)
end day is the same under both laws (the comparison is then of the response, not of the
level); the same k serves every bundled scenario. The last column is the change of the
statistic when the attackers are 1.5 times as many on day 0. Prints a markdown table (the
README's elasticity table).

The mean end day is the mean restricted to the horizon (a replication held to the horizon
counts as ending there), so it moves while the median sits at the horizon, as it does for the
calibrated bakhmut.toml, whose replications mostly hold. A median at the horizon is censored
(marked *) and cannot be matched (every slower dupuy advance gives it too): with
``--statistic median`` the script then stops and says so.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from siege.engines import run_block
from siege.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ("bakhmut", "bakhmut_early_withdrawal", "bakhmut_hold", "bakhmut_interdiction")
Change = Callable[[Scenario, float], dict[str, Any]]
FACTORS: dict[str, Change] = {
    "attacker strength": lambda s, f: {"attacker.strength": s.attacker.strength * f},
    "defender strength": lambda s, f: {"defender.strength": s.defender.strength * f},
    "fortification": lambda s, f: {"fortification.multiplier": s.fortification.multiplier * f},
    "supply capacity": lambda s, f: {f"routes.{r.name}.capacity_tonnes_per_day":
                                     r.capacity_tonnes_per_day * f for r in s.routes},
}


STATISTICS: dict[str, Callable[[np.ndarray], float]] = {
    "median": lambda days: float(np.median(days)),
    "mean": lambda days: float(np.mean(days)),
}


def end_day_statistic(scenario: Scenario, n: int, statistic: str) -> float:
    """Mean or median end day (days) of ``n`` replications of the batch engine, the
    scenario's seed."""
    return STATISTICS[statistic](run_block("batch", scenario, 0, n).columns["end_day"])


def dupuy(scenario: Scenario, k: float) -> Scenario:
    """The scenario under the dupuy advance law, every sector's advance rate times ``k``."""
    return scenario.with_overrides({"advance.law": "dupuy", **{
        f"sectors.{s.name}.advance_rate": s.advance_rate * k for s in scenario.sectors}})


def matching_scale(scenario: Scenario, n: int, statistic: str, iterations: int = 12) -> float:
    """The ``k`` at which :func:`dupuy` gives the statistic of the scenario as written
    (bisection in log k over [0.01, 1]; a faster advance ends the siege sooner)."""
    target = end_day_statistic(scenario, n, statistic)
    if statistic == "median" and target >= scenario.simulation.horizon_days:
        raise SystemExit(f"bakhmut's median end day is at the horizon ({target:g}): it cannot "
                         "be matched; run with --statistic mean")
    low, high = math.log(0.01), 0.0
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        if end_day_statistic(dupuy(scenario, math.exp(mid)), n, statistic) > target:
            low = mid  # too slow: advance faster
        else:
            high = mid
    return math.exp(0.5 * (low + high))


def row(scenario: Scenario, n: int, step: float,
        statistic: str) -> tuple[float, list[float], float, bool]:
    """End-day statistic, elasticity per factor, change at 1.5 times the attackers, censored."""
    horizon = scenario.simulation.horizon_days
    base = end_day_statistic(scenario, n, statistic)
    values = [base]
    out = []
    for change in FACTORS.values():
        up = end_day_statistic(scenario.with_overrides(change(scenario, 1 + step)), n, statistic)
        down = end_day_statistic(scenario.with_overrides(change(scenario, 1 - step)), n,
                                 statistic)
        values += [up, down]
        out.append((up - down) / (2 * step * base))
    more = end_day_statistic(
        scenario.with_overrides(FACTORS["attacker strength"](scenario, 1.5)), n, statistic)
    censored = statistic == "median" and any(v >= horizon for v in values)
    return base, out, more - base, censored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--statistic", choices=sorted(STATISTICS), default="mean")
    args = parser.parse_args()
    scenarios = {name: load_scenario(ROOT / "scenarios" / f"{name}.toml") for name in BUNDLED}
    k = matching_scale(scenarios["bakhmut"], args.replications, args.statistic)
    print(f"{args.replications} replications per point, step ±{args.step:.0%}, common random "
          f"numbers, {args.statistic} end day; dupuy: parity as in the scenario, exponent 1, "
          f"advance rates × {k:.3f}\n")
    print(f"| scenario | advance law | {args.statistic} end day | "
          + " | ".join(f"E {name}" for name in FACTORS) + " | attackers ×1.5 |")
    print("| --- | --- | ---: | " + " | ".join("---:" for _ in FACTORS) + " | ---: |")
    for name, scenario in scenarios.items():
        for law, variant in (("tanh", scenario), ("dupuy", dupuy(scenario, k))):
            base, elasticities, more, censored = row(variant, args.replications, args.step,
                                                     args.statistic)
            cells = " | ".join(f"{e:+.2f}" for e in elasticities)
            mark = "*" if censored else ""
            print(f"| {name} | {law} | {base:.4g}{mark} | {cells} | {more:+.3g} days |")


if __name__ == "__main__":
    main()
