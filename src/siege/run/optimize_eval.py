"""Evaluating the candidates of ``siege optimize``: each candidate (a set of lever values) is
the base scenario with those values, run with the optimization's seed and a number of
replications, so that replication i of every candidate draws from the same random streams
(common random numbers) and ``siege simulate SCENARIO --seed SEED -n R --set path=value``
reproduces a candidate's outcomes exactly.

An evaluator takes jobs (a candidate, its levers, the replications wanted and the outcomes it
already has) and yields each candidate's complete outcome table as it finishes;
:class:`ScenarioEvaluator` runs the model on an executor, a test may plug in any other (a
synthetic function of the levers, say) and the search, racing and store are the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from siege.errors import OptimizeError, RunError, ScenarioError
from siege.results.parquet import block_table, provenance
from siege.rng import STREAM_BLOCK
from siege.run.blocks import SMALL_BLOCK_SIZE, plan_blocks
from siege.run.executors import BlockFailure, BlockTask, Executor
from siege.run.optimize_store import LEVERS_KEY
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
    outcomes table has a ``replication`` column, 0..R-1 in order, and the outcome columns."""

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
    """Candidates as runs of the base scenario on ``executor`` (left open: the caller's)."""

    def __init__(self, base: Scenario, seed: int, executor: Executor,
                 engine: str = "batch") -> None:
        self.base, self.seed, self.executor, self.engine = base, seed, executor, engine

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, pa.Table]]:
        scenarios: dict[int, Scenario] = {}
        parts: dict[int, list[pa.Table]] = {}
        left: dict[int, int] = {}
        tasks: list[BlockTask] = []
        by_id = {job.candidate: job for job in jobs}
        for job in jobs:
            try:
                scenario = candidate_scenario(self.base, job.levers, self.seed,
                                              job.replications)
            except ScenarioError as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in job.levers.items())
                raise OptimizeError(f"candidate {job.candidate} ({shown}) makes an invalid "
                                    f"scenario: {exc}") from None
            scenarios[job.candidate] = scenario
            start = reusable_rows(job.kept, job.replications)
            parts[job.candidate] = [job.kept.slice(0, start)] if job.kept and start else []
            blocks = plan_blocks(job.replications - start, SMALL_BLOCK_SIZE)
            left[job.candidate] = len(blocks)
            tasks += [BlockTask(scenario, start + f, n, self.engine, job.candidate)
                      for f, n in blocks]
        with closing(self.executor.run(tasks)) as finished:
            for task, block in finished:
                assert task.point is not None
                if isinstance(block, BlockFailure):
                    raise RunError(f"candidate {task.point}: {task.describe()} failed: "
                                   f"{block.error}; stopping (--resume runs it again)")
                parts[task.point].append(block_table(block))
                left[task.point] -= 1
                if left[task.point] == 0:
                    job = by_id[task.point]
                    yield job, self._table(job, scenarios[task.point], parts.pop(task.point))

    def _table(self, job: Job, scenario: Scenario, parts: list[pa.Table]) -> pa.Table:
        tables = [t.replace_schema_metadata(None) for t in parts]
        table = pa.concat_tables(tables).sort_by("replication")
        meta = provenance(scenario, self.engine, completed=job.replications, partial=False,
                          kind="outcomes")
        meta[LEVERS_KEY] = json.dumps(dict(job.levers), sort_keys=True)
        return table.replace_schema_metadata(meta)
