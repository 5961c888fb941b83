"""What an engine returns for a block of replications, and the bookkeeping all engines share."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray
from simpy.core import URGENT

from siege.model import dynamics
from siege.model.params import ModelParams, build_params
from siege.model.rules import RUNNING
from siege.results.bands import BandAccumulator, MeasureSpec
from siege.results.block import BlockResult
from siege.scenario import Scenario


class Recorder:
    """Collects outcomes, daily bands and sample trajectories for one block."""

    def __init__(self, params: ModelParams, first: int, n: int) -> None:
        sc = params.scenario
        self.first = first
        self.n = n
        self.n_days = sc.simulation.whole_days
        self.specs: list[MeasureSpec] = dynamics.observation_specs(params)
        self.bands = BandAccumulator(self.specs, self.n_days)
        self.reason = np.full(n, RUNNING, dtype=np.int8)
        self.columns = {c: np.full(n, np.nan) for c in dynamics.outcome_columns(params)}
        k = sc.simulation.sample_trajectories
        self.sample_ids = np.arange(first, min(first + n, k), dtype=np.int64)
        self.samples = np.full((self.sample_ids.size, self.n_days + 1, len(self.specs)), np.nan)

    def observe(self, state: dynamics.SiegeState, params: ModelParams, day: int) -> None:
        """Record the running replications' state on a whole day."""
        if day > self.n_days or state.n == 0:
            return
        self.add_values(day, state.rep, dynamics.observe(state, params))

    def add_values(
        self, day: int, rep: NDArray[np.int64], values: list[NDArray[np.float64]]
    ) -> None:
        """Record observed values ``(k,)`` per measure of replications ``rep`` on ``day``."""
        if day > self.n_days or rep.shape[0] == 0:
            return
        self.bands.add(day, values)
        if self.sample_ids.size:
            sel = rep < self.first + self.sample_ids.size
            if sel.any():
                rows = rep[sel] - self.first
                for m, v in enumerate(values):
                    self.samples[rows, day, m] = v[sel]

    def retire(
        self,
        state: dynamics.SiegeState,
        params: ModelParams,
        reason: NDArray[np.int8],
        end_day: NDArray[np.float64],
    ) -> NDArray[np.bool_]:
        """Write the outcomes of replications that end now; return the mask of those that go on."""
        ending = reason != RUNNING
        if not ending.any():
            return ~ending
        rows = state.rep[ending] - self.first
        self.reason[rows] = reason[ending]
        for col, values in dynamics.final_outcomes(state, params, ending, reason, end_day).items():
            self.columns[col][rows] = values
        return ~ending

    def result(self) -> BlockResult:
        if np.any(self.reason == RUNNING):
            raise RuntimeError("a replication did not end; this is a bug in the engine")
        return BlockResult(
            first=self.first,
            n=self.n,
            reason=self.reason,
            columns=self.columns,
            bands=self.bands,
            sample_ids=self.sample_ids,
            samples=self.samples,
        )


class UrgentTimeout(simpy.Event):
    """A timeout processed before ordinary events due at the same time (combat steps, so
    that every other process sees the state after the step)."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, max(delay, 0.0))


def timeline(scenario: Scenario) -> list[tuple[float, str, Any]]:
    """Dated events in time order: parameter changes first, then waves, on a tie."""
    items: list[tuple[float, int, int, str, Any]] = []
    for i, ev in enumerate(scenario.events):
        items.append((ev.day, 0, i, "set", dict(ev.set)))
    for side_name in ("defender", "attacker"):
        side = getattr(scenario, side_name)
        for i, wave in enumerate(side.waves):
            q = wave.quality if wave.quality is not None else side.quality
            items.append((wave.day, 1, i, side_name, (wave.personnel, q)))
    items.sort(key=lambda x: (x[0], x[1], x[3], x[2]))
    return [(d, kind, payload) for d, _, _, kind, payload in items]


class Timeline:
    """Dated events with the parameters in force after each (built once per block)."""

    def __init__(self, scenario: Scenario) -> None:
        self.base = build_params(scenario)
        self.items: list[tuple[float, str, Any, ModelParams | None]] = []
        current = scenario
        for day, kind, payload in timeline(scenario):
            params = None
            if kind == "set":
                current = current.with_overrides(payload, source="events")
                params = build_params(current)
            self.items.append((day, kind, payload, params))


class SimpyRun:
    """What both engines share: the dated-events process, and the processes started in one
    order (dated events, reviews, each route's convoys, combat) so ties at equal times are
    resolved the same way in both."""

    env: simpy.Environment
    done: simpy.Event
    horizon: float
    events: Timeline
    params: ModelParams
    state: dynamics.SiegeState

    def combat(self) -> Generator[simpy.Event, Any, None]:
        raise NotImplementedError

    def convoys(self, route: int) -> Generator[simpy.Event, Any, None]:
        raise NotImplementedError

    def reviews(self) -> Generator[simpy.Event, Any, None]:
        raise NotImplementedError

    def dated_events(self) -> Generator[simpy.Event, Any, None]:
        for day, kind, payload, params in self.events.items:
            if day > self.horizon:
                return
            yield self.env.timeout(day - self.env.now)
            self.before_event()
            if params is not None:
                self.params = params
            else:
                personnel, quality = payload
                dynamics.add_wave(self.state, kind, personnel, quality, self.env.now)

    def before_event(self) -> None:
        """Called before a dated event acts (the batch engine delivers convoys here)."""

    def run_processes(self) -> None:
        """Start every process and run the environment until every replication has ended."""
        env = self.env
        env.process(self.dated_events())
        env.process(self.reviews())
        for r in range(self.params.n_routes):
            env.process(self.convoys(r))
        env.process(self.combat())
        env.run(until=self.done)
