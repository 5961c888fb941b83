"""siege optimize over an ``[uncertainty]`` ensemble: a candidate under a posterior is what
`siege simulate --posterior` gives; under a sweep design, the robust statistic of the members'
statistics from plain runs; bad tables; resume identity; and a real kill -9 of the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from siege.analysis.calibrate import posterior_values
from siege.analysis.optimize import run_optimization, scenario_evaluator
from siege.analysis.optimize_result import front_json, summarise
from siege.errors import OptimizeError, ResultsError
from siege.results.parquet import read_results
from siege.run.executors import InProcessExecutor
from siege.run.optimize_eval import Job
from siege.run.optimize_file import load_optimization
from siege.run.optimize_store import OptimizeStore
from siege.run.simulate import simulate
from siege.scenario import load_scenario

from conftest import files_of, kill_9_when, run_cli_subprocess

ROOT = Path(__file__).resolve().parents[1]
IWO = ROOT / "scenarios" / "classics" / "iwo_jima.toml"  # a small, fast scenario
KILL_RATES = ("attrition.attacker_kill_rate", "attrition.defender_kill_rate")

ONE_CANDIDATE = """seed = 11
replications = 48
[search]
population = 4
generations = 1
[[lever]]
path = "defender.strength"
values = [20000]
[[objective]]
measure = "attacker_losses"
statistic = "mean"
direction = "max"
[[objective]]
measure = "defender_losses"
statistic = "q95"
direction = "min"
{robust}
"""


def fake_posterior(folder: Path, scale: float = 1.0) -> Path:
    """A calibration store's posterior, as a run under it reads one: weighted particles of
    the two kill rates around Engel's values (test values, not a calibration)."""
    root = folder / "cal.store"
    root.mkdir(exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"format": "siege-calibration-store/1"}))
    pq.write_table(pa.table({
        "particle": np.arange(3),
        "weight": [0.2, 0.5, 0.3],
        "distance": [0.1, 0.2, 0.3],
        KILL_RATES[0]: np.array([0.009, 0.0106, 0.012]) * scale,
        KILL_RATES[1]: [0.05, 0.0544, 0.06],
    }), root / "particles.parquet")
    return root


def two_member_sweep(folder: Path) -> Path:
    """A grid design of two members: two scenario variants (the defender's kill rate)."""
    path = folder / "ensemble.toml"
    path.write_text(f'scenario = "{IWO}"\nreplications = 10\n[design]\nmethod = "grid"\n'
                    '[[parameter]]\npath = "attrition.defender_kill_rate"\n'
                    'values = [0.045, 0.06]\n')
    return path


def write_opt(folder: Path, uncertainty: str, robust: str = "") -> Path:
    path = folder / "opt.toml"
    path.write_text(f'scenario = "{IWO}"\n' + ONE_CANDIDATE.format(robust=robust)
                    + uncertainty)
    return path


def optimize(opt, folder: Path):  # type: ignore[no-untyped-def]
    with InProcessExecutor() as executor, OptimizeStore.create(folder, opt) as store:
        return summarise(run_optimization(opt, store, scenario_evaluator(opt, executor)))


@pytest.mark.slow
def test_posterior_candidate_is_simulate_under_the_posterior(tmp_path: Path) -> None:
    cal = fake_posterior(tmp_path)
    opt = load_optimization(write_opt(tmp_path, f'[uncertainty]\nposterior = "{cal}"\n'))
    result = optimize(opt, tmp_path / "opt.store")
    (member,) = result.front
    values, _ = posterior_values(cal, opt.replications, opt.seed)
    run = simulate(load_scenario(IWO, {"defender.strength": 20000}), seed=opt.seed,
                   replications=opt.replications, values=values)
    assert member.objectives["mean:attacker_losses"].estimate == \
        float(np.mean(run.columns["attacker_losses"]))
    assert member.objectives["q95:defender_losses"].estimate == \
        float(np.nanquantile(run.columns["defender_losses"], 0.95))
    entry = front_json(result)["front"][0]
    assert entry["ensemble"]["posterior"] == str(cal.resolve())
    manifest = json.loads((tmp_path / "opt.store" / "manifest.json").read_text())
    assert manifest["optimization"]["ensemble"]["sha256"] == entry["ensemble"]["sha256"]


