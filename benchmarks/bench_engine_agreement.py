"""The two engines' outcome distributions on one scenario, at larger samples than the tests.

    python benchmarks/bench_engine_agreement.py scenarios/bakhmut.toml --event 2000 --batch 32768

Prints, for the end day and each side's losses, both means and the two-sample KS distance and
p-value, and the end-reason probabilities of each engine. Uses all cores.
"""

from __future__ import annotations

import argparse
import time

from scipy import stats

from siege.run.blocks import default_workers
from siege.run.simulate import simulate
from siege.scenario import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--event", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32768)
    ap.add_argument("--step", type=float, default=None, help="time_step_days for both engines")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    if args.step is not None:
        scenario = scenario.with_overrides({"simulation.time_step_days": args.step})
    workers = default_workers()
    t0 = time.perf_counter()
    event = simulate(scenario, replications=args.event, seed=11, engine="event", workers=workers)
    t1 = time.perf_counter()
    batch = simulate(scenario, replications=args.batch, seed=12, engine="batch", workers=workers)
    t2 = time.perf_counter()
    print(f"{args.scenario}: event {args.event} replications ({t1 - t0:.0f} s), "
          f"batch {args.batch} ({t2 - t1:.0f} s), {workers} workers")
    for col in ("end_day", "defender_losses", "attacker_losses"):
        r = stats.ks_2samp(event.columns[col], batch.columns[col])
        print(f"  {col:16s} mean event {event.columns[col].mean():10.2f}  "
              f"batch {batch.columns[col].mean():10.2f}  KS D {r.statistic:.4f}  p {r.pvalue:.3f}")
    e, b = event.summary().end_reasons, batch.summary().end_reasons
    for k in e:
        print(f"  P({k}) event {e[k].p:.3f}  batch {b[k].p:.3f}")


if __name__ == "__main__":
    main()
