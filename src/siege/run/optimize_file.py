"""The optimization file of ``siege optimize``: a base scenario, the seed and replications every
candidate runs on, the levers (scenario paths, each a range, an integer range or a list of
``values``), the objectives and constraints (statistics of outcome measures) and the
``[search]`` and ``[racing]`` settings, and an optional ``[uncertainty]``: the ensemble
(a calibration posterior or a sweep design) every candidate is evaluated over
(:mod:`siege.run.optimize_ensemble`).

The file is read with a strict pydantic schema (unknown keys, wrong types and values out of
range are refused); :func:`load_optimization` then checks what the schema cannot: that the
scenario loads, every lever's path exists and its ends give a valid scenario, and every measure
is an outcome column of the scenario. Every error is an :class:`~siege.errors.OptimizeError`
naming the file, the key and the line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from siege.errors import OptimizeError, ScenarioError, SweepError
from siege.model.outcomes import computed_columns
from siege.model.rules import END_REASONS
from siege.run.design import Parameter
from siege.run.optimize_ensemble import Ensemble, load_ensemble
from siege.run.sweep_file import check_values
from siege.scenario import Scenario, build_params, load_scenario
from siege.scenario.read import read_toml
from siege.scenario.validate import find_line

STATISTICS = ("mean", "median", "q05", "q95", "probability")
ROBUST = ("mean", "q10", "q90", "min", "max")  # over an ensemble's members (analysis.pareto)
MAX_REPLICATIONS = 1_000_000  # per candidate, racing included
SEARCH_SEED_KEY = 0x0B7  # spawn key of the search's seed when [search] does not give one


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Search(_Strict):
    """``[search]``: the algorithm, its population and generations (the first generation is
    the initial sample), its seed, and the ε of the ε-progress count (a share of each
    objective's range over every evaluated candidate)."""

    algorithm: Literal["nsga2"] = "nsga2"
    population: int = Field(40, ge=4, le=10_000)
    generations: int = Field(30, ge=1, le=10_000)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    epsilon: float = Field(0.01, gt=0.0, lt=1.0)


class Racing(_Strict):
    """``[racing]``: the most replications a candidate near the front may reach, the
    confidence at which a pair's dominance counts as settled, and the bootstrap resamples."""

    max_replications: int | None = Field(None, ge=1, le=MAX_REPLICATIONS)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    resamples: int = Field(400, ge=100, le=10_000)


class Lever(_Strict):
    """``[[lever]]``: a scenario path and its range (``low``/``high``, ``integer``, ``scale``)
    or its ``values``."""

    path: str = Field(min_length=1)
    low: float | None = None
    high: float | None = None
    integer: bool = False
    scale: Literal["linear", "log"] = "linear"
    values: list[Any] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _range_or_values(self) -> Lever:
        if self.values is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either values or low/high, not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (a range) or values (a list of choices)")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0 (got {self.low:g})")
        return self

    def parameter(self) -> Parameter:
        values = tuple(self.values) if self.values is not None else None
        return Parameter(self.path, self.low, self.high, self.scale, values,
                         integer=self.integer)


class _Statistic(_Strict):
    measure: str = Field(min_length=1)
    statistic: Literal["mean", "median", "q05", "q95", "probability"]
    reasons: list[str] | None = Field(None, min_length=1)
    robust: Literal["mean", "q10", "q90", "min", "max"] = "mean"

    @model_validator(mode="after")
    def _reasons(self) -> _Statistic:
        if self.statistic == "probability":
            if self.measure != "end_reason" or self.reasons is None:
                raise ValueError("statistic 'probability' needs measure = \"end_reason\" and "
                                 "reasons = [...] (end reasons)")
            bad = [r for r in self.reasons if r not in END_REASONS]
            if bad:
                raise ValueError(f"unknown end reason '{bad[0]}'; allowed: "
                                 f"{', '.join(END_REASONS)}")
        elif self.reasons is not None:
            raise ValueError("reasons go with statistic = \"probability\" only")
        elif self.measure == "end_reason":
            raise ValueError("the end reason takes statistic = \"probability\" with reasons")
        return self

    @property
    def key(self) -> str:
        """``mean:attacker_losses``; ``probability:end_reason=encircled|collapsed``; with a
        robust statistic other than the mean over an ensemble, ``q10(mean:attacker_losses)``."""
        if self.reasons is not None:
            key = f"probability:end_reason={'|'.join(self.reasons)}"
        else:
            key = f"{self.statistic}:{self.measure}"
        return key if self.robust == "mean" else f"{self.robust}({key})"


