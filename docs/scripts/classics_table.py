"""Published figures of the classic engagements against siege's mean-field runs of them.

    python docs/scripts/classics_table.py

Runs each scenario of ``scenarios/classics/`` with ``--engine mean`` (through the public API)
and prints, as a Markdown table, each published figure, its source, the computed value and the
difference (relative to the published figure, or to the day-0 force where the figure is 0);
then how closely the Iwo Jima run follows Engel's equations integrated independently. The
README section "Checking against the classics" (docs/classics.md) quotes this output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

import siege
from siege.run.simulate import SimulationResult

ROOT = Path(__file__).resolve().parents[2]
CLASSICS = ROOT / "scenarios" / "classics"


def column(name: str) -> Callable[[SimulationResult], float]:
    return lambda r: float(r.columns[name][0])


def on_day(measure: str, day: int) -> Callable[[SimulationResult], float]:
    """A band measure's value on a day of the mean-field trajectory."""
    def read(r: SimulationResult) -> float:
        names = [s.name for s in r.bands.specs]
        return float(np.concatenate(r.bands.samples)[0, day, names.index(measure)])
    return read


@dataclass(frozen=True)
class Figure:
    """A published figure of a classic and how to read it off the run."""

    scenario: str
    quantity: str
    published: float
    source: str
    computed: Callable[[SimulationResult], float]
    scale: float = 0.0  # what the difference is relative to, where the figure is 0


FIGURES = (
    Figure("iwo_jima", "US troops put ashore, days 0-6", 73_000,
           "Engel 1954: P(t) of 54,000, 6,000 and 13,000 a day; total in Antonov 2023",
           lambda r: column("attacker_final_strength")(r) + column("attacker_losses")(r)),
    Figure("iwo_jima", "Japanese troops left, day 36", 0,
           "the garrison fought to the end (Antonov 2023 after Engel 1954); of 21,500",
           column("defender_final_strength"), scale=21_500),
    Figure("iwo_jima", "US troops ashore, day 35", 51_300,
           "Antonov 2023, end value of the US series (source not given there)",
           on_day("attacker_strength", 35)),
    Figure("unaimed_fire", "survivors of the larger force", 400,
           "Wikipedia, Lanchester's laws: the difference of the forces (1,000 - 600)",
           column("attacker_final_strength")),
    Figure("unaimed_fire", "casualties of the larger force", 600,
           "Wikipedia: both suffer the same number of casualties",
           column("attacker_losses")),
    Figure("unaimed_fire", "casualties of the smaller force", 600,
           "Wikipedia: the smaller force is eliminated", column("defender_losses")),
)


def run(name: str) -> SimulationResult:
    return siege.simulate(siege.load_scenario(CLASSICS / f"{name}.toml"), engine="mean")


def engel_reference(days: int = 36) -> np.ndarray:
    """Engel's equations, dM/dt = P(t) - A N and dN/dt = -B M, integrated on their own
    (scipy DOP853 between the landing breakpoints, rtol 1e-12): (M, N) on days 0..36."""
    a, b = 0.0544, 0.0106
    landings = {0: 54_000.0, 2: 6_000.0, 5: 13_000.0}
    y = np.array([0.0, 21_500.0])
    out = [y]
    for day in range(days):
        rate = landings.get(day, 0.0)
        sol = solve_ivp(lambda t, v, p=rate: [p - a * v[1], -b * v[0]], (day, day + 1), y,
                        method="DOP853", rtol=1e-12, atol=1e-10)
        y = sol.y[:, -1]
        out.append(y)
    return np.array(out)


def rows() -> list[tuple[Figure, float, float]]:
    """Each published figure with the computed value and the relative difference."""
    results = {name: run(name) for name in {f.scenario for f in FIGURES}}
    out = []
    for f in FIGURES:
        value = f.computed(results[f.scenario])
        out.append((f, value, (value - f.published) / (f.scale or f.published)))
    return out


def engel_agreement() -> float:
    """Largest relative difference over days 0-36 between the mean-field run of
    ``iwo_jima.toml`` and Engel's equations integrated independently."""
    r = run("iwo_jima")
    reference = engel_reference()
    computed = np.array([[on_day("attacker_strength", d)(r), on_day("defender_strength", d)(r)]
                         for d in range(37)])
    return float(np.max(np.abs(computed[1:] - reference[1:]) / np.abs(reference[1:])))


def main() -> int:
    print("| classic | quantity | published | source | computed (`--engine mean`) | difference |")
    print("| --- | --- | --- | --- | --- | --- |")
    for f, value, diff in rows():
        print(f"| `{f.scenario}` | {f.quantity} | {f.published:,.0f} | {f.source} | "
              f"{value:,.1f} | {diff:+.2%} |")
    print()
    print("Iwo Jima against Engel's equations integrated on their own (days 0-36): largest "
          f"relative difference {engel_agreement():.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
