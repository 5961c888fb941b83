"""A scenario discovery in words and tables: header lines, the trajectory and the inspected
box as terminal tables (rich renderables; no printing), the same as a section of an HTML report
and a page that holds just that section (``siege discover --report``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich import box as rich_box
from rich.table import Table

from siege.analysis.discover import Discovery
from siege.analysis.prim import box_limits
from siege.errors import DiscoverError
from siege.files import atomic_write_bytes
from siege.output.discovery_figures import discovery_figures
from siege.output.discovery_figures import lever_value as num
from siege.output.report import _e, _table, figure_html, html_page
from siege.output.terminal import fmt_p

TRAJECTORY_HEAD = ["box", "coverage", "density (95 % Wilson)", "mass", "points",
                   "levers restricted", ""]
BOX_HEAD = ["lever", "sweep range", "box", "quasi-p", "reproduced"]


def header_lines(d: Discovery) -> list[str]:
    """What was counted, how, and which box is shown."""
    c = d.counts
    what = (f"{len(c.k)} pairs of points differing only in {d.pair_path}" if d.pair_path
            else f"{len(c.k)} points")
    opts = d.trajectory.options
    lines = [
        f"store {d.store}: {what}, {int(c.n.sum()):,} replications, "
        f"{int(c.k.sum()):,} satisfy: {d.condition}",
        f"PRIM: peel_alpha {opts.peel_alpha:g}, paste_alpha {opts.paste_alpha:g}, "
        f"mass_min {opts.mass_min:g}; {len(d.trajectory.boxes)} boxes on the trajectory",
    ]
    lines += list(c.notes)
    chosen = d.trajectory.boxes[d.box]
    lines.append(f"box {d.box}: coverage {chosen.coverage:.3f}, density {chosen.density:.3f} "
                 f"({chosen.density_low:.3f} – {chosen.density_high:.3f}), "
                 f"{chosen.n_points} points")
    return lines


def trajectory_cells(d: Discovery) -> list[list[str]]:
    """One row per box on the trajectory."""
    rows = []
    for b in d.trajectory.boxes:
        mark = ("inspected" if b.index == d.box else "") + (" pasted" if b.pasted else "")
        rows.append([str(b.index), f"{b.coverage:.3f}",
                     f"{b.density:.3f} ({b.density_low:.3f} – {b.density_high:.3f})",
                     f"{b.mass:.3f}", str(b.n_points), str(len(b.restricted)), mark.strip()])
    return rows


def box_cells(d: Discovery) -> list[list[str]]:
    """One row per lever of the inspected box: its sweep range, the box's limits (``–``
    where unrestricted), the quasi-p value and the share of bootstrap resamples that
    reproduce the restriction (by side)."""
    box = d.trajectory.boxes[d.box]
    rows = []
    for j, lever in enumerate(d.trajectory.levers):
        kept = np.flatnonzero(box.allowed[j])
        if lever.categorical:
            span = ", ".join(map(str, lever.levels))
            limits = ", ".join(str(lever.levels[i]) for i in kept)
            sides = ["levels"]
        else:
            span = f"{num(lever.levels[0])} – {num(lever.levels[-1])}"
            limits = f"{num(lever.levels[kept[0]])} – {num(lever.levels[kept[-1]])}"
            sides = ["low", "high"]
        if j not in box.restricted:
            rows.append([lever.path, span, "–", "", ""])
            continue
        shares = [f"{side} {d.reproduced[(lever.path, side)]:.0%}" for side in sides
                  if (lever.path, side) in d.reproduced]
        rows.append([lever.path, span, limits, fmt_p(box.quasi_p.get(j, float("nan"))),
                     ", ".join(shares) if d.resamples else "(no bootstrap)"])
    return rows


CART_HEAD = ["leaf", "coverage", "density (95 % Wilson)", "points", "limits"]


def cart_cells(d: Discovery) -> list[list[str]]:
    """One row per CART leaf, densest first, its limits as ``path low – high`` or ``path in
    {levels}``."""
    rows = []
    for i, leaf in enumerate(d.cart):
        limits = box_limits(d.trajectory.levers, leaf.allowed)
        shown = "; ".join(
            f"{path} in {{{', '.join(map(str, v))}}}" if path in d.categorical
            else f"{path} {num(v[0])} – {num(v[1])}" for path, v in limits.items())
        rows.append([str(i), f"{leaf.coverage:.3f}",
                     f"{leaf.density:.3f} ({leaf.density_low:.3f} – {leaf.density_high:.3f})",
                     str(leaf.n_points), shown or "(all)"])
    return rows


def _rich(title: str, head: list[str], rows: list[list[str]]) -> Table:
    """A table whose first and text columns are left-aligned, numbers right-aligned."""
    table = Table(title=title, box=rich_box.SIMPLE_HEAD)
    for i, name in enumerate(head):
        left = i == 0 or name in ("limits", "lever")
        table.add_column(name, justify="left" if left else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def trajectory_table(d: Discovery) -> Table:
    return _rich("Peeling trajectory (coverage, density, levers restricted)",
                 TRAJECTORY_HEAD, trajectory_cells(d))


def box_table(d: Discovery) -> Table:
    shares = (f", share of {d.resamples} bootstrap resamples reproducing each restriction"
              if d.resamples else "")
    return _rich(f"Box {d.box}: limits, quasi-p{shares}", BOX_HEAD, box_cells(d))


def cart_table(d: Discovery) -> Table:
    return _rich("CART leaves, densest first", CART_HEAD, cart_cells(d))


def discovery_section(d: Discovery, *, figures: bool = True) -> str:
    """The discovery's section (HTML): what was counted, the inspected box, the trajectory
    and (unless ``figures`` is False) the two figures, embedded."""
    parts = [f"<h2>Scenario discovery: {_e(d.condition)}</h2>"]
    parts += [f"<p class='note'>{_e(line)}</p>" for line in header_lines(d)]
    parts.append(_table(f"Box {d.box}", BOX_HEAD, box_cells(d)))
    parts.append(_table("Peeling trajectory", TRAJECTORY_HEAD, trajectory_cells(d)))
    if d.cart:
        parts.append(_table("CART leaves, densest first", CART_HEAD, cart_cells(d)))
    if figures:
        parts += [figure_html(fig, name.replace("_", " "))
                  for name, fig in discovery_figures(d).items()]
    return "".join(parts)


def write_discovery_report(d: Discovery, path: str | Path) -> Path:
    """Write a page holding :func:`discovery_section` to ``path`` (``.html``)."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm") or not out.parent.is_dir():
        raise DiscoverError(f"report {out}: give an .html file in an existing folder",
                            parameter="report")
    heading = f"Scenario discovery on {d.store.name}"
    atomic_write_bytes(out, html_page(heading, discovery_section(d)).encode())
    return out
