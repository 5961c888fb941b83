"""siege optimize: the file, the search on a problem with a known front (a synthetic
evaluator through the same loop, store and racing), resume identity, and the reproduction of
a front member by `siege simulate`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from siege.analysis.optimize import run_optimization
from siege.analysis.optimize_result import summarise
from siege.errors import OptimizeError
from siege.run.optimize_eval import Job, reusable_rows
from siege.run.optimize_file import load_optimization
from siege.run.optimize_store import OptimizeStore

ROOT = Path(__file__).resolve().parents[1]
BAKHMUT = ROOT / "scenarios" / "bakhmut.toml"
NOISE = 0.05  # sd of the synthetic problem's per-replication noise, common to candidates
OWN = 0.02  # sd of each candidate's own noise
CONVERGED = 0.05  # how far above the true front 20 generations of 20 candidates may stop


def write_opt(tmp: Path, body: str, name: str = "opt.toml") -> Path:
    path = tmp / name
    path.write_text(f'scenario = "{BAKHMUT}"\n' + body)
    return path


SYNTHETIC = """seed = 3
replications = 200
[search]
population = 20
generations = 20
[racing]
max_replications = 400
resamples = 200
[[lever]]
path = "advance.multiplier"
low = 0.0
high = 1.0
[[lever]]
path = "advance.campaign_cv"
low = 0.0
high = 1.0
[[objective]]
measure = "attacker_losses"
statistic = "mean"
direction = "min"
[[objective]]
measure = "defender_losses"
statistic = "mean"
direction = "min"
"""


class Synthetic:
    """ZDT1-like: f1 = x1, f2 = g (1 - sqrt(x1 / g)), g = 1 + x2, plus noise: a part that
    depends only on the replication (common random numbers, sd NOISE) and a smaller part of
    the candidate's own (sd OWN, seeded by its levers), so that close pairs need racing. The
    front is x2 = 0, f2 = 1 - sqrt(f1). ``stop_after``: raise KeyboardInterrupt after that
    many candidates (an interrupt)."""

    def __init__(self, seed: int, stop_after: int | None = None) -> None:
        self.seed, self.stop_after, self.done = seed, stop_after, 0
        self.common = np.random.default_rng(seed).normal(0.0, NOISE, size=(2, 4096))

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, pa.Table]]:
        for job in jobs:
            if self.stop_after is not None and self.done >= self.stop_after:
                raise KeyboardInterrupt
            x1, x2 = job.levers["advance.multiplier"], job.levers["advance.campaign_cv"]
            n = job.replications
            key = [int(x1 * 1e6), int(x2 * 1e6)]
            own = np.random.default_rng([self.seed, *key]).normal(0.0, OWN, size=(2, 4096))
            noise = self.common[:, :n] + own[:, :n]
            g = 1.0 + x2
            self.done += 1
            yield job, pa.table({
                "replication": np.arange(n, dtype=np.int64),
                "end_reason": ["held"] * n,
                "attacker_losses": x1 + noise[0],
                "defender_losses": g * (1.0 - np.sqrt(x1 / g)) + noise[1],
            })


@pytest.mark.slow
def test_known_front_recovered(tmp_path: Path) -> None:
    opt = load_optimization(write_opt(tmp_path, SYNTHETIC))
    with OptimizeStore.create(tmp_path / "s", opt) as store:
        search = run_optimization(opt, store, Synthetic(opt.seed))
    result = summarise(search)
    f1 = np.array([m.objectives["mean:attacker_losses"].estimate for m in result.front])
    f2 = np.array([m.objectives["mean:defender_losses"].estimate for m in result.front])
    reps = np.array([m.replications for m in result.front])
    # estimates carry the common noise's mean (a shift shared by all) and their own: within
    # 4 standard errors of each coordinate, plus how far the search may stop short
    se = 4 * np.hypot(NOISE, OWN) / np.sqrt(reps)
    below = (1 - np.sqrt(np.clip(f1 + se, 0, None))) - se
    above = (1 - np.sqrt(np.clip(f1 - se, 0, None))) + se + CONVERGED
    assert np.all((f2 >= below) & (f2 <= above)), np.column_stack([f1, f2, below, above])
    assert f1.min() < 0.1 and f1.max() > 0.7  # the front spans the trade-off
    assert search.racing_rounds and reps.max() > opt.replications  # racing ran


def _run(opt, path: Path, evaluator, resume: bool = False):  # type: ignore[no-untyped-def]
    opener = OptimizeStore.resume if resume else OptimizeStore.create
    with opener(path, opt) as store:
        return summarise(run_optimization(opt, store, evaluator))


SMALL = SYNTHETIC.replace("population = 20", "population = 6").replace(
    "generations = 20", "generations = 3").replace("replications = 200", "replications = 50")
assert SMALL != SYNTHETIC


@pytest.mark.slow
def test_resume_after_interrupt_is_identical(tmp_path: Path) -> None:
    """Stopped in the second generation, and at the last racing evaluation, then resumed:
    the same front, table and candidate files, byte for byte."""
    opt = load_optimization(write_opt(tmp_path, SMALL))
    whole = _run(opt, tmp_path / "whole", Synthetic(opt.seed))
    assert whole.racing_rounds >= 1
    for cut in (7, whole.evaluations_run - 1):
        store = tmp_path / f"cut{cut}"
        with pytest.raises(KeyboardInterrupt):
            _run(opt, store, Synthetic(opt.seed, stop_after=cut))
        resumed = _run(opt, store, Synthetic(opt.seed), resume=True)
        assert resumed.evaluations_run == whole.evaluations_run - cut
        assert [m.to_dict() for m in resumed.front] == [m.to_dict() for m in whole.front]
        assert resumed.candidates.equals(whole.candidates)
        for k in range(whole.candidates_total):
            name = f"candidate={k}/outcomes.parquet"
            assert (store / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_reusable_rows_whole_stream_blocks() -> None:
    table = pa.table({"replication": np.arange(5000)})
    assert reusable_rows(None, 9000) == 0
    assert reusable_rows(table, 9000) == 4096
    assert reusable_rows(table.slice(0, 1000), 2000) == 0


@pytest.mark.parametrize(("body", "key", "words"), [
    ("[[lever]]\npath = \"x\"\nvalues = [1]\n", "objective", "missing"),
    ("replications = 0\n", "replications", "greater than or equal to 1"),
    ("[search]\nalgorithm = \"moead\"\n", "search.algorithm", "nsga2"),
    ("[[lever]]\npath = \"policy.decision_latency_days\"\nlow = 3\n"
     "[[objective]]\nmeasure = \"attacker_losses\"\nstatistic = \"mean\"\n"
     "direction = \"max\"\n", "lever[0]", "give low and high"),
    ("[[lever]]\npath = \"policy.nope\"\nvalues = [1]\n"
     "[[objective]]\nmeasure = \"attacker_losses\"\nstatistic = \"mean\"\n"
     "direction = \"max\"\n", "lever[0].path", "nope"),
    ("[[lever]]\npath = \"policy.decision_latency_days\"\nvalues = [1]\n"
     "[[objective]]\nmeasure = \"attacker_loses\"\nstatistic = \"mean\"\n"
     "direction = \"max\"\n", "objective[0].measure", "not an outcome measure"),
    ("[[lever]]\npath = \"policy.decision_latency_days\"\nvalues = [1]\n"
     "[[objective]]\nmeasure = \"end_reason\"\nstatistic = \"probability\"\n"
     "reasons = [\"lost\"]\ndirection = \"min\"\n", "objective[0]", "unknown end reason"),
    ("colour = 1\n", "colour", "unknown key"),
])
def test_bad_files_name_key_and_line(tmp_path: Path, body: str, key: str, words: str) -> None:
    path = write_opt(tmp_path, body)
    with pytest.raises(OptimizeError) as info:
        load_optimization(path)
    err = info.value
    assert err.file == str(path) and err.key == key and words in str(err), str(err)
    if key.startswith("lever[0].") or key == "colour":
        assert err.line is not None


BAKHMUT_OPT = """seed = 5
replications = 128
[search]
population = 8
generations = 10
[racing]
max_replications = 256
resamples = 200
[[lever]]
path = "policy.triggers.encirclement.threshold"
values = [0.5, 0.9]
[[lever]]
path = "policy.decision_latency_days"
values = [0, 7, 14]
[[objective]]
measure = "attacker_losses"
statistic = "mean"
direction = "max"
[[objective]]
measure = "defender_losses"
statistic = "mean"
direction = "min"
"""


@pytest.mark.slow
def test_bakhmut_front_grid_simulate_compare(tmp_path: Path) -> None:
    """Two levers on Bakhmut through the CLI: the front agrees with a brute-force grid's
    front within the stated intervals; `siege simulate --seed --set -n` reproduces a member's
    objectives exactly; compare and --write-scenario read the store."""
    from siege.analysis.pareto import ranks
    from siege.run.executors import InProcessExecutor
    from siege.run.optimize_eval import ScenarioEvaluator
    from siege.run.simulate import simulate
    from siege.scenario import load_scenario, parse_assignment

    from conftest import run_cli

    path = write_opt(tmp_path, BAKHMUT_OPT)
    store = tmp_path / "opt.store"
    done = run_cli("optimize", str(path), "--out", str(store), "--workers", "1", "--json")
    assert done.returncode == 0, done.stderr
    front = json.loads(done.stdout)["front"]
    assert front
    keys = ["mean:attacker_losses", "mean:defender_losses"]
    # the brute-force grid, on the same seed and first replications
    opt = load_optimization(path)
    jobs = [Job(i, {"policy.triggers.encirclement.threshold": a,
                    "policy.decision_latency_days": b}, opt.replications)
            for i, (a, b) in enumerate((a, b) for a in (0.5, 0.9) for b in (0, 7, 14))]
    with InProcessExecutor() as executor:
        tables = dict((job.candidate, t) for job, t in
                      ScenarioEvaluator(opt.base, opt.seed, executor).run(jobs))
    grid = np.array([[tables[j.candidate].column("attacker_losses").to_numpy().mean(),
                      tables[j.candidate].column("defender_losses").to_numpy().mean()]
                     for j in jobs])
    grid_front = grid[ranks(grid * [-1, 1]) == 1]
    for p in grid_front:  # every grid front point is matched by a member within intervals
        assert any(m["objectives"][keys[0]]["high"] >= p[0] - 1e-9 and
                   m["objectives"][keys[1]]["low"] <= p[1] + 1e-9 for m in front), p
    for m in front:  # no grid point beats a member beyond its intervals
        o = m["objectives"]
        assert not np.any((grid[:, 0] > o[keys[0]]["high"]) & (grid[:, 1] < o[keys[1]]["low"]))
    # simulate reproduces a member exactly
    member = front[0]
    sets = dict(parse_assignment(f"{k}={json.dumps(v)}") for k, v in member["levers"].items())
    run = simulate(load_scenario(BAKHMUT, sets), seed=member["seed"],
                   replications=member["replications"])
    assert float(np.mean(run.columns["attacker_losses"])) == \
        member["objectives"][keys[0]]["estimate"]
    assert float(np.mean(run.columns["defender_losses"])) == \
        member["objectives"][keys[1]]["estimate"]
    # the store's candidates are result sets; a candidate is a scenario file
    ids = sorted({int(p.name.removeprefix("candidate=")) for p in store.glob("candidate=*")})
    cmp = run_cli("compare", str(store / f"candidate={ids[0]}"),
                  str(store / f"candidate={ids[1]}"))
    assert cmp.returncode == 0, cmp.stderr
    out = tmp_path / "member.toml"
    wrote = run_cli("optimize", str(path), "--out", str(store), "--write-scenario",
                    str(member["candidate"]), str(out))
    assert wrote.returncode == 0, wrote.stderr
    again = load_scenario(out)
    assert again.simulation.seed == member["seed"]
    assert again.policy.decision_latency_days == member["levers"]["policy.decision_latency_days"]
