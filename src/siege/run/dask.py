"""Blocks on a Dask ``distributed`` cluster, named by its scheduler address ``tcp://HOST:PORT``.

One block task is one Dask task, run by the same function as in local worker processes, so the
results are identical bit for bit; the failure and interrupt policy is that of
:mod:`siege.run.executors`. (A task whose worker is lost is first reassigned by the scheduler
itself, up to its ``allowed-failures`` setting; when it gives up, with ``KilledWorker``, the
block is submitted once more and then reported failed.) ``distributed`` is imported only when
a cluster is asked for. An address that is not one (``not a url``) is refused at once, before
any connection is tried; the connection waits :func:`connect_timeout` seconds (environment
variable ``SIEGE_SCHEDULER_TIMEOUT``, default 10).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Generator, Iterable
from types import TracebackType
from typing import Any

from siege.errors import ClusterError
from siege.run.executors import (
    BLOCK_RETRIES,
    BlockFailure,
    BlockTask,
    Finished,
    TaskProgress,
    attempt,
)

log = logging.getLogger(__name__)
TIMEOUT_VARIABLE = "SIEGE_SCHEDULER_TIMEOUT"  # seconds to wait for the scheduler
DEFAULT_TIMEOUT_S = 10.0
# PROTOCOL://HOST:PORT (HOST:PORT means tcp), HOST a name, an IPv4 address or [IPv6]
_ADDRESS = re.compile(r"(?:(tcp|tls|ws|wss|ucx)://)?([\w.-]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})")


def check_address(scheduler: str) -> None:
    """Refuse (:class:`ClusterError`) a scheduler address that is not ``PROTOCOL://HOST:PORT``
    (protocol tcp, tls, ws, wss or ucx; ``HOST:PORT`` alone means tcp)."""
    match = _ADDRESS.fullmatch(scheduler)
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise ClusterError(
            f"--scheduler {scheduler!r}: not a scheduler address; give tcp://HOST:PORT "
            "(e.g. tcp://127.0.0.1:8786, as `dask scheduler` prints it)"
        )


def connect_timeout() -> float:
    """Seconds to wait for the scheduler: ``SIEGE_SCHEDULER_TIMEOUT``, else 10."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ClusterError(f"{TIMEOUT_VARIABLE}={text!r}: give the seconds to wait for the "
                           "scheduler, a positive number")
    return value


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - the dask extra is not installed
        raise ClusterError(
            "running on a Dask cluster needs the 'distributed' package: "
            "pip install 'siege-model[dask]'"
        ) from None
    return distributed


def connect(scheduler: str, timeout_s: float | None = None) -> Any:
    """A ``distributed.Client`` connected to ``scheduler`` (``tcp://HOST:PORT``), waiting at
    most ``timeout_s`` seconds (default :func:`connect_timeout`)."""
    check_address(scheduler)
    timeout = connect_timeout() if timeout_s is None else timeout_s
    distributed = _import_distributed()
    try:
        return distributed.Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({reason}); "
            "check the address, start a scheduler with `dask scheduler` and workers with "
            f"`dask worker {scheduler}`, or wait longer with {TIMEOUT_VARIABLE}=SECONDS"
        ) from None


class DaskExecutor:
    """Blocks on a Dask ``distributed`` cluster: one Dask task per block.

    Give the scheduler address (``tcp://HOST:PORT``), or a connected ``client`` (then it is
    not closed on exit). Every worker needs siege installed (the same version). At most
    ``window`` blocks are in flight (default: four per cluster thread).
    """

    local = False

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

    def run(
        self, tasks: Iterable[BlockTask], progress: TaskProgress | None = None
    ) -> Generator[Finished, None, None]:
        """Run ``tasks`` on the cluster (see :meth:`Executor.run`); ``progress`` is not
        reported within blocks (a Dask task sends nothing back until it finishes)."""
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
