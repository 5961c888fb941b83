"""Figures: every measure and band drawn, axes labelled with units, variants told apart
without colour, and `siege plot` writing real PNG and SVG files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from siege.results.sets import load_result_sets
from siege.results.summary import COMPARE_MEASURES

from conftest import run_cli, scenario_data, to_toml


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("plots")
    scenario = folder / "small.toml"
    scenario.write_text(to_toml(scenario_data()))
    paths = []
    for name, extra in (("threshold", []), ("hold", ["--set", 'policy.kind="hold"'])):
        out = folder / f"{name}.parquet"
        proc = run_cli("simulate", str(scenario), "-n", "300", "--seed", "4", "--out", str(out),
                       *extra)
        assert proc.returncode == 0, proc.stderr
        paths.append(out)
    return paths[0], paths[1]


@pytest.mark.slow  # draws every figure
def test_every_measure_end_reasons_and_band_gets_a_figure(results: tuple[Path, Path]) -> None:
    from siege.output.plots import figures

    figs = figures(load_result_sets(list(results)))
    names = set(figs)
    assert {f"distribution_{m}" for m in COMPARE_MEASURES} <= names
    assert "end_reasons" in names
    for band in ("defender_strength", "attacker_strength", "exchange_ratio", "days_of_supply",
                 "routes_open", "control_north", "control_town", "control_south"):
        assert f"fan_{band}" in names
    import matplotlib.pyplot as plt

    for name, fig in figs.items():
        labelled = [ax for ax in fig.axes if ax.get_xlabel()]
        assert labelled, name
        for ax in labelled:
            if name != "end_reasons":  # categories there, no unit
                assert "(" in ax.get_xlabel(), (name, ax.get_xlabel())  # unit in brackets
        assert any("(" in ax.get_ylabel() for ax in fig.axes), name
        plt.close(fig)


def test_variants_differ_in_line_style_and_hatch_not_only_colour(
    results: tuple[Path, Path],
) -> None:
    from siege.output.plots import distribution_figure, end_reason_figure

    variants = load_result_sets(list(results))
    fig = distribution_figure(variants, "defender_losses")
    ecdf = fig.axes[0]
    styles = [line.get_linestyle() for line in ecdf.get_lines()]
    markers = [line.get_marker() for line in ecdf.get_lines()]
    assert len(styles) == 2 and len(set(styles)) == 2 and len(set(markers)) == 2
    fig = end_reason_figure(variants)
    hatches = {patch.get_hatch() for patch in fig.axes[0].patches}
    assert len(hatches) == 2


@pytest.mark.slow  # every figure as PNG and SVG through the CLI
def test_plot_command_writes_png_and_svg_figures(results: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    out = tmp_path / "figs"
    proc = run_cli("plot", str(results[0]), str(results[1]), "-l", "threshold", "-l", "hold",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(out.glob("*.png"))
    svgs = sorted(out.glob("*.svg"))
    assert len(pngs) == len(svgs) >= len(COMPARE_MEASURES) + 1 + 8
    for png in pngs:
        pixels = mpimg.imread(png)
        gray = pixels[..., :3].mean(axis=-1)
        assert pixels.shape[0] > 200 and float(np.std(gray)) > 0.02, png  # not blank
    for svg in svgs:
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
    text = (out / "distribution_end_day.svg").read_text()
    assert "threshold" in text and "hold" in text


def test_plot_rejects_an_unknown_format_and_a_missing_file(results: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    proc = run_cli("plot", str(results[0]), "--format", "gif", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--format 'gif'" in proc.stderr and "png, svg" in proc.stderr
    proc = run_cli("plot", str(tmp_path / "missing.parquet"))
    assert proc.returncode == 2 and "missing.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_end_day_histogram_shows_held_to_the_horizon_as_its_own_bar(
    results: tuple[Path, Path],
) -> None:
    from siege.output.plots import distribution_figure

    variants = load_result_sets(list(results))
    fig = distribution_figure(variants, "end_day")
    _, hist, horizon = fig.axes[:3]
    assert "before the horizon" in hist.get_xlabel()
    heights = [patch.get_height() for patch in horizon.patches]
    held = [100 * float(np.mean(v.end_reason == "held")) for v in variants]
    assert heights == pytest.approx(held)
    # the histogram holds the other replications: its bars (% per bin) and the bar at the
    # horizon add up to all of them
    for patch, share_held in zip(hist.patches, held, strict=True):
        x, y = patch.get_xy().T
        area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
        width = float(np.min(np.diff(np.unique(x))))
        assert area / width + share_held == pytest.approx(100)


def test_fan_charts_say_they_cover_replications_still_running(
    results: tuple[Path, Path],
) -> None:
    from siege.output.timelines import fan_figure

    variants = load_result_sets(list(results))
    fig = fan_figure(variants, "routes_open")
    assert "still running" in fig.get_suptitle()
    assert fig.axes[len(variants) + 1].get_ylabel() == "running (%)"
    band_axes = fig.axes[0]
    ticks = band_axes.get_yticks()
    assert np.all(ticks == np.round(ticks)), ticks  # whole routes, no 2.25


def _overlaps(labels: list) -> bool:
    boxes = [t.get_window_extent() for t in labels if t.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_labels_stay_inside_the_figure_and_ticks_do_not_collide(
    results: tuple[Path, Path],
) -> None:
    from siege.output.plots import distribution_figure
    from siege.output.timelines import fan_figure

    variants = load_result_sets(list(results))
    fig = fan_figure(variants, "exchange_ratio")
    fig.canvas.draw()
    label = fig.axes[0].yaxis.label
    box, frame = label.get_window_extent(), fig.bbox
    assert box.y0 >= frame.y0 and box.y1 <= frame.y1 and box.x0 >= frame.x0
    for measure in ("defender_losses", "attacker_losses"):
        fig = distribution_figure(variants, measure)
        fig.canvas.draw()
        for ax in fig.axes:
            assert not _overlaps(ax.get_xticklabels()), (measure, ax.get_xlabel())
