"""The ``siege`` command: a thin typer layer over the Python API (parse, call, print).

Errors that are the user's to fix (bad scenario, bad option, missing file) print one message
and exit with status 2, without a traceback.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from siege._version import __version__
from siege.errors import CompareError, SiegeError
from siege.jsonsafe import json_safe
from siege.scenario import load_scenario, parse_assignment, to_toml

app = typer.Typer(
    name="siege",
    help="Monte Carlo model of sieges of fortified towns: attrition, supply, encirclement, "
    "withdrawal decisions.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out_console = Console(highlight=False, soft_wrap=True)
if not out_console.is_terminal:  # piped: do not squeeze tables to 80 columns
    out_console = Console(highlight=False, soft_wrap=True, width=140)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error message to stderr and exit (status 2 for user errors)."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


@contextmanager
def user_errors(options: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn siege's own errors into a one-line message and exit status 2; an error about a
    parameter of the API names the command's option for it (``options``: parameter ->
    option)."""
    try:
        yield
    except SiegeError as exc:
        fail(_escape(_option_message(exc, options or {})))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None


def _option_message(exc: SiegeError, options: Mapping[str, str]) -> str:
    """The error's message, the API parameter it starts with replaced by the option."""
    message = str(exc)
    parameter = exc.parameter if isinstance(exc, CompareError) else None
    if parameter is not None and parameter in options and message.startswith(parameter):
        return options[parameter] + message[len(parameter):]
    return message


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


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
) -> None:
    """Run a scenario's replications; print a summary and write the outcomes to Parquet."""
    from siege.run.blocks import default_workers
    from siege.run.simulate import simulate as run

    with user_errors():
        scenario = load_scenario(file, _overrides(set_))
        path = out if out is not None else Path(f"{file.stem}.results.parquet")
        total = 1 if engine == "mean" else replications or scenario.simulation.replications
        n_workers = workers or default_workers(total)
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
            sys.stdout.write(json.dumps(json_safe(payload), indent=2) + "\n")
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
            sys.stdout.write(json.dumps(json_safe(comparison.to_dict()), indent=2) + "\n")
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
        store = (DirectoryStore.resume if resume else DirectoryStore.create)(out, spec)
        executor: Executor = (
            DaskExecutor(scheduler) if scheduler is not None
            else local_executor(workers or min(default_workers(), len(points)))
        )
        started = time.perf_counter()
        with executor, _sweep_progress() as progress:
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
        typer.Option("--out", "-o", help="Where to save the table (Parquet). Default: "
                     "STORE/sensitivity.parquet."),
    ] = None,
    resamples: ResamplesOption = 1000,
    seed: BootstrapSeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Sobol' indices (Sobol' designs) and a PRCC ranking (any design) of a sweep's outcomes."""
    from rich import box

    from siege.analysis.sensitivity import analyze_store, write_sensitivity

    with user_errors():
        table = analyze_store(store, n_resamples=resamples, seed=seed)
        path = write_sensitivity(table, out or store / "sensitivity.parquet")
        rows = table.to_pylist()
        if as_json:
            sys.stdout.write(json.dumps(json_safe(rows), indent=2) + "\n")
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
                sys.stdout.write(json.dumps(view.cdb90_dict(battles, helmbold), indent=2) + "\n")
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
            sys.stdout.write(json.dumps(json_safe(fits.to_dict()), indent=2) + "\n")
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


def main() -> None:
    """Entry point of the ``siege`` console script."""
    try:
        app()
    except SiegeError as exc:  # pragma: no cover - commands already handle these
        fail(_escape(str(exc)))


if __name__ == "__main__":
    main()
