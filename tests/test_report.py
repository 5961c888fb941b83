"""`siege report`: one self-contained HTML file, rendered in a real headless Chromium, whose
figures all load."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import run_cli, scenario_data, to_toml

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _rendered_body(html_file: Path) -> dict[str, str]:
    """Load the page in headless Chromium and return the attributes of its <body> after load."""
    browser = _browser()
    if browser is None:
        pytest.skip(f"no browser binary ({', '.join(BROWSERS)}) on PATH; CI installs the "
                    "Debian package chromium")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--dump-dom", html_file.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body, proc.stdout[:2000]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    scenario = folder / "small.toml"
    scenario.write_text(to_toml(scenario_data(name="small_town")))
    paths = []
    for name, extra in (("threshold", []), ("hold", ["--set", 'policy.kind="hold"'])):
        out = folder / f"{name}.parquet"
        proc = run_cli("simulate", str(scenario), "-n", "300", "--seed", "9", "--out", str(out),
                       *extra)
        assert proc.returncode == 0, proc.stderr
        paths.append(str(out))
    html_file = folder / "report.html"
    proc = run_cli("report", *paths, "-l", "threshold", "-l", "hold", "--out", str(html_file),
                   "--resamples", "300")
    assert proc.returncode == 0, proc.stderr
    return html_file


@pytest.mark.slow  # two runs and a full report
def test_report_is_one_self_contained_file_with_scenarios_tables_and_figures(
    report: Path,
) -> None:
    text = report.read_text(encoding="utf-8")
    assert "small_town" in text  # the scenario
    assert "Summary" in text and "Comparison" in text and "paired analysis" in text
    assert "Cliff" in text and "Newcombe" in text and "Precision" in text
    assert text.count("<img") >= 15
    # nothing fetched from elsewhere: every image is a data: URI, no external links/scripts
    assert not re.search(r"""(src|href)\s*=\s*['"](?!data:)""", text)
    assert "http://" not in text and "https://" not in text


@pytest.mark.slow  # the report fixture draws 20 figures
def test_report_renders_in_headless_chromium_and_every_figure_loads(report: Path) -> None:
    attrs = _rendered_body(report)
    total = int(attrs["data-figures-total"])
    assert total >= 15
    assert int(attrs["data-figures-loaded"]) == total
    widths = [int(w) for w in attrs["data-figure-widths"].split(",")]
    assert min(widths) > 300


@pytest.mark.slow  # the report fixture draws 20 figures
def test_the_browser_check_catches_a_broken_figure(report: Path, tmp_path: Path) -> None:
    text = report.read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    # corrupt the first image's data: the page check must see one figure fail to load
    broken.write_text(text.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA",
                                   1), encoding="utf-8")
    attrs = _rendered_body(broken)
    assert int(attrs["data-figures-loaded"]) == int(attrs["data-figures-total"]) - 1


def test_report_rejects_a_non_html_out_and_bad_results(tmp_path: Path) -> None:
    from siege.run.simulate import simulate
    from siege.scenario import scenario_from_dict

    results = tmp_path / "threshold.parquet"
    simulate(scenario_from_dict(scenario_data()), replications=64, seed=9, workers=1, out=results)
    proc = run_cli("report", str(results), "--out", str(tmp_path / "r.pdf"))
    assert proc.returncode == 2 and ".html" in proc.stderr and "--out" in proc.stderr
    proc = run_cli("report", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "r.html"))
    assert proc.returncode == 2 and "none.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # two runs and a full report
def test_report_of_runs_in_memory_needs_no_results_file() -> None:
    from siege.analysis.compare import compare
    from siege.output.report import render_report
    from siege.run.simulate import simulate
    from siege.scenario import scenario_from_dict

    scenario = scenario_from_dict(scenario_data(name="small_town"))
    hold = scenario.with_overrides({"policy.kind": "hold"})
    sets = [simulate(s, replications=200, seed=9, workers=1).result_set(label)
            for s, label in ((scenario, "threshold"), (hold, "hold"))]
    text = render_report(sets, compare(sets, n_resamples=200))
    assert "(in memory)" in text and "paired analysis" in text
    assert "Scenario of hold" in text and "fan_defender_strength" in text


