"""One-core speed of this checkout against earlier commits, interleaved, on one scenario file.

Each revision is checked out into a temporary git worktree; every round runs ``siege simulate
FILE -n N -w 1`` once per revision (this checkout last), in a subprocess with that revision's
``src`` first on the path, and the wall times are printed with each revision's median and its
ratio to the first revision. Interleaving the runs spreads a shared machine's drift over all
revisions; the scenario file is the same for all (give one that every revision can read).

    python benchmarks/bench_versions.py b96819b c188c97^ --scenario FILE   # ~1.5 min
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(src: Path, scenario: Path, n: int, out: Path) -> float:
    """Seconds of one ``siege simulate`` on one worker, ``src`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "siege", "simulate", str(scenario), "-n", str(n),
                    "--seed", "1", "-w", "1", "--out", str(out)],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("revisions", nargs="+", help="earlier commits to compare")
    parser.add_argument("--scenario", type=Path, required=True, help="a scenario file all read")
    parser.add_argument("-n", type=int, default=65536, help="replications a run")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = {}
        for i, rev in enumerate(args.revisions):
            tree = folder / f"rev{i}"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach",
                            str(tree), rev], check=True)
            sources[rev] = tree / "src"
        sources["this checkout"] = ROOT / "src"
        times: dict[str, list[float]] = {name: [] for name in sources}
        try:
            for _ in range(args.rounds):
                for name, src in sources.items():
                    times[name].append(run_once(src, args.scenario, args.n, folder / "o.parquet"))
        finally:
            for i in range(len(args.revisions)):
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(folder / f"rev{i}")], check=False)
    first = statistics.median(times[args.revisions[0]])
    print(f"{args.scenario.name}, {args.n} replications, one worker, {args.rounds} rounds "
          "interleaved (wall seconds, with start-up)")
    for name, values in times.items():
        med = statistics.median(values)
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<16} median {med:6.2f} s  ({med / first:.2f}x the first)  runs: {runs}")


if __name__ == "__main__":
    main()
