"""Percentile bands from fixed-bin histograms: bins found from the bits of each value, NaN left
out, percentiles within a bin of the exact ones and clamped to the day's range, blocks that
merge exactly (also after travelling sparsely between processes); exact means and standard
deviations whose sums do not depend on how replications were split into blocks."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

from siege.results.bands import BandAccumulator, MeasureSpec

LOG = MeasureSpec.log("strength", "personnel", 1.0, 2.0**27)
LINEAR = MeasureSpec("control", "fraction", "linear", 0.0, 1.0, 1000)
COUNT = MeasureSpec("routes_open", "routes", "count", 0, 3, 4)


@pytest.mark.parametrize("spec", [LOG, LINEAR, COUNT])
def test_every_value_falls_in_its_bin(spec: MeasureSpec) -> None:
    g = np.random.default_rng(1)
    if spec.kind == "log":
        values = g.lognormal(8.0, 2.0, 50_000)
    elif spec.kind == "linear":
        values = g.random(50_000)
    else:
        values = g.integers(0, 4, 50_000).astype(float)
    idx = spec.index(values)
    edges = spec.edges()
    inside = (values >= edges[idx]) & (values < edges[idx + 1])
    at_top = idx == spec.bins - 1  # values at or above the range's top are kept in the last bin
    assert np.all(inside | at_top)
    assert np.all(values[~inside] >= edges[-2])


def test_out_of_range_and_nan_values() -> None:
    values = np.array([0.0, -0.0, -5.0, 0.5, 1e12, np.inf, np.nan])
    assert LOG.index(values).tolist() == [0, 0, 0, 0, LOG.bins - 1, LOG.bins - 1, -1]
    assert LINEAR.index(np.array([-0.1, 0.0, 1.0, 1.5, np.nan])).tolist() == [0, 0, 999, 999, -1]
    assert COUNT.index(np.array([0.0, 1.0, 2.0, 3.0, np.nan])).tolist() == [0, 1, 2, 3, -1]
    with pytest.raises(ValueError, match="powers of two"):
        MeasureSpec.log("x", "u", 1.0, 1e8)


def test_percentiles_are_within_a_bin_of_the_exact_ones() -> None:
    """Log bins are at most 1/64 of an octave wide (1.6 %), linear ones 0.001: percentiles
    read off the histograms are that close to numpy's on the raw values (NaN left out)."""
    g = np.random.default_rng(2)
    n = 20_000
    strength = np.concatenate([g.lognormal(9.0, 1.0, n), [np.nan] * 50])
    control = np.concatenate([g.beta(2.0, 5.0, n), [np.nan] * 50])
    acc = BandAccumulator([LOG, LINEAR], 0)
    acc.add(0, [strength, control], np.arange(n + 50), (0, n + 50))
    q = acc.quantiles()[:, 0, :]
    exact_s = np.nanpercentile(strength, [5, 25, 50, 75, 95])
    exact_c = np.nanpercentile(control, [5, 25, 50, 75, 95])
    np.testing.assert_allclose(q[0], exact_s, rtol=2.0**-6)
    np.testing.assert_allclose(q[1], exact_c, atol=1e-3)
    assert acc.n_active[0] == n + 50 and acc.counts[0, 0].sum() == n


def test_blocks_merge_exactly_also_after_pickling() -> None:
    g = np.random.default_rng(3)
    values = [g.lognormal(8.0, 1.0, 3000), g.random(3000), g.integers(0, 4, 3000) * 1.0]
    whole = BandAccumulator([LOG, LINEAR, COUNT], 2)
    parts = [BandAccumulator([LOG, LINEAR, COUNT], 2) for _ in range(2)]
    ids = np.arange(3000)
    for day in range(3):
        whole.add(day, values, ids, (0, 3000))
        parts[0].add(day, [v[:1024] for v in values], ids[:1024], (0, 1024))
        parts[1].add(day, [v[1024:] for v in values], ids[1024:], (1024, 3000))
    merged = BandAccumulator([LOG, LINEAR, COUNT], 2)
    merged.merge(pickle.loads(pickle.dumps(parts[0])))  # sparse, as from a worker
    merged.merge(parts[1])  # dense
    assert np.array_equal(merged.counts, whole.counts)
    assert np.array_equal(merged.n_active, whole.n_active)
    np.testing.assert_array_equal(merged.quantiles(), whole.quantiles())
    np.testing.assert_array_equal(merged.mean_sd(), whole.mean_sd())