@pytest.mark.slow
def test_sweep_robust_statistics_are_over_the_members_plain_runs(tmp_path: Path) -> None:
    sweep = two_member_sweep(tmp_path)
    robust = '[[constraint]]\nmeasure = "attacker_losses"\nstatistic = "mean"\n' \
             'robust = "max"\nop = ">="\nvalue = 0.0\n'
    opt = load_optimization(write_opt(tmp_path, f'[uncertainty]\nsweep = "{sweep}"\n', robust))
    result = optimize(opt, tmp_path / "opt.store")
    (member,) = result.front
    runs = [simulate(load_scenario(IWO, {"defender.strength": 20000,
                                         "attrition.defender_kill_rate": rate}),
                     seed=opt.seed, replications=opt.replications) for rate in (0.045, 0.06)]
    means = [float(np.mean(r.columns["attacker_losses"])) for r in runs]
    q95s = [float(np.nanquantile(r.columns["defender_losses"], 0.95)) for r in runs]
    assert member.objectives["mean:attacker_losses"].estimate == float(np.mean(means))
    assert member.objectives["q95:defender_losses"].estimate == float(np.mean(q95s))
    assert member.constraints["max(mean:attacker_losses)"] == max(means)
    low, high = (member.objectives["mean:attacker_losses"].low,
                 member.objectives["mean:attacker_losses"].high)
    assert low <= np.mean(means) <= high
    ensemble = front_json(result)["front"][0]["ensemble"]
    assert ensemble["members"] == [{"attrition.defender_kill_rate": 0.045},
                                   {"attrition.defender_kill_rate": 0.06}]
    with pytest.raises(ResultsError, match="not outcomes"):  # two runs in one: not compared
        read_results(tmp_path / "opt.store" / "candidate=0" / "outcomes.parquet")


@pytest.mark.parametrize(("uncertainty", "robust", "key", "words"), [
    ('[uncertainty]\nposterior = "{cal}"\nsweep = "{sweep}"\n', "", "uncertainty",
     "give one of"),
    ('[uncertainty]\nposterior = "nowhere.store"\n', "", "uncertainty.posterior",
     "not a calibration store"),
    ('[uncertainty]\nsweep = "nowhere.toml"\n', "", "uncertainty.sweep", "nowhere.toml"),
    ('[uncertainty]\nmembers = 3\n', "", "uncertainty.members", "unknown key"),
    ("", '[[constraint]]\nmeasure = "attacker_losses"\nstatistic = "mean"\n'
     'robust = "q10"\nop = ">="\nvalue = 0.0\n', "constraint[0].robust", "needs [uncertainty]"),
    ('[uncertainty]\nsweep = "{sweep}"\n', '[[constraint]]\nmeasure = "attacker_losses"\n'
     'statistic = "mean"\nrobust = "q50"\nop = ">="\nvalue = 0.0\n', "constraint[0].robust",
     "'q10'"),
])
def test_bad_uncertainty_names_key_and_line(tmp_path: Path, uncertainty: str, robust: str,
                                            key: str, words: str) -> None:
    text = uncertainty.format(cal=fake_posterior(tmp_path), sweep=two_member_sweep(tmp_path))
    path = write_opt(tmp_path, text, robust)
    with pytest.raises(OptimizeError) as info:
        load_optimization(path)
    err = info.value
    assert err.file == str(path) and err.key == key and words in str(err), str(err)
    assert err.line is not None


INLINE = """[uncertainty.design]
method = "grid"
[[uncertainty.parameter]]
path = "attrition.defender_kill_rate"
values = [0.045, 0.06]
"""


def test_an_inline_design_is_the_sweep_files(tmp_path: Path) -> None:
    inline = load_optimization(write_opt(tmp_path, INLINE)).ensemble
    sweep = load_optimization(write_opt(
        tmp_path, f'[uncertainty]\nsweep = "{two_member_sweep(tmp_path)}"\n')).ensemble
    assert inline is not None and sweep is not None
    assert inline.members == sweep.members and len(inline.members) == 2
    path = write_opt(tmp_path, INLINE.replace("values = [0.045, 0.06]", "low = 0.05"))
    with pytest.raises(OptimizeError) as info:
        load_optimization(path)
    err = info.value
    assert err.key == "uncertainty.parameter[0].high" and "finite number" in str(err), str(err)
    assert err.line is not None


