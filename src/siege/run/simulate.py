"""The Monte Carlo runner: blocks of replications, executors, streaming of results.

Replications are split into blocks (whole random-stream blocks, see :mod:`siege.rng`);
each block is run by an engine in this process or in worker processes, and its results are
streamed to the results file in replication order as blocks finish. Results depend only on
the scenario and its seed, not on the block size or the number of workers.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as connection_wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.engines import ENGINES, run_block
from siege.errors import RunError, ScenarioError
from siege.model.outcomes import computed_columns
from siege.model.rules import END_REASONS
from siege.results.bands import BandAccumulator, band_specs
from siege.results.block import BlockResult
from siege.results.parquet import Bands, ResultsWriter
from siege.results.summary import Summary, summarize
from siege.rng import STREAM_BLOCK
from siege.scenario import Scenario, build_params

ProgressCallback = Callable[[int, int], None]
log = logging.getLogger(__name__)
DEFAULT_BLOCK_SIZE = 65536  # replications per engine run; results do not depend on it


def plan_blocks(
    replications: int, block_size: int, granularity: int = STREAM_BLOCK, workers: int = 1
) -> list[tuple[int, int]]:
    """(first, n) of each block; the block size is rounded up to a whole number of
    ``granularity`` replications (the batch engine's stream blocks).

    With several workers, a run of at least two units per worker gets at least one block per
    worker, and the number of blocks is rounded up to a multiple of the workers with the
    replications spread evenly over them, so that the workers finish together instead of one
    running a last block alone. Results do not depend on the blocks."""
    size = max(1, -(-block_size // granularity))  # in units of granularity
    units = -(-replications // granularity)
    count = -(-units // size)
    if workers > 1 and units >= 2 * workers:
        count = max(count, workers)  # every worker gets a share
    if workers <= 1 or count <= 1:
        step = size * granularity
        return [(first, min(step, replications - first)) for first in range(0, replications, step)]
    count = min(units, -(-count // workers) * workers)
    base, extra = divmod(units, count)
    blocks = []
    first = 0
    for b in range(count):
        n = min((base + (b < extra)) * granularity, replications - first)
        blocks.append((first, n))
        first += n
    return blocks


def default_block_size(engine: str, replications: int, workers: int) -> int:
    """Replications per block when the caller does not choose: large blocks for the batch
    engine (per-step overhead is shared by the whole block), and for the event engine (which
    runs replications one at a time) about four blocks per worker, so that work spreads
    evenly over the workers. Results do not depend on it."""
    if engine == "batch":
        return DEFAULT_BLOCK_SIZE
    return max(1, min(STREAM_BLOCK, -(-replications // (4 * workers))))


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
) -> SimulationResult:
    """Run a scenario's replications and return (and optionally write) the outcomes.

    ``replications`` and ``seed`` override the scenario's values; ``block_size`` (rounded up
    to whole stream blocks, ``siege.rng.STREAM_BLOCK``) sets how many replications one engine run
    advances together, and changes nothing in the results. With
    ``out``, outcomes stream to that Parquet file (bands beside it) as blocks finish; on
    KeyboardInterrupt the file is closed with the finished blocks, marked partial, and the
    interrupt re-raised. ``progress(done, total)`` is called as replications complete.
    ``scheduler`` (``tcp://HOST:PORT``) runs the blocks on that Dask cluster instead of local
    processes; the results are the same.
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
    blocks = plan_blocks(
        sim.replications,
        block_size or default_block_size(engine, sim.replications, workers),
        STREAM_BLOCK if engine == "batch" else 1,
        workers,
    )
    params = build_params(scenario)
    specs = band_specs(params)
    n_days = sim.whole_days
    bands = Bands(specs, BandAccumulator(specs, n_days))
    writer = ResultsWriter(out, scenario, engine) if out is not None else None
    # outcome columns are filled in place as blocks arrive (memory: the final arrays only)
    total = sim.replications
    columns = {c: np.full(total, np.nan) for c in computed_columns(params)}
    reason = np.full(total, -1, dtype=np.int8)
    done = 0
    partial = True
    try:
        for block in _execute(engine, scenario, blocks, workers, scheduler):
            bands.add(block)
            if writer is not None:
                writer.add(block)
            rows = slice(block.first, block.first + block.n)
            reason[rows] = block.reason
            for c, values in block.columns.items():
                columns[c][rows] = values
            done += block.n
            if progress is not None:
                progress(done, sim.replications)
        partial = False
    finally:
        if writer is not None:
            writer.close(bands, partial=partial)
    finished = reason >= 0
    if not finished.all():  # an interrupted run keeps the blocks that finished
        columns = {c: v[finished] for c, v in columns.items()}
    # end reasons as references to five shared strings (8 bytes each), not fixed-width text
    names = np.array(END_REASONS, dtype=object)
    return SimulationResult(
        scenario=scenario,
        engine=engine,
        replication=np.flatnonzero(finished).astype(np.int64),
        end_reason=names[reason[finished].astype(np.intp)],
        columns=columns,
        bands=bands,
        partial=partial,
        out=Path(out) if out is not None else None,
    )


def _execute(
    engine: str,
    scenario: Scenario,
    blocks: list[tuple[int, int]],
    workers: int,
    scheduler: str | None = None,
) -> Iterator[BlockResult]:
    """Run blocks in this process (1 worker), in local worker processes, or on the Dask
    cluster at ``scheduler`` (tcp://HOST:PORT); yield each block's result as it finishes
    (in any order)."""
    if scheduler is not None:
        from siege.run.executors import cluster_blocks

        yield from cluster_blocks(scheduler, engine, scenario, blocks)
        return
    if workers == 1 or len(blocks) == 1:
        for first, n in blocks:
            yield run_block(engine, scenario, first, n)
        return
    yield from _run_in_processes(engine, scenario, blocks, workers)


BLOCK_RETRIES = 1  # times a block whose worker process died is run again before giving up


def _worker_main(conn: Connection, engine: str, scenario: Scenario) -> None:
    """A worker process: run the blocks it is sent, send back each result (or the error).

    Ctrl-C is for the parent, which stops the workers itself; a worker ignores it so that an
    interrupt from the terminal (sent to the whole process group) leaves no stray traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        task = conn.recv()
        if task is None:
            return
        first, n = task
        try:
            result = run_block(engine, scenario, first, n)
        except Exception as exc:  # reported to the parent with the block
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        else:
            conn.send(("ok", result))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    block: tuple[int, int] | None = None
    stopped: bool = False  # told there is no more work


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _run_in_processes(
    engine: str, scenario: Scenario, blocks: list[tuple[int, int]], workers: int
) -> Iterator[BlockResult]:
    """Run blocks in ``workers`` local processes, each told one block at a time.

    The parent always knows which block each worker holds, so a worker that dies (killed,
    out of memory) is reported with its block; the block is run again in a fresh worker up
    to ``BLOCK_RETRIES`` times, after which the run stops with a :class:`RunError`. When the
    generator is closed or interrupted (Ctrl-C), every worker is terminated at once.
    """
    ctx = get_context("spawn")
    queue = deque(blocks)
    deaths: dict[tuple[int, int], int] = {}
    pool: list[_Worker] = []

    def start() -> _Worker:
        parent_end, child_end = ctx.Pipe()
        process = ctx.Process(
            target=_worker_main, args=(child_end, engine, scenario), daemon=True
        )
        process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def assign(worker: _Worker) -> None:
        worker.block = queue.popleft() if queue else None
        worker.stopped = worker.block is None
        worker.conn.send(worker.block)

    try:
        for _ in range(min(workers, len(blocks))):
            worker = start()
            pool.append(worker)
            assign(worker)
        while any(w.block is not None for w in pool):
            busy = [w for w in pool if w.block is not None]
            waitables: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(connection_wait(waitables))
            for i, worker in enumerate(pool):
                block = worker.block
                if block is None or not (worker.conn in ready or worker.process.sentinel in ready):
                    continue
                first, n = block
                span = f"replications {first}..{first + n - 1}"
                try:
                    status, payload = worker.conn.recv()
                except (EOFError, OSError):  # the worker died before it could answer
                    worker.process.join()
                    why = _describe_exit(worker.process.exitcode)
                    deaths[block] = deaths.get(block, 0) + 1
                    message = f"a worker process died ({why}) while running {span}"
                    if deaths[block] > BLOCK_RETRIES:
                        raise RunError(
                            f"{message}, again after {BLOCK_RETRIES} retry; stopping "
                            "(finished blocks are kept, the results file is marked partial)"
                        ) from None
                    log.warning("%s; running that block again in a new worker", message)
                    worker.conn.close()
                    queue.appendleft(block)
                    pool[i] = start()
                    assign(pool[i])
                    continue
                if status == "error":
                    raise RunError(f"{span} failed: {payload}")
                assign(worker)
                yield payload
    finally:
        for worker in pool:
            if worker.process.is_alive() and not worker.stopped:
                worker.process.terminate()
        for worker in pool:
            worker.process.join(timeout=5)
            if worker.process.is_alive():  # pragma: no cover - a worker ignoring SIGTERM
                worker.process.kill()
                worker.process.join()
            worker.conn.close()


def default_workers() -> int:
    """Worker processes used by default: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
