"""``siege optimize``: NSGA-II over levers, on common random numbers, with racing.

The loop: pymoo's NSGA-II asks for a generation of candidates (lever values coded on the unit
cube, decoded as in a sweep: :meth:`siege.run.design.Parameter.from_unit`); candidates not
yet evaluated (lever values never seen) run on the optimization's seed and first
``replications`` (every candidate on the same replications: common random numbers); each is
stored as it finishes; the search is told each candidate's estimates from those first
replications. A store that already holds a candidate is not run again, so a resumed run
replays the same search (pymoo is seeded) to the identical result.

Racing (after the last generation; the search does not see it): candidates *near the front*
(feasible, non-domination rank 1 or 2) are compared in pairs, each front member with every
other near one, by a paired bootstrap over their common replications; a pair is *settled*
when one relation (a dominates b, b dominates a, neither) holds in at least ``confidence`` of
the resamples. Each round, every member of an unsettled pair gets ``replications`` more
(up to ``max_replications``); rounds go on until every pair is settled or no unsettled
candidate may have more. Each round's decision is logged in the store before it runs, so a
resumed run replays it.

Under a sweep ensemble every criterion is its statistic per member reduced over the members
by its ``robust`` statistic (:func:`siege.analysis.pareto.estimate`); replications mean each
member's (a candidate at R replications ran M x R).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from siege.analysis.pareto import (
    F64,
    bootstrap,
    bootstrap_indices,
    dominates,
    estimate,
    ranks,
    settled,
)
from siege.errors import OptimizeError
from siege.run.executors import Executor
from siege.run.optimize_eval import Evaluator, Job, ScenarioEvaluator
from siege.run.optimize_file import Optimization
from siege.run.optimize_store import LEVERS_KEY, SEARCH_KEY, OptimizeStore


@dataclass(frozen=True)
class Criterion:
    """An objective or constraint: its key (``mean:attacker_losses``), statistic, measure,
    end reasons (probability), sign (+1 minimise, -1 maximise) and, for a constraint, its
    operator and value."""

    key: str
    statistic: str
    measure: str
    reasons: tuple[str, ...] | None
    sign: float = 1.0
    op: str | None = None
    value: float = 0.0
    robust: str = "mean"

    def replications(self, table: pa.Table) -> F64:
        """The criterion's value in each replication (an indicator for a probability)."""
        if self.reasons is not None:
            reason = np.asarray(table.column("end_reason").to_numpy(zero_copy_only=False))
            return np.isin(reason, self.reasons).astype(float)
        return np.asarray(table.column(self.measure).to_numpy(), dtype=float)

    def violation(self, estimate: F64) -> F64:
        """How far a constraint is broken (<= 0: met)."""
        return estimate - self.value if self.op == "<=" else self.value - estimate


def criteria(opt: Optimization) -> tuple[list[Criterion], list[Criterion]]:
    """The objectives and the constraints of an optimization."""
    spec = opt.spec
    objectives = [Criterion(o.key, o.statistic, o.measure,
                            tuple(o.reasons) if o.reasons else None,
                            -1.0 if o.direction == "max" else 1.0, robust=o.robust)
                  for o in spec.objective]
    constraints = [Criterion(c.key, c.statistic, c.measure,
                             tuple(c.reasons) if c.reasons else None, op=c.op, value=c.value,
                             robust=c.robust)
                   for c in spec.constraint]
    return objectives, constraints


@dataclass
class Candidate:
    """One evaluated set of lever values: its id (in order of first appearance), the
    generation that first asked for it, the estimates the search saw (objectives then
    constraints, from its first replications) and its current replications' values
    ``(criteria, members, R)``."""

    id: int
    levers: dict[str, Any]
    generation: int
    search: F64
    values: F64

    @property
    def replications(self) -> int:
        return int(self.values.shape[-1])


