"""Engines decide *when* the model's transitions run; the rules are shared by all of them.

:data:`REGISTRY` maps each engine's name to the function that runs a block of replications of
a scenario; a new engine is one runner and one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from siege.engines.base import BlockInputs, BlockProgress
from siege.engines.batch import run_batch
from siege.engines.event import run_event
from siege.engines.mean import refuses as mean_refuses
from siege.engines.mean import run_mean
from siege.results.block import BlockResult
from siege.results.moments import CELL
from siege.rng import STREAM_BLOCK
from siege.scenario import Scenario


class RunBlock(Protocol):
    """Runs replications ``[first, first + n)`` of a scenario, with the values per replication
    and probes of ``inputs`` if given, reporting ``progress`` as it goes if it can."""

    def __call__(
        self, scenario: Scenario, first: int, n: int, inputs: BlockInputs | None = None,
        progress: BlockProgress | None = None,
    ) -> BlockResult: ...


@dataclass(frozen=True)
class Engine:
    """An engine: ``run(scenario, first, n, inputs)`` runs replications ``[first, first + n)``.

    ``granularity``: blocks are whole multiples of this many replications (the batch engine's
    stream blocks; whole cells of the bands' moments). ``replications``: how many it runs
    whatever the scenario asks (None: as asked). ``refuses(scenario)``: why it cannot run a
    scenario (None if it can), checked before a run starts."""

    name: str
    description: str
    run: RunBlock
    granularity: int = CELL
    replications: int | None = None
    refuses: Callable[[Scenario], str | None] | None = None

    def refusal(self, scenario: Scenario) -> str | None:
        """Why this engine cannot run ``scenario``, naming it (None if it can): what every
        entry point that runs an engine checks before it starts."""
        why = self.refuses(scenario) if self.refuses is not None else None
        return None if why is None else f"scenario '{scenario.name}': {why}"


REGISTRY: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine(
            "batch",
            "one SimPy environment advances a whole block of replications at once on a fixed "
            "combat step (arrays over replications); what users run",
            run_batch,
            granularity=STREAM_BLOCK,
        ),
        Engine(
            "event",
            "each replication its own SimPy process graph in continuous time (convoys at their "
            "own random times, exact review, latency and withdrawal times); the reference",
            run_event,
        ),
        Engine(
            "mean",
            "the expected-value (mean-field) dynamics of the same rules: one deterministic "
            "replication in continuous time, thresholds located exactly (solve_ivp events)",
            run_mean,
            granularity=1,
            replications=1,
            refuses=mean_refuses,
        ),
    )
}
ENGINES: tuple[str, ...] = tuple(REGISTRY)

__all__ = ["ENGINES", "REGISTRY", "BlockInputs", "BlockProgress", "BlockResult", "Engine",
           "run_block"]


def run_block(
    engine: str, scenario: Scenario, first: int, n: int, inputs: BlockInputs | None = None,
    progress: BlockProgress | None = None,
) -> BlockResult:
    """Run replications ``[first, first + n)`` of a scenario with the named engine (with the
    values per replication and probes of ``inputs``; ``progress``, see
    :data:`~siege.engines.base.BlockProgress`)."""
    if engine not in REGISTRY:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    return REGISTRY[engine].run(scenario, first, n, inputs, progress)
