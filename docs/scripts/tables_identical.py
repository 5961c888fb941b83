"""Check that the bundled scenarios' outcome and band tables are unchanged by a refactor.

    python docs/scripts/tables_identical.py --write DIR     # run the bundled scenarios into DIR
    python docs/scripts/tables_identical.py --against DIR   # run them again, compare as tables

Each scenario runs with its own defaults (replications, seed) through the public API. Tables are
compared column by column and value by value (NaN equal to NaN); the file metadata (version,
timestamps) is not compared. Exit status 1 on any difference, naming scenario, table and column.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import siege

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("bakhmut", "bakhmut_early_withdrawal", "bakhmut_hold", "bakhmut_interdiction")


def run_into(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in SCENARIOS:
        scenario = siege.load_scenario(ROOT / "scenarios" / f"{name}.toml")
        siege.simulate(scenario, workers=1, out=folder / f"{name}.parquet")


def differences(a: pa.Table, b: pa.Table) -> list[str]:
    if a.column_names != b.column_names:
        return [f"columns differ: {a.column_names} vs {b.column_names}"]
    if a.num_rows != b.num_rows:
        return [f"rows differ: {a.num_rows} vs {b.num_rows}"]
    out = []
    for name in a.column_names:
        x, y = a.column(name).to_numpy(zero_copy_only=False), b.column(name).to_numpy(
            zero_copy_only=False)
        if x.dtype.kind == "f" and y.dtype.kind == "f":
            same = np.array_equal(x, y, equal_nan=True)
        else:
            same = bool(np.all(x == y))
        if not same:
            out.append(f"column {name} differs")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--against", type=Path)
    args = parser.parse_args()
    if args.write:
        run_into(args.write)
        print(f"wrote {len(SCENARIOS)} scenarios' tables to {args.write}")
        return 0
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        now = Path(tmp)
        run_into(now)
        for name in SCENARIOS:
            for suffix in (".parquet", ".bands.parquet"):
                old = pq.read_table(args.against / f"{name}{suffix}")
                new = pq.read_table(now / f"{name}{suffix}")
                problems = differences(old, new)
                table = "outcomes" if suffix == ".parquet" else "bands"
                status = "identical" if not problems else "; ".join(problems)
                print(f"{name:26s} {table:8s} {new.num_rows:7d} rows  {status}")
                bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
