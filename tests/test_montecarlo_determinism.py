"""Same scenario and seed give byte-identical outcome columns whatever the workers and block
size, for both engines; a different seed gives different results."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from siege.results.parquet import read_metadata
from siege.rng import STREAM_BLOCK
from siege.run.blocks import plan_blocks
from siege.run.simulate import simulate
from siege.scenario import Scenario, load_scenario

from conftest import SCENARIOS


@pytest.fixture(scope="module")
def bakhmut() -> Scenario:
    return load_scenario(SCENARIOS / "bakhmut.toml")


def outcome_bytes(path: Path) -> dict[str, bytes]:
    """Each outcome column's values as raw bytes (the file's metadata aside)."""
    table = pq.read_table(path)
    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        out[name] = b"".join(buf.to_pybytes() for buf in col.buffers() if buf is not None)
    return out


def test_plan_blocks_covers_every_replication_once() -> None:
    blocks = plan_blocks(30_000, 7000)  # rounded up to two stream blocks
    assert [b[0] for b in blocks] == [0, 2 * STREAM_BLOCK, 4 * STREAM_BLOCK, 6 * STREAM_BLOCK]
    assert sum(n for _, n in blocks) == 30_000
    assert plan_blocks(10, 3, granularity=1) == [(0, 3), (3, 3), (6, 3), (9, 1)]


@pytest.mark.parametrize("replications", [1_000_000, 200_000, 70_001])
def test_plan_blocks_share_the_work_evenly_among_workers(replications: int) -> None:
    """With several workers the blocks are a multiple of the workers, whole stream blocks
    (but the last) and within one stream block of each other: no worker runs a last block
    alone."""
    blocks = plan_blocks(replications, 65536, workers=2)
    firsts = [f for f, _ in blocks]
    sizes = [n for _, n in blocks]
    assert firsts == [sum(sizes[:i]) for i in range(len(sizes))]
    assert sum(sizes) == replications
    assert all(f % STREAM_BLOCK == 0 for f in firsts)
    assert len(blocks) % 2 == 0
    assert max(sizes[:-1]) - min(sizes[:-1]) <= STREAM_BLOCK and sizes[-1] <= max(sizes)
    assert max(sizes) <= 65536
    assert plan_blocks(5000, 65536, workers=2) == [(0, 5000)]  # too small to be worth a split
    # smaller than one block, but enough for both workers: split in two
    assert plan_blocks(40000, 65536, workers=2) == [(0, 20480), (20480, 19520)]


@pytest.mark.slow  # seconds: left to the full suite, the quick loop stays under 90 s
def test_batch_outcomes_identical_across_workers_and_block_sizes(
    bakhmut: Scenario, tmp_path: Path
) -> None:
    layouts = [(1, 65536), (2, STREAM_BLOCK), (2, 2 * STREAM_BLOCK)]
    files = []
    # 200 days: replications end in every way but the horizon is shorter (a quicker test)
    short = bakhmut.with_overrides({"simulation.horizon_days": 200.0})
    for workers, block in layouts:
        path = tmp_path / f"w{workers}_b{block}.parquet"
        simulate(short, replications=9000, seed=3, workers=workers, block_size=block,
                 out=path)
        files.append(path)
    reference = outcome_bytes(files[0])
    assert len(pq.read_table(files[0])) == 9000
    for path in files[1:]:
        assert outcome_bytes(path) == reference, path.name
    assert read_metadata(files[1])["siege.partial"] == "false"


@pytest.mark.slow  # event-engine replications in two layouts
def test_event_outcomes_identical_across_workers_and_block_sizes(bakhmut: Scenario) -> None:
    short = bakhmut.with_overrides({"simulation.horizon_days": 60.0})
    # blocks are whole cells of 64 ids (the bands' moments): 130 is one block, or three
    a = simulate(short, replications=130, seed=5, engine="event", workers=1, block_size=130)
    b = simulate(short, replications=130, seed=5, engine="event", workers=2, block_size=64)
    for col in a.columns:
        assert a.columns[col].tobytes() == b.columns[col].tobytes(), col
    assert a.end_reason.tolist() == b.end_reason.tolist()


def test_seed_changes_the_results(bakhmut: Scenario) -> None:
    a = simulate(bakhmut, replications=1024, seed=1)
    b = simulate(bakhmut, replications=1024, seed=2)
    assert (a.columns["attacker_losses"] != b.columns["attacker_losses"]).mean() > 0.99
