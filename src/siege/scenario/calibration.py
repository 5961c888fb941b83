"""Calibration files: a base scenario, priors on its parameters and the targets it is fitted to.

A calibration file (TOML) names the scenario (relative to the file), a seed, the replications
simulated per proposed parameter set, the ``[abc]`` settings of the fit, ``[[prior]]`` tables
(a dotted scenario path, as in sweeps, and a distribution) and ``[[target]]`` tables (see
:mod:`siege.scenario.targets`). :func:`load_calibration` checks everything before anything
runs: every error is a :class:`~siege.errors.CalibrationError` naming the file, the key and
the line. A prior must stay inside what the schema allows for its path (its support's ends,
set alone on the scenario, must give a valid scenario) and its path must be one that can take
a value per replication (:func:`~siege.scenario.compile.why_not_varied`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siege.errors import CalibrationError, ScenarioError
from siege.scenario.compile import why_not_varied
from siege.scenario.load import load_scenario
from siege.scenario.paths import KeyedError, resolve_path, thaw
from siege.scenario.read import read_toml
from siege.scenario.schema import Scenario
from siege.scenario.targets import Target, parse_targets
from siege.scenario.validate import find_line

#: distribution -> its parameters, in the order they are written
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),  # of the value itself, not of its logarithm
    "truncnormal": ("mean", "sd", "low", "high"),  # mean and sd before truncation
    "gamma": ("shape", "rate"),
}
#: perturbation kernels of ABC-SMC (see siege.analysis.abc)
KERNELS = ("twice_covariance", "olcm")
TINY = 5e-324  # the smallest positive float: where a prior on (0, inf) starts


@dataclass(frozen=True)
class Prior:
    """A prior on one scenario path: a distribution from :data:`DISTRIBUTIONS` and its
    parameters (in the path's unit)."""

    path: str
    distribution: str
    parameters: Mapping[str, float]

    def support(self) -> tuple[float, float]:
        """Lowest and highest value the prior can give (0 for an open end at zero)."""
        p = self.parameters
        if self.distribution in ("uniform", "loguniform", "truncnormal"):
            return p["low"], p["high"]
        if self.distribution == "normal":
            return -math.inf, math.inf
        return 0.0, math.inf

    def describe(self) -> str:
        """``loguniform(0.002, 0.02)``."""
        args = ", ".join(f"{self.parameters[k]:g}" for k in DISTRIBUTIONS[self.distribution])
        return f"{self.distribution}({args})"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "distribution": self.distribution, **self.parameters}


