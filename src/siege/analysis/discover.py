"""Scenario discovery over a sweep store (``siege discover``): count, at each finished point,
the replications that satisfy a condition (:mod:`siege.analysis.conditions`), then find with
PRIM (:mod:`siege.analysis.prim`) the region of the sweep's levers where the condition is
likely, and bootstrap how often its restrictions come back.

A paired condition (its columns name a lever's values, ``end_reason[P=A] in [...]``) compares
points that differ only in the lever ``P``, replication by replication; that needs common
random numbers (the store's default) and a design that holds such pairs (a grid over ``P``
and the others). Its PRIM runs over the other levers, one row per complete pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.analysis.cart import Leaf, cart_leaves
from siege.analysis.conditions import Column, Condition, check_columns, evaluate, parse_condition
from siege.analysis.prim import (
    Lever,
    PrimOptions,
    Trajectory,
    bootstrap_sides,
    box_limits,
    default_box,
    prim,
)
from siege.errors import DiscoverError
from siege.model.rules import END_REASONS


@dataclass(frozen=True)
class PointCounts:
    """Per row (a point, or a complete pair of points): the levers' values as codes, and
    ``k`` of ``n`` replications satisfying the condition, ``(n_rows,)`` each."""

    levers: tuple[Lever, ...]
    points: tuple[tuple[int, ...], ...]  # the store's point(s) of each row
    k: NDArray[np.int64]
    n: NDArray[np.int64]
    notes: tuple[str, ...] = ()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _lever(spec: dict[str, Any], values: list[Any]) -> Lever:
    """A lever from its sweep parameter ``spec`` and the rows' values."""
    path = spec["path"]
    listed = spec.get("values")
    if listed is not None and not all(_is_number(v) for v in listed):
        levels = tuple(listed)
        codes = np.array([levels.index(v) for v in values], dtype=np.intp)
        return Lever(path, levels, codes, categorical=True)
    unique, codes = np.unique(np.asarray(values, dtype=float), return_inverse=True)
    return Lever(path, tuple(float(u) for u in unique), codes.astype(np.intp))


def _same(a: Any, b: Any) -> bool:
    """A design value equals a selector's value (numbers as numbers)."""
    if _is_number(a) and _is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b) and type(a) is type(b)


def count_points(store: str | Path, condition: Condition) -> PointCounts:
    """Count, at each finished point of a sweep store (or each complete pair, for a paired
    condition), the replications that satisfy ``condition``. Raises DiscoverError for a
    condition the store cannot answer and SweepError for a store that cannot be read."""
    from siege.run.store_read import open_store, outcome_columns, read_outcomes

    contents = open_store(store)
    specs = {p["path"]: p for p in contents.manifest["sweep"]["parameter"]}
    design = contents.design.to_pydict()
    done = [i for i, s in enumerate(design["status"]) if s == "done"]
    notes = []
    if len(done) < len(design["status"]):
        notes.append(f"{len(design['status']) - len(done)} of {len(design['status'])} points "
                     "are not finished and are left out")
    if not done:
        raise DiscoverError(f"store {contents.root}: no finished point to analyse",
                            parameter="store")
    names = sorted({c.name for c in condition.columns})
    numeric = {n: "" for n in outcome_columns(contents.root)
               if n not in ("replication", "end_reason")}
    check_columns(condition, numeric, END_REASONS)
    table = read_outcomes(contents.root, ["replication", *names])
    table = table.sort_by([("point", "ascending"), ("replication", "ascending")])
    points = np.asarray(table.column("point").to_numpy(), dtype=np.int64)
    wanted = np.isin(points, done)
    replications = int(contents.manifest["replications"])
    row_of = {p: i for i, p in enumerate(done)}
    if int(wanted.sum()) != replications * len(done):
        raise DiscoverError(f"store {contents.root}: finished points hold other than "
                            f"{replications} replications each; run `siege store check`",
                            parameter="store")

    def matrix(name: str) -> NDArray[Any]:
        column = table.column(name)
        values = (np.asarray(column.to_pylist(), dtype=object) if name == "end_reason"
                  else np.asarray(column.to_numpy(zero_copy_only=False), dtype=float))
        return values[wanted].reshape(len(done), replications)

    columns = {name: matrix(name) for name in names}
    path = condition.pair_path
    if path is None:
        hits = evaluate(condition.tree, {Column(n): columns[n] for n in names})
        levers = tuple(_lever(specs[p], [design[p][i] for i in done]) for p in specs)
        k = hits.sum(axis=1).astype(np.int64)
        return PointCounts(levers, tuple((i,) for i in done), k,
                           np.full(len(done), replications, dtype=np.int64), tuple(notes))
    return _paired(condition, path, specs, design, done, row_of, columns, replications, notes,
                   contents.manifest)


