"""The ``siege`` command: a thin typer layer over the Python API (parse, call, print).

Errors that are the user's to fix (bad scenario, bad option, missing file, a file that cannot
be written) print one message and exit with status 2, without a traceback. A run stopped by
Ctrl-C, SIGTERM or SIGHUP keeps its finished work and exits with 128 + the signal's number
(130, 143, 129).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from siege._version import __version__
from siege.errors import CompareError, OutputError, SiegeError
from siege.files import check_target
from siege.jsonsafe import json_safe
from siege.output import console as streams
from siege.run.signals import stop_signals_interrupt
from siege.scenario import load_scenario, parse_assignment, to_toml

app = typer.Typer(
    name="siege",
    help="Monte Carlo model of sieges of fortified towns: attrition, supply, encirclement, "
    "withdrawal decisions.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# user text is printed as it is (no markup), in ASCII where the stream cannot encode it
out_console = streams.console(streams.stdout)
if not out_console.is_terminal:  # piped: do not squeeze tables to 80 columns
    out_console = streams.console(streams.stdout, width=140)
err_console = streams.console(streams.stderr)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error message to stderr and exit (status 2 for user errors)."""
    with contextlib.suppress(OutputError):  # nowhere left to say it
        err_console.print(Text.assemble(("error:", "bold red"), " ", message))
    raise typer.Exit(code)


@contextmanager
def user_errors(options: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn siege's own errors into a one-line message and exit status 2; an error about a
    parameter of the API names the command's option for it (``options``: parameter ->
    option). SIGTERM and SIGHUP stop the command as Ctrl-C does; a stopped command says so
    and exits with 128 + the signal's number."""
    try:
        with stop_signals_interrupt():
            yield
    except SiegeError as exc:
        fail(_option_message(exc, options or {}))
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signal", signal.SIGINT)
        with contextlib.suppress(OutputError):
            err_console.print("interrupted" if signum == signal.SIGINT
                              else f"stopped by {signal.Signals(signum).name}")
        raise typer.Exit(128 + signum) from None


def _option_message(exc: SiegeError, options: Mapping[str, str]) -> str:
    """The error's message, the API parameter it starts with replaced by the option."""
    message = str(exc)
    parameter = exc.parameter if isinstance(exc, CompareError) else None
    if parameter is not None and parameter in options and message.startswith(parameter):
        return options[parameter] + message[len(parameter):]
    return message


def version_callback(value: bool) -> None:
    if value:
        out_console.print(f"siege {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Monte Carlo model of sieges of fortified towns."""


def _overrides(assignments: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for text in assignments or []:
        key, value = parse_assignment(text)
        out[key] = value
    return out


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a scenario value: dotted.key=value (repeatable), e.g. "
        "--set attacker.strength=40000 --set routes.siversk.capacity_tonnes_per_day=100",
    ),
]
FileArgument = Annotated[Path, typer.Argument(help="Scenario file (TOML).", show_default=False)]
ResamplesOption = Annotated[
    int, typer.Option("--resamples", min=100, help="Bootstrap resamples per interval.")
]
BootstrapSeedOption = Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")]


@app.command()
def validate(file: FileArgument, set_: SetOption = None) -> None:
    """Check a scenario file and print it resolved, with every default filled in."""
    with user_errors():
        scenario = load_scenario(file, _overrides(set_))
        out_console.print(to_toml(scenario), markup=False, end="")
        err_console.print(f"{file}: valid (sha256 {scenario.sha256()[:12]})")


@app.command()
def schema() -> None:
    """Print the scenario file reference: every table and key, its default and unit."""
    from siege.scenario import reference_markdown

    out_console.print(reference_markdown(), markup=False, end="")