def test_bins_follow_the_kind_of_value_each_measure_is() -> None:
    """The model says what a measure is (count, fraction, ratio, amount in a unit); the bands
    choose the bins: one per count, 0.001 for fractions, 64 per octave for the rest."""
    from siege.results.bands import band_specs
    from siege.scenario import build_params, scenario_from_dict

    from conftest import scenario_data

    specs = {s.name: s for s in band_specs(build_params(scenario_from_dict(scenario_data())))}
    assert list(specs) == [
        "defender_strength", "attacker_strength", "exchange_ratio", "rolling_exchange_ratio",
        "days_of_supply", "routes_open", "encirclement_threat",
        "control_north", "control_town", "control_south", "defender_losses", "attacker_losses",
    ]
    assert specs["routes_open"] == MeasureSpec("routes_open", "routes", "count", 0, 2, 3)
    assert specs["control_town"] == MeasureSpec(
        "control_town", "attacker fraction", "linear", 0.0, 1.0, 1000)
    assert specs["defender_strength"] == MeasureSpec.log(
        "defender_strength", "personnel", 1.0, 2.0**27)
    assert specs["exchange_ratio"].low == 2.0**-10 and specs["days_of_supply"].high == 2.0**14


def _running(g: np.random.Generator, n: int, day: int) -> np.ndarray:
    """Ids of the replications still running on ``day`` of ``n`` (fewer each day)."""
    return np.flatnonzero(g.random(n) < 1.0 - 0.2 * day)


def test_moments_do_not_depend_on_blocks_or_merge_order() -> None:
    """Sums are taken in one order fixed by the replication ids, so whole runs, blocks of any
    (cell-aligned) size merged in any order, and blocks that skip ended replications give
    the same mean and sd bit for bit."""
    g = np.random.default_rng(7)
    n, days = 5000, 4
    running = [_running(g, n, d) for d in range(days)]
    data = [[g.lognormal(8.0, 1.0, n), g.random(n), g.integers(0, 4, n) * 1.0]
            for _ in range(days)]
    specs = [LOG, LINEAR, COUNT]

    def run(bounds: list[int], order: list[int]) -> BandAccumulator:
        blocks = []
        for first, end in itertools.pairwise(bounds):
            acc = BandAccumulator(specs, days - 1)
            for d in range(days):
                ids = running[d][(running[d] >= first) & (running[d] < end)]
                acc.add(d, [v[ids] for v in data[d]], ids, (first, end))
            blocks.append(pickle.loads(pickle.dumps(acc)))
        total = BandAccumulator(specs, days - 1)
        for i in order:
            total.merge(blocks[i])
        return total

    whole = run([0, n], [0])
    for bounds, order in (([0, 64, 4096, n], [2, 0, 1]), ([0, 1024, 2048, 3072, n], [3, 1, 2, 0]),
                          ([0, 4992, n], [1, 0])):
        other = run(bounds, order)
        np.testing.assert_array_equal(other.mean_sd(), whole.mean_sd())
        np.testing.assert_array_equal(other.quantiles(), whole.quantiles())
    mean, sd = whole.mean_sd()
    for d in range(days):
        for j in range(3):
            values = data[d][j][running[d]]
            np.testing.assert_allclose(mean[j, d], values.mean(), rtol=1e-12)
            np.testing.assert_allclose(sd[j, d], values.std(), rtol=1e-9)


def test_blocks_must_start_on_a_cell() -> None:
    acc = BandAccumulator([LOG], 0)
    with pytest.raises(ValueError, match="not on a cell"):
        acc.add(0, [np.ones(3)], np.arange(10, 13), (10, 13))


