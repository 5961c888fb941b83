"""``siege backtest``: the model against documented sieges (a folder of scenarios with their
targets), as written or leaving one out at a time with the doctrine fitted on the others."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from siege.cli.common import err_console, out_console, user_errors
from siege.jsonsafe import json_safe
from siege.output import console as streams


def backtest(
    folder: Annotated[Path, typer.Argument(
        help="Folder of documented sieges: each <name>.toml with its <name>.targets.toml "
        "(docs/history/README.md), e.g. scenarios/history/.", show_default=False)],
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print {\"sieges\": [...], \"summary\": {...}} as JSON.")] = False,
    leave_one_out: Annotated[bool, typer.Option(
        "--leave-one-out", help="For each siege, fit the doctrine parameters (--doctrine) "
        "on all the others by ABC-SMC and predict it from their posterior (one parameter "
        "draw per replication).")] = False,
    replications: Annotated[int, typer.Option(
        "--replications", "-n", min=1, help="Replications per siege (and per prediction).")
    ] = 1000,
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, help="Root seed: each siege's (and fold's) seed is derived from it "
        "and the siege's name (default: each scenario's own seed; the fits' root is 0).")
    ] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", min=1, help="Local worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Run on a Dask cluster: its scheduler address, tcp://HOST:PORT "
        "(results identical to a local run).")] = None,
    doctrine: Annotated[Path | None, typer.Option(
        "--doctrine", help="With --leave-one-out: the doctrine priors (default: "
        "FOLDER/doctrine.toml).")] = None,
    population: Annotated[int, typer.Option(
        "--population", min=2, help="With --leave-one-out: ABC particles per generation.")
    ] = 50,
    generations: Annotated[int, typer.Option(
        "--generations", min=1, help="With --leave-one-out: ABC generations per fold.")] = 3,
    per_particle: Annotated[int, typer.Option(
        "--replications-per-particle", min=1, help="With --leave-one-out: replications of "
        "each training siege per particle.")] = 1,
    fixed_inputs: Annotated[bool, typer.Option(
        "--fixed-inputs", help="Run every siege at its scenario's values: do not draw its "
        "uncertain inputs (the [[prior]] tables of its targets file) per replication.")
    ] = False,
) -> None:
    """Score the model against documented sieges: per siege, the predicted probability of the
    observed end reason, the percentile of the observed end day, the CRPS of the end day
    (days; Gneiting & Raftery 2007) and the log score of the end reason (natural log, add-one
    smoothing over the end reasons, so a reason never simulated scores ln(1/(n+K))); a hit is
    P >= 0.3 and the end day inside the central 80 % interval."""
    from siege.analysis.backtest_run import backtest as run_backtest
    from siege.analysis.backtest_run import leave_one_out as run_folds
    from siege.errors import HistoryError
    from siege.model.rules import END_REASONS
    from siege.output import backtest_view as view
    from siege.run.blocks import default_workers
    from siege.run.dask import DaskExecutor
    from siege.run.executors import Executor, local_executor
    from siege.scenario.calibration import AbcSettings
    from siege.scenario.doctrine import check_inputs, load_doctrine
    from siege.scenario.history import DOCTRINE_FILE, load_history

    with user_errors():
        if workers is not None and scheduler is not None:
            raise HistoryError("give --workers or --scheduler, not both")
        started = time.perf_counter()
        sieges = load_history(folder, skip=(DOCTRINE_FILE,) if doctrine is None else (
            DOCTRINE_FILE, doctrine.name))
        doctrine_set = None
        doctrine_file = doctrine or folder / DOCTRINE_FILE
        if leave_one_out:
            if len(sieges) < 2:
                raise HistoryError(f"{folder}: --leave-one-out needs at least two sieges")
            doctrine_set = load_doctrine(doctrine_file, [(s.name, s.scenario) for s in sieges])
        elif not fixed_inputs and doctrine_file.is_file():
            # a siege's input on a doctrine path is refused here too, not only when fitting
            check_inputs(load_doctrine(doctrine_file, [(s.name, s.scenario) for s in sieges]),
                         sieges)
        executor: Executor = (DaskExecutor(scheduler) if scheduler is not None
                              else local_executor(workers or default_workers()))
        folds = []
        with executor:
            if doctrine_set is None:
                scores = run_backtest(sieges, executor, replications=replications, seed=seed,
                                      fixed_inputs=fixed_inputs)
            else:
                settings = AbcSettings(population=population, max_generations=generations)
                folds = run_folds(sieges, doctrine_set, executor, settings=settings,
                                  replications=replications, seed=seed,
                                  replications_per_particle=per_particle,
                                  fixed_inputs=fixed_inputs,
                                  on_fold=lambda f: err_console.print(view.fold_line(f),
                                                                      markup=False))
                scores = [f.score for f in folds]
        wall = time.perf_counter() - started
        if as_json:
            payload = view.backtest_dict(scores, replications=replications, seed=seed,
                                         categories=len(END_REASONS), folds=folds,
                                         doctrine_paths=doctrine_set.paths if doctrine_set
                                         else (),
                                         inputs={s.name: [p.path for p in s.inputs]
                                                 for s in sieges},
                                         fixed_inputs=fixed_inputs)
            streams.write_text(json.dumps(json_safe(payload), indent=2) + "\n")
        else:
            drawn = not fixed_inputs and any(s.inputs for s in sieges)
            title = (f"backtest of {len(scores)} documented sieges"
                     + (", each left out of the doctrine fit" if folds else ", as written")
                     + f" ({replications:,} replications each"
                     + (", inputs fixed" if fixed_inputs else
                        ", uncertain inputs drawn" if drawn else "")
                     + ")")
            out_console.print(view.scores_table(scores, title))
            out_console.print(view.SMOOTHING.format(k=len(END_REASONS)), markup=False)
        err_console.print(f"backtest: {len(scores)} sieges in {wall:.1f} s", markup=False)
