"""Reading input files (scenarios, their ``extends`` bases, sweep files) safely: only regular
files of at most :data:`MAX_INPUT_BYTES`, opened so that a named pipe never blocks, decoded as
UTF-8 and parsed as TOML, every failure a :class:`ScenarioError` naming the file (and line)."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from siege.errors import ScenarioError

MAX_INPUT_BYTES = 1 << 20  # 1 MiB: a scenario or sweep file is text written by hand

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_toml(path: Path, *, name: str | None = None, what: str = "scenario") -> tuple[
    dict[str, Any], str
]:
    """The parsed TOML document of the file at ``path`` and its text.

    ``name`` is how errors name the file (default: ``path`` as given); ``what`` says what the
    file should be ("scenario", "sweep"). Anything but a regular file of at most 1 MiB is
    refused before it is opened for reading, and it is opened non-blocking, so a FIFO or a
    device never hangs the caller nor fills its memory.
    """
    name = name if name is not None else str(path)
    text = _read_text(path, name, what)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise ScenarioError(f"malformed TOML: {msg}", file=name, line=line) from None


def _read_text(path: Path, name: str, what: str) -> str:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=name) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read file ({exc.strerror})", file=name) from None
    _check_regular(info, name, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ScenarioError(f"cannot read file ({exc.strerror})", file=name) from None
    try:
        _check_regular(os.fstat(fd), name, what)  # the file may have been swapped since stat
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"cannot read file ({exc.strerror})", file=name) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_INPUT_BYTES:  # a regular file that grew, or one whose size lies (/proc)
        raise ScenarioError(_too_large(what), file=name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            f"not a UTF-8 text file (byte 0x{raw[exc.start]:02x}; is this a TOML {what} file?)",
            file=name,
            line=line,
        ) from None


def _check_regular(info: os.stat_result, name: str, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((kind for test, kind in _KINDS if test(info.st_mode)), "a special file")
        raise ScenarioError(
            f"is {kind}, not a {what} file; siege reads only regular files", file=name
        )
    if info.st_size > MAX_INPUT_BYTES:
        raise ScenarioError(_too_large(what, info.st_size), file=name)


def _too_large(what: str, size: int | None = None) -> str:
    got = f"{size:,} bytes" if size is not None else f"more than {MAX_INPUT_BYTES:,} bytes"
    return f"is {got}; a {what} file may have at most {MAX_INPUT_BYTES:,} bytes (1 MiB)"