@pytest.mark.slow  # the report fixture draws 20 figures
def test_report_opens_with_the_findings_in_sentences(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert text.index("<h2>Findings</h2>") < text.index("<h2>Scenarios</h2>")
    findings = text[text.index("<h2>Findings</h2>"):text.index("<h2>Scenarios</h2>")]
    assert "Against threshold, hold ends the siege" in findings
    assert "of replications" in findings and "percentage points" in findings
    assert "paired analysis" in findings and "95 % intervals" in findings


@pytest.mark.slow  # the report fixture draws 20 figures
def test_every_figure_has_a_caption_that_says_how_to_read_it(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    figures = re.findall(r"<figure id='fig-([\w]+)'>.*?<figcaption>(.*?)</figcaption>", text)
    assert len(figures) == text.count("<img") >= 15
    for name, caption in figures:
        assert len(caption) > 120, (name, caption)
        if name.startswith("fan_"):
            assert "still running" in caption
    captions = dict(figures)
    assert "held to the horizon" in captions["distribution_end_day"]
    assert "lost garrison" in captions["ends_over_time"].lower()


@pytest.mark.slow  # the report fixture draws 20 figures
def test_paired_against_unpaired_widths_say_narrower_or_wider(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "paired interval of Δ mean vs unpaired" in text
    assert re.search(r"\d+ % (narrower|wider)</td>", text)
    assert not re.search(r">-\d+ %<", text)  # never a "negative narrowing"


@pytest.mark.slow  # four runs and a full report
def test_variants_are_labelled_by_scenario_name_and_told_apart_by_file(
    report: Path, tmp_path: Path,
) -> None:
    from siege.results.sets import load_result_sets

    folder = report.parent
    same = load_result_sets([folder / "threshold.parquet", folder / "hold.parquet"])
    assert [rs.label for rs in same] == ["small_town (threshold)", "small_town (hold)"]
    scenario = tmp_path / "other.toml"
    scenario.write_text(to_toml(scenario_data(name="small_fort")))
    other = tmp_path / "other.results.parquet"
    proc = run_cli("simulate", str(scenario), "-n", "50", "--seed", "9", "--out", str(other))
    assert proc.returncode == 0, proc.stderr
    sets = load_result_sets([folder / "threshold.parquet", other])
    assert [rs.label for rs in sets] == ["small_town", "small_fort"]
    html_file = tmp_path / "r.html"
    proc = run_cli("report", str(folder / "threshold.parquet"), str(other), "--out",
                   str(html_file), "--resamples", "200")
    assert proc.returncode == 0, proc.stderr
    text = html_file.read_text(encoding="utf-8")
    assert "Against small_town, small_fort" in text and ".results" not in text.split(
        "<h2>Scenarios</h2>")[0]


@pytest.mark.slow  # a full report with dates
def test_a_start_date_puts_calendar_dates_in_tables_sentences_and_figures() -> None:
    import datetime as dt

    from siege.analysis.compare import compare
    from siege.output.report import render_report
    from siege.run.simulate import simulate
    from siege.scenario import scenario_from_dict

    scenario = scenario_from_dict(scenario_data(name="small_town"))
    sets = [simulate(scenario, replications=100, seed=3, workers=1).result_set()]
    text = render_report(sets, compare(sets, n_resamples=100),
                         start_date=dt.date(2022, 8, 1))
    assert "day 0 is 1 Aug 2022" in text
    assert "Sep 2022" in text  # a 40-day horizon: end days fall in September
    assert "Dates along the top count from day 0 = 1 Aug 2022" in text