class Objective(_Statistic):
    """``[[objective]]``: a statistic of a measure, to minimise or maximise."""

    direction: Literal["min", "max"]


class Constraint(_Statistic):
    """``[[constraint]]``: a statistic of a measure that must be ``<=`` or ``>=`` a value."""

    op: Literal["<=", ">="]
    value: float


class Uncertainty(_Strict):
    """``[uncertainty]``: a calibration store's ``posterior``, a ``sweep`` file's design, or
    a design inline (a sweep file's ``design``, ``parameter`` and ``fixed`` tables, checked
    as a sweep file's are)."""

    posterior: str | None = Field(None, min_length=1)
    sweep: str | None = Field(None, min_length=1)
    design: dict[str, Any] | None = None
    parameter: list[dict[str, Any]] | None = None
    fixed: dict[str, Any] | None = None


class OptimizeFile(_Strict):
    """The whole file, as the schema reads it."""

    scenario: str = Field(min_length=1)
    description: str = ""
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    replications: int | None = Field(None, ge=1, le=MAX_REPLICATIONS)
    search: Search = Search()
    racing: Racing = Racing()
    lever: list[Lever] = Field(min_length=1)
    objective: list[Objective] = Field(min_length=1)
    constraint: list[Constraint] = []
    uncertainty: Uncertainty | None = None


