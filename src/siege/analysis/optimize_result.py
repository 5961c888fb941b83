"""What ``siege optimize`` reports: the front (levers, objectives with 95 % bootstrap
intervals), the paired probability that one member dominates another, and per generation the
hypervolume and ε-progress of what the search had found.

Hypervolume and ε-progress use the estimates the search saw (each candidate's first
replications), objectives normalised between the ideal and nadir points of every feasible
candidate evaluated, the hypervolume up to a reference point of 1.1 on each normalised axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from siege.analysis.optimize import Candidate, Resampler, Search, current
from siege.analysis.pareto import (
    F64,
    epsilon_progress,
    estimate,
    hypervolume,
    normalise,
    ranks,
)

REFERENCE = 1.1  # the hypervolume's reference point on each normalised axis


@dataclass(frozen=True)
class Interval:
    """An estimate and its 95 % percentile-bootstrap interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Member:
    """A front member: candidate id, lever values, replications, seed, objectives and
    constraint statistics by key, and the ``[uncertainty]`` ensemble it was evaluated over
    (the posterior or sweep, its hash, a sweep's members; None without one)."""

    candidate: int
    levers: dict[str, Any]
    replications: int
    seed: int
    objectives: dict[str, Interval]
    constraints: dict[str, float]
    same_outcomes: tuple[int, ...] = ()  # other candidates with identical replications
    ensemble: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate, "levers": self.levers,
            "replications": self.replications, "seed": self.seed,
            "objectives": {k: {"estimate": v.estimate, "low": v.low, "high": v.high}
                           for k, v in self.objectives.items()},
            "constraints": dict(self.constraints),
            "same_outcomes": list(self.same_outcomes),
            **({"ensemble": self.ensemble} if self.ensemble is not None else {}),
        }


@dataclass(frozen=True)
class Generation:
    """One generation: candidates asked for, new ones, hypervolume and ε-progress."""

    generation: int
    candidates: int
    new: int
    hypervolume: float
    epsilon_progress: int


@dataclass(frozen=True)
class OptimizeResult:
    """The front, its pairwise dominance probabilities ``dominance[i, j]`` (member i
    dominates member j), the generations and every candidate's row."""

    front: list[Member]
    dominance: F64
    generations: list[Generation]
    candidates: pa.Table
    objective_keys: list[str]
    directions: list[str]
    evaluations_run: int
    candidates_total: int
    racing_rounds: int
    wall_s: float


def summarise(search: Search) -> OptimizeResult:
    """The report of a finished search (see the module)."""
    opt = search.opt
    stats = [c.statistic for c in (*search.objectives, *search.constraints)]
    signs = np.array([c.sign for c in search.objectives])
    f, ok = current(search.candidates, stats, search.objectives, search.constraints)
    rank = np.zeros(len(f), dtype=np.int64)
    feasible = np.flatnonzero(ok)
    if feasible.size:
        rank[feasible] = ranks(f[feasible])
    members, same = _distinct([search.candidates[i] for i in feasible[rank[feasible] == 1]])
    racing = opt.spec.racing
    robust = [c.robust for c in (*search.objectives, *search.constraints)]
    sampler = Resampler(opt.seed, racing.resamples, stats, robust)
    front = [_member(c, search, sampler, same[c.id]) for c in members]
    dominance = sampler.matrix(members, signs)
    keys = [c.key for c in search.objectives]
    return OptimizeResult(
        front=front, dominance=dominance, generations=_generations(search),
        candidates=_table(search, f * signs, ok, rank), objective_keys=keys,
        directions=["max" if c.sign < 0 else "min" for c in search.objectives],
        evaluations_run=search.evaluations_run, candidates_total=len(search.candidates),
        racing_rounds=len(search.racing_rounds), wall_s=search.wall_s,
    )


def _distinct(members: list[Candidate]) -> tuple[list[Candidate], dict[int, tuple[int, ...]]]:
    """Front members with different outcomes: a candidate whose every replication equals an
    earlier one's (its levers make no difference on these replications: common random
    numbers show it) is listed with that one, not as a member of its own."""
    kept: list[Candidate] = []
    same: dict[int, list[int]] = {}
    for cand in members:
        twin = next((k for k in kept if k.replications == cand.replications
                     and np.array_equal(k.values, cand.values, equal_nan=True)), None)
        if twin is None:
            kept.append(cand)
            same[cand.id] = []
        else:
            same[twin.id].append(cand.id)
    return kept, {k: tuple(v) for k, v in same.items()}


