"""The event engine: each replication is its own SimPy process graph in continuous time.

The reference against which the batch engine is checked. It calls the same transitions as
the batch engine (:func:`siege.engines.base.combat_step` and :mod:`siege.model`, hence the
same rules); only *when* they run
differs:

* convoys on each route arrive one per slot of ``1 / convoys_per_day`` days, at a uniformly
  random time within the slot (their own time, not a shared grid), and are interdicted
  against the state at that moment;
* decision reviews and dated events happen at their exact times, and a withdrawal begins at
  the exact moment its order takes effect (review time plus the decision latency) and ends
  exactly ``duration_days`` later;
* combat (attrition, reinforcement, advance, consumption) is a rate process integrated in
  pieces that end at the next combat-grid point (multiples of ``time_step_days``, as in the
  batch engine), the next whole day (observations) or the next of this replication's
  breakpoints (review, dated event, withdrawal start or end), whichever comes first, so no
  piece straddles a change of regime. End conditions are checked at the end of every piece.

The rolling exchange-ratio window keeps one slot per combat-grid cell, as in the batch
engine: the first piece in a cell opens it, and pieces inside one cell add up into it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from siege.engines.base import (
    BlockInputs,
    BlockProgress,
    Recorder,
    SimpyRun,
    Timeline,
    UrgentTimeout,
    combat_step,
)
from siege.model import arrivals, decisions, endings
from siege.model.measures import band_values
from siege.model.params import ModelParams
from siege.model.rules import RUNNING, TIME_EPS
from siege.model.state import init_state
from siege.model.transitions import draw_campaign_tempo
from siege.results.block import BlockResult
from siege.rng import CONVOY_TIMING, ReplicationStreams
from siege.scenario import Scenario

FLUSH_EVERY = 256  # replications whose daily observations are buffered before binning (a
# multiple of the moments' cell of ids)


class _Observations:
    """Daily observations of many replications, binned together in one call per day.

    Binning one replication's values at a time costs more than the replication's combat;
    histograms add exactly, so buffering changes nothing in the bands.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.rep: dict[int, list[int]] = {}
        self.values: dict[int, list[NDArray[np.float64]]] = {}
        self.start = recorder.first  # replications [start, end) run since the last flush
        self.end = recorder.first

    def add(self, day: int, rep: int, values: list[NDArray[np.float64]]) -> None:
        self.rep.setdefault(day, []).append(rep)
        # a copy, one row per measure: some measures are the state's own arrays (the losses
        # so far), which later pieces update in place
        self.values.setdefault(day, []).append(np.array(values))

    def ran(self, rep: int) -> None:
        """Replication ``rep`` has run (its observations, if any, are in)."""
        self.end = rep + 1

    def flush(self) -> None:
        span = (self.start, self.end)
        for day, reps in self.rep.items():
            per_rep = self.values[day]
            columns = [np.concatenate([v[m] for v in per_rep]) for m in range(len(per_rep[0]))]
            self.recorder.add_values(day, np.asarray(reps, dtype=np.int64), columns, span)
        self.rep.clear()
        self.values.clear()
        self.start = self.end


