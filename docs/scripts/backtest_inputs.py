"""Which uncertain input moves a siege's forecast: each siege of a folder run with its inputs
fixed, with each input drawn alone, and with all drawn (as ``siege backtest``, each scenario's
seed), printed as P(observed end reason) and the median end day with its central 80 % interval.
An input drawn alone is drawn from its prior with other random numbers than in the run with all
drawn (the same distribution, not the same values).

    python docs/scripts/backtest_inputs.py scenarios/history/ [-n 1000] [--siege kut]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from siege.analysis.backtest_run import backtest
from siege.run.executors import local_executor
from siege.scenario.history import DocumentedSiege, load_history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("-n", type=int, default=1000, help="replications per run")
    parser.add_argument("--siege", action="append", help="only these sieges (repeatable)")
    args = parser.parse_args()
    sieges = [s for s in load_history(args.folder) if not args.siege or s.name in args.siege]
    print("| siege | inputs drawn | P(observed) | end day median [80 %] | hit |")
    print("| --- | --- | --- | --- | --- |")
    with local_executor(1) as executor:
        for siege in sieges:
            variants = [("none (fixed)", siege, True)]
            variants += [(p.path, _only(siege, i), False) for i, p in enumerate(siege.inputs)]
            variants.append(("all", siege, False))
            for label, variant, fixed in variants:
                score, = backtest([variant], executor, replications=args.n, fixed_inputs=fixed)
                print(f"| {siege.name} | {label} | {score.p_end_reason:.2f} | "
                      f"{score.end_day_median:g} [{score.end_day_low:.0f}–"
                      f"{score.end_day_high:.0f}] | {'hit' if score.hit else 'miss'} |")


def _only(siege: DocumentedSiege, i: int) -> DocumentedSiege:
    """The siege with only its ``i``-th uncertain input."""
    return replace(siege, inputs=siege.inputs[i:i + 1])


if __name__ == "__main__":
    main()
