"""Running a scenario's replications: blocks on an executor, results streamed as they finish.

Replications are split into blocks (whole random-stream blocks, see :mod:`siege.run.blocks`);
each block is run on an executor (this process, local worker processes or a Dask cluster, see
:mod:`siege.run.executors`), and its results are streamed to the results file in replication
order as blocks finish. Results depend only on the scenario and its seed, not on the block
size, the executor or the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from siege.engines import ENGINES, REGISTRY
from siege.errors import RunError, ScenarioError
from siege.model.outcomes import computed_columns
from siege.model.rules import END_REASONS
from siege.results.parquet import Bands, ResultsWriter
from siege.results.sets import ResultSet
from siege.results.summary import Summary, summarize
from siege.run.blocks import default_block_size, empty_bands, plan_blocks
from siege.run.dask import DaskExecutor
from siege.run.executors import BlockFailure, BlockTask, Executor, local_executor
from siege.scenario import Scenario, build_params

ProgressCallback = Callable[[int, int], None]


@dataclass
class SimulationResult:
    """Everything a run produced: outcome columns ``(n,)``, end reasons, bands, samples."""

    scenario: Scenario
    engine: str
    replication: NDArray[np.int64]
    end_reason: NDArray[np.object_]  # one of END_REASONS per replication
    columns: dict[str, NDArray[np.float64]]
    bands: Bands
    partial: bool
    out: Path | None = None

    @property
    def completed(self) -> int:
        return int(self.replication.size)

    def summary(self) -> Summary:
        """End-reason probabilities and quantiles of the outcome measures."""
        return summarize(self.end_reason, self.columns)

    def to_pandas(self):  # type: ignore[no-untyped-def]
        """The outcome table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        data = {"replication": self.replication, "end_reason": self.end_reason}
        data.update(self.columns)
        return pd.DataFrame(data)

    def result_set(self, label: str | None = None) -> ResultSet:
        """The run as a result set for compare, figures and the report, without a file
        (label: the scenario's name unless given)."""
        return ResultSet.from_arrays(
            self.scenario, self.engine, self.replication, self.end_reason, self.columns,
            bands=self.bands.table(), partial=self.partial, label=label,
        )


def simulate(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    engine: str = "batch",
    block_size: int | None = None,
    workers: int = 1,
    out: str | Path | None = None,
    progress: ProgressCallback | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
) -> SimulationResult:
    """Run a scenario's replications and return (and optionally write) the outcomes.

    ``replications`` and ``seed`` override the scenario's values (an engine that runs a fixed
    number, the mean engine's one, runs that); ``block_size`` (rounded up to whole multiples
    of the engine's granularity, the batch engine's stream blocks) sets how many
    replications one engine run advances together, and changes nothing in the results. The
    blocks run on ``executor`` (left open: it is the caller's); without one, on ``workers``
    local processes (this process for 1), or on the Dask cluster whose scheduler is at
    ``scheduler`` (``tcp://HOST:PORT``); the results are the same. With ``out``, outcomes
    stream to that Parquet file (bands beside it) as blocks finish. On KeyboardInterrupt, or a
    block that fails (:class:`RunError`), the running blocks are abandoned, the file is closed
    with the finished blocks and marked partial, and the exception raised.
    ``progress(done, total)`` is called as replications complete.
    """
    if engine not in ENGINES:
        raise ScenarioError(f"unknown engine '{engine}'; choose from {', '.join(ENGINES)}",
                            key="--engine")
    updates: dict[str, object] = {}
    if replications is not None:
        updates["simulation.replications"] = replications
    fixed = REGISTRY[engine].replications  # the mean engine runs one, whatever is asked
    if fixed is not None:
        updates["simulation.replications"] = fixed
    if seed is not None:
        updates["simulation.seed"] = seed
    if updates:
        scenario = scenario.with_overrides(updates, source="arguments")
    if workers < 1:
        raise ScenarioError(f"workers must be at least 1 (got {workers})", key="--workers")
    if executor is not None and scheduler is not None:
        raise ValueError("give an executor or a scheduler, not both")
    total = scenario.simulation.replications
    granularity = REGISTRY[engine].granularity
    if executor is not None:
        size = block_size or default_block_size(engine, total, executor.workers)
        blocks = plan_blocks(total, size, granularity, executor.workers)
        return _run(scenario, engine, blocks, executor, out, progress)
    size = block_size or default_block_size(engine, total, workers)
    blocks = plan_blocks(total, size, granularity, workers)
    built = (
        DaskExecutor(scheduler) if scheduler is not None
        else local_executor(min(workers, len(blocks)))
    )
    with built:
        return _run(scenario, engine, blocks, built, out, progress)


def _run(
    scenario: Scenario,
    engine: str,
    blocks: list[tuple[int, int]],
    executor: Executor,
    out: str | Path | None,
    progress: ProgressCallback | None,
) -> SimulationResult:
    """Run ``blocks`` on ``executor``, filling the outcome arrays and the file as they finish."""
    total = scenario.simulation.replications
    bands = empty_bands(scenario)
    writer = ResultsWriter(out, scenario, engine) if out is not None else None
    # outcome columns are filled in place as blocks arrive (memory: the final arrays only)
    columns = {c: np.full(total, np.nan) for c in computed_columns(build_params(scenario))}
    reason = np.full(total, -1, dtype=np.int8)
    done = 0
    partial = True
    tasks = (BlockTask(scenario, first, n, engine) for first, n in blocks)
    try:
        with closing(executor.run(tasks)) as finished:
            for task, block in finished:
                if isinstance(block, BlockFailure):
                    kept = " in the results file, marked partial" if writer is not None else ""
                    raise RunError(f"{task.describe()} failed: {block.error}; stopping "
                                   f"(finished blocks are kept{kept})")
                bands.add(block)
                if writer is not None:
                    writer.add(block)
                rows = slice(block.first, block.first + block.n)
                reason[rows] = block.reason
                for c, values in block.columns.items():
                    columns[c][rows] = values
                done += block.n
                if progress is not None:
                    progress(done, total)
        partial = False
    finally:
        if writer is not None:
            writer.close(bands, partial=partial)
    finished_rows = reason >= 0
    if not finished_rows.all():  # an interrupted run keeps the blocks that finished
        columns = {c: v[finished_rows] for c, v in columns.items()}
    # end reasons as references to five shared strings (8 bytes each), not fixed-width text
    names = np.array(END_REASONS, dtype=object)
    return SimulationResult(
        scenario=scenario,
        engine=engine,
        replication=np.flatnonzero(finished_rows).astype(np.int64),
        end_reason=names[reason[finished_rows].astype(np.intp)],
        columns=columns,
        bands=bands,
        partial=partial,
        out=Path(out) if out is not None else None,
    )
