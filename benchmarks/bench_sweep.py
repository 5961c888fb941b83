"""Sweep throughput: a 64-point Latin hypercube of bakhmut, 2000 replications per point, run
with 1 and 2 local worker processes and on a 2-worker Dask LocalCluster (loopback).

    python benchmarks/bench_sweep.py [--points 64] [--replications 2000] [--repeat 3]

Prints wall times and speed-ups (targets: 2 workers >= 1.7x one worker; the Dask path no more
than 15 % slower than 2 local processes), as medians of interleaved rounds, and checks that the
stores are identical.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from siege.run.dask import DaskExecutor
from siege.run.executors import Executor, local_executor
from siege.run.store import DirectoryStore
from siege.run.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEP = """
scenario = "{base}"
replications = {replications}
seed = 11
[design]
method = "lhs"
points = {points}
seed = 5
[[parameter]]
path = "attacker.strength"
low = 20000
high = 60000
[[parameter]]
path = "defender.strength"
values = [10000, 15000, 20000]
[[parameter]]
path = "routes.chasiv_yar.capacity_tonnes_per_day"
low = 100
high = 400
scale = "log"
[[parameter]]
path = "policy.triggers.encirclement.threshold"
low = 0.5
high = 0.9
"""


def timed(sweep_path: Path, out: Path, executor: Executor) -> float:
    sweep = load_sweep(sweep_path)
    start = time.perf_counter()
    with executor:
        outcome = run_sweep(sweep, DirectoryStore.create(out, sweep), executor)
    wall = time.perf_counter() - start
    assert outcome.failed == 0
    return wall


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def run_one(config: str, sweep_path: Path, out: Path) -> float:
    """Time one configuration in this (fresh) process: ``local1``, ``local2`` or ``dask2``."""
    if config == "dask2":
        import distributed

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster:
            return timed(sweep_path, out, DaskExecutor(cluster.scheduler_address))
    return timed(sweep_path, out, local_executor(1 if config == "local1" else 2))


CONFIGS = ("local1", "local2", "dask2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of all configurations, interleaved; medians are printed")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: one configuration
    parser.add_argument("--sweep", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(f"{run_one(args.run, args.sweep, args.out):.3f}")
        return
    walls: dict[str, list[float]] = {c: [] for c in CONFIGS}
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "sweep.toml"
        path.write_text(SWEEP.format(base=ROOT / "scenarios" / "bakhmut.toml",
                                     replications=args.replications, points=args.points))
        # each configuration in a fresh process, as a user runs `siege sweep`; the cluster is
        # started before the clock, as a standing cluster would be. Rounds interleave the
        # configurations, so that a slow spell of a shared machine falls on all of them.
        for r in range(args.repeat):
            for config in CONFIGS:
                out = folder / f"{config}-{r}"
                proc = subprocess.run(
                    [sys.executable, __file__, "--run", config, "--sweep", str(path),
                     "--out", str(out)],
                    capture_output=True, text=True, check=True,
                )
                walls[config].append(float(proc.stdout.strip().splitlines()[-1]))
            reference = files_of(folder / f"local1-{r}")
            same = same and all(files_of(folder / f"{c}-{r}") == reference for c in CONFIGS)
            for config in CONFIGS:
                shutil.rmtree(folder / f"{config}-{r}")
    med = {c: statistics.median(w) for c, w in walls.items()}
    one, two = med["local1"], med["local2"]
    n = args.points * args.replications
    print(f"sweep: {args.points}-point LHS of bakhmut, {args.replications} replications/point "
          f"({n:,} replications); median of {args.repeat} interleaved rounds [min-max]")
    labels = {"local1": "local, 1 worker", "local2": "local, 2 workers",
              "dask2": "dask, 2-worker local"}
    for config in CONFIGS:
        wall = med[config]
        line = (f"  {labels[config]:20s} {wall:7.1f} s [{min(walls[config]):.1f}-"
                f"{max(walls[config]):.1f}]  {n / wall:7,.0f} rep/s   {one / wall:.2f}x")
        if config == "dask2":
            line += f"   ({(wall / two - 1) * 100:+.0f} % vs 2 local workers)"
        print(line)
    print(f"  stores identical: {same}")

if __name__ == "__main__":
    main()
