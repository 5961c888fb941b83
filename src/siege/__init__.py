"""siege: Monte Carlo discrete-event model of sieges of fortified towns.

>>> import siege
>>> scenario = siege.load_scenario("scenarios/bakhmut.toml")
>>> result = siege.simulate(scenario, replications=2000, seed=1)
>>> result.summary().end_reasons["withdrew"].p  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from siege.errors import ResultsError, RunError, ScenarioError, SiegeError
from siege.montecarlo import SimulationResult, simulate
from siege.results import read_results
from siege.scenario import Scenario, load_scenario

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