def _paired(condition: Condition, path: str, specs: dict[str, Any], design: dict[str, list[Any]],
            done: list[int], row_of: dict[int, int], columns: dict[str, NDArray[Any]],
            replications: int, notes: list[str], manifest: dict[str, Any]) -> PointCounts:
    """Counts of a paired condition, one row per group of points that differ only in
    ``path`` and hold every value the condition names."""
    if path not in specs:
        raise DiscoverError(f"where: '{path}' is not a lever of this sweep; its levers are "
                            f"{', '.join(specs)}", parameter="where")
    if not manifest.get("common_random_numbers", True):
        raise DiscoverError("where: a paired condition compares replications of two points "
                            "seed by seed, but this sweep ran without common random numbers",
                            parameter="where")
    wanted = condition.pair_values
    present = list(dict.fromkeys(design[path][i] for i in done))
    for value in wanted:
        if not any(_same(v, value) for v in present):
            shown = ", ".join(f"{v:.6g}" if _is_number(v) else str(v) for v in present[:8])
            more = f", ... ({len(present)} values)" if len(present) > 8 else ""
            raise DiscoverError(f"where: lever {path} never takes the value {value} in this "
                                f"sweep's finished points; it takes {shown}{more}",
                                parameter="where")
    others = [p for p in specs if p != path]
    groups: dict[tuple[Any, ...], dict[int, int]] = {}
    for i in done:
        key = tuple(repr(design[p][i]) for p in others)
        for slot, value in enumerate(wanted):
            if _same(design[path][i], value):
                groups.setdefault(key, {})[slot] = i
    complete = [g for g in groups.values() if len(g) == len(wanted)]
    if not complete:
        raise DiscoverError(
            f"where: no two finished points differ only in {path}, so there is nothing to "
            "pair; a paired condition needs a grid design (method = \"grid\") or the same "
            "values of the other levers at each of its values", parameter="where")
    if len(complete) < len(groups):
        notes.append(f"{len(groups) - len(complete)} groups of points lack one of the paired "
                     f"values of {path} and are left out")
    frame = {}
    for c in condition.columns:
        assert c.select is not None
        slot = wanted.index(c.select[1])
        rows = np.array([row_of[g[slot]] for g in complete], dtype=np.intp)
        frame[c] = columns[c.name][rows]
    hits = evaluate(condition.tree, frame)
    first = [g[0] for g in complete]
    levers = tuple(_lever(specs[p], [design[p][i] for i in first]) for p in others)
    return PointCounts(levers, tuple(tuple(g[s] for s in range(len(wanted))) for g in complete),
                       hits.sum(axis=1).astype(np.int64),
                       np.full(len(complete), replications, dtype=np.int64), tuple(notes))