@dataclass
class Progress:
    """Where a run stands: generation (1-based) of ``generations``, candidates so far, how
    many ran now (not read back from the store), and the racing round (0 while searching)."""

    generation: int
    generations: int
    candidates: int
    run: int
    racing_round: int = 0


@dataclass
class Search:
    """What the search and racing produced (summarised by
    :func:`siege.analysis.optimize_result.summarise`)."""

    opt: Optimization
    objectives: list[Criterion]
    constraints: list[Criterion]
    candidates: list[Candidate]
    generations: list[list[int]]  # candidate ids asked for in each generation
    racing_rounds: list[dict[int, int]] = field(default_factory=list)
    evaluations_run: int = 0
    wall_s: float = 0.0


def lever_values(opt: Optimization, unit: F64) -> dict[str, Any]:
    """A unit-cube point as lever values; ranges to 6 significant digits."""
    out: dict[str, Any] = {}
    for p, u in zip(opt.levers, unit, strict=True):
        value = p.from_unit(np.array([u]))[0]
        out[p.path] = float(f"{value:.6g}") if isinstance(value, float) else value
    return out


def scenario_evaluator(opt: Optimization, executor: Executor) -> ScenarioEvaluator:
    """The model's evaluator of an optimization, over its ensemble: a sweep's members, or
    posterior draws for as many replications as a candidate may reach (a run of fewer takes
    the first ones: the draws ``siege simulate --posterior`` makes for that many)."""
    from siege.analysis.calibrate import posterior_values

    ens = opt.ensemble
    if ens is not None and ens.kind == "posterior":
        values, meta = posterior_values(ens.path, opt.max_replications, opt.seed)
        return ScenarioEvaluator(opt.base, opt.seed, executor, values=values, metadata=meta)
    return ScenarioEvaluator(opt.base, opt.seed, executor,
                             members=ens.members if ens is not None else None)


class _Loop:
    """The state of one run: candidates by lever values, the store, the evaluator."""

    def __init__(self, opt: Optimization, store: OptimizeStore, evaluator: Evaluator,
                 progress: Callable[[Progress], None] | None) -> None:
        self.opt, self.store, self.evaluator, self.progress = opt, store, evaluator, progress
        self.objectives, self.constraints = criteria(opt)
        self.all = [*self.objectives, *self.constraints]
        self.statistics = [c.statistic for c in self.all]
        self.robust = [c.robust for c in self.all]
        self.candidates: list[Candidate] = []
        self.by_key: dict[str, int] = {}
        self.run_count = 0
        self.status = Progress(0, opt.spec.search.generations, 0, 0)

    def values(self, table: pa.Table) -> F64:
        return np.array([c.replications(table) for c in self.all]).reshape(
            len(self.all), self.opt.members, -1)

    def ask(self, units: F64, generation: int) -> list[int]:
        """Candidate ids of a generation's points: new ones evaluated (or read back)."""
        ids, jobs = [], []
        for unit in units:
            levers = lever_values(self.opt, unit)
            key = json.dumps(levers, sort_keys=True)
            if key not in self.by_key:
                cid = len(self.candidates)
                self.by_key[key] = cid
                self.candidates.append(Candidate(cid, levers, generation, np.empty(0),
                                                 np.empty((len(self.all), 1, 0))))
                if not self._read_back(cid):
                    jobs.append(Job(cid, levers, self.opt.replications))
            ids.append(self.by_key[key])
        self.evaluate(jobs)
        return ids

    def _read_back(self, cid: int) -> bool:
        """Take candidate ``cid`` from the store (an earlier run) if it is there."""
        table = self.store.read_candidate(cid)
        meta = (table.schema.metadata or {}) if table is not None else {}
        levers = json.dumps(self.candidates[cid].levers, sort_keys=True)
        if table is None or meta.get(LEVERS_KEY.encode()) != levers.encode():
            return False
        search = json.loads(meta[SEARCH_KEY.encode()])
        cand = self.candidates[cid]
        cand.search = np.array([search[c.key] for c in self.all], dtype=float)
        cand.values = self.values(table)
        return True

    def evaluate(self, jobs: list[Job]) -> None:
        """Run jobs, storing each candidate as it finishes."""
        for job, table in self.evaluator.run(jobs):
            cand = self.candidates[job.candidate]
            values = self.values(table)
            if job.kept is None:  # the first evaluation: what the search sees
                cand.search = estimate(values, self.statistics, self.robust)
            record = json.dumps({c.key: float(v) for c, v in zip(self.all, cand.search,
                                                                   strict=True)})
            meta = dict(table.schema.metadata or {})
            meta[LEVERS_KEY.encode()] = json.dumps(job.levers, sort_keys=True).encode()
            meta[SEARCH_KEY.encode()] = record.encode()
            self.store.write_candidate(job.candidate, table.replace_schema_metadata(meta))
            cand.values = values
            self.run_count += 1
            self.status.run = self.run_count
            self.status.candidates = len(self.candidates)
            if self.progress is not None:
                self.progress(self.status)

    def search_arrays(self, ids: list[int]) -> tuple[F64, F64]:
        """pymoo's F (minimised objectives) and G (constraint violations) of candidates."""
        n_obj = len(self.objectives)
        est = np.array([self.candidates[i].search for i in ids])
        f = est[:, :n_obj] * np.array([c.sign for c in self.objectives])
        g = np.column_stack([c.violation(est[:, n_obj + j])
                             for j, c in enumerate(self.constraints)]) if self.constraints \
            else np.zeros((len(ids), 0))
        return f, g


