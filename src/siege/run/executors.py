"""Where blocks of replications run: this process, local worker processes, or a Dask cluster.

The unit of work is a :class:`BlockTask`: one block of replications of one scenario (a sweep
point). :func:`run_task` runs it and returns a compact :class:`BlockOutput` (the outcome rows
as an Arrow table and the band histograms as sparse counts), whatever the executor, so the
results are identical bit for bit whichever way a sweep runs. Executors are context managers
passed in by the caller (EMA Workbench's evaluators): :class:`LocalExecutor` (spawned worker
processes, no server) and :class:`DaskExecutor` (an existing ``distributed`` cluster, named by
its scheduler address ``tcp://HOST:PORT``). ``distributed`` is imported only when asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from siege.engines import run_block
from siege.errors import ClusterError, RunError
from siege.results.bands import BandAccumulator
from siege.results.block import BlockResult
from siege.results.parquet import block_table
from siege.run.allocator import block_allocator
from siege.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockTask:
    """Replications ``[first, first + n)`` of ``scenario`` (sweep point ``point``)."""

    point: int
    first: int
    n: int
    scenario: Scenario
    engine: str = "batch"


@dataclass
class BlockOutput:
    """A finished block, compact for transfer: outcome rows, sparse band histograms
    (``band_index`` into the flattened ``band_shape`` counts, ``band_count`` at each),
    active replications per day ``(n_days + 1,)`` and the sample trajectories."""

    point: int
    first: int
    n: int
    table: pa.Table
    band_shape: tuple[int, int, int]
    band_index: NDArray[np.int32]
    band_count: NDArray[np.int32]
    n_active: NDArray[np.int64]
    sample_ids: NDArray[np.int64]
    samples: NDArray[np.float64]

    def accumulator(self, template: BandAccumulator) -> BandAccumulator:
        """The block's band histograms as an accumulator like ``template`` (specs, days)."""
        return BandAccumulator.from_sparse(
            template.specs, template.n_days, self.band_index, self.band_count, self.n_active
        )


@dataclass(frozen=True)
class BlockFailure:
    """A block that raised: the error, as ``Type: message``."""

    error: str


def compact(point: int, block: BlockResult) -> BlockOutput:
    """A block result in transfer form (sparse histograms: a few MB instead of tens)."""
    bands = block.bands
    index, count = bands.sparse()
    shape = (len(bands.specs), bands.n_days + 1, bands.bins)
    return BlockOutput(
        point=point, first=block.first, n=block.n, table=block_table(block), band_shape=shape,
        band_index=index.astype(np.int32), band_count=count,  # fewer than 2**31 bins
        n_active=block.bands.n_active.copy(), sample_ids=block.sample_ids,
        samples=block.samples,
    )


def run_task(task: BlockTask) -> BlockOutput:
    """Run one block task (in whatever process or cluster worker holds it), with the C
    allocator's thresholds raised for the block where the host pinned them low (Dask's
    nanny does: see :mod:`siege.run.allocator`)."""
    with block_allocator():
        return compact(task.point, run_block(task.engine, task.scenario, task.first, task.n))


def _run_task_safely(task: BlockTask) -> BlockOutput | BlockFailure:
    try:
        return run_task(task)
    except Exception as exc:  # recorded with the point; the sweep goes on
        return BlockFailure(f"{type(exc).__name__}: {exc}")


class Executor(Protocol):
    """Runs block tasks and yields ``(task, output or failure)`` as each finishes; a context
    manager that holds its workers (or cluster connection) while open."""

    def __enter__(self) -> Executor: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def run(
        self, tasks: Iterable[BlockTask]
    ) -> Iterator[tuple[BlockTask, BlockOutput | BlockFailure]]: ...


