"""The C allocator during a block, in a real process started as Dask's nanny starts workers
(``MALLOC_TRIM_THRESHOLD_`` fixed): large arrays come from the reusable heap while a block
runs, not from fresh memory maps, and the host's setting is back afterwards."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes
import numpy as np
from siege.run.allocator import block_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def maps_for_2mb_array():
    before = libc.mallinfo2().hblks
    array = np.ones(1 << 18)  # 2 MiB
    after = libc.mallinfo2().hblks
    del array
    return after - before

counts = [maps_for_2mb_array() for _ in range(3)]
with block_allocator():
    counts += [maps_for_2mb_array() for _ in range(3)]
counts += [maps_for_2mb_array() for _ in range(3)]
print(*counts)
"""

glibc_233 = platform.libc_ver()[0] == "glibc" and tuple(
    int(p) for p in platform.libc_ver()[1].split(".")[:2]
) >= (2, 33)


def probe(env_extra: dict[str, str]) -> list[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env_extra
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True)
    return [int(x) for x in out.stdout.split()]


@pytest.mark.skipif(not glibc_233, reason="mallinfo2 needs glibc 2.33 or later")
def test_block_runs_on_the_heap_where_the_trim_threshold_is_pinned() -> None:
    counts = probe({"MALLOC_TRIM_THRESHOLD_": "65536"})
    # pinned low: every 2 MiB array is a fresh memory map, except inside a block
    assert counts == [1, 1, 1, 0, 0, 0, 1, 1, 1]


@pytest.mark.skipif(not glibc_233, reason="mallinfo2 needs glibc 2.33 or later")
def test_glibc_dynamic_thresholds_are_left_alone() -> None:
    counts = probe({})
    # glibc maps the first large array, then raises its own threshold: reused from then on
    assert counts == [1, 0, 0, 0, 0, 0, 0, 0, 0]
