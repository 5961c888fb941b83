"""SIGTERM and SIGHUP handled like Ctrl-C, so that a batch scheduler's stop keeps finished work.

Slurm, Kubernetes and systemd stop a job with SIGTERM (a closed terminal sends SIGHUP); by
default either ends Python at once, losing the blocks that had finished. While
:func:`stop_signals_interrupt` is active, the first of them raises
:class:`~siege.errors.Interrupted` (a ``KeyboardInterrupt``) in the main thread instead, so
the same code that keeps a Ctrl-C'd run's results (a partial results file, a resumable sweep
store) runs; further ones are ignored while it does. :func:`deferred_signals` holds these
signals and Ctrl-C back while a step that must not be cut in the middle runs (adding a block
to the bands and the results file), and acts on them when it ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from siege.errors import Interrupted

SIGNALS = (signal.SIGTERM, signal.SIGHUP)
HELD = (signal.SIGINT, *SIGNALS)


@contextmanager
def _handling(signums: tuple[signal.Signals, ...], handler: Callable[[int, FrameType | None], None]
              ) -> Iterator[None]:
    """``handler`` for ``signums`` while active, the previous handlers back after; nothing
    outside the main thread, where Python cannot install handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While active (in the main thread), SIGTERM and SIGHUP raise :class:`Interrupted`
    once; the previous handlers come back on leaving."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:  # the first one stops the run; the rest wait for it to stop
            stopping = True
            raise Interrupted(signum)

    with _handling(SIGNALS, stop):
        yield


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP while the block runs (in the main thread); the first
    that arrived meanwhile is raised again at its end, for the handlers in place before (a
    KeyboardInterrupt, an :class:`Interrupted`, or the default action)."""
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    try:
        with _handling(HELD, hold):
            yield
    finally:
        if held:
            signal.raise_signal(held[0])