def test_a_constant_day_reports_its_value_exactly_in_every_column() -> None:
    """A value off the bins' edges, the same for every replication: every percentile (read off
    a bin ~1 % wide, then clamped to the day's range), the mean and min and max are that value
    and the sd is 0, exactly."""
    value, fraction = 15_000.0 + 1.0 / 3.0, 0.05
    acc = BandAccumulator([LOG, LINEAR], 1)
    ids = np.arange(4097)
    acc.add(0, [np.full(4097, value), np.full(4097, fraction)], ids, (0, 4097))
    acc.add(1, [np.array([7.0, 9.0]), np.array([0.0, 1.0])], ids[:2], (0, 4097))
    q = acc.quantiles()
    assert np.all(q[0, 0] == value) and np.all(q[1, 0] == fraction)
    mean, sd = acc.mean_sd()
    assert mean[0, 0] == value and mean[1, 0] == fraction and sd[0, 0] == sd[1, 0] == 0.0
    assert acc.moments.low[0, 0] == acc.moments.high[0, 0] == value
    assert q[0, 1].min() >= 7.0 and q[0, 1].max() <= 9.0  # percentiles stay within the range
    assert mean[0, 1] == 8.0 and sd[0, 1] == 1.0


def test_infinite_and_missing_values_in_the_moments() -> None:
    """NaN is no value (left out); an infinite value makes the mean infinite and the sd
    NaN; a day with no value at all reports NaN."""
    acc = BandAccumulator([MeasureSpec.log("ratio", "x", 2.0**-10, 2.0**10)], 2)
    ids = np.arange(3)
    acc.add(0, [np.array([1.0, np.nan, 3.0])], ids, (0, 3))
    acc.add(1, [np.array([1.0, np.inf, 3.0])], ids, (0, 3))
    acc.add(2, [np.array([np.nan, np.nan, np.nan])], ids, (0, 3))
    mean, sd = acc.mean_sd()
    assert mean[0, 0] == 2.0 and sd[0, 0] == 1.0
    assert mean[0, 1] == np.inf and np.isnan(sd[0, 1]) and acc.moments.high[0, 1] == np.inf
    assert np.isnan(mean[0, 2]) and np.isnan(sd[0, 2])


def test_a_single_trajectory_added_at_once_equals_day_by_day() -> None:
    g = np.random.default_rng(4)
    values = np.vstack([g.lognormal(5.0, 1.0, 6), g.random(6), np.array([1, 2, 0, 1, 2, np.nan])])
    one = BandAccumulator([LOG, LINEAR, COUNT], 6)
    for day in range(6):
        one.add(day, list(values[:, day : day + 1]), np.zeros(1, dtype=np.int64), (0, 1))
    at_once = BandAccumulator([LOG, LINEAR, COUNT], 6)
    at_once.add_trajectory(np.arange(6), values, 0)
    assert np.array_equal(one.counts, at_once.counts)
    np.testing.assert_array_equal(one.mean_sd(), at_once.mean_sd())
    np.testing.assert_array_equal(one.quantiles(), at_once.quantiles())
    np.testing.assert_array_equal(one.quantiles()[:2, :6, 2], values[:2])  # exactly the values


def test_percentile_resolution_describes_the_bins() -> None:
    assert LOG.resolution()["relative_width"] == 2.0**-6
    assert LINEAR.resolution()["width"] == 0.001
    assert COUNT.resolution() == {"bins": "count", "width": 1}


def _bands_frame(result: object) -> object:
    return result.bands.table().to_pandas()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("engine", "replications", "layouts"), [
    ("batch", 9000, [(1, 65536), (2, 4096), (2, 3 * 4096)]),
    ("event", 140, [(1, 140), (2, 64)]),
])
@pytest.mark.slow  # the same run in several layouts
def test_bands_identical_across_workers_and_block_sizes(
    engine: str, replications: int, layouts: list[tuple[int, int]]
) -> None:
    """Every column of the bands, the exact mean and sd included, is the same bit for bit
    whatever the blocks and the workers, in both stochastic engines."""
    from siege import load_scenario, simulate

    from conftest import ROOT

    scenario = load_scenario(ROOT / "scenarios" / "bakhmut.toml")
    if engine == "event":
        scenario = scenario.with_overrides({"simulation.horizon_days": 30.0})
    frames = [
        _bands_frame(simulate(scenario, replications=replications, seed=3, engine=engine,
                              workers=workers, block_size=block))
        for workers, block in layouts
    ]
    for frame in frames[1:]:
        assert frame.equals(frames[0])  # type: ignore[attr-defined]