@dataclass(frozen=True)
class Discovery:
    """What ``siege discover`` found: the condition, the counts, PRIM's trajectory, the box
    inspected and (with resamples) the share of bootstrap resamples reproducing each of its
    restrictions, by ``(path, side)``."""

    store: Path
    condition: str
    pair_path: str | None
    counts: PointCounts
    trajectory: Trajectory
    box: int
    reproduced: dict[tuple[str, str], float] = field(default_factory=dict)
    resamples: int = 0
    seed: int = 0
    cart: tuple[Leaf, ...] = ()

    def restrictions(self, index: int) -> dict[str, list[Any]]:
        """The box's limits {path: [low, high]} of numeric levers, or {path: [levels...]} of
        categorical ones, for the levers it restricts."""
        return box_limits(self.trajectory.levers, self.trajectory.boxes[index].allowed)

    def box_dict(self, index: int) -> dict[str, Any]:
        """One box as plain data (the ``--json`` form)."""
        box = self.trajectory.boxes[index]
        levers = self.trajectory.levers
        limits = self.restrictions(index)
        out: dict[str, Any] = {
            "index": index,
            "coverage": box.coverage,
            "density": box.density,
            "density_low": box.density_low,
            "density_high": box.density_high,
            "mass": box.mass,
            "n_points": box.n_points,
            "hits": box.hits,
            "replications": box.trials,
            "restricted_dimensions": len(box.restricted),
            **self._split(limits),
            "quasi_p": {levers[j].path: p for j, p in box.quasi_p.items()},
            "pasted": box.pasted,
        }
        if index == self.box and self.resamples:
            out["reproduced"] = {f"{p}:{side}": share
                                 for (p, side), share in self.reproduced.items()}
        return out

    @property
    def categorical(self) -> set[str]:
        """Paths of the levers whose values are words (restricted to subsets of levels)."""
        return {lv.path for lv in self.trajectory.levers if lv.categorical}

    def _split(self, limits: dict[str, list[Any]]) -> dict[str, dict[str, list[Any]]]:
        """Limits split into numeric ``restrictions`` and categorical ``levels``."""
        words = self.categorical
        return {"restrictions": {p: v for p, v in limits.items() if p not in words},
                "levels": {p: v for p, v in limits.items() if p in words}}

    def leaf_dict(self, leaf: Leaf) -> dict[str, Any]:
        """A CART leaf as plain data (keys as a box's)."""
        return {"coverage": leaf.coverage, "density": leaf.density,
                "density_low": leaf.density_low, "density_high": leaf.density_high,
                "n_points": leaf.n_points, "hits": leaf.hits, "replications": leaf.trials,
                **self._split(box_limits(self.trajectory.levers, leaf.allowed))}

    def to_dict(self) -> dict[str, Any]:
        """The discovery as plain data: ``boxes`` (the box inspected), ``trajectory`` (every
        box), the settings and the counts."""
        opts = self.trajectory.options
        return {
            "store": str(self.store),
            "condition": self.condition,
            "paired_over": self.pair_path,
            "levers": [lv.path for lv in self.trajectory.levers],
            "rows": len(self.counts.k),
            "replications": int(self.counts.n.sum()),
            "satisfied": int(self.counts.k.sum()),
            "peel_alpha": opts.peel_alpha,
            "paste_alpha": opts.paste_alpha,
            "mass_min": opts.mass_min,
            "box": self.box,
            "bootstrap_resamples": self.resamples,
            "seed": self.seed,
            "notes": list(self.counts.notes),
            "boxes": [self.box_dict(self.box)],
            "trajectory": [self.box_dict(b.index) for b in self.trajectory.boxes],
            "cart": [self.leaf_dict(leaf) for leaf in self.cart],
        }


def discover(store: str | Path, where: str, *, options: PrimOptions | None = None,
             box: int | None = None, resamples: int = 200, seed: int = 0,
             cart: bool = False) -> Discovery:
    """Scenario discovery on a sweep store: parse ``where``, count each point's
    replications satisfying it, run PRIM, inspect ``box`` (default:
    :func:`~siege.analysis.prim.default_box`) and bootstrap its restrictions with
    ``resamples`` resamples seeded by ``seed`` (0: no bootstrap); with ``cart``, also the
    leaves of a classification tree (:mod:`siege.analysis.cart`, needs scikit-learn)."""
    condition = parse_condition(where)
    if resamples < 0:
        raise DiscoverError(f"resamples: must be 0 or more (got {resamples})",
                            parameter="resamples")
    counts = count_points(store, condition)
    trajectory = prim(counts.levers, counts.k, counts.n, options)
    last = len(trajectory.boxes) - 1
    if box is not None and not 0 <= box <= last:
        raise DiscoverError(f"box: the trajectory has boxes 0 to {last} (got {box})",
                            parameter="box")
    chosen = default_box(trajectory) if box is None else box
    reproduced = (bootstrap_sides(trajectory, chosen, counts.k, counts.n, resamples, seed)
                  if resamples else {})
    leaves = tuple(cart_leaves(counts.levers, counts.k, counts.n,
                               mass_min=trajectory.options.mass_min, seed=seed)) if cart else ()
    return Discovery(Path(store), where, condition.pair_path, counts, trajectory, chosen,
                     reproduced, resamples, seed, leaves)
