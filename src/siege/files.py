"""Writing files whole or not at all: a temporary file beside the target, fsync, rename.

A reader (or a resumed run) never sees a half-written file under a final name: the data go to
a hidden temporary name in the same folder (``.NAME.tmp``, so the rename stays on one file
system), are flushed to disk, and replace the target in one ``os.replace``. On failure the
temporary file is removed and the target is left as it was. This module is the bottom layer of
siege's file writing: it imports only the standard library and pyarrow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


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
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        yield tmp
        commit(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_table(path: str | Path, table: pa.Table, **parquet_options: Any) -> None:
    """Write ``table`` to the Parquet file ``path`` whole or not at all; ``parquet_options``
    go to :func:`pyarrow.parquet.write_table` (``compression="zstd"``, ...)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **parquet_options)
