"""The command line's two streams, made safe for any text and any terminal.

* User text (scenario names, labels, paths) is printed as it is: the consoles read no rich
  markup (``[/]`` in a label is text, not a closing tag) and no emoji codes.
* A stream that cannot encode a character (``PYTHONIOENCODING=ascii``, a C locale) gets an
  ASCII look-alike instead (``–`` as ``-``, ``→`` as ``->``, ``Δ`` as ``d``; ``?`` for the rest),
  after :func:`degrade_to_ascii`; rich draws its tables with ASCII lines there by itself.
* A write that fails (a full disk behind ``> out.json``, a closed pipe) raises one
  :class:`~siege.errors.OutputError` (``cannot write to standard output: No space left on
  device``), and the stream is pointed at the null device so that Python's own flush at exit
  does not fail again.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
import unicodedata
from typing import IO, NoReturn, cast

from rich.console import Console

from siege.errors import OutputError
from siege.files import os_reason

ERRORS = "siege-ascii"  # the codec error handler registered below
LOOK_ALIKES = {
    "–": "-", "—": "-", "−": "-", "→": "->", "←": "<-", "…": "...", "×": "x", "±": "+/-",
    "≥": ">=", "≤": "<=", "≈": "~", "Δ": "d", "δ": "d", "·": ".", "’": "'", "‘": "'",
    "“": '"', "”": '"', "•": "*", "━": "-", "─": "-", "│": "|", "²": "^2", "√": "sqrt",
}


def _look_alike(char: str) -> str:
    """An ASCII stand-in for one character: from the table, else its decomposition without
    accents (``é`` -> ``e``), else ``?``."""
    if char in LOOK_ALIKES:
        return LOOK_ALIKES[char]
    folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return folded or "?"


def _replace(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(_look_alike(c) for c in text), error.end


codecs.register_error(ERRORS, _replace)


def degrade_to_ascii() -> None:
    """Make standard output and error write what their encoding cannot hold as ASCII
    look-alikes instead of failing (a UTF-8 stream is unchanged)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a detached or closed stream
                reconfigure(errors=ERRORS)


class GuardedStream:
    """``sys.stdout`` or ``sys.stderr`` as it is at each call (tests swap them), with write
    errors raised as one :class:`OutputError`."""

    def __init__(self, name: str, words: str) -> None:
        self._name = name
        self._words = words

    @property
    def _target(self) -> IO[str]:
        return cast(IO[str], getattr(sys, self._name))

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    def write(self, text: str) -> int:
        try:
            return self._target.write(text)
        except OSError as exc:
            self._give_up(exc)

    def flush(self) -> None:
        try:
            self._target.flush()
        except OSError as exc:
            self._give_up(exc)

    def _give_up(self, exc: OSError) -> NoReturn:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._target.fileno())
            os.close(null)
        raise OutputError(f"cannot write to {self._words}: {os_reason(exc)}") from None


stdout = GuardedStream("stdout", "standard output")
stderr = GuardedStream("stderr", "standard error")


def console(stream: GuardedStream, **options: object) -> Console:
    """A rich console on ``stream`` that prints text as it is (no markup, no emoji codes,
    no highlighting)."""
    return Console(file=cast(IO[str], stream), markup=False, emoji=False, highlight=False,
                   soft_wrap=True, **options)  # type: ignore[arg-type]


def write_text(text: str) -> None:
    """Write ``text`` to standard output and flush it (JSON output, for instance)."""
    stdout.write(text)
    stdout.flush()