def _member(cand: Candidate, search: Search, sampler: Resampler,
            same: tuple[int, ...]) -> Member:
    n_obj = len(search.objectives)
    stats = sampler.statistics
    est = estimate(cand.values, stats, sampler.robust)
    boot = sampler.stats(cand, cand.replications)
    low, high = np.nanquantile(boot, [0.025, 0.975], axis=0)
    objectives = {c.key: Interval(float(est[i]), float(low[i]), float(high[i]))
                  for i, c in enumerate(search.objectives)}
    constraints = {c.key: float(est[n_obj + j]) for j, c in enumerate(search.constraints)}
    ensemble = search.opt.ensemble
    return Member(cand.id, dict(cand.levers), cand.replications, search.opt.seed,
                  objectives, constraints, same,
                  ensemble.to_dict() if ensemble is not None else None)


def _generations(search: Search) -> list[Generation]:
    n_obj = len(search.objectives)
    signs = np.array([c.sign for c in search.objectives])
    seen: set[int] = set()
    batches: list[list[int]] = []
    for ids in search.generations:
        new = [i for i in dict.fromkeys(ids) if i not in seen]
        seen |= set(new)
        batches.append(new)
    est = np.array([c.search for c in search.candidates])
    f = est[:, :n_obj] * signs
    ok = np.ones(len(f), dtype=bool)
    for j, c in enumerate(search.constraints):
        ok &= c.violation(est[:, n_obj + j]) <= 0
    good = f[ok]
    ideal = good.min(axis=0) if good.size else np.zeros(n_obj)
    nadir = good.max(axis=0) if good.size else np.ones(n_obj)
    norm = normalise(f, ideal, nadir)
    eps = epsilon_progress([norm[[i for i in b if ok[i]]] for b in batches],
                           search.opt.spec.search.epsilon)
    out = []
    archive: list[int] = []
    for g, (ids, new) in enumerate(zip(search.generations, batches, strict=True)):
        archive += [i for i in new if ok[i]]
        pts = norm[archive]
        hv = hypervolume(pts[ranks(pts) == 1], np.full(n_obj, REFERENCE)) if archive else 0.0
        out.append(Generation(g + 1, len(set(ids)), len(new), hv, eps[g]))
    return out


def _table(search: Search, objectives: F64, ok: F64, rank: Any) -> pa.Table:
    """One row per candidate: id, generation, replications, levers, current objective
    estimates, feasibility, rank (0: infeasible)."""
    import json

    cands = search.candidates
    cols: dict[str, Any] = {
        "candidate": pa.array([c.id for c in cands], type=pa.int64()),
        "generation": pa.array([c.generation + 1 for c in cands], type=pa.int64()),
        "replications": pa.array([c.replications for c in cands], type=pa.int64()),
        "levers": pa.array([json.dumps(c.levers, sort_keys=True) for c in cands]),
    }
    for i, c in enumerate(search.objectives):
        cols[c.key] = pa.array(objectives[:, i], type=pa.float64())
    cols["feasible"] = pa.array(np.asarray(ok, dtype=bool))
    cols["rank"] = pa.array(np.asarray(rank, dtype=np.int64))
    return pa.table(cols)


def generations_table(result: OptimizeResult) -> pa.Table:
    """The generations as a table (what ``generations.parquet`` holds)."""
    rows = result.generations
    return pa.table({
        "generation": pa.array([g.generation for g in rows], type=pa.int64()),
        "candidates": pa.array([g.candidates for g in rows], type=pa.int64()),
        "new": pa.array([g.new for g in rows], type=pa.int64()),
        "hypervolume": pa.array([g.hypervolume for g in rows], type=pa.float64()),
        "epsilon_progress": pa.array([g.epsilon_progress for g in rows], type=pa.int64()),
    })


def front_json(result: OptimizeResult) -> dict[str, Any]:
    """What ``--json`` prints: the front, the dominance probabilities and the generations."""
    return {
        "front": [m.to_dict() for m in result.front],
        "dominance_probability": {
            str(a.candidate): {str(b.candidate): float(result.dominance[i, j])
                               for j, b in enumerate(result.front) if j != i}
            for i, a in enumerate(result.front)},
        "generations": [g.__dict__ for g in result.generations],
        "candidates": result.candidates_total,
        "evaluations_run": result.evaluations_run,
        "racing_rounds": result.racing_rounds,
    }
