"""Speed of a block whose replications each carry their own parameter values (calibration
particles, posterior draws) against a block of one scenario, on scenarios/bakhmut.toml.

Prints replications per second of one batch-engine block on one core: with the scenario's
values, and with eight parameters (advance rates of the four sectors, parity, fortification,
both kill rates) drawn per replication around them; and their ratio, which issue 14 wants at
least 0.5. Each is the best of ``--repeat`` runs (a shared machine's speed drifts).

    python benchmarks/bench_per_replication.py              # 16384 replications, best of 3
    python benchmarks/bench_per_replication.py -n 65536 --repeat 5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from siege.engines import BlockInputs, run_block
from siege.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "bakhmut.toml"
VARIED = {  # path -> relative spread of the values drawn around the scenario's
    "sectors.north.advance_rate": 0.3,
    "sectors.east.advance_rate": 0.3,
    "sectors.centre.advance_rate": 0.3,
    "sectors.south.advance_rate": 0.3,
    "advance.parity": 0.3,
    "fortification.multiplier": 0.2,
    "attrition.attacker_kill_rate": 0.2,
    "attrition.defender_kill_rate": 0.2,
}


def best_rate(n: int, repeat: int, inputs: BlockInputs | None) -> float:
    """Replications per second of one block of ``n`` (best of ``repeat``)."""
    scenario = load_scenario(SCENARIO).with_overrides({"simulation.sample_trajectories": 0})
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        run_block("batch", scenario, 0, n, inputs)
        best = max(best, n / (time.perf_counter() - start))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=16384, help="replications in the block")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    scenario = load_scenario(SCENARIO)
    data = scenario.model_dump()
    rng = np.random.default_rng(1)
    values = {}
    for path, spread in VARIED.items():
        parts = path.split(".")
        if parts[0] == "sectors":
            centre = next(s for s in data["sectors"] if s["name"] == parts[1])[parts[2]]
        else:
            centre = data[parts[0]][parts[1]]
        values[path] = centre * np.exp(rng.normal(0.0, spread, args.n))
    one = best_rate(args.n, args.repeat, None)
    varied = best_rate(args.n, args.repeat, BlockInputs(values))
    print(f"{SCENARIO.name}, one block of {args.n:,} replications on one core (best of "
          f"{args.repeat}):")
    print(f"  one scenario                          {one:10,.0f} replications/s")
    print(f"  8 parameters differ per replication   {varied:10,.0f} replications/s")
    print(f"  ratio                                 {varied / one:10.2f}  (issue 14: >= 0.5)")


if __name__ == "__main__":
    main()