@dataclass(frozen=True)
class Optimization:
    """A checked optimization file: the base scenario, seed, replications, the racing limit,
    and the schema's record (``spec``)."""

    file: Path
    text: str
    scenario_file: Path
    base: Scenario
    seed: int
    replications: int
    max_replications: int
    search_seed: int
    spec: OptimizeFile
    ensemble: Ensemble | None = None

    @property
    def members(self) -> int:
        """Members of the ensemble each candidate runs at (1 without a sweep ensemble)."""
        return len(self.ensemble.members) if self.ensemble is not None else 1

    @property
    def levers(self) -> tuple[Parameter, ...]:
        return tuple(lever.parameter() for lever in self.spec.lever)

    def to_dict(self) -> dict[str, Any]:
        """What decides the results (a store's manifest keeps and compares it)."""
        out = {"spec": self.spec.model_dump(mode="json"), "seed": self.seed,
               "replications": self.replications, "max_replications": self.max_replications,
               "search_seed": self.search_seed, "base_scenario_sha256": self.base.sha256()}
        if self.ensemble is not None:
            out["ensemble"] = self.ensemble.to_dict()
        return out

    def sha256(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def load_optimization(path: str | Path) -> Optimization:
    """Read and check an optimization file; raise :class:`OptimizeError` naming the file,
    key and line of the first fault."""
    file = Path(path)
    try:
        data, text = read_toml(file, what="optimization")
    except ScenarioError as exc:
        raise OptimizeError(exc.detail, file=exc.file or str(file), line=exc.line) from None
    return parse_optimization(data, file, text)


def _error(file: Path, text: str, loc: tuple[Any, ...], message: str) -> OptimizeError:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    line = None
    for end in range(len(loc), 0, -1):  # a missing key: the line of the table it belongs in
        line = find_line(text, loc[:end])
        if line is not None:
            break
    return OptimizeError(message, file=str(file), key=key or None, line=line)


def parse_optimization(data: dict[str, Any], file: Path, text: str) -> Optimization:
    """Check an optimization document (parsed TOML, ``text`` its source)."""
    try:
        spec = OptimizeFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()  # an unknown key first: it may be a misspelt required one
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(p for p in first["loc"] if isinstance(p, (str, int)))
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        elif first["type"] == "missing":
            message = "missing"
        raise _error(file, text, loc, message) from None
    scenario_file = (file.parent / spec.scenario).resolve()
    try:
        base = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise _error(file, text, ("scenario",), f"base scenario: {exc}") from None
    columns = set(computed_columns(build_params(base)))
    tables: list[tuple[str, list[Any]]] = [("objective", list(spec.objective)),
                                           ("constraint", list(spec.constraint))]
    keys: set[str] = set()
    for name, items in tables:
        for i, item in enumerate(items):
            if item.measure != "end_reason" and item.measure not in columns:
                raise _error(file, text, (name, i, "measure"),
                             f"'{item.measure}' is not an outcome measure; choose from "
                             f"end_reason, {', '.join(sorted(columns))}")
            if name == "objective" and item.key in keys:
                raise _error(file, text, (name, i), f"objective {item.key} is given twice")
            keys.add(item.key)
    paths = [lever.path for lever in spec.lever]
    for i, lever in enumerate(spec.lever):
        if paths.index(lever.path) != i:
            raise _error(file, text, ("lever", i, "path"), f"'{lever.path}' is a lever twice")
        try:
            check_values(base, lever.parameter(), file)
        except SweepError as exc:
            message = str(exc).removeprefix(f"{file}: parameter '{lever.path}': ")
            raise _error(file, text, ("lever", i, "path"), message) from None
    ensemble = _ensemble(spec, file, text, base, paths)
    seed = spec.seed if spec.seed is not None else base.simulation.seed
    replications = spec.replications or base.simulation.replications
    most = spec.racing.max_replications or 4 * replications
    if most < replications:
        raise _error(file, text, ("racing", "max_replications"),
                     f"must be at least replications ({replications:,}; got {most:,})")
    if spec.search.seed is not None:
        search_seed = spec.search.seed
    else:
        state = np.random.SeedSequence(seed, spawn_key=(SEARCH_SEED_KEY,))
        search_seed = int(state.generate_state(1)[0])
    return Optimization(file=file, text=text, scenario_file=scenario_file, base=base,
                        seed=seed, replications=replications,
                        max_replications=min(most, MAX_REPLICATIONS), search_seed=search_seed,
                        spec=spec, ensemble=ensemble)


def _ensemble(spec: OptimizeFile, file: Path, text: str, base: Scenario,
              levers: list[str]) -> Ensemble | None:
    """The checked ``[uncertainty]``; a robust statistic other than the mean needs a sweep."""
    given = spec.uncertainty.model_dump() if spec.uncertainty is not None else {}
    sweep = given.get("posterior") is None and any(v is not None for v in given.values())
    for name, items in (("objective", spec.objective), ("constraint", spec.constraint)):
        for i, item in enumerate(items):
            if item.robust != "mean" and not sweep:
                raise _error(file, text, (name, i, "robust"),
                             f"robust = \"{item.robust}\" is a statistic over an ensemble's "
                             "members: it needs [uncertainty] sweep = \"SWEEP.toml\" or an "
                             "inline design (a posterior's draws are pooled: its statistic "
                             "is the mean)")
    if spec.uncertainty is None:
        return None

    def bad(key: str, message: str) -> OptimizeError:  # "uncertainty.parameter[0].high"
        loc = [int(p[1:-1]) if p.startswith("[") else p
               for p in re.findall(r"\[\d+\]|[^.\[\]]+", key)]
        return _error(file, text, tuple(loc), message)

    return load_ensemble({**given, "scenario": spec.scenario}, file, base, levers, bad)
