"""Speed of the two engines on scenarios/bakhmut.toml, in one process, and the 1M-replication
run on all cores.

Prints, on one core: replications per second of the batch and the event engine and their
ratio; the cost of a replication-day of the batch engine next to the cost of the random
numbers it draws (the floor); the cost per *running* replication of a combat step early
(every replication running) and late (few left), which shows that ended replications do not
keep costing. Then (unless ``--no-scale``) runs ``siege simulate`` on 1,000,000 replications in
a subprocess, three times (``--scale-repeat``: a shared machine's speed drifts), and prints the
median wall time and the peak memory (resident set size, summed over the main process and its
workers).

    python benchmarks/bench_engines.py            # everything (~4-5 minutes on 2 cores)
    python benchmarks/bench_engines.py --no-scale # the one-core comparison only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from siege import rng
from siege.engines import batch, run_block
from siege.engines.batch import BatchRun
from siege.scenario import Scenario, build_params, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "bakhmut.toml"


def rate(engine: str, scenario: Scenario, n: int) -> tuple[float, float]:
    """(replications per second, replication-days simulated) of one block on one core."""
    start = time.perf_counter()
    block = run_block(engine, scenario, 0, n)
    seconds = time.perf_counter() - start
    return n / seconds, float(block.columns["end_day"].sum())


def random_floor(scenario: Scenario, n: int, days: int) -> float:
    """Seconds per replication-day spent only drawing the random numbers a batch combat day
    draws, with the engine's own calls (gamma-Poisson losses of both sides, advance noise per
    sector, one uniform per convoy, drawn a route at a time)."""
    params = build_params(scenario)
    sc = scenario
    streams = rng.BatchStreams(sc.simulation.seed, 0, n)
    lam = np.full(n, 60.0)
    od = sc.attrition.overdispersion
    cv = sc.advance.noise_cv
    per_route = [round(float(c)) for c in params.convoys_per_day]
    start = time.perf_counter()
    for _ in range(days):
        for mech in (rng.DEFENDER_LOSSES, rng.ATTACKER_LOSSES):
            rng.negative_binomial(streams, mech, lam, od)
        if cv > 0:
            streams.gamma(rng.ADVANCE, 1.0 / cv**2, cv**2, (n, params.n_sectors))
        for r, count in enumerate(per_route):
            if count:
                streams.random_rows(rng.CONVOYS + r, count, n)
    return (time.perf_counter() - start) / (n * days)


class TimedRun(BatchRun):
    """A batch run that times each combat step with the number of replications running."""

    def __init__(self, scenario: Scenario, first: int, n: int) -> None:
        super().__init__(scenario, first, n)
        self.steps: list[tuple[int, float]] = []
        original = batch.combat_step

        def timed(state, params, t, dt, streams):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            original(state, params, t, dt, streams)
            self.steps.append((state.n, time.perf_counter() - t0))

        self._timed = timed

    def run(self):  # type: ignore[no-untyped-def]
        original = batch.combat_step
        batch.combat_step = self._timed  # type: ignore[assignment]
        try:
            return super().run()
        finally:
            batch.combat_step = original  # type: ignore[assignment]


def ended_cost(scenario: Scenario, n: int) -> tuple[float, int, float, int]:
    """Microseconds per running replication of a combat step, when all ``n`` run and in the
    steps with fewer than three quarters left (the calibrated Bakhmut holds to the horizon in
    most replications, so fewer than half are rarely left), with the running counts."""
    run = TimedRun(scenario, 0, n)
    run.run()
    steps = np.array(run.steps)
    full = steps[steps[:, 0] == n]
    few = steps[(steps[:, 0] < 0.75 * n) & (steps[:, 0] > 0)]
    per = lambda s: float((s[:, 1] / s[:, 0]).mean() * 1e6)  # noqa: E731
    if few.size == 0:
        return per(full), n, float("nan"), 0
    return per(full), n, per(few), int(few[:, 0].mean())


def tree_peak_rss(pid: int, peaks: dict[int, int]) -> None:
    """Record the peak resident set (VmHWM, kB) of a process and its descendants."""
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[p] = max(peaks.get(p, 0), int(line.split()[1]))
        stack.extend(int(k) for k in kids)


def scale_run(replications: int, workers: int | None, scenario: Path = SCENARIO
              ) -> tuple[float, float, float, float]:
    """One ``siege simulate`` of ``replications`` in a subprocess: wall time (s), peak RSS
    summed over its processes and the largest one (MB), and the results file's size (MB)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "million.parquet"
        cmd = [sys.executable, "-m", "siege", "simulate", str(scenario), "-n", str(replications),
               "--out", str(out), "--json"]
        if workers:
            cmd += ["--workers", str(workers)]
        peaks: dict[int, int] = {}
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None:
            tree_peak_rss(proc.pid, peaks)
            time.sleep(0.2)
        wall = time.perf_counter() - start
        err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"siege simulate failed ({proc.returncode}): {err}")
        size = out.stat().st_size / 2**20
    total = sum(peaks.values()) / 2**10
    largest = max(peaks.values()) / 2**10 if peaks else float("nan")
    return wall, total, largest, size


