"""The README's calibration tables, from a calibration store, as Markdown.

    python docs/scripts/calibration_tables.py STORE [--draws 1000]

prints the posterior table (median, 50 % and 90 % credible intervals, prior: what
``siege calibrate`` prints) and the posterior predictive check (what ``siege calibrate --check
STORE --draws N`` prints: the same draws, seeded from the store). The README's calibration
section pastes its output for ``bakhmut.cal``, the store of
``siege calibrate scenarios/calibration/bakhmut.toml --out bakhmut.cal``.
"""

from __future__ import annotations

import argparse
import sys

from siege.analysis.calibrate import posterior_summary
from siege.analysis.predictive import predictive_check
from siege.output.calibration_view import CHECK_HEAD, check_cells
from siege.output.terminal import fmt_value as num
from siege.run.calibration_store import CalibrationStore
from siege.run.executors import InProcessExecutor


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"


def tables(store_path: str, draws: int) -> str:
    """The posterior and predictive-check tables of a store, Markdown."""
    store = CalibrationStore.open(store_path)
    summary = posterior_summary(store)
    last = summary.posterior
    posterior = _table(
        ["parameter", "median", "50 % interval", "90 % interval", "prior"],
        [[f"`{p.path}`", num(p.median), f"{num(p.q25)} – {num(p.q75)}",
          f"{num(p.q05)} – {num(p.q95)}", p.prior.describe()] for p in summary.parameters])
    check = predictive_check(store, InProcessExecutor(), draws=draws)
    return (f"Posterior (generation {last.generation}, {last.weights.size} particles, ESS "
            f"{last.ess:.0f}, tolerance {num(last.tolerance)}):\n\n{posterior}\n"
            f"Posterior predictive check ({draws:,} posterior draws, one replication each):"
            f"\n\n{_table(CHECK_HEAD, check_cells(check))}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args(argv)
    sys.stdout.write(tables(args.store, args.draws))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
