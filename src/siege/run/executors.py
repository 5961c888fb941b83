"""Where blocks of replications run: this process, local worker processes, or a Dask cluster.

The unit of work is a :class:`BlockTask`: one block of replications of one scenario (a sweep
point). An :class:`Executor` takes tasks and yields each one back with its
:class:`~siege.results.block.BlockResult` (or a :class:`BlockFailure`) as it finishes, in any
order. A block result is also the transfer form between processes (its band histograms travel
sparse), so the results are identical bit for bit whichever executor runs them.
:func:`~siege.run.simulate.simulate` and :func:`~siege.run.sweep.run_sweep` take an executor;
executors are context managers passed in by the caller (EMA Workbench's evaluators):
:class:`InProcessExecutor`, :class:`LocalExecutor` (spawned worker processes, no server) and
:class:`siege.run.dask.DaskExecutor` (an existing ``distributed`` cluster).

One policy for every executor:

* A block that raises is reported at once as a :class:`BlockFailure` (``Type: message``).
* A block whose worker dies (killed, out of memory, a lost cluster worker) is run again once
  in a fresh worker (``BLOCK_RETRIES``), and reported as a :class:`BlockFailure` if that
  worker dies too. What a failure means is the caller's: ``simulate`` stops with
  :class:`~siege.errors.RunError`, a sweep records the point as failed and goes on.
* On an interrupt (Ctrl-C, or SIGTERM/SIGHUP turned into one, see
  :mod:`siege.run.signals`), or when the caller stops reading early, the blocks still running
  are abandoned at once (worker processes killed, cluster tasks cancelled); the finished ones
  have been yielded already.
* Worker processes ignore SIGINT, SIGTERM and SIGHUP from birth (the parent blocks them
  while it starts one): a terminal or a batch scheduler signals the whole process group, and
  the parent, which keeps the finished work, stops its workers itself. A worker whose parent
  is gone (killed with SIGKILL) notices within :data:`ORPHAN_CHECK_S` seconds and exits
  quietly, and so does one whose pipe to the parent breaks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as connection_wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from siege.engines import BlockInputs, BlockProgress, run_block
from siege.errors import RunError
from siege.results.block import BlockResult
from siege.run.allocator import block_allocator
from siege.run.blocks import default_workers
from siege.scenario import Scenario

log = logging.getLogger(__name__)
BLOCK_RETRIES = 1  # times a block whose worker died is run again before it is reported failed
ORPHAN_CHECK_S = 0.5  # how often a worker process checks that its parent is alive (seconds)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # the parent's to handle
PROGRESS_INTERVAL_S = 0.25  # a running block reports its progress at most this often (seconds)


@dataclass(frozen=True)
class BlockTask:
    """Replications ``[first, first + n)`` of ``scenario`` run by ``engine``; ``point`` is
    the sweep point the block belongs to (None outside a sweep); ``inputs``, values of scenario
    paths per replication of the block and probes to record (calibration, posterior draws)."""

    scenario: Scenario
    first: int
    n: int
    engine: str = "batch"
    point: int | None = None
    inputs: BlockInputs | None = None

    def describe(self) -> str:
        """The block in words, for messages: ``replications 0..4095 of point 3``."""
        where = "" if self.point is None else f" of point {self.point}"
        return f"replications {self.first}..{self.first + self.n - 1}{where}"


@dataclass(frozen=True)
class BlockFailure:
    """A block that could not be run: why, as ``Type: message`` or the worker's death."""

    error: str


@dataclass(frozen=True)
class _Progress:
    """A worker's message besides results: its block's replications done so far."""

    done: float


Finished = tuple[BlockTask, BlockResult | BlockFailure]
#: ``progress(task, done)``: a running block's replications done so far (fractional, see
#: :data:`~siege.engines.base.BlockProgress`), at most every :data:`PROGRESS_INTERVAL_S`
TaskProgress = Callable[[BlockTask, float], None]