def report_scale(replications: int, workers: int | None, repeat: int,
                 scenario: Path = SCENARIO) -> None:
    runs = [scale_run(replications, workers, scenario) for _ in range(repeat)]
    walls = sorted(r[0] for r in runs)
    wall = walls[len(walls) // 2]  # the median (of an odd number of runs)
    total = max(r[1] for r in runs)
    largest = max(r[2] for r in runs)
    print(f"\n{replications:,} replications, {workers or os.cpu_count()} workers "
          f"(siege simulate, {os.cpu_count()} cores), {repeat} runs")
    print(f"  wall time, median   {wall:8.1f} s   ({replications / wall:,.0f} replications/s); "
          f"runs: {', '.join(f'{w:.1f}' for w in walls)} s")
    print(f"  peak RSS, summed    {total:8.0f} MB   (the largest of the runs; largest process "
          f"{largest:.0f} MB); results file {runs[0][3]:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-reps", type=int, default=65536)
    ap.add_argument("--event-reps", type=int, default=64)
    ap.add_argument("--scale-reps", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scale-repeat", type=int, default=3, help="runs of the 1M simulation")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--scenario", type=Path, default=SCENARIO,
                    help="the scenario file (default: scenarios/bakhmut.toml)")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    run_block("batch", scenario, 0, 1024)  # warm-up (imports, caches)
    batch_rate, batch_days = rate("batch", scenario, args.batch_reps)
    event_rate, _ = rate("event", scenario, args.event_reps)
    rep_day = 1.0 / batch_rate / (batch_days / args.batch_reps)
    floor = random_floor(scenario, args.batch_reps, 30)
    print(f"scenario {args.scenario.name}, one core, one process")
    print(f"  batch engine  {batch_rate:10,.0f} replications/s  ({args.batch_reps} replications)")
    print(f"  event engine  {event_rate:10,.1f} replications/s  ({args.event_reps} replications)")
    print(f"  ratio         {batch_rate / event_rate:10,.0f} x  (batch over event)")
    print(f"  batch cost of a replication-day  {rep_day * 1e9:7.0f} ns")
    print(f"  random-number floor              {floor * 1e9:7.0f} ns  "
          f"(the draws of one replication-day; cost / floor = {rep_day / floor:.1f})")
    early, n_early, late, n_late = ended_cost(scenario, args.batch_reps)
    print(f"  combat step per running replication: {early:.3f} us with {n_early} running, "
          f"{late:.3f} us with ~{n_late} running (ended replications cost nothing)")
    if not args.no_scale:
        report_scale(args.scale_reps, args.workers, args.scale_repeat, args.scenario)


if __name__ == "__main__":
    main()