@app.command()
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
    from siege.run.blocks import default_workers
    from siege.run.simulate import simulate as run

    with user_errors():
        scenario = load_scenario(file, _overrides(set_))
        path = out if out is not None else Path(f"{file.stem}.results.parquet")
        total = 1 if engine == "mean" else replications or scenario.simulation.replications
        n_workers = workers or default_workers(total)
        values, metadata = None, None
        if posterior is not None:
            from siege.analysis.calibrate import posterior_values

            draw_seed = scenario.simulation.seed if seed is None else seed
            values, metadata = posterior_values(posterior, total, draw_seed)
        with _progress(total) as progress:
            result = run(
                scenario,
                replications=replications,
                seed=seed,
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
def _progress_bar(label: str) -> Iterator[Any]:
    """A rich progress bar with elapsed time and ETA on stderr, or None when not a terminal
    (piped output stays clean)."""
    if not err_console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        yield bar


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int, int], None] | None]:
    """Progress over replications (``simulate``)."""
    with _progress_bar("replications") as bar:
        if bar is None:
            yield None
            return
        task = bar.add_task("run", total=total)

        def update(done: int, _total: int) -> None:
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


ResultsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="Results files of `siege simulate` (or sweep-store points, e.g. STORE/point=12); "
        "the first is the reference.",
        show_default=False,
    ),
]
LabelOption = Annotated[
    list[str] | None,
    typer.Option("--label", "-l", help="Label of each results file, in order (repeatable)."),
]


def _load(results: list[Path], labels: list[str] | None) -> Any:
    from siege.results.sets import load_result_sets

    return load_result_sets(list(results), labels or None)


@app.command()
def compare(
    results: ResultsArgument,
    label: LabelOption = None,
    precision: Annotated[
        list[str] | None,
        typer.Option(
            "--precision",
            help="Target half-width of the 95 % interval of means: MEASURE=HALFWIDTH in the "
            "measure's unit (e.g. end_day=2) or a percentage of the estimate (e.g. 5%); "
            "prints the replications needed (repeatable).",
        ),
    ] = None,
    analysis: Annotated[
        str,
        typer.Option("--analysis", help="auto (paired when the files share seed and "
                     "replication ids), paired or unpaired."),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the statistics: .parquet (long form) or .json."),
    ] = None,
    figures: Annotated[
        Path | None, typer.Option("--figures", help="Also draw the figures into this folder.")
    ] = None,
    resamples: ResamplesOption = 2000,
    seed: BootstrapSeedOption = 0,
) -> None:
    """Compare outcome distributions of result sets (the first is the reference)."""
    from siege.analysis.compare import compare as run_compare
    from siege.analysis.precision import parse_precision
    from siege.output import terminal as view
    from siege.output.comparison_files import write_comparison

    with user_errors({"precision": "--precision", "labels": "--label",
                      "analysis": "--analysis", "path": "--out", "folder": "--figures"}):
        targets = parse_precision(precision)
        if out is not None:
            check_target(out, tuple(results))
        variants = _load(results, label)
        comparison = run_compare(
            variants, analysis=analysis, n_resamples=resamples, seed=seed, precision=targets
        )
        if out is not None:
            write_comparison(comparison, out)
        written: list[Path] = []
        if figures is not None:
            from siege.output.plots import save_figures

            written = save_figures(variants, figures)
        if as_json:
            streams.write_text(json.dumps(json_safe(comparison.to_dict()), indent=2) + "\n")
        else:
            for line in view.header_lines(comparison):
                out_console.print(line, markup=False)
            out_console.print(view.measures_table(comparison))
            if len(variants) > 1:
                out_console.print(view.differences_table(comparison))
                out_console.print(view.tests_table(comparison))
            out_console.print(view.reasons_table(comparison))
            out_console.print(view.chi_square_line(comparison), markup=False)
            out_console.print(view.precision_table(comparison))
        if out is not None:
            err_console.print(f"statistics: {out}", markup=False)
        if written:
            err_console.print(f"figures: {len(written)} files in {figures}", markup=False)


@app.command()
def plot(
    results: ResultsArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the figures.")] = Path(
        "figures"
    ),
    label: LabelOption = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="png and/or svg (repeatable; default both)."),
    ] = None,
) -> None:
    """Draw ECDFs, histograms, end-reason bars and fan charts of result sets."""
    with user_errors({"labels": "--label", "formats": "--format", "folder": "--out"}):
        from siege.output.plots import save_figures

        variants = _load(results, label)
        written = save_figures(variants, out, formats=tuple(fmt or ("png", "svg")))
        for path in written:
            out_console.print(str(path), markup=False)


