"""Engines decide *when* the model's transitions run; the rules are shared by all of them.

* ``batch``: one SimPy environment advances a whole block of replications at once on a fixed
  combat step (arrays of shape ``(n_replications, ...)``); what users run.
* ``event``: each replication its own SimPy process graph in continuous time (convoys at
  their own random times, exact review, latency and withdrawal times); the reference.
"""

from __future__ import annotations

from siege.results.block import BlockResult

ENGINES = ("batch", "event")

__all__ = ["ENGINES", "BlockResult", "run_block"]


def run_block(engine: str, scenario: object, first: int, n: int) -> BlockResult:
    """Run replications ``[first, first + n)`` of a scenario with the named engine."""
    from siege.scenario import Scenario

    assert isinstance(scenario, Scenario)
    if engine == "batch":
        from siege.engines.batch import run_batch

        return run_batch(scenario, first, n)
    if engine == "event":
        from siege.engines.event import run_event

        return run_event(scenario, first, n)
    raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