class EventRun(SimpyRun):
    """One replication advanced by its own SimPy environment."""

    def __init__(
        self,
        scenario: Scenario,
        events: Timeline,
        rep: int,
        recorder: Recorder,
        observations: _Observations,
    ) -> None:
        sim = scenario.simulation
        self.params: ModelParams = events.base
        self.events = events
        self.horizon = sim.horizon_days
        self.dt = sim.time_step_days
        self.rep = rep
        self.streams = ReplicationStreams(sim.seed, rep)
        self.state = init_state(self.params, np.array([rep], dtype=np.int64), self.dt)
        self.recorder = recorder
        self.observations = observations
        self.env = simpy.Environment()
        self.done = self.env.event()
        self.t = 0.0  # combat has been applied up to here (days)
        self.breaks: list[float] = [day for day, *_ in events.items]
        heapq.heapify(self.breaks)

    def _observe(self, day: int) -> None:
        if day <= self.recorder.n_days:
            values = band_values(self.state, self.params, day)
            self.observations.add(day, self.rep, values)
            self.recorder.observe_probes(self.state, self.params, day, values)

    def _next_break(self, t: float) -> float:
        breaks = self.breaks
        while breaks and breaks[0] <= t + TIME_EPS:
            heapq.heappop(breaks)
        return breaks[0] if breaks else math.inf

    # -- processes --------------------------------------------------------------------------
    def combat(self) -> Generator[simpy.Event, Any, None]:
        state = self.state
        dt = self.dt
        self._observe(0)
        last_cell = -1
        yield self.env.timeout(0.0)  # a review due at day 0 may set a breakpoint
        while True:
            t = self.t
            cell = math.floor(t / dt + TIME_EPS)
            t_end = min(
                (cell + 1) * dt,
                math.floor(t + TIME_EPS) + 1.0,
                self._next_break(t),
                self.horizon,
            )
            # processed before anything else due at t_end, so those see the post-piece state
            yield UrgentTimeout(self.env, t_end - self.env.now)
            if cell != last_cell:  # the first piece of a grid cell
                if last_cell < 0:  # once, with the parameters in force at the first piece
                    draw_campaign_tempo(state, self.params, self.streams)
                state.window.open_cell()
            combat_step(state, self.params, t, t_end - t, self.streams)
            last_cell = cell
            self.t = t_end
            day = round(t_end)
            if abs(t_end - day) < TIME_EPS:
                self._observe(day)
            reason, end_day = endings.end_reasons(state, self.params, t_end)
            if reason[0] != RUNNING:
                self.recorder.retire(state, self.params, reason, end_day)
                self.done.succeed()
                return
            # let reviews, events and convoys due at t_end act before the next piece is
            # planned: a review may set a withdrawal breakpoint inside it
            yield self.env.timeout(0.0)

    def convoys(self, route: int) -> Generator[simpy.Event, Any, None]:
        slot_start = 0.0
        while True:
            per_day = float(self.params.convoys_per_day[route])
            if per_day <= 0:
                return
            slot = 1.0 / per_day
            arrival = slot_start + slot * self.streams.uniform(CONVOY_TIMING + route)
            yield self.env.timeout(arrival - self.env.now)
            arrivals.convoy_arrives(self.state, self.params, route, self.streams)
            slot_start += slot

    def reviews(self) -> Generator[simpy.Event, Any, None]:
        first, interval = self.params.first_review_day, self.params.review_interval_days
        k = 0
        while True:
            next_time = first + k * interval
            heapq.heappush(self.breaks, next_time)
            yield self.env.timeout(next_time - self.env.now)
            ordered = math.isfinite(self.state.order_day[0])
            decisions.review(self.state, self.params, self.env.now)
            if not ordered and math.isfinite(self.state.order_day[0]):
                start = float(self.state.order_day[0])
                heapq.heappush(self.breaks, start)
                heapq.heappush(self.breaks, start + self.params.withdrawal_days)
            k += 1

    def run(self) -> None:
        self.run_processes()


def run_event(
    scenario: Scenario, first: int, n: int, inputs: BlockInputs | None = None,
    progress: BlockProgress | None = None,
) -> BlockResult:
    """Run replications ``[first, first + n)`` with the event engine, one after another
    (with the values per replication and probes of ``inputs``), reporting ``progress`` after
    each replication."""
    inputs = inputs or BlockInputs()
    events = Timeline(scenario, inputs.values)
    recorder = Recorder(scenario, events.base, first, n, inputs.probes)
    observations = _Observations(recorder)
    for rep in range(first, first + n):
        own = events.take(np.array([rep - first])) if events.base.varied else events
        EventRun(scenario, own, rep, recorder, observations).run()
        observations.ran(rep)
        if (rep + 1) % FLUSH_EVERY == 0:  # on whole cells of ids (see siege.results.moments)
            observations.flush()
        if progress is not None:
            progress(rep + 1 - first)
    observations.flush()
    return recorder.result()
