"""Designs of a sweep: the points, over the varied parameters, at which the base scenario is
run, drawn as a sample of the unit cube and mapped onto each parameter's range or values.

A design method is a function ``(parameters, points, rng) -> unit sample (n_points, d)`` in
:data:`DESIGN_METHODS`; :func:`make_design` draws one with its seed and lays a Sobol' sample
out as Saltelli's A, B and AB_i matrices where Sobol' indices need them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.errors import SweepError

SCALES = ("linear", "log")


@dataclass(frozen=True)
class Parameter:
    """One varied scenario value: a ``[low, high]`` range on a linear or log scale, or a list
    of ``values``. ``integer`` rounds drawn values to whole numbers (for counts)."""

    path: str
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    values: tuple[Any, ...] | None = None
    levels: int = 3
    integer: bool = False

    def from_unit(self, u: NDArray[np.float64]) -> list[Any]:
        """Parameter values of unit-interval coordinates ``u`` ``(n,)``."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.values is not None:
            k = len(self.values)
            idx = np.minimum((u * k).astype(np.intp), k - 1)
            return [self.values[i] for i in idx]
        assert self.low is not None and self.high is not None
        if self.scale == "log":
            x = np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        if self.integer:
            return [int(v) for v in np.rint(x)]
        return [float(v) for v in x]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.values is not None:
            out["values"] = list(self.values)
        else:
            out.update(low=self.low, high=self.high, scale=self.scale, levels=self.levels)
        out["integer"] = self.integer
        return out


@dataclass(frozen=True)
class Design:
    """The points of a sweep: ``unit`` ``(n_points, d)`` coordinates in [0, 1], the
    parameter ``values`` of each point, and each point's ``role`` in a Saltelli layout
    (``A``, ``B`` or ``AB:<path>``; empty otherwise)."""

    method: str
    parameters: tuple[Parameter, ...]
    unit: NDArray[np.float64]
    values: list[dict[str, Any]]
    roles: list[str]
    base_points: int  # N of a Saltelli layout (A and B each have N rows); else n_points

    @property
    def n_points(self) -> int:
        return len(self.values)

    @property
    def saltelli(self) -> bool:
        return bool(self.roles and self.roles[0] == "A")


UnitSample = Callable[[tuple[Parameter, ...], int, np.random.Generator], NDArray[np.float64]]


def _grid(parameters: tuple[Parameter, ...], points: int, rng: np.random.Generator
          ) -> NDArray[np.float64]:
    """Every combination of the parameters' levels (``points`` is not used): a range's
    ``levels`` evenly spaced from low to high (its middle for one level), a list's values at
    the middles of their equal shares of [0, 1]."""
    def levels(p: Parameter) -> NDArray[np.float64]:
        if p.values is not None:
            return (np.arange(len(p.values)) + 0.5) / len(p.values)
        return np.array([0.5]) if p.levels == 1 else np.linspace(0.0, 1.0, p.levels)

    combos = list(itertools.product(*(levels(p) for p in parameters)))
    return np.array(combos, dtype=float).reshape(len(combos), len(parameters))


def _lhs(parameters: tuple[Parameter, ...], points: int, rng: np.random.Generator
         ) -> NDArray[np.float64]:
    """A Latin hypercube: each parameter's range cut in ``points`` strata, one point each."""
    from scipy.stats import qmc

    return np.asarray(qmc.LatinHypercube(d=len(parameters), rng=rng).random(points))


def _sobol(parameters: tuple[Parameter, ...], points: int, rng: np.random.Generator
           ) -> NDArray[np.float64]:
    """A scrambled Sobol' sequence (``points`` a power of 2)."""
    from scipy.stats import qmc

    return np.asarray(qmc.Sobol(d=len(parameters), scramble=True, rng=rng).random(points))


def _random(parameters: tuple[Parameter, ...], points: int, rng: np.random.Generator
            ) -> NDArray[np.float64]:
    """Independent uniform points."""
    return rng.random((points, len(parameters)))


#: Design methods: name -> the unit-cube sample ``(n_points, d)`` of ``points`` points over
#: the parameters, drawn with the generator given. A new design is a function and an entry.
DESIGN_METHODS: dict[str, UnitSample] = {
    "grid": _grid,
    "lhs": _lhs,
    "sobol": _sobol,
    "random": _random,
}


def make_design(
    parameters: tuple[Parameter, ...], method: str, points: int, seed: int, *,
    saltelli: bool = True,
) -> Design:
    """Points of a design over ``parameters`` (see :data:`DESIGN_METHODS`): ``grid`` (every
    combination of levels), ``lhs`` (Latin hypercube), ``sobol`` (scrambled Sobol'; with
    ``saltelli`` the A, B and AB_i matrices of N = ``points`` rows each, N·(d + 2) points in
    all) or ``random``."""
    sample = DESIGN_METHODS.get(method)
    if sample is None:
        raise SweepError(
            f"unknown design method '{method}'; choose from {', '.join(DESIGN_METHODS)}"
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    roles: list[str] = []
    if method == "sobol" and saltelli:
        ab = sample(parameters * 2, points, rng)  # A and B side by side: 2d dimensions
        a, b = ab[:, :len(parameters)], ab[:, len(parameters):]
        mats = [a, b]
        roles = ["A"] * points + ["B"] * points
        for i, p in enumerate(parameters):
            m = a.copy()
            m[:, i] = b[:, i]
            mats.append(m)
            roles += [f"AB:{p.path}"] * points
        unit = np.vstack(mats)
    else:
        unit = sample(parameters, points, rng)
    columns = [p.from_unit(unit[:, j]) for j, p in enumerate(parameters)]
    values = [
        {p.path: columns[j][i] for j, p in enumerate(parameters)} for i in range(unit.shape[0])
    ]
    return Design(method, parameters, unit, values, roles, points if roles else len(values))
