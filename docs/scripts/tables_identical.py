"""Check that the bundled scenarios' outcome and band tables are unchanged by a refactor.

    python docs/scripts/tables_identical.py --write DIR     # run the bundled scenarios into DIR
    python docs/scripts/tables_identical.py --against DIR   # run them again, compare as tables

Each scenario runs with its own defaults (replications, seed) through the public API. Tables are
compared column by column and value by value (NaN equal to NaN); the file metadata (version,
timestamps) is not compared. Exit status 1 on any difference, naming scenario, table and column.
Bands tables are matched row by row on (kind, measure, day, replication), so that new columns
and new measures are reported as such, and each common column's differing values are counted
(for percentiles: how many of them now sit on the day's least or greatest value, i.e. were
clamped into the range of the values).
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


KEY = ["kind", "measure", "day", "replication"]


def band_differences(a: pa.Table, b: pa.Table) -> list[str]:
    """What changed in a bands table, per column, rows matched on :data:`KEY`."""
    old, new = a.to_pandas(), b.to_pandas()
    out = []
    added = [c for c in new.columns if c not in old.columns]
    removed = [c for c in old.columns if c not in new.columns]
    if added:
        out.append(f"new columns {added}")
    if removed:
        out.append(f"columns gone {removed}")
    for frame in (old, new):
        frame["replication"] = frame["replication"].fillna(-1)
    gained = sorted(set(new["measure"]) - set(old["measure"]))
    lost = sorted(set(old["measure"]) - set(new["measure"]))
    if gained:
        out.append(f"new measures {gained} ({int(new['measure'].isin(gained).sum())} rows)")
    if lost:
        out.append(f"measures gone {lost}")
    both = old.merge(new, on=KEY, suffixes=("_old", "_new"))
    for name in [c for c in old.columns if c in new.columns and c not in KEY]:
        x, y = both[f"{name}_old"].to_numpy(), both[f"{name}_new"].to_numpy()
        if x.dtype.kind == "f":
            differ = ~((x == y) | (np.isnan(x) & np.isnan(y)))
        else:
            differ = x != y
        count = int(differ.sum())
        if not count:
            continue
        note = f"column {name}: {count} of {len(x)} values differ"
        if name.startswith("p") and "min" in both and "max" in both:
            clamped = differ & ((y == both["min"].to_numpy()) | (y == both["max"].to_numpy()))
            rel = np.abs(y[differ] - x[differ]) / np.maximum(np.abs(x[differ]), 1e-300)
            note += (f", {int(clamped.sum())} of them now the day's min or max "
                     f"(largest relative change {rel.max():.2g})")
        out.append(note)
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
                table = "outcomes" if suffix == ".parquet" else "bands"
                problems = differences(old, new)
                if problems and table == "bands":
                    problems = band_differences(old, new)
                status = "identical" if not problems else "; ".join(problems)
                print(f"{name:26s} {table:8s} {new.num_rows:7d} rows  {status}")
                bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
