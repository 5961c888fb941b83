"""Commands that fit a model to observations: ``fit`` (attrition laws to a daily battle
record, or Helmbold's exponent across CDB90) and ``calibrate`` (a scenario's parameters by
ABC-SMC, and the posterior predictive check)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from siege.cli.common import err_console, out_console, progress_bar, user_errors
from siege.jsonsafe import json_safe
from siege.output import console as streams


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
    from siege.run.calibrate import check_engine
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
                check_engine(engine or "batch", calibration.scenario)  # before the store
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
    with progress_bar("{task.description}") as bar:
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

