"""The C allocator's thresholds and the batch engine: one block of bakhmut in a fresh process
with glibc's own (dynamic) thresholds, with the trim threshold pinned as Dask's nanny pins it
for its workers (``MALLOC_TRIM_THRESHOLD_=65536``), and pinned but run inside
``siege.run.allocator.block_allocator`` (what a Dask task of siege does).

    python benchmarks/bench_allocator.py [--sizes 2000 65536]

Prints seconds per block (the median of up to nine blocks), the slow-down against glibc's
defaults and the page faults per block.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "bakhmut.toml"

CHILD = """
import contextlib, resource, statistics, sys, time
from siege.run.allocator import block_allocator
from siege.engines import run_block
from siege.scenario import load_scenario
scenario = load_scenario(sys.argv[1])
n, wrapped, repeat = int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
run_block("batch", scenario, 0, 4096)  # warm-up
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
walls = []
for _ in range(repeat):
    start = time.perf_counter()
    with block_allocator() if wrapped else contextlib.nullcontext():
        run_block("batch", scenario, 0, n)
    walls.append(time.perf_counter() - start)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(statistics.median(walls), faults // repeat)
"""

CASES = {
    "glibc defaults": ({}, False),
    "trim pinned (Dask nanny)": ({"MALLOC_TRIM_THRESHOLD_": "65536"}, False),
    "pinned, block_allocator": ({"MALLOC_TRIM_THRESHOLD_": "65536"}, True),
}


def run(n: int, env_extra: dict[str, str], wrapped: bool, repeat: int) -> tuple[float, int]:
    """Median seconds per block and page faults per block, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env_extra
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(SCENARIO), str(n), "1" if wrapped else "0",
         str(repeat)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 65536])
    args = ap.parse_args()
    print("one block of bakhmut (batch engine); each case in a fresh process, median of the "
          "blocks it runs")
    for n in args.sizes:
        base = None
        repeat = max(1, min(9, 200_000 // n))  # small blocks: several, for a stable median
        for name, (env, wrapped) in CASES.items():
            wall, faults = run(n, env, wrapped, repeat)
            base = base or wall
            print(f"  {n:6d} replications  {name:26s} {wall:7.2f} s  {wall / base:5.2f}x  "
                  f"{faults:9,d} page faults a block")


if __name__ == "__main__":
    main()