@app.command()
def report(
    results: ResultsArgument,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The HTML file to write.")
    ] = Path("report.html"),
    label: LabelOption = None,
    title: Annotated[str | None, typer.Option("--title", help="Title of the report.")] = None,
    resamples: ResamplesOption = 2000,
    seed: BootstrapSeedOption = 0,
) -> None:
    """Write one self-contained HTML report (scenarios, summary, comparison, figures)."""
    with user_errors({"labels": "--label", "path": "--out"}):
        from siege.output.report import write_report

        check_target(out, tuple(results))
        variants = _load(results, label)
        path = write_report(variants, out, title=title, n_resamples=resamples, seed=seed)
        err_console.print(f"report: {path}", markup=False)


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results store (a folder).")],
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, help="Local worker processes (default: all "
                     "cores)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Run on a Dask cluster: its scheduler address, "
                     "tcp://HOST:PORT (results identical to a local run)."),
    ] = None,
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
    with _progress_bar("{task.description:>6}") as bar:
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


@app.command()
def sensitivity(
    store: Annotated[Path, typer.Argument(help="Sweep store (folder).", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to save the table: Parquet, or JSON for a "
                     "name ending in .json. Default: "
                     "STORE/sensitivity.parquet."),
    ] = None,
    resamples: ResamplesOption = 1000,
    seed: BootstrapSeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Sobol' indices (Sobol' designs) and a PRCC ranking (any design) of a sweep's outcomes."""
    from rich import box

    from siege.analysis.sensitivity import analyze_store, output_format, write_sensitivity

    with user_errors():
        target = out or store / "sensitivity.parquet"
        output_format(target)
        if out is not None or store.is_dir():  # else: not a store, said by analyze_store
            check_target(target)
        table = analyze_store(store, n_resamples=resamples, seed=seed)
        path = write_sensitivity(table, target)
        rows = table.to_pylist()
        if as_json:
            streams.write_text(json.dumps(json_safe(rows), indent=2) + "\n")
        else:
            for measure in dict.fromkeys(r["measure"] for r in rows):
                view = Table(title=measure, box=box.SIMPLE_HEAD)
                view.add_column("parameter", overflow="fold")
                view.add_column("method")
                view.add_column("estimate", justify="right")
                view.add_column("95 % interval", justify="right")
                view.add_column("rank", justify="right")
                for r in sorted((r for r in rows if r["measure"] == measure),
                                key=lambda r: (r["method"], r["rank"])):
                    view.add_row(r["parameter"], r["method"], f"{r['estimate']:.3f}",
                                 f"{r['low']:.3f} – {r['high']:.3f}", str(r["rank"]))
                out_console.print(view)
        err_console.print(f"sensitivity: {path}", markup=False)


store_app = typer.Typer(name="store", help="Inspect sweep stores.", no_args_is_help=True)
app.add_typer(store_app)


@store_app.command("check")
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


