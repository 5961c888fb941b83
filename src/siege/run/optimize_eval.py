"""Evaluating the candidates of ``siege optimize``: each candidate (a set of lever values) is
the base scenario with those values, run with the optimization's seed and a number of
replications, so that replication i of every candidate draws from the same random streams
(common random numbers) and ``siege simulate SCENARIO --seed SEED -n R --set path=value``
reproduces a candidate's outcomes exactly.

An evaluator takes jobs (a candidate, its levers, the replications wanted and the outcomes it
already has) and yields each candidate's complete outcome table as it finishes;
:class:`ScenarioEvaluator` runs the model on an executor, a test may plug in any other (a
synthetic function of the levers, say) and the search, racing and store are the same.

Under an ensemble (:mod:`siege.run.optimize_ensemble`), a candidate runs at every member (the
member's values with its levers), each on the same seed and replications, and its table
holds every member's replications, in member order, with a ``member`` column; posterior draws
(``values``, one per replication) are the same for every candidate, as in ``siege simulate
--posterior``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from siege.engines.base import BlockInputs
from siege.errors import OptimizeError, RunError, ScenarioError
from siege.results.parquet import block_table, provenance
from siege.rng import STREAM_BLOCK
from siege.run.blocks import SMALL_BLOCK_SIZE, plan_blocks
from siege.run.executors import BlockFailure, BlockTask, Executor
from siege.run.optimize_store import ENSEMBLE_KEY, ENSEMBLE_KIND, LEVERS_KEY
from siege.scenario import Scenario


@dataclass(frozen=True)
class Job:
    """Evaluate ``candidate`` (lever values ``levers``) on replications ``0..replications-1``;
    ``kept``: its outcomes from an earlier, smaller evaluation (racing), or None."""

    candidate: int
    levers: Mapping[str, Any]
    replications: int
    kept: pa.Table | None = None


class Evaluator(Protocol):
    """Runs jobs; yields ``(job, outcomes)`` as each candidate completes, in any order. The
    outcomes table has a ``replication`` column, 0..R-1 in order, and the outcome columns
    (under an ensemble of M members: M such runs one after the other, and a ``member``
    column)."""

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, pa.Table]]: ...


def candidate_scenario(base: Scenario, levers: Mapping[str, Any], seed: int,
                       replications: int) -> Scenario:
    """The scenario a candidate runs: the base with its lever values, seed and replications
    (what ``siege simulate BASE --seed SEED -n R --set path=value ...`` runs)."""
    overrides = dict(levers)
    overrides["simulation.replications"] = replications
    overrides["simulation.seed"] = seed
    return base.with_overrides(overrides, source="lever values")


def reusable_rows(kept: pa.Table | None, replications: int) -> int:
    """How many of an earlier evaluation's replications a larger one can keep: whole random
    stream blocks (4096 replications) only, as a stream block's draws depend on how many of
    its replications run (:mod:`siege.rng`)."""
    if kept is None:
        return 0
    return min(kept.num_rows, replications) // STREAM_BLOCK * STREAM_BLOCK


class ScenarioEvaluator:
    """Candidates as runs of the base scenario on ``executor`` (left open: the caller's).

    ``members``: the ensemble's members (scenario values each; None: no ensemble);
    ``values``: scenario paths with one value per replication, at least as many as a
    candidate may reach (posterior draws), and ``metadata`` the ``siege.*`` keys their
    results files record (the posterior and its hash)."""

    def __init__(self, base: Scenario, seed: int, executor: Executor,
                 engine: str = "batch", *, members: tuple[dict[str, Any], ...] | None = None,
                 values: Mapping[str, NDArray[np.float64]] | None = None,
                 metadata: Mapping[str, str] | None = None) -> None:
        self.base, self.seed, self.executor, self.engine = base, seed, executor, engine
        self.members = members
        self.values = dict(values or {})
        self.metadata = dict(metadata or {})

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, pa.Table]]:
        members = self.members or ({},)
        m = len(members)
        scenarios: dict[int, Scenario] = {}
        parts: dict[int, list[list[pa.Table]]] = {}
        left: dict[int, int] = {}
        tasks: list[BlockTask] = []
        by_id = {job.candidate: job for job in jobs}
        for job in jobs:
            scenarios[job.candidate] = self._scenario(job, {})
            parts[job.candidate] = [[] for _ in members]
            left[job.candidate] = 0
            for k, member in enumerate(members):
                scenario = self._scenario(job, member) if member else scenarios[job.candidate]
                kept = _member_rows(job.kept, k) if self.members else job.kept
                start = reusable_rows(kept, job.replications)
                if kept is not None and start:
                    parts[job.candidate][k].append(kept.slice(0, start))
                blocks = plan_blocks(job.replications - start, SMALL_BLOCK_SIZE)
                left[job.candidate] += len(blocks)
                tasks += [self._task(scenario, start + f, n, job.candidate * m + k)
                          for f, n in blocks]
        with closing(self.executor.run(tasks)) as finished:
            for task, block in finished:
                assert task.point is not None
                cid, k = divmod(task.point, m)
                if isinstance(block, BlockFailure):
                    raise RunError(f"candidate {cid}: {task.describe()} failed: "
                                   f"{block.error}; stopping (--resume runs it again)")
                table = block_table(block)
                if self.members:
                    table = table.append_column(
                        "member", pa.array(np.full(table.num_rows, k, dtype=np.int64)))
                parts[cid][k].append(table)
                left[cid] -= 1
                if left[cid] == 0:
                    job = by_id[cid]
                    yield job, self._table(job, scenarios[cid], parts.pop(cid))

    def _scenario(self, job: Job, member: Mapping[str, Any]) -> Scenario:
        try:
            return candidate_scenario(self.base, {**member, **job.levers}, self.seed,
                                      job.replications)
        except ScenarioError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in job.levers.items())
            raise OptimizeError(f"candidate {job.candidate} ({shown}) makes an invalid "
                                f"scenario: {exc}") from None

    def _task(self, scenario: Scenario, first: int, n: int, point: int) -> BlockTask:
        inputs = (BlockInputs({p: v[first:first + n] for p, v in self.values.items()})
                  if self.values else None)
        return BlockTask(scenario, first, n, self.engine, point, inputs)

    def _table(self, job: Job, scenario: Scenario, parts: list[list[pa.Table]]) -> pa.Table:
        tables = [pa.concat_tables([t.replace_schema_metadata(None) for t in member])
                  .sort_by("replication") for member in parts]
        table = pa.concat_tables(tables)
        # several members' runs in one table are no one run's results: `siege compare` refuses
        kind = ENSEMBLE_KIND if self.members else "outcomes"
        meta = provenance(scenario, self.engine, completed=job.replications, partial=False,
                          kind=kind)
        meta.update({k: v for k, v in self.metadata.items() if k.startswith("siege.")})
        meta[LEVERS_KEY] = json.dumps(dict(job.levers), sort_keys=True)
        if self.members:
            meta[ENSEMBLE_KEY] = json.dumps(list(self.members), sort_keys=True)
        return table.replace_schema_metadata(meta)


def _member_rows(kept: pa.Table | None, member: int) -> pa.Table | None:
    """An earlier evaluation's rows of one ensemble member."""
    if kept is None:
        return None
    return kept.filter(pc.equal(kept.column("member"), member))
