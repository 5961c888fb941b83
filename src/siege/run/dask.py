"""Blocks on a Dask ``distributed`` cluster, named by its scheduler address ``tcp://HOST:PORT``.

One block task is one Dask task, run by the same function as in local worker processes, so the
results are identical bit for bit; the failure and interrupt policy is that of
:mod:`siege.run.executors`. (A task whose worker is lost is first reassigned by the scheduler
itself, up to its ``allowed-failures`` setting; when it gives up, with ``KilledWorker``, the
block is submitted once more and then reported failed.) ``distributed`` is imported only when
a cluster is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from types import TracebackType
from typing import Any

from siege.errors import ClusterError
from siege.run.executors import BLOCK_RETRIES, BlockFailure, BlockTask, Finished, attempt

log = logging.getLogger(__name__)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - the dask extra is not installed
        raise ClusterError(
            "running on a Dask cluster needs the 'distributed' package: "
            "pip install 'siege-model[dask]'"
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
        self._client()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._owns and self.client is not None:
            self.client.close()
            self.client = None

    def _client(self) -> Any:
        """The client, connected on first use."""
        if self.client is None:
            assert self.scheduler is not None
            self.client = connect(self.scheduler)
        return self.client

    @property
    def workers(self) -> int:
        """Threads of the cluster's workers (blocks it runs at once)."""
        return max(1, sum(self._client().nthreads().values()))

    def run(self, tasks: Iterable[BlockTask]) -> Generator[Finished, None, None]:
        client = self._client()
        distributed = _import_distributed()
        # enough queued per worker thread that none idles while the client stores a result
        window = self.window or 4 * self.workers
        pending: dict[Any, tuple[BlockTask, int]] = {}  # future -> (task, deaths so far)
        source = iter(tasks)
        done: Any = None

        def submit(task: BlockTask, deaths: int) -> None:
            key = (f"siege-block-{task.point}-{task.scenario.sha256()[:16]}-{task.first}-"
                   f"{task.n}-{deaths}")
            future = client.submit(attempt, task, key=key, pure=False)
            pending[future] = (task, deaths)
            if done is not None:
                done.add(future)

        try:
            for task in source:
                submit(task, 0)
                if len(pending) >= window:
                    break
            if not pending:
                return
            done = distributed.as_completed(list(pending), loop=client.loop)
            for future in done:
                task, deaths = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died or the task was lost
                    why = f"{type(exc).__name__}: {exc}"
                    if deaths < BLOCK_RETRIES:
                        log.warning("the cluster lost %s (%s); running that block again",
                                    task.describe(), why)
                        future.release()
                        submit(task, deaths + 1)
                        continue
                    result = BlockFailure(f"its cluster worker was lost ({why}), again after "
                                          f"{BLOCK_RETRIES} retry")
                future.release()
                yield task, result
                nxt = next(source, None)
                if nxt is not None:
                    submit(nxt, 0)
        finally:  # interrupted, or the caller stopped reading: abandon the running blocks
            for future in pending:
                future.cancel()