def run_optimization(
    opt: Optimization, store: OptimizeStore, evaluator: Evaluator, *,
    progress: Callable[[Progress], None] | None = None,
) -> Search:
    """Search, race and return everything evaluated (see the module). Candidates already in
    ``store`` are read back, not run."""
    try:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.evaluator import Evaluator as PymooEvaluator
        from pymoo.core.problem import Problem
        from pymoo.problems.static import StaticProblem
    except ImportError:
        raise OptimizeError("siege optimize needs pymoo (NSGA-II), which is not installed: "
                            "pip install 'siege-model[optimize]'") from None

    start = time.perf_counter()
    loop = _Loop(opt, store, evaluator, progress)
    search = opt.spec.search
    problem = Problem(n_var=len(opt.levers), n_obj=len(loop.objectives),
                      n_ieq_constr=len(loop.constraints), xl=0.0, xu=1.0)
    algorithm = NSGA2(pop_size=search.population, eliminate_duplicates=True)
    algorithm.setup(problem, termination=("n_gen", search.generations),
                    seed=opt.search_seed % 2**32, verbose=False)
    generations: list[list[int]] = []
    for generation in range(search.generations):
        loop.status.generation = generation + 1
        pop = algorithm.ask()
        ids = loop.ask(np.asarray(pop.get("X"), dtype=float), generation)
        f, g = loop.search_arrays(ids)
        PymooEvaluator().eval(StaticProblem(problem, F=f, G=g), pop)
        algorithm.tell(infills=pop)
        generations.append(ids)
        if progress is not None:
            progress(loop.status)
    rounds = race(loop)
    return Search(opt, loop.objectives, loop.constraints, loop.candidates, generations,
                  rounds, loop.run_count, time.perf_counter() - start)


# ------------------------------------------------------------------------------------------
# racing


