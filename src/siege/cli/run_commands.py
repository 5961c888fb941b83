"""Commands that run simulations: ``simulate`` (a scenario's replications into a results
file), ``sweep`` (a design of scenarios into a resumable store) and ``store check``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from siege._version import __version__
from siege.cli.common import (
    FileArgument,
    SchedulerOption,
    SetOption,
    StoreWorkersOption,
    err_console,
    fail,
    out_console,
    overrides,
    progress_bar,
    user_errors,
)
from siege.jsonsafe import json_safe
from siege.output import console as streams
from siege.scenario import load_scenario


def simulate(
    file: FileArgument,
    replications: Annotated[
        int | None, typer.Option("--replications", "-n", min=1, help="Replications to run.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Root seed.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Results file (Parquet); bands go beside it as NAME.bands.parquet. "
            "Default: SCENARIO.results.parquet in the current folder.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Without --out: replace SCENARIO.results.parquet even when it holds the "
            "results of another run (another scenario, seed, replications, engine or "
            "posterior); with --out such results are replaced anyway, and a line says so.",
        ),
    ] = False,
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, help="Worker processes (default: all cores)."),
    ] = None,
    block_size: Annotated[
        int | None,
        typer.Option("--block-size", min=1, help="Replications per block (results unchanged)."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Engine: batch (fast, the default), event (the continuous-time reference) "
            "or mean (the expected-value dynamics: one deterministic replication; its "
            "integrator's tolerances are simulation.rtol and simulation.atol).",
        ),
    ] = "batch",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Run the blocks on a Dask cluster: its scheduler "
                     "address, tcp://HOST:PORT (results unchanged)."),
    ] = None,
    posterior: Annotated[
        Path | None,
        typer.Option("--posterior", help="Draw one parameter set per replication from this "
                     "calibration store's posterior (seeded by the run's seed)."),
    ] = None,
) -> None:
    """Run a scenario's replications; print a summary and write the outcomes to Parquet."""
    from siege.results.sets import Provenance, held_results
    from siege.run.blocks import default_workers
    from siege.run.simulate import resolve_run
    from siege.run.simulate import simulate as run

    with user_errors():
        scenario = resolve_run(load_scenario(file, overrides(set_)), replications=replications,
                               seed=seed, engine=engine)
        path = out if out is not None else Path(f"{file.stem}.results.parquet")
        total = scenario.simulation.replications
        n_workers = workers or default_workers(total)
        values, metadata = None, None
        if posterior is not None:
            from siege.analysis.calibrate import posterior_values

            values, metadata = posterior_values(posterior, total, scenario.simulation.seed)
        this_run = Provenance.of_run(scenario, engine, partial=False, metadata=metadata)
        held = held_results(path)
        replacing = held if held is not None and not held.same_run(this_run) else None
        if replacing is not None and out is None and not force:
            fail(f"{path} holds the results of another run ({replacing.describe()}); give "
                 "--out FILE to write this run elsewhere, or --force to replace them")
        try:
            with _progress(total) as progress:
                result = run(
                    scenario,
                    engine=engine,
                    block_size=block_size,
                    workers=n_workers,
                    out=path,
                    progress=progress,
                    scheduler=scheduler,
                    inputs=(file,),
                    values=values,
                    metadata=metadata,
                )
        finally:  # said whether the run finished or was stopped with finished blocks kept
            now = held_results(path) if replacing is not None else None
            if replacing is not None and now is not None and now.same_run(this_run):
                err_console.print(f"replaced {path} ({replacing.describe()})", markup=False)
        summary = result.summary()
        if as_json:
            payload = {
                "scenario": result.scenario.name,
                "scenario_sha256": result.scenario.sha256(),
                "seed": result.scenario.simulation.seed,
                "engine": result.engine,
                "siege_version": __version__,
                "out": str(path),
                "bands": str(_bands(path)),
                **summary.to_dict(),
            }
            streams.write_text(json.dumps(json_safe(payload), indent=2) + "\n")
        else:
            _print_summary(result.scenario.name, summary, path)


def _bands(path: Path) -> Path:
    from siege.results.parquet import bands_path

    return bands_path(path)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[float, int], None] | None]:
    """Progress over replications (``simulate``; fractional as blocks advance)."""
    with progress_bar("replications") as bar:
        if bar is None:
            yield None
            return
        task = bar.add_task("run", total=total)

        def update(done: float, _total: int) -> None:
            bar.update(task, completed=done)

        yield update


def _fmt(x: float) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}"