@app.command()
def fit(
    record: Annotated[
        Path | None,
        typer.Argument(help="Daily record (CSV): day, attacker_strength, defender_strength, "
                       "attacker_losses, defender_losses [, attacker_reinforcements, "
                       "defender_reinforcements].", show_default=False),
    ] = None,
    columns: Annotated[str | None, typer.Option(
        "--columns", help="Map siege's column names to the file's, e.g. "
        "day=Day,attacker_strength=US.")] = None,
    law: Annotated[str, typer.Option(
        "--law", help="Laws, comma-separated: square, linear, helmbold, logarithmic, general "
        "or all.")] = "all",
    estimator: Annotated[str, typer.Option(
        "--estimator", help="ls, poisson, negbin (comma-separated) or all.")] = "poisson",
    helmbold_w: Annotated[float | None, typer.Option(
        "--helmbold-w", help="Fix Helmbold's exponent W in [0, 1] (default: fitted).")] = None,
    breaks: Annotated[str | None, typer.Option(
        "--breaks", help="DAY[,DAY]: first days of later phases, each with its own kill "
        "rates.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fits as JSON.")] = False,
    figures: Annotated[Path | None, typer.Option(
        "--figures", help="Draw observed against fitted losses into this folder.")] = None,
    write_scenario: Annotated[Path | None, typer.Option(
        "--write-scenario", help="Write the best fit as a scenario fragment: its attrition "
        "table (TOML), with dated events for later phases.")] = None,
    cdb90: Annotated[bool, typer.Option(
        "--cdb90", help="Instead of a record: fit Helmbold's exponent across the battles of "
        "CDB90 (the extract shipped with siege, or --cdb90-path).")] = False,
    cdb90_path: Annotated[Path | None, typer.Option(
        "--cdb90-path", help="With --cdb90: read this CDB90-patched-flat.csv (file or folder) "
        "instead of the shipped extract.")] = None,
) -> None:
    """Fit attrition laws to a daily two-sided battle record (or, with --cdb90, Helmbold's
    exponent across CDB90's battles); laws ranked by AIC, 95 % profile-likelihood intervals."""
    from siege.analysis import fit as api
    from siege.analysis.fit_laws import ESTIMATORS, LAW_NAMES
    from siege.analysis.fit_record import parse_column_map, read_record
    from siege.errors import FitError
    from siege.output import fit_report as view

    with user_errors():
        if cdb90:
            if record is not None:
                raise FitError("give a RECORD or --cdb90, not both")
            from siege.analysis.cdb90 import fit_helmbold_exponent, load_cdb90

            battles = load_cdb90(cdb90_path)
            helmbold = fit_helmbold_exponent(
                battles.attacker_strength, battles.defender_strength,
                battles.attacker_casualties, battles.defender_casualties,
            )
            if as_json:
                streams.write_text(json.dumps(view.cdb90_dict(battles, helmbold), indent=2) + "\n")
            else:
                for line in view.cdb90_lines(battles, helmbold):
                    out_console.print(line, markup=False)
            return
        if record is None:
            raise FitError("give a RECORD (CSV) to fit, or --cdb90")
        fits = api.fit_record(
            read_record(record, parse_column_map(columns)),
            laws=api.parse_choices(law, LAW_NAMES, "--law"),
            estimators=api.parse_choices(estimator, ESTIMATORS, "--estimator"),
            breaks=api.parse_breaks(breaks),
            helmbold_w=helmbold_w,
        )
        if as_json:
            streams.write_text(json.dumps(json_safe(fits.to_dict()), indent=2) + "\n")
        else:
            out_console.print(view.header_line(fits), markup=False)
            for name in view.estimators(fits):
                out_console.print(view.ranking_table(fits, name))
                out_console.print(view.params_table(fits, name))
        if write_scenario is not None:
            view.write_text(write_scenario, view.scenario_fragment(fits))
            err_console.print(f"scenario fragment: {write_scenario}", markup=False)
        if figures is not None:
            from siege.output.fit_figures import save_fit_figures

            written = save_fit_figures(fits, figures)
            err_console.print(f"figures: {len(written)} files in {figures}", markup=False)