class Resampler:
    """Paired bootstrap statistics of candidates, cached by (candidate, replications used)."""

    def __init__(self, seed: int, resamples: int, statistics: list[str],
                 robust: list[str] | None = None) -> None:
        self.seed, self.resamples, self.statistics = seed, resamples, statistics
        self.robust = robust
        self._cache: dict[tuple[int, int, int], F64] = {}

    def stats(self, cand: Candidate, m: int) -> F64:
        """``(B, criteria)`` statistics of the candidate's first ``m`` replications."""
        key = (cand.id, cand.replications, m)
        if key not in self._cache:
            index = bootstrap_indices(self.seed, m, self.resamples)
            self._cache[key] = bootstrap(cand.values[..., :m], self.statistics, index,
                                         self.robust)
        return self._cache[key]

    def matrix(self, cands: list[Candidate], signs: F64) -> F64:
        """``p[i, j]``: the share of paired resamples in which candidate i dominates j, on
        their first common replications (objectives only: the first ``len(signs)``
        criteria)."""
        n, k = len(cands), len(signs)
        reps = np.array([c.replications for c in cands])
        p = np.zeros((n, n))
        for m in sorted(set(reps.tolist())):
            idx = np.flatnonzero(reps >= m)
            stats = np.stack([self.stats(cands[i], m)[:, :k] * signs for i in idx])
            share = np.mean(dominates(stats[:, None], stats[None, :]), axis=-1)
            common = np.minimum.outer(reps[idx], reps[idx]) == m
            rows, cols = np.nonzero(common)
            p[idx[rows], idx[cols]] = share[rows, cols]
        np.fill_diagonal(p, 0.0)
        return p


def current(loop_candidates: list[Candidate], statistics: list[str], objectives:
            list[Criterion], constraints: list[Criterion]) -> tuple[F64, F64]:
    """Every candidate's minimised objectives and whether it meets the constraints, from
    all its replications."""
    n_obj = len(objectives)
    robust = [c.robust for c in (*objectives, *constraints)]
    est = np.array([estimate(c.values, statistics, robust) for c in loop_candidates])
    f = est[:, :n_obj] * np.array([c.sign for c in objectives])
    ok = np.ones(len(loop_candidates), dtype=bool)
    for j, c in enumerate(constraints):
        ok &= c.violation(est[:, n_obj + j]) <= 0
    return f, ok


def race(loop: _Loop) -> list[dict[int, int]]:
    """Racing rounds (see the module); returns each round's {candidate: replications}."""
    opt = loop.opt
    racing = opt.spec.racing
    signs = np.array([c.sign for c in loop.objectives])
    sampler = Resampler(opt.seed, racing.resamples, loop.statistics, loop.robust)
    logged = loop.store.read_racing()
    rounds: list[dict[int, int]] = []
    while True:
        if len(rounds) < len(logged):
            decision = logged[len(rounds)]
        else:
            decision = _unsettled(loop, sampler, signs, racing.confidence)
            if not decision:
                break
            loop.store.write_racing([*rounds, decision])
        rounds.append(decision)
        loop.status.racing_round = len(rounds)
        jobs = []
        for cid, target in sorted(decision.items()):
            cand = loop.candidates[cid]
            if cand.replications < target:
                table = loop.store.read_candidate(cid)
                jobs.append(Job(cid, cand.levers, target, table))
        loop.evaluate(jobs)
    return rounds


def _unsettled(loop: _Loop, sampler: Resampler, signs: F64, confidence: float
               ) -> dict[int, int]:
    """Next round: members of unsettled pairs near the front that may have more
    replications, with their new replications."""
    cands = loop.candidates
    f, ok = current(cands, loop.statistics, loop.objectives, loop.constraints)
    feasible = np.flatnonzero(ok)
    if feasible.size < 2:
        return {}
    rank = ranks(f[feasible])
    near = [cands[i] for i in feasible[rank <= 2]]
    front = [cands[i] for i in feasible[rank == 1]]
    p = sampler.matrix(near, signs)
    on_front = {c.id for c in front}
    flagged: set[int] = set()
    for i, a in enumerate(near):
        if a.id not in on_front:
            continue
        for j, b in enumerate(near):
            if i != j and not settled(p[i, j], p[j, i], confidence):
                flagged |= {a.id, b.id}
    step, most = loop.opt.replications, loop.opt.max_replications
    return {cid: min(cands[cid].replications + step, most) for cid in sorted(flagged)
            if cands[cid].replications < most}

