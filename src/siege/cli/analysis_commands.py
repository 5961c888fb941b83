"""Commands on result sets: ``compare`` (statistics), ``plot`` (figures), ``report`` (one
HTML page), and ``sensitivity`` (indices of a sweep store's outcomes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from siege.cli.common import (
    BootstrapSeedOption,
    LabelOption,
    ResamplesOption,
    ResultsArgument,
    err_console,
    out_console,
    user_errors,
)
from siege.files import check_target
from siege.jsonsafe import json_safe
from siege.output import console as streams


def _load(results: list[Path], labels: list[str] | None) -> Any:
    from siege.results.sets import load_result_sets

    return load_result_sets(list(results), labels or None)


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

