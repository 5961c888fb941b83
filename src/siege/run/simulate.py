"""Running a scenario's replications: blocks on an executor, results streamed as they finish.

Replications are split into blocks (whole random-stream blocks, see :mod:`siege.run.blocks`);
each block is run on an executor (this process, local worker processes or a Dask cluster, see
:mod:`siege.run.executors`), and its results are streamed to the results file in replication
order as blocks finish. Results depend only on the scenario and its seed, not on the block
size, the executor or the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from siege.engines import ENGINES, REGISTRY, BlockInputs
from siege.errors import RunError, ScenarioError
from siege.model.outcomes import computed_columns
from siege.model.rules import END_REASONS
from siege.results.parquet import Bands, ResultsWriter
from siege.results.sets import ResultSet
from siege.results.summary import Summary, summarize
from siege.run.blocks import default_block_size, empty_bands, plan_blocks
from siege.run.budget import check_memory, estimate_memory
from siege.run.dask import DaskExecutor, check_address
from siege.run.executors import BlockFailure, BlockTask, Executor, local_executor
from siege.run.signals import deferred_signals
from siege.scenario import Scenario, build_params
from siege.scenario.compile import build_varied_params

#: ``progress(done, total)``: replications done of ``total``, fractional (finished blocks and
#: the running blocks' progress, see :data:`~siege.engines.base.BlockProgress`); never falls
ProgressCallback = Callable[[float, int], None]


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


def resolve_run(
    scenario: Scenario, *, replications: int | None = None, seed: int | None = None,
    engine: str = "batch",
) -> Scenario:
    """The scenario a run of ``engine`` executes: ``replications`` and ``seed`` set into it
    where given, and the engine's fixed number of replications where it has one (the mean
    engine's one); what :func:`simulate` runs and records as its provenance."""
    if engine not in ENGINES:
        raise ScenarioError(f"unknown engine '{engine}'; choose from {', '.join(ENGINES)}",
                            key="--engine")
    why = REGISTRY[engine].refusal(scenario)
    if why is not None:
        raise ScenarioError(why, key="--engine")
    updates: dict[str, object] = {}
    if replications is not None:
        updates["simulation.replications"] = replications
    fixed = REGISTRY[engine].replications  # the mean engine runs one, whatever is asked
    if fixed is not None:
        updates["simulation.replications"] = fixed
    if seed is not None:
        updates["simulation.seed"] = seed
    return scenario.with_overrides(updates, source="arguments") if updates else scenario


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
    inputs: tuple[str | Path, ...] = (),
    values: Mapping[str, NDArray[np.float64]] | None = None,
    metadata: Mapping[str, str] | None = None,
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
    with the finished blocks and marked partial, and the exception raised; ``out`` is checked
    before anything runs (it must not be one of ``inputs``, the files the run was read from,
    nor anything but a regular file in a writable folder), and so is the memory the run needs
    (:mod:`siege.run.budget`). A signal (:class:`~siege.errors.Interrupted`) is handled as
    KeyboardInterrupt; a run stopped before any block finished leaves ``out`` as it was.
    ``progress(done, total)`` is called as replications complete, and as running blocks
    advance (a few times a second; not within blocks on a Dask cluster). ``values`` gives scenario
    paths one value per replication, ``(replications,)`` each (posterior draws: see
    :func:`siege.scenario.compile.build_varied_params`); the results file's metadata takes the
    ``siege.*`` keys of ``metadata`` as well.
    """
    scenario = resolve_run(scenario, replications=replications, seed=seed, engine=engine)
    if workers < 1:
        raise ScenarioError(f"workers must be at least 1 (got {workers})", key="--workers")
    if executor is not None and scheduler is not None:
        raise ValueError("give an executor or a scheduler, not both")
    total = scenario.simulation.replications
    values = dict(values or {})
    _check_values(scenario, values)
    granularity = REGISTRY[engine].granularity
    if executor is None and scheduler is not None:
        check_address(scheduler)
    n_workers = executor.workers if executor is not None else workers
    size = block_size or default_block_size(engine, total, n_workers)
    blocks = plan_blocks(total, size, granularity, n_workers)
    local = executor.local if executor is not None else scheduler is None
    largest = max(n for _, n in blocks)
    check_memory(estimate_memory(scenario, block_size=largest,
                                 local_blocks=min(n_workers, len(blocks)) if local else 0))
    writer = (ResultsWriter(out, scenario, engine, inputs=inputs, metadata=metadata)
              if out is not None else None)
    try:
        if executor is not None:
            return _run(scenario, engine, blocks, executor, writer, progress, values)
        built = (
            DaskExecutor(scheduler) if scheduler is not None
            else local_executor(min(workers, len(blocks)))
        )
        with built:
            return _run(scenario, engine, blocks, built, writer, progress, values)
    except BaseException:
        if writer is not None:
            writer.discard()  # nothing of it was kept (a cluster that could not be reached)
        raise


def _run(
    scenario: Scenario,
    engine: str,
    blocks: list[tuple[int, int]],
    executor: Executor,
    writer: ResultsWriter | None,
    progress: ProgressCallback | None,
    values: Mapping[str, NDArray[np.float64]],
) -> SimulationResult:
    """Run ``blocks`` on ``executor``, filling the outcome arrays and the file as they finish."""
    total = scenario.simulation.replications
    bands = empty_bands(scenario)
    # outcome columns are filled in place as blocks arrive (memory: the final arrays only)
    columns = {c: np.full(total, np.nan) for c in computed_columns(build_params(scenario))}
    reason = np.full(total, -1, dtype=np.int8)
    done = 0
    tasks = (_task(scenario, engine, values, first, n) for first, n in blocks)
    running = _Running(total, progress)
    try:
        with closing(executor.run(tasks, running.advance if progress else None)) as finished:
            for task, block in finished:
                if isinstance(block, BlockFailure):
                    raise RunError(f"{task.describe()} failed: {block.error}; stopping"
                                   + _kept(writer, done))
                with deferred_signals():  # a block is in the bands and the file, or not
                    bands.add(block)
                    if writer is not None:
                        writer.add(block)
                rows = slice(block.first, block.first + block.n)
                reason[rows] = block.reason
                for c, column in block.columns.items():
                    columns[c][rows] = column
                done += block.n
                running.finish(block.first, block.n)
        if done != total:  # pragma: no cover - an executor that lost blocks without a word
            raise RunError(f"the executor returned {done:,} of {total:,} replications")
    except BaseException:  # stopped (Ctrl-C, a signal) or failed: keep the finished blocks
        if writer is not None:
            with deferred_signals():
                writer.close(bands, partial=True)
        raise
    with deferred_signals():
        written = writer is not None and writer.close(bands, partial=False)
    # end reasons as references to five shared strings (8 bytes each), not fixed-width text
    names = np.array(END_REASONS, dtype=object)
    return SimulationResult(
        scenario=scenario,
        engine=engine,
        replication=np.arange(total, dtype=np.int64),
        end_reason=names[reason.astype(np.intp)],
        columns=columns,
        bands=bands,
        partial=False,
        out=writer.path if written and writer is not None else None,
    )


class _Running:
    """Replications done, finished blocks and running ones' shares together, passed on to
    ``progress`` as they rise (a block run again after its worker died starts from zero)."""

    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self.total = total
        self.progress = progress
        self.finished = 0
        self.shares: dict[int, float] = {}  # first replication of a running block -> done
        self.shown = 0.0

    def advance(self, task: BlockTask, done: float) -> None:
        """A running block's progress (replications of it done)."""
        self.shares[task.first] = max(self.shares.get(task.first, 0.0), done)
        self._show()

    def finish(self, first: int, n: int) -> None:
        """The block of ``n`` replications from ``first`` has finished."""
        self.shares.pop(first, None)
        self.finished += n
        self._show()

    def _show(self) -> None:
        done = self.finished + sum(self.shares.values())
        if self.progress is not None and done > self.shown:
            self.shown = done
            self.progress(done, self.total)


def _kept(writer: ResultsWriter | None, done: int) -> str:
    """What a stopped run leaves in its results file, for the error message."""
    if writer is None:
        return ""
    if done == 0:
        return f" (no block had finished: {writer.path} is left as it was)"
    return " (finished blocks are kept in the results file, marked partial)"


def _check_values(scenario: Scenario, values: Mapping[str, NDArray[np.float64]]) -> None:
    """Values per replication must be one per replication, of paths that may take them."""
    total = scenario.simulation.replications
    for path, rows in values.items():
        if np.shape(rows) != (total,):
            raise ScenarioError(f"{np.size(rows)} values for {total} replications", key=path)
    try:
        build_varied_params(scenario, values)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


def _task(scenario: Scenario, engine: str, values: Mapping[str, NDArray[np.float64]],
          first: int, n: int) -> BlockTask:
    """The block task of replications ``[first, first + n)``, with their values."""
    inputs = BlockInputs({p: v[first:first + n] for p, v in values.items()}) if values else None
    return BlockTask(scenario, first, n, engine, inputs=inputs)