class LocalExecutor:
    """Blocks in this process (``workers=1``) or in ``workers`` spawned local processes.

    At most ``2 * workers`` blocks are in flight, so memory stays flat however many points a
    sweep has. A worker process that dies stops the run with :class:`RunError` (finished
    blocks are already stored; ``--resume`` goes on from there).
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise RunError(f"workers must be at least 1 (got {workers})")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            # the pool forgets its processes on shutdown: take them first
            processes = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=exc is None, cancel_futures=True)
            if exc is not None:  # interrupted: do not wait for running blocks
                for process in processes:
                    process.terminate()
            self._pool = None

    def run(
        self, tasks: Iterable[BlockTask]
    ) -> Iterator[tuple[BlockTask, BlockOutput | BlockFailure]]:
        if self._pool is None:
            for task in tasks:
                yield task, _run_task_safely(task)
            return
        from concurrent.futures.process import BrokenProcessPool

        yield from _windowed(
            lambda t: self._pool.submit(_run_task_safely, t),
            tasks, 2 * self.workers, BrokenProcessPool,
        )


def _windowed(
    submit: Any, tasks: Iterable[BlockTask], window: int, broken: type[BaseException]
) -> Iterator[tuple[BlockTask, BlockOutput | BlockFailure]]:
    """Keep ``window`` tasks in flight; yield each as it finishes."""
    pending: dict[Future[Any], BlockTask] = {}
    source = iter(tasks)
    for task in source:
        pending[submit(task)] = task
        if len(pending) >= window:
            break
    while pending:
        finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in finished:
            task = pending.pop(future)
            try:
                result = future.result()
            except broken as exc:
                raise RunError(
                    f"a worker process died while running point {task.point}, replications "
                    f"{task.first}..{task.first + task.n - 1} ({exc}); finished blocks are "
                    "stored, rerun with --resume"
                ) from None
            yield task, result
            nxt = next(source, None)
            if nxt is not None:
                pending[submit(nxt)] = nxt


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - the dask extra is not installed
        raise ClusterError(
            "running on a Dask cluster needs the 'distributed' package: "
            "pip install 'siege[dask]'"
        ) from None
    return distributed


def connect(scheduler: str, timeout_s: float = 10.0) -> Any:
    """A ``distributed.Client`` connected to ``scheduler`` (``tcp://HOST:PORT``)."""
    distributed = _import_distributed()
    try:
        return distributed.Client(scheduler, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
            "`dask scheduler` and workers with `dask worker SCHEDULER_ADDRESS`"
        ) from None


class DaskExecutor:
    """Blocks on a Dask ``distributed`` cluster: one Dask task per block.

    Give the scheduler address (``tcp://HOST:PORT``), or a connected ``client`` (then it is
    not closed on exit). Every worker needs siege installed (the same version). At most
    ``window`` blocks are in flight (default: four per cluster thread).
    """

    def __init__(
        self, scheduler: str | None = None, *, client: Any = None, window: int | None = None
    ) -> None:
        if (scheduler is None) == (client is None):
            raise ValueError("give a scheduler address or a client, not both")
        self.scheduler = scheduler
        self.client = client
        self._owns = client is None
        self.window = window

    def __enter__(self) -> DaskExecutor:
        if self.client is None:
            assert self.scheduler is not None
            self.client = connect(self.scheduler)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._owns and self.client is not None:
            self.client.close()
            self.client = None

    def _threads(self) -> int:
        assert self.client is not None
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # pragma: no cover - scheduler gone between calls
            return 1

    def run(
        self, tasks: Iterable[BlockTask]
    ) -> Iterator[tuple[BlockTask, BlockOutput | BlockFailure]]:
        if self.client is None:
            self.__enter__()
        client = self.client
        distributed = _import_distributed()
        # enough queued per worker thread that none idles while the client stores a result
        window = self.window or 4 * self._threads()
        pending: dict[Any, BlockTask] = {}
        source = iter(tasks)
        done: Any = None

        def submit(task: BlockTask) -> None:
            key = f"siege-block-{task.point}-{task.scenario.sha256()[:16]}-{task.first}-{task.n}"
            future = client.submit(_run_task_safely, task, key=key, pure=False)
            pending[future] = task
            if done is not None:
                done.add(future)

        try:
            for task in source:
                submit(task)
                if len(pending) >= window:
                    break
            if not pending:
                return
            done = distributed.as_completed(list(pending), loop=client.loop)
            for future in done:
                task = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died or the task was lost
                    result = BlockFailure(f"{type(exc).__name__}: {exc}")
                future.release()
                yield task, result
                nxt = next(source, None)
                if nxt is not None:
                    submit(nxt)
        finally:
            for future in pending:
                future.cancel()


def cluster_blocks(
    scheduler: str, engine: str, scenario: Scenario, blocks: list[tuple[int, int]]
) -> Iterator[BlockResult]:
    """Run one scenario's blocks on a Dask cluster; yield each block's result as it finishes
    (what ``siege simulate --scheduler`` uses). A failed block stops the run with
    :class:`RunError`."""
    specs_template: BandAccumulator | None = None
    with DaskExecutor(scheduler) as executor:
        tasks = [BlockTask(0, f, n, scenario, engine) for f, n in blocks]
        for task, output in executor.run(tasks):
            if isinstance(output, BlockFailure):
                raise RunError(
                    f"replications {task.first}..{task.first + task.n - 1} failed on the "
                    f"cluster: {output.error}"
                )
            if specs_template is None:
                specs_template = _template(scenario)
            yield expand(output, specs_template)


def _template(scenario: Scenario) -> BandAccumulator:
    from siege.results.bands import band_specs
    from siege.scenario import build_params

    specs = band_specs(build_params(scenario))
    n_days = scenario.simulation.whole_days
    return BandAccumulator(specs, n_days)


def expand(output: BlockOutput, template: BandAccumulator) -> BlockResult:
    """A :class:`BlockOutput` back as an engine's :class:`BlockResult`."""
    from siege.model.rules import END_REASONS

    table = output.table
    names = table.column("end_reason").to_pylist()
    code = {r: i for i, r in enumerate(END_REASONS)}
    reason = np.array([code[r] for r in names], dtype=np.int8)
    columns = {
        c: np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=float)
        for c in table.column_names
        if c not in ("replication", "end_reason")
    }
    return BlockResult(
        first=output.first, n=output.n, reason=reason, columns=columns,
        bands=output.accumulator(template), sample_ids=output.sample_ids,
        samples=output.samples,
    )
