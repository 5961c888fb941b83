"""Mean-field engine speed: one run of a scenario (``--engine mean``), in CPU seconds of this
process (the compute, without imports, reading the scenario or writing files).

    python benchmarks/bench_mean.py [SCENARIO ...] [--repeat 7]

Default scenarios: the bundled Bakhmut ones and the classics. Prints, per scenario, the median
and the fastest CPU time over the repeats (after one warm-up run), the integrator's rate
evaluations, and the target for Bakhmut (0.2 s).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from siege import load_scenario
from siege.engines import mean_state
from siege.engines.mean import run_mean

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("bakhmut.toml", "bakhmut_hold.toml", "bakhmut_interdiction.toml",
           "bakhmut_early_withdrawal.toml", "classics/iwo_jima.toml",
           "classics/unaimed_fire.toml")
TARGET_S = 0.2


def evaluations(path: Path) -> int:
    """Rate evaluations of one run (counted by wrapping the rates)."""
    count = 0
    rates = mean_state.Continuum.rates

    def counted(self, *args):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1
        return rates(self, *args)

    mean_state.Continuum.rates = counted  # type: ignore[method-assign]
    try:
        run_mean(load_scenario(path), 0, 1)
    finally:
        mean_state.Continuum.rates = rates  # type: ignore[method-assign]
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    paths = args.scenarios or [ROOT / "scenarios" / name for name in DEFAULT]
    for path in paths:
        scenario = load_scenario(path)
        run_mean(scenario, 0, 1)  # warm-up
        cpu = []
        for _ in range(args.repeat):
            start = time.process_time()
            run_mean(scenario, 0, 1)
            cpu.append(time.process_time() - start)
        target = f"  (target {TARGET_S:g} s)" if path.name == "bakhmut.toml" else ""
        print(f"{path.name:32s} median {statistics.median(cpu):.3f} s, fastest {min(cpu):.3f} s "
              f"of CPU over {args.repeat} runs; {evaluations(path)} rate evaluations{target}")


if __name__ == "__main__":
    main()
