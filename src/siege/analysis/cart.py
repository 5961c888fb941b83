"""CART beside PRIM (``siege discover --cart``): a classification tree
(``sklearn.tree.DecisionTreeClassifier``, an optional dependency: ``pip install
'siege-model[cart]'``) over the same points and counts, whose leaves are boxes too.

Each point enters twice, as a case that satisfies the condition weighted by its ``k`` and one
that does not weighted by ``n - k``, so the tree splits the replications, not the points. A
categorical lever enters as one 0/1 column per level. Every leaf holds at least ``mass_min``
of the replications. Leaves are returned densest first, with coverage and density (Wilson
interval) computed from the counts as PRIM's boxes are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.analysis.prim import Allowed, Lever
from siege.errors import DiscoverError
from siege.results.summary import wilson_interval


@dataclass(frozen=True)
class Leaf:
    """A leaf of the tree as a box: the values it keeps per lever and its statistics."""

    allowed: Allowed
    n_points: int
    hits: int
    trials: int
    coverage: float
    density: float
    density_low: float
    density_high: float


def _features(levers: Sequence[Lever]) -> tuple[NDArray[np.float64], list[tuple[int, int | None]]]:
    """The tree's feature matrix ``(n_points, n_features)`` and, per feature, its lever and
    (for a categorical lever's 0/1 column) its level."""
    columns: list[NDArray[np.float64]] = []
    owners: list[tuple[int, int | None]] = []
    for j, lever in enumerate(levers):
        if lever.categorical:
            for level in range(len(lever.levels)):
                columns.append((lever.codes == level).astype(float))
                owners.append((j, level))
        else:
            columns.append(np.asarray(lever.levels, dtype=float)[lever.codes])
            owners.append((j, None))
    return np.stack(columns, axis=1), owners


def cart_leaves(levers: Sequence[Lever], k: NDArray[np.int64], n: NDArray[np.int64], *,
                mass_min: float = 0.05, seed: int = 0) -> list[Leaf]:
    """The leaves of a classification tree of the replications over the levers, densest
    first. Raises DiscoverError when scikit-learn is not installed."""
    try:
        from sklearn.tree import DecisionTreeClassifier
    except ImportError:
        raise DiscoverError("cart: CART needs scikit-learn, which is not installed: "
                            "pip install scikit-learn (or the extra siege-model[cart])",
                            parameter="cart") from None
    x, owners = _features(levers)
    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    points = len(k)
    tree = DecisionTreeClassifier(min_weight_fraction_leaf=mass_min, random_state=seed)
    tree.fit(np.vstack([x, x]), np.r_[np.ones(points), np.zeros(points)],
             sample_weight=np.r_[k, n - k].astype(float))
    structure: Any = tree.tree_
    leaves = []

    def walk(node: int, allowed: list[NDArray[np.bool_]]) -> None:
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:  # a leaf
            leaves.append(_leaf(levers, tuple(allowed), k, n))
            return
        j, level = owners[structure.feature[node]]
        cut = structure.threshold[node]
        lever = levers[j]
        values = (np.arange(len(lever.levels)) == level) if level is not None else np.asarray(
            lever.levels, dtype=float)
        for child, keep in ((left, values <= cut), (right, values > cut)):
            inner = [a.copy() for a in allowed]
            inner[j] &= keep
            walk(child, inner)

    walk(0, [np.ones(len(lv.levels), dtype=bool) for lv in levers])
    return sorted(leaves, key=lambda leaf: -leaf.density)


def _leaf(levers: Sequence[Lever], allowed: Allowed, k: NDArray[np.int64],
          n: NDArray[np.int64]) -> Leaf:
    inside = np.all([a[lv.codes] for lv, a in zip(levers, allowed, strict=True)], axis=0)
    hits, trials = int(k[inside].sum()), int(n[inside].sum())
    low, high = wilson_interval(hits, trials)
    return Leaf(allowed, int(inside.sum()), hits, trials, hits / max(1, int(k.sum())),
                hits / trials if trials else float("nan"), low, high)