@dataclass(frozen=True)
class AbcSettings:
    """The ``[abc]`` table: population size, tolerance schedule, kernel and stopping rules.

    Only ``population``, ``quantile`` and ``kernel`` shape the generations; the stopping rules
    decide where a run stops, so a resumed run may change them."""

    population: int = 500
    quantile: float = 0.5  # next tolerance: this quantile of the last population's distances
    kernel: str = "twice_covariance"
    max_generations: int = 10
    min_tolerance: float = 0.0
    max_simulations: int = 1_000_000  # replications simulated, all generations together
    min_acceptance: float = 0.01
    max_wall_time_s: float = math.inf

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Calibration:
    """A checked calibration file."""

    file: Path
    text: str
    scenario: Scenario  # the base scenario, resolved
    scenario_file: Path
    seed: int
    replications_per_particle: int
    abc: AbcSettings
    priors: tuple[Prior, ...]
    targets: tuple[Target, ...]
    description: str = ""

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.priors]

    def defining(self) -> dict[str, Any]:
        """What the generations depend on (not the stopping rules): the base scenario's hash,
        seed, replications per particle, population, quantile, kernel, priors and targets."""
        return {
            "scenario_sha256": self.scenario.sha256(),
            "seed": self.seed,
            "replications_per_particle": self.replications_per_particle,
            "population": self.abc.population,
            "quantile": self.abc.quantile,
            "kernel": self.abc.kernel,
            "priors": [p.to_dict() for p in self.priors],
            "targets": [t.to_dict() for t in self.targets],
        }

    def sha256(self) -> str:
        """Hash of :meth:`defining` (a store refuses to resume another calibration)."""
        text = json.dumps(self.defining(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


_TOP_KEYS = ("scenario", "description", "seed", "replications_per_particle", "abc", "prior",
             "target")
MAX_REPLICATIONS_PER_PARTICLE = 1000
MAX_POPULATION = 100_000


def load_calibration(path: str | Path, *, scenario: Scenario | None = None) -> Calibration:
    """Read and check a calibration file; ``scenario`` replaces the file's base scenario (a
    store's copy of it, when the scenario file has changed or gone)."""
    file = Path(path)
    data, text = read_toml(file, what="calibration")
    return parse_calibration(data, file, text, scenario=scenario)


class _Where:
    """Raises errors at a location of the file: its name, the dotted key and the line."""

    def __init__(self, file: Path, text: str) -> None:
        self.file, self.text = file, text

    def error(self, loc: tuple[Any, ...], message: str) -> CalibrationError:
        key = ""
        for part in loc:
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        return CalibrationError(message, file=str(self.file), key=key or None,
                                line=find_line(self.text, loc) if loc else None)

    def number(self, value: Any, loc: tuple[Any, ...], *, low: float = -math.inf,
               high: float = math.inf, above: bool = False, finite: bool = True) -> float:
        """A number in ``[low, high]`` (``(low, high]`` with ``above``)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise self.error(loc, f"must be a number (got {value!r})")
        if finite and not math.isfinite(value):
            raise self.error(loc, f"must be a finite number (got {value})")
        if value < low or value > high or (above and value == low):
            side = f"above {low:g}" if above else f"at least {low:g}"
            bound = side if math.isinf(high) else f"{side} and at most {high:g}"
            raise self.error(loc, f"must be {bound} (got {value:g})")
        return float(value)

    def whole(self, value: Any, loc: tuple[Any, ...], *, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(loc, f"must be a whole number (got {value!r})")
        if not low <= value <= high:
            raise self.error(loc, f"must be from {low:,} to {high:,} (got {value:,})")
        return value

    def unknown(self, table: Mapping[str, Any], allowed: tuple[str, ...],
                loc: tuple[Any, ...]) -> None:
        for key in table:
            if key not in allowed:
                raise self.error((*loc, key), f"unknown key; allowed: {', '.join(allowed)}")


def parse_calibration(
    data: Mapping[str, Any], file: Path, text: str, *, scenario: Scenario | None = None
) -> Calibration:
    """Check a calibration document (parsed TOML, ``text`` its source) whose scenario path is
    relative to ``file``."""
    at = _Where(file, text)
    at.unknown(data, _TOP_KEYS, ())
    ref = data.get("scenario")
    if not isinstance(ref, str) or not ref:
        raise at.error(("scenario",), "give the base scenario file, relative to this file")
    scenario_file = (file.parent / ref).resolve()
    if scenario is None:
        try:
            scenario = load_scenario(scenario_file)
        except ScenarioError as exc:
            raise at.error(("scenario",), f"base scenario: {exc}") from None
    description = data.get("description", "")
    if not isinstance(description, str):
        raise at.error(("description",), "must be text")
    seed = at.whole(data.get("seed", scenario.simulation.seed), ("seed",), low=0,
                    high=2**63 - 1)
    reps = at.whole(data.get("replications_per_particle", 1), ("replications_per_particle",),
                    low=1, high=MAX_REPLICATIONS_PER_PARTICLE)
    abc = _settings(data.get("abc", {}), at)
    raw_priors = data.get("prior", [])
    if not isinstance(raw_priors, list) or not raw_priors:
        raise at.error(("prior",), "give at least one [[prior]] table")
    priors = _priors(raw_priors, scenario, at)
    targets = parse_targets(data.get("target"), scenario, at.error)
    return Calibration(
        file=file, text=text, scenario=scenario, scenario_file=scenario_file, seed=seed,
        replications_per_particle=reps, abc=abc, priors=priors, targets=targets,
        description=description,
    )


def located_errors(file: Path, text: str) -> Callable[[tuple[Any, ...], str],
                                                      CalibrationError]:
    """Errors at a key path of ``file`` (its source ``text``), naming the key and its line:
    what :func:`~siege.scenario.targets.parse_targets` raises for a file of targets."""
    return _Where(file, text).error


def check_priors(raw: list[Any], scenario: Scenario, file: Path, text: str
                 ) -> tuple[Prior, ...]:
    """The ``[[prior]]`` tables ``raw`` of ``file`` (source ``text``), checked against
    ``scenario`` as a calibration file's are: each prior, one per path, and a route's restore
    level below its cut level."""
    return _priors(raw, scenario, _Where(file, text))


def _priors(raw: list[Any], scenario: Scenario, at: _Where) -> tuple[Prior, ...]:
    priors = tuple(_prior(table, i, scenario, at) for i, table in enumerate(raw))
    seen: dict[str, int] = {}
    for i, prior in enumerate(priors):
        if prior.path in seen:
            raise at.error(("prior", i, "path"), f"'{prior.path}' already has a prior "
                           f"(prior[{seen[prior.path]}])")
        seen[prior.path] = i
    _check_pairs(priors, at)
    return priors


def check_prior(raw: Any, i: int, scenario: Scenario, file: Path, text: str) -> Prior:
    """The ``[[prior]]`` table ``raw`` (the ``i``-th of ``file``, source ``text``), checked
    against ``scenario`` as a calibration file's priors are."""
    return _prior(raw, i, scenario, _Where(file, text))


def _settings(raw: Any, at: _Where) -> AbcSettings:
    if not isinstance(raw, dict):
        raise at.error(("abc",), "must be a table")
    at.unknown(raw, tuple(AbcSettings.__dataclass_fields__), ("abc",))
    base = AbcSettings()
    kernel = raw.get("kernel", base.kernel)
    if kernel not in KERNELS:
        raise at.error(("abc", "kernel"), f"{kernel!r} is not a kernel; choose from "
                       f"{', '.join(KERNELS)}")

    def get(key: str) -> Any:
        return raw.get(key, getattr(base, key))

    return AbcSettings(
        population=at.whole(get("population"), ("abc", "population"), low=2,
                            high=MAX_POPULATION),
        quantile=at.number(get("quantile"), ("abc", "quantile"), low=0.0, high=0.99,
                           above=True),
        kernel=kernel,
        max_generations=at.whole(get("max_generations"), ("abc", "max_generations"), low=1,
                                 high=1000),
        min_tolerance=at.number(get("min_tolerance"), ("abc", "min_tolerance"), low=0.0),
        max_simulations=at.whole(get("max_simulations"), ("abc", "max_simulations"), low=1,
                                 high=10**12),
        min_acceptance=at.number(get("min_acceptance"), ("abc", "min_acceptance"), low=0.0,
                                 high=1.0, above=True),
        max_wall_time_s=at.number(get("max_wall_time_s"), ("abc", "max_wall_time_s"),
                                  low=0.0, above=True, finite=False),
    )


def _prior(raw: Any, i: int, scenario: Scenario, at: _Where) -> Prior:
    loc: tuple[Any, ...] = ("prior", i)
    if not isinstance(raw, dict):
        raise at.error(loc, "must be a table")
    dist = raw.get("distribution")
    if dist not in DISTRIBUTIONS:
        raise at.error((*loc, "distribution"), f"{dist!r} is not a distribution; choose from "
                       f"{', '.join(DISTRIBUTIONS)}")
    names = DISTRIBUTIONS[dist]
    at.unknown(raw, ("path", "distribution", *names), loc)
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        raise at.error((*loc, "path"), "give a dotted scenario path, e.g. "
                       "'sectors.north.advance_rate'")
    try:
        resolve_path(thaw(scenario.model_dump(mode="python")), path)
    except KeyedError as exc:
        raise at.error((*loc, "path"), exc.message) from None
    why = why_not_varied(scenario, path)
    if why is not None:
        raise at.error((*loc, "path"), why)
    values: dict[str, float] = {}
    for name in names:
        if name not in raw:
            raise at.error(loc, f"a {dist} prior needs {', '.join(names)}; '{name}' is missing")
        positive = name in ("sd", "shape", "rate") or (dist == "loguniform" and name == "low")
        values[name] = at.number(raw[name], (*loc, name), low=0.0 if positive else -math.inf,
                                 above=positive)
    if "low" in values and not values["low"] < values["high"]:
        raise at.error((*loc, "high"), f"high ({values['high']:g}) must be above low "
                       f"({values['low']:g})")
    if dist == "lognormal" and values["mean"] <= 0:
        raise at.error((*loc, "mean"), "a lognormal prior's mean must be above 0")
    prior = Prior(path, dist, values)
    _check_support(prior, scenario, at, loc)
    return prior


def _check_support(prior: Prior, scenario: Scenario, at: _Where, loc: tuple[Any, ...]) -> None:
    """Both ends of the prior's support, set alone on the scenario, must be valid values."""
    for end in prior.support():
        value = TINY if end == 0.0 and prior.distribution in ("lognormal", "gamma") else end
        try:
            scenario.with_overrides({prior.path: value}, source="prior")
        except ScenarioError as exc:
            shown = "values just above 0" if value == TINY else f"{value:g}"
            hint = " (a truncnormal prior keeps inside bounds)" if math.isinf(end) or \
                value == TINY else ""
            raise at.error(loc, f"the {prior.describe()} prior on '{prior.path}' reaches "
                           f"{shown}, which the scenario does not allow: {exc.detail}{hint}"
                           ) from None


def _check_pairs(priors: tuple[Prior, ...], at: _Where) -> None:
    """A route's ``restore_below_control`` must stay at or below its ``cut_at_control``."""
    by_path = {p.path: (i, p) for i, p in enumerate(priors)}
    for path, (i, prior) in by_path.items():
        if not path.endswith(".restore_below_control"):
            continue
        cut = by_path.get(path.removesuffix("restore_below_control") + "cut_at_control")
        if cut is not None and prior.support()[1] > cut[1].support()[0]:
            raise at.error(("prior", i), f"'{path}' can exceed '{cut[1].path}' (priors "
                           f"{prior.describe()} and {cut[1].describe()}); their ranges must "
                           "not overlap")
