"""Same scenario and seed: identical results, whatever the block size; another seed differs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from siege import simulate
from siege.rng import STREAM_BLOCK
from siege.scenario import scenario_from_dict

from conftest import scenario_data


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Tables equal column by column, NaN equal to NaN, and the same metadata."""
    if a.column_names != b.column_names or a.schema.metadata != b.schema.metadata:
        return False
    for name in a.column_names:
        x, y = a.column(name).to_numpy(), b.column(name).to_numpy()
        if x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


def test_same_seed_same_parquet_content_across_block_sizes(tmp_path: Path) -> None:
    sc = scenario_from_dict(scenario_data())
    tables = []
    for block in (STREAM_BLOCK, 2 * STREAM_BLOCK, 4 * STREAM_BLOCK):
        out = tmp_path / f"b{block}.parquet"
        simulate(sc, replications=9000, seed=11, block_size=block, out=out)
        tables.append((pq.read_table(out), pq.read_table(out.with_name(f"b{block}.bands.parquet"))))
    first, first_bands = tables[0]
    assert first.num_rows == 9000
    for table, bands in tables[1:]:
        assert _same(table, first)
        assert _same(bands, first_bands)


def test_different_seed_changes_results() -> None:
    sc = scenario_from_dict(scenario_data())
    a = simulate(sc, replications=1024, seed=1)
    b = simulate(sc, replications=1024, seed=2)
    c = simulate(sc, replications=1024, seed=1)
    assert not np.array_equal(a.columns["defender_losses"], b.columns["defender_losses"])
    assert np.array_equal(a.columns["defender_losses"], c.columns["defender_losses"])
