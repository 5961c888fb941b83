"""One writer per sweep store: an exclusive operating-system lock on a file inside it.

The lock is ``fcntl.flock`` on ``STORE/.lock``: the system releases it when the process ends,
however it ends, so a run killed with SIGKILL never leaves a stale lock that blocks the next
``--resume``. While held, the file names its holder (``pid 4242 on host node7``) for the
message a second writer gets; it is emptied when released, so that it is the same in every
finished store. (Network file systems may not honour ``flock``; the lock is for one machine's
processes, or a file system that supports it.)
"""

from __future__ import annotations

import fcntl
import os
import socket
import weakref
from pathlib import Path
from typing import Self

from siege.errors import StoreBusyError
from siege.files import write_error

LOCK_NAME = ".lock"


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
    except OSError:  # a full disk, a read-only remount: the lock goes anyway
        pass
    os.close(fd)  # releases the lock


class StoreLock:
    """The exclusive lock of the store folder ``root``, taken at once (or
    :class:`StoreBusyError`, naming the holder) and held until :meth:`release`, or until the
    object is garbage-collected or the process ends."""

    def __init__(self, root: Path) -> None:
        path = root / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only store, a lock file one may not open
            raise write_error(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreBusyError(
                f"{root}: the sweep store is being written by {holder}; one run writes a "
                "store at a time: wait for it to finish (or stop it), then use --resume"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"siege pid {os.getpid()} on host {socket.gethostname()}\n".encode())
        self._finalizer = weakref.finalize(self, _release, fd)

    def release(self) -> None:
        """Empty the lock file and release the lock (again: nothing)."""
        self._finalizer()


class LockedStore:
    """What a store written under a :class:`StoreLock` shares: ``with store:`` releases the
    lock at the end (as :meth:`release` does, or the end of the process)."""

    _lock: StoreLock

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Let another run write the store."""
        self._lock.release()
