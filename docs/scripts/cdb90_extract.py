"""Write siege's bundled CDB90 extract (src/siege/data/cdb90.csv) from CDB90-patched-flat.csv
and, from the same folder, jrnold's battle_durations.csv (the battle's length in days).

    python docs/scripts/cdb90_extract.py ../shared/data/cdb90/CDB90-patched-flat.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

COLUMNS = ["ISQNO", "WAR", "NAME", "POST1", "INTSTA", "INTSTD", "CASA", "CASD", "WINA",
           "KMDA", "WOFD1", "TERRA1"]
DURATION = "DURATION"  # battle_durations.csv's duration1: days from first to last day
TARGET = Path(__file__).resolve().parents[2] / "src" / "siege" / "data" / "cdb90.csv"


def main(source: str) -> None:
    durations_file = Path(source).parent / "battle_durations.csv"
    with durations_file.open(newline="", encoding="utf-8") as fh:
        durations = {row["isqno"]: row["duration1"] for row in csv.DictReader(fh)}
    with open(source, newline="", encoding="utf-8") as fh, TARGET.open(
        "w", newline="", encoding="utf-8"
    ) as out:
        writer = csv.writer(out)
        writer.writerow([*COLUMNS, DURATION])
        rows = sum(1 for row in csv.DictReader(fh)
                   if writer.writerow([*(row[c] for c in COLUMNS),
                                       durations.get(row["ISQNO"], "")]))
    print(f"wrote {rows} battles to {TARGET}")


if __name__ == "__main__":
    main(sys.argv[1])