@app.command()
def calibrate(
    file: Annotated[Path | None, typer.Argument(
        help="Calibration file (TOML): scenario, priors, targets, ABC settings.",
        show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Calibration store (a folder) to write.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the calibration in --out from its last finished "
        "generation (the result is the same as a run never stopped).")] = False,
    check: Annotated[Path | None, typer.Option(
        "--check", help="Instead of calibrating: the posterior predictive check of this "
        "calibration store.")] = None,
    draws: Annotated[int, typer.Option(
        "--draws", min=10, help="With --check: posterior draws simulated.")] = 1000,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", min=1, help="Local worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Run on a Dask cluster: its scheduler address, tcp://HOST:PORT "
        "(results identical to a local run).")] = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="Engine simulating the particles (default batch; with --check: the "
        "store's).")] = None,
    block_size: Annotated[int | None, typer.Option(
        "--block-size", min=1, help="Replications per block (results unchanged).")] = None,
    max_time: Annotated[float | None, typer.Option(
        "--max-time", min=0.0, help="Wall-time limit in seconds (replaces the file's "
        "max_wall_time_s); --resume goes on from there.")] = None,
    write_scenario: Annotated[Path | None, typer.Option(
        "--write-scenario", help="Write the posterior-median scenario (TOML), each "
        "calibrated value's credible intervals in a comment.")] = None,
    figures: Annotated[Path | None, typer.Option(
        "--figures", help="Draw the posterior (and with --check the predictive) figures into "
        "this folder.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write the calibration as an HTML report section (a page).")] = None,
) -> None:
    """Fit a scenario's parameters to observations by ABC-SMC into a resumable store (or, with
    --check, test a store's posterior against its observations)."""
    from siege.analysis.calibrate import calibrate as fit
    from siege.analysis.calibrate import posterior_summary
    from siege.errors import CalibrationError
    from siege.output import calibration_view as view
    from siege.run.blocks import default_workers
    from siege.run.calibration_store import CalibrationStore
    from siege.run.dask import DaskExecutor
    from siege.run.executors import Executor, local_executor
    from siege.scenario.calibration import load_calibration

    with user_errors():
        if (file is None) == (check is None):
            raise CalibrationError("give a CALIBRATION file to fit (with --out), or --check "
                                   "STORE" + (", not both" if file is not None else ""))
        if file is not None and out is None:
            raise CalibrationError("give --out: the calibration store to write", key="--out")
        if workers is not None and scheduler is not None:
            raise CalibrationError("give --workers or --scheduler, not both")
        executor: Executor = (DaskExecutor(scheduler) if scheduler is not None
                              else local_executor(workers or default_workers()))
        result = checked = None
        with executor:
            if file is not None and out is not None:
                calibration = load_calibration(file)
                store = (CalibrationStore.resume if resume else CalibrationStore.create)(
                    out, calibration, engine or "batch")
                with _calibration_progress() as progress:
                    result = fit(calibration, store, executor, engine=engine or "batch",
                                 block_size=block_size, max_wall_time_s=max_time,
                                 progress=progress, on_generation=lambda p: err_console.print(
                                     view.generation_line(p), markup=False))
            else:
                from siege.analysis.predictive import predictive_check

                assert check is not None
                store = CalibrationStore.open(check)
                checked = predictive_check(store, executor, draws=draws, engine=engine,
                                           block_size=block_size)
        if result is not None and not result.populations:
            err_console.print(view.stop_line(result), markup=False)
            err_console.print(f"store: {store.root}", markup=False)
            return
        summary = posterior_summary(store)
        err_console.print(view.stop_line(result or summary), markup=False)
        out_console.print(view.posterior_table(summary))
        if summary.correlations:
            out_console.print(view.correlations_table(summary))
        if checked is not None:
            out_console.print(view.check_table(checked))
        if write_scenario is not None:
            from siege.output.calibrated_scenario import write_calibrated_scenario

            written = write_calibrated_scenario(summary, write_scenario)
            err_console.print(f"scenario: {written}", markup=False)
        if figures is not None:
            from siege.output.calibration_figures import save_calibration_figures

            paths = save_calibration_figures(summary, figures, checked)
            err_console.print(f"figures: {len(paths)} files in {figures}", markup=False)
        if report is not None:
            from siege.output.calibration_report import write_calibration_report

            page = write_calibration_report(summary, report, checked)
            err_console.print(f"report: {page}", markup=False)
        err_console.print(f"store: {store.root}", markup=False)


@contextmanager
def _calibration_progress() -> Iterator[Callable[[Any], None] | None]:
    """A progress bar per generation: accepted particles, with the tolerance."""
    with _progress_bar("{task.description}") as bar:
        if bar is None:
            yield None
            return
        tasks: dict[int, Any] = {}

        def update(state: Any) -> None:
            if state.generation not in tasks:
                for old in tasks.values():
                    bar.remove_task(old)
                tasks.clear()
                tasks[state.generation] = bar.add_task(
                    f"generation {state.generation} (tolerance {state.tolerance:.4g})",
                    total=state.population)
            bar.update(tasks[state.generation], completed=state.accepted)

        yield update


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A Python warning as one line, without the source path and line a user cannot act on."""
    with contextlib.suppress(OutputError):
        err_console.print(f"warning: {message}")


def main() -> None:
    """Entry point of the ``siege`` console script."""
    streams.degrade_to_ascii()
    warnings.showwarning = _show_warning
    try:
        app()
    except SiegeError as exc:  # pragma: no cover - commands already handle these
        fail(str(exc))
