"""``siege discover``: scenario discovery (PRIM) over a sweep store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from siege.cli.common import BootstrapSeedOption, err_console, out_console, user_errors
from siege.errors import DiscoverError
from siege.files import check_target
from siege.jsonsafe import json_safe
from siege.output import console as streams


def discover(
    store: Annotated[Path, typer.Argument(help="Sweep store (folder).", show_default=False)],
    where: Annotated[
        str,
        typer.Option("--where", help="Condition on a replication's outcomes, e.g. "
                     "'end_reason in [\"encircled\"]', 'attacker_losses < 40000', or paired "
                     "between two values of a lever: 'end_reason[P=A] in [\"encircled\"] and "
                     "end_reason[P=B] not in [\"encircled\"]' (README: Scenario discovery).",
                     show_default=False),
    ],
    box: Annotated[
        int | None,
        typer.Option("--box", help="Inspect box K of the trajectory (default: the first "
                     "whose density reaches the densest box's 95 % interval).",
                     show_default=False),
    ] = None,
    peel_alpha: Annotated[
        float, typer.Option("--peel-alpha", help="Share of the box's points a peel removes.")
    ] = 0.05,
    paste_alpha: Annotated[
        float, typer.Option("--paste-alpha", help="Share of the box's points a paste adds.")
    ] = 0.05,
    mass_min: Annotated[
        float, typer.Option("--mass-min", help="Smallest share of the points a box keeps.")
    ] = 0.05,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples (points and "
                          "replications) for the reproduced share of each restriction; 0: "
                          "none.")
    ] = 200,
    cart: Annotated[
        bool, typer.Option("--cart", help="Also the leaves of a CART classification tree "
                           "(needs scikit-learn).")
    ] = False,
    seed: BootstrapSeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    figures: Annotated[
        Path | None, typer.Option("--figures", help="Draw the figures into this folder.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML page of the discovery.")
    ] = None,
) -> None:
    """Scenario discovery: where in a sweep's levers a condition on the outcomes is likely
    (PRIM, with coverage, density, quasi-p values and bootstrap)."""
    from siege.analysis.discover import discover as run_discover
    from siege.analysis.prim import PrimOptions

    with user_errors({"where": "--where", "box": "--box", "peel_alpha": "--peel-alpha",
                      "paste_alpha": "--paste-alpha", "mass_min": "--mass-min",
                      "folder": "--figures", "report": "--report",
                      "cart": "--cart"}):
        options = PrimOptions(peel_alpha, paste_alpha, mass_min)
        options.check()
        if report is not None:  # outputs are checked before the work
            if report.suffix.lower() not in (".html", ".htm"):
                raise DiscoverError(f"report {report}: give a file ending in .html",
                                    parameter="report")
            check_target(report)
        if figures is not None and figures.exists() and not figures.is_dir():
            raise DiscoverError(f"folder {figures}: exists and is not a folder",
                                parameter="folder")
        found = run_discover(store, where, options=options, box=box, resamples=bootstrap,
                             seed=seed, cart=cart)
        written = []
        if figures is not None:
            from siege.output.discovery_figures import save_discovery_figures

            written = save_discovery_figures(found, figures)
        if report is not None:
            from siege.output.discovery_view import write_discovery_report

            write_discovery_report(found, report)
        if as_json:
            streams.write_text(json.dumps(json_safe(found.to_dict()), indent=2) + "\n")
        else:
            from siege.output import discovery_view as view

            for line in view.header_lines(found):
                out_console.print(line, markup=False)
            out_console.print(view.box_table(found))
            out_console.print(view.trajectory_table(found))
            if found.cart:
                out_console.print(view.cart_table(found))
        if written:
            err_console.print(f"figures: {len(written)} files in {figures}", markup=False)
        if report is not None:
            err_console.print(f"report: {report}", markup=False)