def _print_summary(name: str, summary: Any, path: Path) -> None:
    from rich import box

    reasons = Table(
        title=f"{name}: end of siege ({summary.replications:,} replications)",
        box=box.SIMPLE_HEAD,
    )
    reasons.add_column("end reason")
    reasons.add_column("probability", justify="right")
    reasons.add_column("95 % interval", justify="right")
    reasons.add_column("count", justify="right")
    for reason, prop in summary.end_reasons.items():
        reasons.add_row(
            reason, f"{prop.p:.3f}", f"{prop.low:.3f} – {prop.high:.3f}", f"{prop.count:,}"
        )
    out_console.print(reasons)
    measures = Table(
        title="outcomes (median and 90 % interval over replications)", box=box.SIMPLE_HEAD
    )
    measures.add_column("measure", overflow="fold")
    measures.add_column("unit", overflow="fold")
    for header in ("median", "5 %", "95 %", "mean"):
        measures.add_column(header, justify="right", no_wrap=True, min_width=6)
    for key, spread in summary.measures.items():
        measures.add_row(
            key, spread.unit, _fmt(spread.median), _fmt(spread.p5), _fmt(spread.p95),
            _fmt(spread.mean),
        )
    out_console.print(measures)
    out_console.print(f"outcomes: {path}\nbands:    {_bands(path)}")


def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results store (a folder).")],
    workers: StoreWorkersOption = None,
    scheduler: SchedulerOption = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the sweep in --out; redo nothing "
                           "finished.")
    ] = False,
) -> None:
    """Run a parameter sweep (grid, lhs, sobol or random design) into a resumable store."""
    import time

    from siege.run.blocks import default_workers
    from siege.run.dask import DaskExecutor
    from siege.run.executors import Executor, local_executor
    from siege.run.store import DirectoryStore
    from siege.run.sweep import design, load_sweep, point_scenarios, run_sweep

    with user_errors():
        if workers is not None and scheduler is not None:
            fail("give --workers or --scheduler, not both")
        spec = load_sweep(file)
        points = point_scenarios(spec, design(spec))  # every point checked before any run
        executor: Executor = (
            DaskExecutor(scheduler) if scheduler is not None
            else local_executor(workers or min(default_workers(), len(points)))
        )
        started = time.perf_counter()
        with executor:  # a cluster is reached before the store is touched
            opened = (DirectoryStore.resume if resume else DirectoryStore.create)(out, spec)
            with opened as store, _sweep_progress() as progress:
                outcome = run_sweep(spec, store, executor, progress=progress)
        wall = time.perf_counter() - started
        for point, error in sorted(outcome.failures.items()):
            err_console.print(f"point {point} failed: {error}", markup=False)
        err_console.print(
            f"sweep: {outcome.done}/{outcome.points} points done, {outcome.failed} failed"
            + (f", {outcome.already_done} already in the store" if outcome.already_done else "")
            + f"; {outcome.blocks_run} blocks run in {wall:.1f} s → {out}",
            markup=False,
        )
        if outcome.failed:
            raise typer.Exit(1)


@contextmanager
def _sweep_progress() -> Iterator[Callable[[Any], None] | None]:
    """Progress over points and blocks (``sweep``)."""
    with progress_bar("{task.description:>6}") as bar:
        if bar is None:
            yield None
            return
        points = bar.add_task("points", total=None)
        blocks = bar.add_task("blocks", total=None)

        def update(state: Any) -> None:
            bar.update(
                points, total=state.points_total, completed=state.points_done + state.points_failed
            )
            bar.update(blocks, total=state.blocks_total, completed=state.blocks_done)

        yield update


def store_check(
    store: Annotated[Path, typer.Argument(help="Sweep store (folder).", show_default=False)],
) -> None:
    """Check a sweep store's files against its ledger (checksums, rows, blocks) without
    running anything. Exit status 0: intact; 1: damaged, or holding files its ledger does not
    list (`siege sweep --resume` runs damaged blocks again; remove the others, copies or the
    unrecorded blocks of a killed run); 2: not a store."""
    from siege.run.store_read import check_store

    with user_errors():
        found = check_store(store)
    for line in found.damage:
        out_console.print(f"damaged: {line}")
    for line in found.foreign:
        out_console.print(f"not in the ledger (ignored by siege; read by other Parquet readers "
                          f"of outcomes/): {line}")
    out_console.print(
        f"{store}: {found.points} points, {found.finished} finished, {found.started} started; "
        + ("intact" if found.intact else
           f"{len(found.damage)} damaged, {len(found.foreign)} files not in the ledger")
    )
    if not found.intact:
        raise typer.Exit(1)

