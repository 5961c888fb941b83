"""`siege compare` through the real CLI on real results files: paired detection, statistics
that agree with the files, precision, outputs, sweep-store points and bad input."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from siege.analysis.compare import COMPARE_MEASURES, Comparison, compare
from siege.analysis.comparison_table import comparison_table
from siege.analysis.precision import parse_precision
from siege.errors import CompareError
from siege.jsonsafe import json_safe
from siege.results.sets import Provenance, ResultSet, load_result_sets
from siege.run.simulate import simulate
from siege.scenario import load_scenario

from conftest import run_cli, scenario_data, to_toml

N = 600


@dataclass
class Runs:
    folder: Path
    base: Path  # threshold policy, seed 11
    hold: Path  # hold policy, seed 11 (common random numbers with base)
    other_seed: Path  # threshold policy, seed 12


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    folder = tmp_path_factory.mktemp("compare")
    scenario = folder / "small.toml"
    scenario.write_text(to_toml(scenario_data()))

    def simulate(name: str, seed: int, *extra: str) -> Path:
        out = folder / f"{name}.parquet"
        proc = run_cli("simulate", str(scenario), "-n", str(N), "--seed", str(seed),
                       "--out", str(out), *extra)
        assert proc.returncode == 0, proc.stderr
        return out

    return Runs(
        folder,
        simulate("base", 11),
        simulate("hold", 11, "--set", 'policy.kind="hold"'),
        simulate("other_seed", 12),
    )


def _compare_json(*args: str) -> dict:
    proc = run_cli("compare", *args, "--json", "--resamples", "500")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_same_seed_files_are_compared_paired_and_the_output_says_so(runs: Runs) -> None:
    proc = run_cli("compare", str(runs.base), str(runs.hold), "-l", "threshold", "-l", "hold",
                   "--resamples", "500")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "analysis: PAIRED" in text and "common random numbers" in text
    assert "narrower than unpaired" in text
    for measure in COMPARE_MEASURES:
        assert measure in text
    assert "Cliff" in text and "KS D" in text and "chi-square" in text


@pytest.mark.slow  # every figure of a comparison
def test_compare_draws_its_figures_into_a_folder(runs: Runs) -> None:
    figures = runs.folder / "figs"
    proc = run_cli("compare", str(runs.base), str(runs.hold), "-l", "threshold", "-l", "hold",
                   "--resamples", "200", "--figures", str(figures))
    assert proc.returncode == 0, proc.stderr
    assert (figures / "distribution_end_day.png").stat().st_size > 0
    assert (figures / "end_reasons.svg").stat().st_size > 0
    assert "analysis: PAIRED" in proc.stdout


def test_different_seeds_fall_back_to_unpaired_and_name_the_reason(runs: Runs) -> None:
    data = _compare_json(str(runs.base), str(runs.other_seed))
    assert data["analysis"] == "unpaired"
    assert "seed" in data["analysis_reason"]
    assert all(d["analysis"] == "unpaired" for d in data["differences"])
    proc = run_cli("compare", str(runs.base), str(runs.other_seed), "--analysis", "paired")
    assert proc.returncode == 2 and "seed" in proc.stderr and "Traceback" not in proc.stderr


def test_json_statistics_agree_with_the_results_files(runs: Runs) -> None:
    data = _compare_json(str(runs.base), str(runs.hold), "-l", "base", "-l", "hold")
    a, b = pq.read_table(runs.base).to_pandas(), pq.read_table(runs.hold).to_pandas()
    assert data["analysis"] == "paired"
    for r in data["reasons"]:
        frame = a if r["variant"] == "base" else b
        assert r["count"] == int((frame.end_reason == r["reason"]).sum())
    for m in data["measures"]:
        frame = a if m["variant"] == "base" else b
        assert m["median"]["estimate"] == pytest.approx(float(frame[m["measure"]].median()))
        assert m["mean"]["estimate"] == pytest.approx(float(frame[m["measure"]].mean()))
    for d in data["differences"]:
        paired_diff = float((b[d["measure"]] - a[d["measure"]]).mean())
        assert d["mean"]["estimate"] == pytest.approx(paired_diff, abs=1e-9)
        lo, hi = d["mean"]["low"], d["mean"]["high"]
        ulo, uhi = d["unpaired_mean"]["low"], d["unpaired_mean"]["high"]
        if hi - lo > 0:
            assert d["narrowing"] == pytest.approx(1 - (hi - lo) / (uhi - ulo))


def test_a_file_compared_with_itself_shows_no_difference(runs: Runs) -> None:
    data = _compare_json(str(runs.base), str(runs.base))
    assert data["analysis"] == "paired"
    for d in data["differences"]:
        for key in ("median", "mean"):
            assert (d[key]["estimate"], d[key]["low"], d[key]["high"]) == (0.0, 0.0, 0.0)
        assert d["tests"]["ks_statistic"] == 0 and d["tests"]["cliffs_delta"] == 0
    for rd in data["reason_differences"]:
        assert rd["difference"]["estimate"] == 0


def test_paired_intervals_are_not_wider_than_unpaired_for_common_random_numbers(
    runs: Runs,
) -> None:
    c = compare(load_result_sets([runs.base, runs.hold]), n_resamples=1000, seed=3)
    means = [(d.statistics["mean"], d.unpaired_mean) for d in c.differences]
    widths = [(p.high - p.low, u.high - u.low) for p, u in means if u is not None]
    informative = [(p, u) for p, u in widths if u > 0]
    assert informative
    # the same draws feed both policies, so every measure that varies is positively
    # correlated between them; allow 10 % bootstrap noise per comparison
    assert all(p <= 1.1 * u for p, u in informative), widths
    assert c.median_narrowing > 0


def test_precision_reports_half_width_and_replications_needed(runs: Runs) -> None:
    data = _compare_json(str(runs.base), "--precision", "defender_losses=5",
                         "--precision", "2%")
    rows = {(p["measure"], p["quantity"]): p for p in data["precision"]}
    dl = rows[("defender_losses", "mean")]
    assert dl["target"] == 5 and dl["n"] == N
    assert dl["n_needed"] == math.ceil(N * (dl["half_width"] / 5) ** 2)
    ed = rows[("attacker_losses", "mean")]
    mean = next(m["mean"]["estimate"] for m in data["measures"]
                if m["measure"] == "attacker_losses")
    assert ed["target"] == pytest.approx(0.02 * mean)
    # the half-width is that of a mean: about 1.96 sd / sqrt(n)
    sd = float(pq.read_table(runs.base).column("defender_losses").to_pandas().std())
    assert dl["half_width"] == pytest.approx(1.96 * sd / math.sqrt(N), rel=0.2)
    proc = run_cli("compare", str(runs.base), "--precision", "speed=3")
    assert proc.returncode == 2 and "end_day" in proc.stderr  # names what is allowed
    assert "--precision 'speed=3'" in proc.stderr  # the option, not the API's parameter


def test_out_writes_parquet_or_json_statistics(runs: Runs, tmp_path: Path) -> None:
    for name in ("stats.parquet", "stats.json"):
        out = tmp_path / name
        proc = run_cli("compare", str(runs.base), str(runs.hold), "--out", str(out),
                       "--resamples", "300", "--json")
        assert proc.returncode == 0, proc.stderr
        assert out.exists()
    table = pq.read_table(tmp_path / "stats.parquet")
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["siege.analysis"] == "paired"
    frame = table.to_pandas()
    assert {"measure", "difference", "test", "end_reason", "end_reason_difference",
            "precision"} <= set(frame.section)
    row = frame[(frame.section == "difference") & (frame.measure == "defender_losses")
                & (frame.statistic == "mean_difference")]
    saved = json.loads((tmp_path / "stats.json").read_text())
    from_json = next(d for d in saved["differences"] if d["measure"] == "defender_losses")
    assert float(row.value.iloc[0]) == pytest.approx(from_json["mean"]["estimate"])


def test_sweep_store_point_folder_is_read_like_a_results_file(runs: Runs) -> None:
    point = runs.folder / "store" / "point=3"
    point.mkdir(parents=True)
    table = pq.read_table(runs.base)
    half = table.num_rows // 2
    pq.write_table(table.slice(half), point / "part-1.parquet")  # parts in any order
    pq.write_table(table.slice(0, half), point / "part-0.parquet")
    shutil.copy(runs.base.with_name("base.bands.parquet"), point / "bands.parquet")
    data = _compare_json(str(runs.base), str(point))
    assert data["analysis"] == "paired"
    assert data["variants"][1]["label"] == "point=3"
    assert data["variants"][1]["replications"] == N
    for d in data["differences"]:
        assert d["mean"]["estimate"] == 0 and d["mean"]["high"] == 0


def _bad(*args: str) -> str:
    proc = run_cli("compare", *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) <= 4
    return proc.stderr


def test_bad_input_gets_one_clear_message_and_exit_status_2(runs: Runs, tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    assert "nope.parquet" in _bad(str(runs.base), str(missing)) and "not found" in _bad(
        str(missing))
    text = tmp_path / "notes.parquet"
    text.write_text("not parquet")
    assert "not a Parquet file" in _bad(str(runs.base), str(text))
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0]}), plain)
    assert "not a siege results file" in _bad(str(plain), str(runs.base))
    assert "not outcomes" in _bad(str(runs.base.with_name("base.bands.parquet")))
    table = pq.read_table(runs.base)
    stripped = tmp_path / "stripped.parquet"
    pq.write_table(table.drop(["exchange_ratio"]).replace_schema_metadata(
        table.schema.metadata), stripped)
    message = _bad(str(runs.base), str(stripped))
    assert "stripped.parquet" in message and "exchange_ratio" in message
    assert ".parquet, .json" in _bad(str(runs.base), "--out", str(tmp_path / "s.csv"))
    assert "label" in _bad(str(runs.base), str(runs.hold), "-l", "only-one")
    empty = tmp_path / "emptydir"
    empty.mkdir()
    assert "no Parquet files" in _bad(str(empty))


def test_paired_analysis_pairs_on_replication_ids_not_row_order(runs: Runs) -> None:
    base, hold = load_result_sets([runs.base, runs.hold])
    in_order = compare([base, hold], n_resamples=200, seed=1)
    rows = np.random.default_rng(0).permutation(N)
    shuffled = compare([base, replace(hold, outcomes=hold.outcomes.take(rows))],
                       n_resamples=200, seed=1)
    assert shuffled.analysis == "paired"
    assert shuffled.differences == in_order.differences
    one_missing = replace(hold, outcomes=hold.outcomes.slice(0, N - 1))
    c = compare([base, one_missing], n_resamples=200)
    assert c.analysis == "unpaired" and "replication ids" in c.analysis_reason


def _statistics(c: Comparison) -> dict:
    """Everything but the provenance, as plain data (NaN as None, so it compares equal)."""
    data = json_safe(c.to_dict())
    del data["variants"]
    return data


def test_runs_in_memory_compare_without_files_and_as_their_files_do(runs: Runs) -> None:
    scenario = load_scenario(runs.folder / "small.toml")
    hold = scenario.with_overrides({"policy.kind": "hold"})
    in_memory = [simulate(s, replications=N, seed=11, workers=1).result_set(label)
                 for s, label in ((scenario, "base"), (hold, "hold"))]
    c = compare(in_memory, n_resamples=300, seed=2)
    assert c.analysis == "paired" and "common random numbers" in c.analysis_reason
    assert [v.path for v in c.variants] == ["", ""]
    assert c.variants[0].seed == "11" and c.variants[0].scenario_name == scenario.name
    from_files = compare(load_result_sets([runs.base, runs.hold], ["base", "hold"]),
                         n_resamples=300, seed=2)
    assert _statistics(c) == _statistics(from_files)


def test_api_errors_name_the_parameter_and_the_cli_its_option(runs: Runs) -> None:
    with pytest.raises(CompareError, match=r"^precision 'speed=3': unknown measure") as err:
        parse_precision(["speed=3"])
    assert err.value.parameter == "precision" and "--" not in str(err.value)
    base = load_result_sets([runs.base])
    with pytest.raises(CompareError, match=r"^analysis 'both'"):
        compare(base, analysis="both")
    assert "--analysis 'both'" in _bad(str(runs.base), "--analysis", "both")


def test_a_new_statistic_or_test_is_one_function_and_one_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scipy import stats as sp

    from siege.analysis import stats
    from siege.output.terminal import measures_table

    def p90(x: np.ndarray) -> np.ndarray:
        return np.asarray(np.quantile(x, 0.9, axis=-1))

    def welch(a: np.ndarray, b: np.ndarray, paired: bool) -> tuple[float, ...]:
        return (float(sp.ttest_ind(a, b, equal_var=False).pvalue),)

    monkeypatch.setitem(stats.STATISTICS, "p90", stats.Statistic(p90, "90th percentile"))
    monkeypatch.setitem(stats.TWO_SAMPLE_TESTS, "welch",
                        stats.TwoSampleTest(("welch_pvalue",), welch))
    rng = np.random.default_rng(2)
    sets = []
    for label, shift in (("a", 0.0), ("b", 3.0)):
        columns = {m: rng.normal(10 + shift, 2, 400) for m in COMPARE_MEASURES}
        table = pa.table({"replication": np.arange(400), "end_reason": ["held"] * 400,
                          **columns})
        sets.append(ResultSet(label, table, Provenance("s", "", "", 1, "batch", 400, False)))
    c = compare(sets, n_resamples=200, analysis="unpaired")
    b_end_day = sets[1].column("end_day")
    m = next(m for m in c.measures if m.variant == "b" and m.measure == "end_day")
    assert m.statistics["p90"].estimate == pytest.approx(np.quantile(b_end_day, 0.9))
    assert all(d.tests["welch_pvalue"] < 0.001 for d in c.differences)
    rows = comparison_table(c).to_pydict()
    assert {"p90", "p90_difference", "welch_pvalue"} <= set(rows["statistic"])
    assert "p90" in json_safe(c.to_dict())["measures"][0]
    assert "p90" in [col.header for col in measures_table(c).columns]
