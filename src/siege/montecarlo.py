"""The Monte Carlo runner: blocks of replications, executors, streaming of results.

Replications are split into blocks (a whole number of 1024-replication random-stream blocks);
each block is run by an engine in this process or in worker processes, and its results are
streamed to the results file in replication order as blocks finish. Results depend only on
the scenario and its seed, not on the block size or the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from siege.bands import BandAccumulator
from siege.engines import ENGINES, BlockResult, run_block
from siege.errors import RunError, ScenarioError
from siege.model import dynamics
from siege.model.params import build_params
from siege.model.rules import END_REASONS
from siege.results import Bands, ResultsWriter
from siege.rng import round_block_size
from siege.scenario import Scenario
from siege.summary import Summary, summarize

ProgressCallback = Callable[[int, int], None]
DEFAULT_BLOCK_SIZE = 16384  # replications per engine run; results do not depend on it


def plan_blocks(replications: int, block_size: int) -> list[tuple[int, int]]:
    """(first, n) of each block; block size rounded up to whole random-stream blocks."""
    size = round_block_size(block_size)
    return [(first, min(size, replications - first)) for first in range(0, replications, size)]


@dataclass
class SimulationResult:
    """Everything a run produced: outcome columns ``(n,)``, end reasons, bands, samples."""

    scenario: Scenario
    engine: str
    replication: NDArray[np.int64]
    end_reason: NDArray[np.str_]
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


def _run(engine: str, scenario: Scenario, first: int, n: int) -> BlockResult:
    return run_block(engine, scenario, first, n)


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
) -> SimulationResult:
    """Run a scenario's replications and return (and optionally write) the outcomes.

    ``replications`` and ``seed`` override the scenario's values; ``block_size`` (rounded up
    to whole 1024-replication stream blocks) sets how many replications one engine run
    advances together, and changes nothing in the results. With
    ``out``, outcomes stream to that Parquet file (bands beside it) as blocks finish; on
    KeyboardInterrupt the file is closed with the finished blocks, marked partial, and the
    interrupt re-raised. ``progress(done, total)`` is called as replications complete.
    """
    if engine not in ENGINES:
        raise ScenarioError(f"unknown engine '{engine}'; choose from {', '.join(ENGINES)}",
                            key="--engine")
    updates: dict[str, object] = {}
    if replications is not None:
        updates["simulation.replications"] = replications
    if seed is not None:
        updates["simulation.seed"] = seed
    if updates:
        scenario = scenario.with_overrides(updates, source="arguments")
    if workers < 1:
        raise ScenarioError(f"workers must be at least 1 (got {workers})", key="--workers")
    sim = scenario.simulation
    blocks = plan_blocks(sim.replications, block_size or DEFAULT_BLOCK_SIZE)
    params = build_params(scenario)
    specs = dynamics.observation_specs(params)
    n_days = int(np.floor(sim.horizon_days + 1e-9))
    bands = Bands(specs, BandAccumulator(specs, n_days))
    writer = ResultsWriter(out, scenario, engine) if out is not None else None
    collected: dict[int, BlockResult] = {}
    done = 0
    partial = True
    try:
        for block in _execute(engine, scenario, blocks, workers):
            bands.add(block)
            if writer is not None:
                writer.add(block)
            collected[block.first] = _light(block)
            done += block.n
            if progress is not None:
                progress(done, sim.replications)
        partial = False
    finally:
        if writer is not None:
            writer.close(bands, partial=partial)
    ordered = [collected[k] for k in sorted(collected)]
    names = np.array(END_REASONS)
    columns = {
        c: np.concatenate([b.columns[c] for b in ordered]) if ordered else np.array([])
        for c in dynamics.outcome_columns(params)
    }
    return SimulationResult(
        scenario=scenario,
        engine=engine,
        replication=np.concatenate(
            [np.arange(b.first, b.first + b.n) for b in ordered]
        ) if ordered else np.array([], dtype=np.int64),
        end_reason=names[np.concatenate([b.reason for b in ordered]).astype(np.intp)]
        if ordered
        else np.array([], dtype=str),
        columns=columns,
        bands=bands,
        partial=partial,
        out=Path(out) if out is not None else None,
    )


def _light(block: BlockResult) -> BlockResult:
    """The block without its histograms (already merged), to keep memory flat."""
    return BlockResult(
        block.first, block.n, block.reason, block.columns, block.bands.__class__([], 0),
        block.sample_ids, block.samples,
    )


def _execute(
    engine: str, scenario: Scenario, blocks: list[tuple[int, int]], workers: int
) -> Iterator[BlockResult]:
    """Run blocks in this process (1 worker) or in a pool of local worker processes."""
    if workers == 1 or len(blocks) == 1:
        for first, n in blocks:
            yield run_block(engine, scenario, first, n)
        return
    ctx = get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        pending: dict[Future[BlockResult], tuple[int, int]] = {}
        queue = list(blocks)
        while queue or pending:
            while queue and len(pending) < 2 * workers:
                first, n = queue.pop(0)
                pending[pool.submit(_run, engine, scenario, first, n)] = (first, n)
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                first, n = pending.pop(fut)
                try:
                    yield fut.result()
                except Exception as exc:  # a worker died or the block raised
                    raise RunError(
                        f"block of replications {first}..{first + n - 1} failed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def default_workers() -> int:
    """Worker processes used by default: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