def test_levers_may_not_be_in_the_ensemble(tmp_path: Path) -> None:
    sweep = two_member_sweep(tmp_path)
    path = write_opt(tmp_path, f'[uncertainty]\nsweep = "{sweep}"\n')
    path.write_text(path.read_text().replace('"defender.strength"',
                                             '"attrition.defender_kill_rate"')
                    .replace("values = [20000]", "values = [0.05]"))
    with pytest.raises(OptimizeError, match="both a lever and a value of the ensemble"):
        load_optimization(path)
    cal = fake_posterior(tmp_path)
    path.write_text(path.read_text().replace(f'sweep = "{sweep}"', f'posterior = "{cal}"'))
    with pytest.raises(OptimizeError, match="a lever and a calibrated parameter"):
        load_optimization(path)


def test_resume_refuses_a_changed_posterior(tmp_path: Path) -> None:
    cal = fake_posterior(tmp_path)
    path = write_opt(tmp_path, f'[uncertainty]\nposterior = "{cal}"\n')
    with OptimizeStore.create(tmp_path / "s", load_optimization(path)):
        pass
    fake_posterior(tmp_path, scale=1.1)  # recalibrated in place
    with pytest.raises(OptimizeError, match="another \\[uncertainty\\] posterior"):
        OptimizeStore.resume(tmp_path / "s", load_optimization(path))


SEARCHED = ONE_CANDIDATE.replace("values = [20000]", "low = 15000\nhigh = 25000\ninteger = true"
                                 ).replace("generations = 1", "generations = 2\n[racing]\n"
                                           "max_replications = 96\nresamples = 100")


class Stopping:
    """The model's evaluator, stopped (KeyboardInterrupt) after ``after`` candidates."""

    def __init__(self, inner, after: int) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.after = inner, after

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, pa.Table]]:
        for done, item in enumerate(self.inner.run(jobs)):
            if done >= self.after:
                raise KeyboardInterrupt
            yield item


@pytest.mark.slow
def test_resume_with_a_sweep_ensemble_is_identical(tmp_path: Path) -> None:
    sweep = two_member_sweep(tmp_path)
    path = tmp_path / "opt.toml"
    path.write_text(f'scenario = "{IWO}"\n' + SEARCHED.format(robust="")
                    + f'[uncertainty]\nsweep = "{sweep}"\n')
    opt = load_optimization(path)
    whole = optimize(opt, tmp_path / "whole")
    with InProcessExecutor() as executor:
        with pytest.raises(KeyboardInterrupt), OptimizeStore.create(tmp_path / "cut", opt) as s:
            run_optimization(opt, s, Stopping(scenario_evaluator(opt, executor), 3))
        with OptimizeStore.resume(tmp_path / "cut", opt) as store:
            resumed = summarise(run_optimization(opt, store, scenario_evaluator(opt, executor)))
    assert front_json(resumed)["front"] == front_json(whole)["front"]
    assert resumed.candidates.equals(whole.candidates)
    for k in range(whole.candidates_total):
        name = f"candidate={k}/outcomes.parquet"
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


KILLED = (SEARCHED.format(robust="").replace("replications = 48", "replications = 256")
          .replace("population = 4", "population = 6").replace("generations = 2",
                                                                "generations = 3")
          .replace("max_replications = 96", "max_replications = 512"))
assert KILLED.count("256") == 1 and "generations = 3" in KILLED


@pytest.mark.slow  # a real kill -9 of `siege optimize`, then --resume
def test_resume_after_sigkill_gives_the_identical_front(tmp_path: Path) -> None:
    path = tmp_path / "opt.toml"
    path.write_text(f'scenario = "{IWO}"\n' + KILLED)
    whole = run_cli_subprocess("optimize", str(path), "--out", str(tmp_path / "whole"),
                               "--workers", "1", "--json")
    assert whole.returncode == 0, whole.stderr
    killed = tmp_path / "killed"
    kill_9_when(["optimize", str(path), "--out", str(killed), "--workers", "1"],
                lambda: any(killed.glob("candidate=*/outcomes.parquet")), "the optimization")
    assert not (killed / "candidates.parquet").exists()  # killed mid-run
    resumed = run_cli_subprocess("optimize", str(path), "--out", str(killed), "--resume",
                                 "--workers", "1", "--json")
    assert resumed.returncode == 0, resumed.stderr
    first, second = json.loads(whole.stdout), json.loads(resumed.stdout)
    assert second["front"] == first["front"]
    assert second["evaluations_run"] < first["evaluations_run"]
    kept = {k: v for k, v in files_of(killed).items() if k.endswith(".parquet")}
    assert kept == {k: v for k, v in files_of(tmp_path / "whole").items()
                    if k.endswith(".parquet")}
