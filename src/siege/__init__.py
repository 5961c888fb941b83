"""siege: Monte Carlo discrete-event model of sieges of fortified towns.

>>> import siege
>>> scenario = siege.load_scenario("scenarios/bakhmut.toml")
>>> result = siege.simulate(scenario, replications=2000, seed=1)
>>> result.summary().end_reasons["withdrew"].p  # doctest: +SKIP

The names below are loaded on first use (PEP 562), so that ``import siege`` and
``siege --version`` stay fast and the package root imports nothing of its own layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from siege._version import __version__

# public name -> module that defines it
_EXPORTS = {
    "SiegeError": "siege.errors",
    "ScenarioError": "siege.errors",
    "ResultsError": "siege.errors",
    "RunError": "siege.errors",
    "Scenario": "siege.scenario.schema",
    "load_scenario": "siege.scenario.load",
    "SimulationResult": "siege.run.simulate",
    "simulate": "siege.run.simulate",
    "read_results": "siege.results.parquet",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from siege.errors import ResultsError, RunError, ScenarioError, SiegeError
    from siege.results.parquet import read_results
    from siege.run.simulate import SimulationResult, simulate
    from siege.scenario.load import load_scenario
    from siege.scenario.schema import Scenario


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'siege' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "ResultsError",
    "RunError",
    "Scenario",
    "ScenarioError",
    "SiegeError",
    "SimulationResult",
    "__version__",
    "load_scenario",
    "read_results",
    "simulate",
]
