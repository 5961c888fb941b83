"""The batch engine: one SimPy environment advances a block of replications together.

Processes act on whole arrays of replications: the combat process (fixed step), one convoy
process per route (its own schedule), the decision-review process (its own schedule), and the
dated-events process (parameter changes and reinforcement waves). Replications that end are
removed from the arrays at once, so they cost nothing afterwards. Convoys are counted as they
arrive and delivered, one vectorised draw per route, when the stockpile is next read (by a
combat step, a review or a dated event).

Order at equal times: the combat step that ends at t is processed first (it is scheduled
URGENT), so every other process sees the state at t; among the rest, SimPy's FIFO order.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

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
from siege.model.params import ModelParams
from siege.model.rules import TIME_EPS
from siege.model.state import init_state
from siege.model.transitions import draw_campaign_tempo
from siege.results.block import BlockResult
from siege.rng import STREAM_BLOCK, BatchStreams
from siege.scenario import Scenario


class BatchRun(SimpyRun):
    """One block of replications advanced by one SimPy environment."""

    def __init__(
        self, scenario: Scenario, first: int, n: int, inputs: BlockInputs | None = None,
        progress: BlockProgress | None = None,
    ) -> None:
        inputs = inputs or BlockInputs()
        self.progress = progress
        self.events = Timeline(scenario, inputs.values)
        self.params: ModelParams = self.events.base
        sim = scenario.simulation
        self.horizon = sim.horizon_days
        self.dt = sim.time_step_days
        self.first = first
        self.streams = BatchStreams(sim.seed, first, n)
        rep_ids = np.arange(first, first + n, dtype=np.int64)
        self.state = init_state(self.params, rep_ids, self.dt)
        self.recorder = Recorder(scenario, self.params, first, n, inputs.probes)
        self.thresholds = arrivals.convoy_thresholds(self.state)  # (routes, running)
        self.pending = [0] * self.params.n_routes  # convoys arrived, not yet delivered
        self.env = simpy.Environment()
        self.done = self.env.event()

    # -- processes --------------------------------------------------------------------------
    def combat(self) -> Generator[simpy.Event, Any, None]:
        self.recorder.observe(self.state, self.params, 0)
        self.thresholds = arrivals.convoy_thresholds(self.state)
        k = 0
        while True:
            t = k * self.dt
            t_end = min((k + 1) * self.dt, self.horizon)
            yield UrgentTimeout(self.env, t_end - self.env.now)
            self.deliver()
            if k == 0:  # once, with the parameters in force at the first step
                draw_campaign_tempo(self.state, self.params, self.streams)
            self.state.window.open_cell()  # each step is one cell of the rolling window
            combat_step(self.state, self.params, t, t_end - t, self.streams)
            for day in range(int(np.floor(t + TIME_EPS)) + 1, int(np.floor(t_end + TIME_EPS)) + 1):
                self.recorder.observe(self.state, self.params, day)
            reason, end_day = endings.end_reasons(self.state, self.params, t_end)
            keep = self.recorder.retire(self.state, self.params, reason, end_day)
            if not keep.all():
                self.state.keep(keep)
                self.params = self.params.take(np.flatnonzero(keep))
                blocks = self.streams.block_of(self.state.rep)
                n_blocks = -(-self.recorder.n // STREAM_BLOCK)
                self.streams.set_counts(np.bincount(blocks, minlength=n_blocks))
            if self.state.n == 0:
                self.done.succeed()
                return
            if self.progress is not None:  # ended, and the running ones' share of the horizon
                self.progress(self.recorder.n - self.state.n * (1.0 - t_end / self.horizon))
            self.thresholds = arrivals.convoy_thresholds(self.state)
            k += 1

    def convoys(self, route: int) -> Generator[simpy.Event, Any, None]:
        # one convoy per slot of 1 / convoys_per_day days, at the slot's midpoint: the mean
        # arrival time of the event engine's convoys, which arrive at a uniformly random
        # time within their slot
        slot = 1.0 / float(self.params.convoys_per_day[route])
        yield self.env.timeout(0.5 * slot)
        while True:
            self.pending[route] += 1
            yield self.env.timeout(1.0 / float(self.params.convoys_per_day[route]))

    def reviews(self) -> Generator[simpy.Event, Any, None]:
        first, interval = self.params.first_review_day, self.params.review_interval_days
        yield self.env.timeout(first)
        k = 0
        while True:
            self.deliver()
            decisions.review(self.state, self.params, self.env.now)
            k += 1
            next_time = first + k * interval
            yield self.env.timeout(next_time - self.env.now)

    def deliver(self) -> None:
        """Deliver the convoys that arrived since the stockpile was last read, a route at a
        time (one draw per convoy, as if delivered one by one: nothing read the stockpile
        in between, and routes and replications change only in combat steps)."""
        for route, count in enumerate(self.pending):
            if count:
                arrivals.convoy_arrives(
                    self.state, self.params, route, self.streams, self.thresholds[route], count
                )
                self.pending[route] = 0

    def before_event(self) -> None:
        self.deliver()

    def routes_changed(self) -> None:
        self.thresholds = arrivals.convoy_thresholds(self.state)

    def use_params(self, params: ModelParams) -> None:
        # the timeline holds every replication's row; keep those still running
        self.params = params.take(self.state.rep - self.first)

    def run(self) -> BlockResult:
        self.run_processes()
        return self.recorder.result()


def run_batch(
    scenario: Scenario, first: int, n: int, inputs: BlockInputs | None = None,
    progress: BlockProgress | None = None,
) -> BlockResult:
    """Run replications ``[first, first + n)`` with the batch engine (with the values per
    replication and probes of ``inputs``), reporting ``progress`` after each combat step."""
    return BatchRun(scenario, first, n, inputs, progress).run()