class _Every:
    """Passes a block's progress on at most once per :data:`PROGRESS_INTERVAL_S` (a report
    crosses a pipe or updates a terminal; the engine reports every step)."""

    def __init__(self, report: BlockProgress) -> None:
        self.report = report
        self.due = time.monotonic() + PROGRESS_INTERVAL_S

    def __call__(self, done: float) -> None:
        now = time.monotonic()
        if now >= self.due:
            self.due = now + PROGRESS_INTERVAL_S
            self.report(done)


def run_task(task: BlockTask, progress: BlockProgress | None = None) -> BlockResult:
    """Run one block task (in whatever process or cluster worker holds it), with the C
    allocator's thresholds raised for the block where the host pinned them low (Dask's
    nanny does: see :mod:`siege.run.allocator`), passing ``progress`` on at most every
    :data:`PROGRESS_INTERVAL_S`. Floating-point warnings are silenced: the engines check
    their state and raise :class:`~siege.errors.ModelError` themselves."""
    every = _Every(progress) if progress is not None else None
    with block_allocator(), np.errstate(all="ignore"):
        return run_block(task.engine, task.scenario, task.first, task.n, task.inputs, every)


def attempt(task: BlockTask, progress: BlockProgress | None = None) -> BlockResult | BlockFailure:
    """Run one block task; an exception it raises comes back as a :class:`BlockFailure`."""
    try:
        return run_task(task, progress)
    except Exception as exc:  # reported with the block; the caller decides what it means
        return BlockFailure(f"{type(exc).__name__}: {exc}")


class Executor(Protocol):
    """Runs block tasks and yields each back with its result (or failure) as it finishes;
    a context manager that holds its workers (or cluster connection) while open."""

    @property
    def workers(self) -> int:
        """How many blocks it runs at once (what block planning divides the work by)."""
        ...

    @property
    def local(self) -> bool:
        """Whether its blocks run on this machine (what the memory check counts)."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def run(
        self, tasks: Iterable[BlockTask], progress: TaskProgress | None = None
    ) -> Generator[Finished, None, None]:
        """Run ``tasks`` (read as workers free up, so a long stream stays in flat memory);
        yield ``(task, result or failure)`` for each, in the order they finish, and report
        running blocks' ``progress`` where the executor can. Closing the generator abandons
        the blocks still running."""
        ...


class InProcessExecutor:
    """Blocks one after another in this process (no workers to start: best for small runs)."""

    workers = 1
    local = True

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def run(
        self, tasks: Iterable[BlockTask], progress: TaskProgress | None = None
    ) -> Generator[Finished, None, None]:
        for task in tasks:
            yield task, attempt(task, None if progress is None else _of(task, progress))


def _of(task: BlockTask, progress: TaskProgress) -> BlockProgress:
    """``progress`` as the engine running ``task`` reports it."""
    return lambda done: progress(task, done)


def _worker_main(conn: Connection, parent: int) -> None:
    """A worker process: run the tasks it is sent, send back each result (or failure).

    Stop signals are the parent's (see the module); they were blocked while this process
    started, and are ignored before being unblocked, so none is lost or acted on. The worker
    exits quietly when its parent is gone: the pipe closes, or its parent process changes.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    def report(done: float) -> None:
        conn.send(_Progress(done))

    while True:
        try:
            task = conn.recv()
            if task is None:
                return
            conn.send(attempt(task, report))
        except (EOFError, OSError):  # the parent is gone, or closed the pipe
            return


