"""The mean-field engine: the expected-value dynamics of the model's rules, one deterministic
replication in continuous time.

The state is continuous (:mod:`siege.engines.mean_state`) and moves at the rates of
:mod:`siege.model.flows` (losses at their means, convoys as their expected deliveries, noise
and campaign tempo at 1), integrated by ``scipy.integrate.solve_ivp`` with RK45 (the
Dormand-Prince explicit Runge-Kutta pair of orders 5 and 4, with error control and a dense
output of order 4) to the scenario's ``simulation.rtol`` and ``simulation.atol``. Whatever
changes the rates discontinuously is located exactly rather than at the next grid point:

* thresholds the state crosses are integration events, their times found by root-finding on
  the dense output: a route cut or reopened, the pocket closing, the town captured, the
  defence collapsing, the attacker culminating, trained reserves used up, a side at zero, the
  stockpile empty or full;
* times known in advance are breakpoints the integration stops at: the withdrawal's start and
  end, dated events and waves, the ends of spread waves' windows, the horizon;
* reviews change no rate, so the integration runs through them; each is held at its exact
  time on the state the dense output gives there, and a withdrawal it orders to begin inside
  the stretch integrated cuts the stretch back to that moment.

At a breakpoint, as in the other engines: the day is observed and the end conditions checked,
then dated events act, then a review due. The rolling exchange ratio is taken over exactly the
last ``rolling_window_days``. The run writes the same files as the other engines: one
replication, whose bands (every percentile, the mean, min and max) are its trajectory.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siege.engines.base import BlockInputs, BlockProgress, Recorder, Timeline
from siege.engines.mean_state import LA, LD, Continuum, Event
from siege.errors import ModelError
from siege.model import arrivals, decisions, endings, flows, transitions
from siege.model.measures import band_values
from siege.model.params import ModelParams
from siege.model.rules import RUNNING, TIME_EPS
from siege.model.state import RollingWindow, SiegeState, init_state
from siege.results.block import BlockResult
from siege.scenario import Scenario

F64 = NDArray[np.float64]
METHOD = "RK45"
MAX_STILL = 100  # discrete changes at one instant beyond which the run is called chattering


def refuses(scenario: Scenario) -> str | None:
    """Why the mean engine cannot run ``scenario`` (None if it can): a pocket that holds out
    is not among its integration events."""
    if scenario.pocket is not None:
        return ("the mean engine does not represent a pocket that holds out (the scenario's "
                "[pocket] table): the pocket's forming, surrender and relief are not among its "
                "integration events; run the scenario with --engine batch or --engine event")
    return None


class MeanRun:
    """One replication of a scenario advanced by its expected rates."""

    def __init__(self, scenario: Scenario) -> None:
        sim = scenario.simulation
        why = refuses(scenario)
        if why is not None:
            raise ModelError(why)
        self.timeline = Timeline(scenario)
        self.params: ModelParams = self.timeline.base
        self.horizon = sim.horizon_days
        self.rtol, self.atol = sim.rtol, sim.atol
        self.recorder = Recorder(scenario, self.params, 0, 1)
        self.space = Continuum(init_state(self.params, np.zeros(1, dtype=np.int64), 1.0))
        self.y = self.space.initial()
        self.regime = flows.Regime()
        self.t = 0.0
        self.history: list[tuple[float, Any]] = []  # (start, dense output) of each stretch
        self.observations: list[F64] = []  # the band measures on days 0, 1, ...
        self.pending = list(self.timeline.items)  # dated events not yet applied
        self.next_review = self.params.first_review_day
        self.reviews_held = 0
        self.done = False

    def state(self, y: F64) -> SiegeState:
        return self.space.state(y, self.params)

    # -- time ---------------------------------------------------------------------------
    def run(self) -> BlockResult:
        """Integrate from day 0 to the end (a threshold, the withdrawal's end, the horizon)."""
        self.observe_until(0.0)
        self.at_breakpoint()
        still = 0
        while not self.done:
            start = self.t
            fired = self.integrate(self.next_breakpoint())
            still = still + 1 if self.t <= start + TIME_EPS else 0
            if still > MAX_STILL:
                raise ModelError(f"discrete changes chatter on day {self.t:g}: the scenario "
                                 "sits on a threshold")
            if fired is None:
                self.at_breakpoint()
            elif fired.kind == "end":
                self.end_at_crossing()
            else:
                self.space.apply(fired, self.y, self.params)
                if not self.check_end() and self.due():
                    self.at_breakpoint()
        return self.recorder.result()

    def integrate(self, t_next: float) -> Event | None:
        """Integrate to ``t_next`` or the first event (returned), holding the reviews met on
        the way; observe the whole days passed."""
        mid = 0.5 * (self.t + t_next)
        order = float(self.space.template.order_day[0])
        self.regime = dataclasses.replace(
            self.regime,
            withdrawing=order <= mid < order + self.params.withdrawal_days,
            staying=mid < order,
            waves=flows.wave_inflow(self.params, mid),
        )
        self.regime = self.space.settle(self.t, self.y, self.params, self.regime)
        events = self.space.events(self.y, self.params, self.regime)
        from scipy.integrate import solve_ivp  # here: importing it costs ~1 s a process

        sol = solve_ivp(self.space.rates, (self.t, t_next), self.y, method=METHOD,
                        rtol=self.rtol, atol=self.atol, events=events, dense_output=True,
                        args=(self.params, self.regime))
        if sol.status < 0:
            raise ModelError(f"the mean engine's integration failed on day {self.t:g}: "
                             f"{sol.message}")
        self.history.append((self.t, sol.sol))
        t_end, fired = t_next, None
        if sol.status == 1:  # a terminal event: the earliest
            t_end, first = min((float(ts[0]), k) for k, ts in enumerate(sol.t_events) if len(ts))
            fired = events[first]
        stop = self.reviews_within(t_end, sol.sol)
        if stop < t_end:  # a review ordered a withdrawal that begins inside the stretch
            fired, t_end = None, stop
        self.y = sol.y[:, -1].copy() if t_end == t_next else np.array(sol.sol(t_end))
        self.t = t_end
        transitions.check_finite(self.state(self.y), self.t)
        self.observe_until(self.t)
        return fired

    def next_breakpoint(self) -> float:
        """The next time something is due: a dated event, the withdrawal's start or end, a
        spread wave's window opening or closing, the horizon."""
        p, soon = self.params, self.t + TIME_EPS
        order = float(self.space.template.order_day[0])
        times = [self.horizon, order, order + p.withdrawal_days]
        times += [day for day, *_ in self.pending]
        for wave in p.spread_waves:
            times += [wave.day, wave.day + wave.duration_days]
        return min((x for x in times if x > soon), default=self.horizon)

    def due(self) -> bool:
        """Whether a dated event or a review is due now."""
        soon = self.t + TIME_EPS
        return self.next_review <= soon or bool(self.pending and self.pending[0][0] <= soon)

    def at_breakpoint(self) -> None:
        """At a due time: end conditions, then dated events, then the review, then ends
        again (a changed parameter may end the run at once)."""
        if self.check_end():
            return
        t = self.t
        while self.pending and self.pending[0][0] <= t + TIME_EPS:
            day, kind, payload, params = self.pending.pop(0)
            if params is not None:
                self.params = params
            else:
                state = self.state(self.y)
                arrivals.add_wave(state, kind, payload[0], payload[1], day)
                self.space.absorb(self.y, state)
        if self.next_review <= t + TIME_EPS:
            self.review(self.state(self.y), t)
        self.check_end()

    # -- decisions and ends -------------------------------------------------------------
    def reviews_within(self, t_end: float, dense: Any) -> float:
        """Hold the reviews due before ``t_end`` on the stretch integrated (reviews change no
        rate, so they need not stop the integration); return where the stretch must end
        instead: at the start of a withdrawal a review ordered, if before ``t_end``."""
        stop = t_end
        while self.next_review < stop - TIME_EPS:
            day = self.next_review
            ordered = math.isfinite(self.space.template.order_day[0])
            self.review(self.state(np.array(dense(day))), day)
            if not ordered and math.isfinite(self.space.template.order_day[0]):
                stop = max(min(stop, float(self.space.template.order_day[0])), day)
        return stop

    def review(self, state: SiegeState, day: float) -> None:
        """A decision review on ``day`` of the state there (triggers, a withdrawal order)."""
        state = self.windowed(state, day)
        decisions.review(state, self.params, day)
        self.space.template.trigger_first = state.trigger_first
        self.space.template.order_day = state.order_day
        self.reviews_held += 1
        self.next_review = (self.params.first_review_day
                            + self.reviews_held * self.params.review_interval_days)

    def check_end(self) -> bool:
        """End the replication if an end condition holds now."""
        reason, end_day = endings.end_reasons(self.state(self.y), self.params, self.t)
        if reason[0] == RUNNING:
            return False
        self.finish(reason, end_day)
        return True

    def end_at_crossing(self) -> None:
        """A terminal threshold was crossed: end with the model's end reasons, taking the
        crossing variables the last few ulps over their thresholds."""
        state = self.state(self.y)
        for _ in range(64):
            reason, end_day = endings.end_reasons(state, self.params, self.t)
            if reason[0] != RUNNING:
                self.finish(reason, end_day)
                return
            state = self.space.nudged_past(state, self.params)
        raise ModelError(f"a threshold crossed on day {self.t:g} ends nothing; this is a bug")

    def finish(self, reason: NDArray[np.int8], end_day: F64) -> None:
        """End the replication: its outcomes, and the days it was observed."""
        self.recorder.retire(self.state(self.y), self.params, reason, end_day)
        if self.observations:
            days = np.arange(len(self.observations), dtype=np.int64)
            self.recorder.add_trajectory(days, 0, np.array(self.observations).T)
        self.done = True

    # -- observations -------------------------------------------------------------------
    def losses_at(self, t: float) -> tuple[float, float]:
        """Each side's losses so far at an earlier time ``t`` (from the dense outputs)."""
        if t <= 0 or not self.history:
            return 0.0, 0.0
        k = max(0, bisect.bisect_right([start for start, _ in self.history], t) - 1)
        y = self.history[k][1](t)
        return float(y[LD]), float(y[LA])

    def windowed(self, state: SiegeState, t: float) -> SiegeState:
        """The state with its rolling window holding the losses of the last
        ``rolling_window_days`` before ``t``."""
        before = self.losses_at(t - self.params.rolling_window_days)
        window = RollingWindow.empty(1, 1)
        window.sum_defender = state.defender_losses - before[0]
        window.sum_attacker = state.attacker_losses - before[1]
        state.window = window
        return state

    def observe_until(self, t: float) -> None:
        """Observe each whole day up to ``t`` not yet observed (recorded at the end)."""
        last = min(math.floor(t + TIME_EPS), self.recorder.n_days)
        for day in range(len(self.observations), last + 1):
            y = self.y if abs(day - t) < TIME_EPS or not self.history else np.array(
                self.history[-1][1](float(day)))
            state = self.windowed(self.state(y), float(day))
            self.observations.append(np.concatenate(band_values(state, self.params, day)))


def run_mean(
    scenario: Scenario, first: int, n: int, inputs: BlockInputs | None = None,
    progress: BlockProgress | None = None,
) -> BlockResult:
    """Run the mean-field replication (id 0; ``first`` and ``n`` must ask for it). Values per
    replication (one each, for its one replication) are set into the scenario; probes are not
    recorded by this engine, nor progress reported (one replication, done when it returns)."""
    if (first, n) != (0, 1):
        raise ValueError("the mean engine runs one replication, id 0")
    if inputs is not None:
        if inputs.probes:
            raise ValueError("the mean engine records no probes (use the batch engine)")
        if inputs.values:
            scenario = scenario.with_overrides(
                {path: float(v[0]) for path, v in inputs.values.items()}, source="values")
    return MeanRun(scenario).run()
