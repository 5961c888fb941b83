"""``siege optimize``: the front of lever settings (NSGA-II on common random numbers, with
racing), into a resumable store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from siege.cli.common import (
    SchedulerOption,
    StoreWorkersOption,
    err_console,
    fail,
    out_console,
    user_errors,
)
from siege.jsonsafe import json_safe
from siege.output import console as streams


def optimize(
    file: Annotated[Path, typer.Argument(help="Optimization file (TOML).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Optimization store (a folder).")],
    workers: StoreWorkersOption = None,
    scheduler: SchedulerOption = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the optimization in --out; redo "
                           "nothing stored.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the front as JSON.")] = False,
    write_scenario: Annotated[
        tuple[int, Path] | None,
        typer.Option("--write-scenario", help="Write candidate K of the store in --out as a "
                     "scenario file (K OUT.toml) and stop; runs nothing.",
                     show_default=False, metavar="K OUT.toml"),
    ] = None,
) -> None:
    """Search for the front of lever settings (NSGA-II over candidates that share their
    random numbers; racing adds replications near the front) into a resumable store."""
    from siege.analysis.optimize import Progress, run_optimization, scenario_evaluator
    from siege.analysis.optimize_result import front_json, generations_table, summarise
    from siege.output.optimize_view import front_figure, front_text, progress_figure
    from siege.run.blocks import default_workers
    from siege.run.dask import DaskExecutor
    from siege.run.executors import Executor, local_executor
    from siege.run.optimize_file import load_optimization
    from siege.run.optimize_store import OptimizeStore

    with user_errors():
        if write_scenario is not None:
            _write_scenario(out, *write_scenario)
            return
        if workers is not None and scheduler is not None:
            fail("give --workers or --scheduler, not both")
        opt = load_optimization(file)
        executor: Executor = (DaskExecutor(scheduler) if scheduler is not None
                              else local_executor(workers or default_workers()))

        def report(p: Progress) -> None:
            what = (f"racing round {p.racing_round}" if p.racing_round
                    else f"generation {p.generation}/{p.generations}")
            err_console.print(f"optimize: {what}: {p.candidates} candidates, {p.run} "
                              "evaluations run", markup=False)

        started = time.perf_counter()
        with executor:
            opened = (OptimizeStore.resume if resume else OptimizeStore.create)(out, opt)
            with opened as store:
                evaluator = scenario_evaluator(opt, executor)
                search = run_optimization(
                    opt, store, evaluator,
                    progress=report if err_console.is_terminal else None)
                result = summarise(search)
                store.write_tables(result.candidates, generations_table(result))
                front_figure(result, out / "front.png")
                progress_figure(result, out / "progress.png")
        wall = time.perf_counter() - started
        if as_json:
            streams.write_text(json.dumps(json_safe(front_json(result)), indent=2) + "\n")
        else:
            out_console.print(front_text(result), markup=False, highlight=False)
        err_console.print(f"optimize: {result.candidates_total} candidates, "
                          f"{result.evaluations_run} evaluations run in {wall:.1f} s → {out} "
                          "(front.png, progress.png)", markup=False)


def _write_scenario(store: Path, candidate: int, target: Path) -> None:
    """Candidate ``candidate``'s scenario (levers, seed, replications) as a TOML file."""
    from siege.errors import OptimizeError
    from siege.files import atomic_write_text, check_target
    from siege.run.optimize_store import candidate_file, read_manifest
    from siege.scenario import scenario_from_json, to_toml

    read_manifest(store)
    path = candidate_file(store, candidate)
    from siege.results.parquet import read_metadata

    if not path.is_file():
        raise OptimizeError(f"{store}: no candidate {candidate} (no {path.name} in "
                            f"{path.parent.name})")
    scenario = scenario_from_json(read_metadata(path)["siege.scenario"])
    atomic_write_text(check_target(target), to_toml(scenario))
    err_console.print(f"candidate {candidate} → {target}", markup=False)