def _exit_with_parent(parent: int) -> None:
    """Watch the parent process; when it is gone (so this process was handed to another),
    end this one at once, whatever it is running."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    task: BlockTask | None = None  # the block it holds
    deaths: int = 0  # workers that died holding that block before this one


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class LocalExecutor:
    """Blocks in ``workers`` spawned local processes (default: every core), one block per
    worker at a time.

    The parent always knows which block each worker holds, so a worker that dies is reported
    with its block (see the module for the policy). Workers start as blocks need them and are
    kept for the next :meth:`run` until the executor is closed.
    """

    local = True

    def __init__(self, workers: int | None = None) -> None:
        workers = default_workers() if workers is None else workers
        if workers < 1:
            raise RunError(f"workers must be at least 1 (got {workers})")
        self._workers = workers
        self._pool: list[_Worker] = []
        self._context = get_context("spawn")

    @property
    def workers(self) -> int:
        return self._workers

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for worker in self._pool:
            if exc is not None or worker.task is not None:  # do not wait for running blocks
                worker.process.kill()
            else:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        for worker in list(self._pool):
            self._discard(worker)

    def run(
        self, tasks: Iterable[BlockTask], progress: TaskProgress | None = None
    ) -> Generator[Finished, None, None]:
        retries: deque[tuple[BlockTask, int]] = deque()  # (task, deaths so far), run first
        source = iter(tasks)

        def next_task() -> tuple[BlockTask, int] | None:
            if retries:
                return retries.popleft()
            task = next(source, None)
            return None if task is None else (task, 0)

        def fill() -> None:
            """Give a block to every idle worker, starting workers up to the limit."""
            while True:
                idle = next((w for w in self._pool if w.task is None), None)
                if idle is None and len(self._pool) >= self._workers:
                    return
                item = next_task()
                if item is None:
                    return
                self._give(idle or self._start(), *item)

        try:
            fill()
            while busy := [w for w in self._pool if w.task is not None]:
                waitables: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
                ready = set(connection_wait(waitables))
                for worker in busy:
                    if worker.conn not in ready and worker.process.sentinel not in ready:
                        continue
                    task, deaths = worker.task, worker.deaths
                    assert task is not None
                    try:
                        result: BlockResult | BlockFailure | _Progress = worker.conn.recv()
                    except (EOFError, OSError):  # the worker died before it could answer
                        self._discard(worker)
                        why = _describe_exit(worker.process.exitcode)
                        if deaths < BLOCK_RETRIES:
                            log.warning("a worker process died (%s) while running %s; running "
                                        "that block again in a new worker", why, task.describe())
                            retries.append((task, deaths + 1))
                            fill()
                            continue
                        result = BlockFailure(f"its worker process died ({why}), again after "
                                              f"{BLOCK_RETRIES} retry")
                    else:
                        if isinstance(result, _Progress):  # the block runs on
                            if progress is not None:
                                progress(task, result.done)
                            continue
                        worker.task = None
                    fill()  # the worker goes on with the next block while this one is used
                    yield task, result
        finally:  # interrupted, or the caller stopped reading: abandon the running blocks
            for worker in [w for w in self._pool if w.task is not None]:
                worker.process.kill()
                self._discard(worker)

    def _start(self) -> _Worker:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child_end, os.getpid()), daemon=True
        )
        # the worker inherits the blocked stop signals, so none reaches it before it ignores
        # them; one that arrives meanwhile is this process's to handle once unblocked
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        child_end.close()
        worker = _Worker(process, parent_end)
        self._pool.append(worker)
        return worker

    def _give(self, worker: _Worker, task: BlockTask, deaths: int) -> None:
        worker.task, worker.deaths = task, deaths
        with contextlib.suppress(OSError):  # a worker already dead is found by its sentinel
            worker.conn.send(task)

    def _discard(self, worker: _Worker) -> None:
        """Forget a worker that exited or was told to: reap it (killing one that lingers)."""
        worker.process.join(timeout=5)
        if worker.process.is_alive():  # pragma: no cover - a worker stuck in its last block
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
        self._pool.remove(worker)


def local_executor(workers: int) -> Executor:
    """This process for one worker (nothing to start), else ``workers`` local processes."""
    return InProcessExecutor() if workers == 1 else LocalExecutor(workers)
