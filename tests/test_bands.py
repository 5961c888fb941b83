"""Percentile bands from fixed-bin histograms: bins found from the bits of each value, NaN left
out, percentiles within a bin of the exact ones, and blocks that merge exactly (also after
travelling sparsely between processes)."""

from __future__ import annotations

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
    acc.add(0, [strength, control])
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
    for day in range(3):
        whole.add(day, values)
        parts[0].add(day, [v[:1000] for v in values])
        parts[1].add(day, [v[1000:] for v in values])
    merged = BandAccumulator([LOG, LINEAR, COUNT], 2)
    merged.merge(pickle.loads(pickle.dumps(parts[0])))  # sparse, as from a worker
    merged.merge(parts[1])  # dense
    assert np.array_equal(merged.counts, whole.counts)
    assert np.array_equal(merged.n_active, whole.n_active)
    np.testing.assert_array_equal(merged.quantiles(), whole.quantiles())


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
        "control_north", "control_town", "control_south",
    ]
    assert specs["routes_open"] == MeasureSpec("routes_open", "routes", "count", 0, 2, 3)
    assert specs["control_town"] == MeasureSpec(
        "control_town", "attacker fraction", "linear", 0.0, 1.0, 1000)
    assert specs["defender_strength"] == MeasureSpec.log(
        "defender_strength", "personnel", 1.0, 2.0**27)
    assert specs["exchange_ratio"].low == 2.0**-10 and specs["days_of_supply"].high == 2.0**14
