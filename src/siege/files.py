"""Writing files whole or not at all: a temporary file beside the target, fsync, rename.

A reader (or a resumed run) never sees a half-written file under a final name: the data go to
a hidden temporary name in the same folder (``.NAME.tmp``, so the rename stays on one file
system), are flushed to disk, and replace the target in one ``os.replace``. On failure the
temporary file is removed and the target is left as it was, and an operating system error
(full disk, read-only folder, name too long) becomes one :class:`~siege.errors.OutputError`
naming the file. :func:`check_target` refuses, before any work, a target that must not be
replaced (an input, a FIFO, a device, a folder) or cannot be written. This module is the
bottom layer of siege's file writing: it imports only the standard library, pyarrow and
:mod:`siege.errors`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from siege.errors import OutputError


def os_reason(exc: OSError) -> str:
    """An operating system error in words, without errno numbers or library detail:
    ``No space left on device``."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


def write_error(path: str | Path, exc: OSError) -> OutputError:
    """The one message for a file that cannot be written: ``cannot write R.parquet: ...``."""
    return OutputError(f"cannot write {path}: {os_reason(exc)}")


def new_store_folder(root: Path, what: str, error: type[Exception]) -> None:
    """Make ``root`` a new, empty folder for a store of ``what`` (a sweep, a calibration...):
    raise ``error`` for a non-empty one (the user meant --resume) or a missing parent."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise error(f"{root}: already exists; use --resume to continue the {what} stored "
                    "there, or choose a new --out folder")
    if not root.parent.is_dir():
        raise error(f"{root}: folder {root.parent} does not exist")
    try:
        root.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_error(root, exc) from None


def temporary_path(path: str | Path) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``."""
    target = Path(path)
    return target.with_name(f".{target.name}.tmp")


def check_target(path: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Check, before any work, that ``path`` may be written and replaced; return the path to
    write (a symbolic link is followed, so the file it names is replaced, not the link).

    Refused with :class:`OutputError`: a path that resolves to one of ``inputs``; anything
    but a regular file (a folder, a FIFO, a device); a missing folder; a folder where a file
    cannot be created (read-only, no permission, a name too long)."""
    target = Path(path)
    real = target.resolve()
    if any(_same_file(real, Path(i)) for i in inputs):
        raise OutputError(f"{target}: is an input of this command; refusing to overwrite it")
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise write_error(target, exc) from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
        raise OutputError(f"{target}: is {kind}; give a file name to write to")
    if not real.parent.is_dir():
        raise OutputError(f"{target}: folder {target.parent} does not exist")
    probe = temporary_path(real)
    try:  # can a file be created there? (read-only, permissions, name length)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        probe.unlink()
    except OSError as exc:
        raise write_error(target, exc) from None
    return real


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links, hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return a.resolve() == b.resolve()


def commit(written: str | Path, path: str | Path) -> None:
    """Flush the finished file ``written`` to disk and rename it to ``path`` (replacing it)."""
    with open(written, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(written, path)
    _sync_folder(Path(path).parent)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a folder that cannot be opened (not POSIX)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on folders
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; on leaving the block the file
    is flushed and renamed to ``path``, or removed if the block raised."""
    target = Path(path)
    tmp = temporary_path(target)
    try:
        yield tmp
        commit(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(target, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_folder(path: str | Path) -> Path:
    """Create the folder ``path`` (and its parents) if needed; a folder that cannot be
    created becomes one :class:`OutputError`."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) from None
    return folder


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_table(path: str | Path, table: pa.Table, **parquet_options: Any) -> None:
    """Write ``table`` to the Parquet file ``path`` whole or not at all; ``parquet_options``
    go to :func:`pyarrow.parquet.write_table` (``compression="zstd"``, ...)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **parquet_options)
