"""The mean-field engine: the expected-value dynamics of the model's rules, one deterministic
replication in continuous time.

The state is continuous and moves at the rates of :mod:`siege.model.flows` (losses at their
means, convoys as their expected deliveries, noise and campaign tempo at 1), integrated by
``scipy.integrate.solve_ivp`` (RK45: the Dormand-Prince explicit Runge-Kutta pair of orders
5 and 4, with error control and a dense output of order 4) to the scenario's
``simulation.rtol`` and ``simulation.atol``. Whatever changes the
rates discontinuously is located exactly rather than at the next grid point:

* thresholds the state crosses are integration events, found by root-finding on the dense
  output: a route cut or reopened, the pocket closing, the defence collapsing, the attacker
  culminating, trained reserves used up, the stockpile running empty or full, a side at zero;
* times known in advance are breakpoints the integration stops at: reviews (which evaluate the
  triggers on the exact state and may order a withdrawal), the withdrawal's start and end, dated
  events and waves, the ends of spread waves' windows, the horizon.

At a breakpoint, as in the other engines: the day is observed and the end conditions checked,
then dated events act, then the review. The rolling exchange ratio is taken over the last
``rolling_window_days`` exactly. The run writes the same files as the other engines: one
replication, whose bands (every percentile, the mean, min and max) are its trajectory.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from siege.engines.base import Recorder, Timeline
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
D, A, PD, PA, RD, RA, LD, LA = range(8)  # personnel, power, reserves, losses of each side
SCALARS = 8


class _Event:
    """An integration event: ``g(t, y)`` crossing 0 in ``direction``, and what it means."""

    terminal = True

    def __init__(self, kind: str, g: Callable[[float, F64], float], direction: int,
                 index: int = 0) -> None:
        self.kind, self.g, self.direction, self.index = kind, g, direction, index

    def __call__(self, t: float, y: F64) -> float:
        return self.g(t, y)


class MeanRun:
    """One replication of a scenario advanced by its expected rates."""

    def __init__(self, scenario: Scenario) -> None:
        sim = scenario.simulation
        self.timeline = Timeline(scenario)
        self.params: ModelParams = self.timeline.base
        self.horizon = sim.horizon_days
        self.rtol, self.atol = sim.rtol, sim.atol
        self.recorder = Recorder(scenario, self.params, 0, 1)
        p = self.params
        self.s, self.r = p.n_sectors, p.n_routes
        self.c0 = SCALARS  # first control column, then stockpile, shortfall, route-open days
        self.template = init_state(p, np.zeros(1, dtype=np.int64), 1.0)
        st = self.template
        self.y = np.concatenate([
            [st.defender[0], st.attacker[0],
             st.defender[0] * st.defender_quality[0], st.attacker[0] * st.attacker_quality[0],
             _finite(st.defender_reserves[0]), _finite(st.attacker_reserves[0]), 0.0, 0.0],
            st.control[0], [st.stockpile[0], 0.0], np.zeros(self.r),
        ])
        self.unlimited = (math.isinf(st.defender_reserves[0]), math.isinf(st.attacker_reserves[0]))
        self.regime = flows.Regime(
            exhausted=(not self.unlimited[0] and st.defender_reserves[0] <= 0,
                       not self.unlimited[1] and st.attacker_reserves[0] <= 0))
        self.t = 0.0
        self.history: list[tuple[float, Any]] = []  # (start, dense output) of each segment
        self.observed = -1  # last whole day observed
        self.observations: list[F64] = []  # the band measures on days 0, 1, ...
        self.pending = list(self.timeline.items)  # dated events not yet applied
        self.next_review = p.first_review_day
        self.review_count = 0
        self.done = False

    # -- state --------------------------------------------------------------------------
    def state(self, y: F64) -> SiegeState:
        """The state with continuous values from ``y`` and discrete ones (cuts, orders,
        triggers) as they stand; interdiction follows control."""
        p = self.params
        c0, s, r = self.c0, self.s, self.r
        control = y[c0 : c0 + s].reshape(1, s)
        # a copy of the template's fields, then the continuous ones (this runs at every
        # evaluation of the rates: no dataclass machinery)
        state = object.__new__(SiegeState)
        state.__dict__.update(self.template.__dict__)
        state.defender, state.attacker = y[D : D + 1], y[A : A + 1]
        state.defender_quality = self._quality(y, D, PD, p.defender.quality)
        state.attacker_quality = self._quality(y, A, PA, p.attacker.quality)
        state.defender_reserves = np.array([np.inf if self.unlimited[0] else y[RD]])
        state.attacker_reserves = np.array([np.inf if self.unlimited[1] else y[RA]])
        state.defender_losses, state.attacker_losses = y[LD : LD + 1], y[LA : LA + 1]
        state.control = control
        if r:
            state.interdiction = flows.interdiction(control, p)
        state.stockpile = y[c0 + s : c0 + s + 1]
        state.shortfall_days = y[c0 + s + 1 : c0 + s + 2]
        state.route_open_days = y[c0 + s + 2 :].reshape(1, r)
        return state

    @staticmethod
    def _quality(y: F64, personnel: int, power: int, default: Any) -> F64:
        present = y[personnel]
        return np.array([y[power] / present if present > 0 else float(default)])

    def rates(self, t: float, y: F64) -> F64:
        """``dy/dt`` at ``t``."""
        f = flows.flows(self.state(y), self.params, t, self.regime)
        out = np.empty_like(y)
        out[D], out[A] = f.personnel[0][0], f.personnel[1][0]
        out[PD], out[PA] = f.power[0][0], f.power[1][0]
        out[RD] = 0.0 if self.unlimited[0] else f.reserves[0][0]
        out[RA] = 0.0 if self.unlimited[1] else f.reserves[1][0]
        out[LD], out[LA] = f.losses[0][0], f.losses[1][0]
        c0, s = self.c0, self.s
        out[c0 : c0 + s] = f.control[0]
        out[c0 + s] = f.stockpile[0]
        out[c0 + s + 1] = f.shortfall[0]
        out[c0 + s + 2 :] = ~self.template.cut[0]
        return out

    # -- events -------------------------------------------------------------------------
    def events(self) -> list[_Event]:
        """The thresholds the state may cross under the current regime."""
        p, reg = self.params, self.regime
        c0, s = self.c0, self.s
        out: list[_Event] = []
        cut = self.template.cut[0]
        for j in range(self.r):
            level = float(p.restore_below[j] if cut[j] else p.cut_at[j])
            out.append(_Event("route", lambda t, y, j=j, lv=level: self._adjacent(y, j) - lv,
                              -1 if cut[j] else 1, j))
        if p.has_flanks and cut.all():
            closure = float(p.closure_flank_control)
            out.append(_Event("end", lambda t, y: self._flanks(y) - closure, 1))
        collapse = float(p.collapse_fraction * p.defender.strength)
        if collapse > 0:
            out.append(_Event("end", lambda t, y: y[D] - collapse, -1))
        culmination = float(p.culmination_fraction * p.attacker.strength * p.attacker.quality)
        if culmination > 0:
            out.append(_Event("end", lambda t, y: y[PA] - culmination, -1))
        for i, (pool, rate) in enumerate(((RD, p.defender.reinforcement_rate),
                                          (RA, p.attacker.reinforcement_rate))):
            if not self.unlimited[i] and not reg.exhausted[i] and float(rate) > 0:
                out.append(_Event("exhausted", lambda t, y, k=pool: y[k], -1, i))
            side = (D, A)[i]
            if reg.empty[i]:
                out.append(_Event("refilled", lambda t, y, i=i: self._net_arrivals(t, y, i), 1, i))
            else:
                out.append(_Event("emptied", lambda t, y, k=side: y[k], -1, i))
        stock = c0 + s
        if reg.stockpile == 0:
            if p.consumption_per_person_day > 0:
                out.append(_Event("stock", lambda t, y: y[stock], -1, -1))
            if math.isfinite(p.storage_tonnes):
                storage = p.storage_tonnes
                out.append(_Event("stock", lambda t, y: y[stock] - storage, 1, 1))
        else:
            # an empty stockpile fills again once deliveries exceed consumption; a full one
            # empties once they fall short
            out.append(_Event("stock", lambda t, y: self._surplus(t, y), -reg.stockpile, 0))
        return out

    def _adjacent(self, y: F64, route: int) -> float:
        cols = np.flatnonzero(self.params.adjacency[route])
        return float(y[self.c0 + cols].max()) if cols.size else 0.0

    def _flanks(self, y: F64) -> float:
        return float(y[self.c0 + np.flatnonzero(self.params.flank)].mean())

    def _surplus(self, t: float, y: F64) -> float:
        return float(flows.flows(self.state(y), self.params, t, self.regime).surplus[0])

    def _net_arrivals(self, t: float, y: F64, side: int) -> float:
        """Arrivals minus losses of a side at zero, were it not held at zero."""
        regime = dataclasses.replace(self.regime, empty=(False, False))
        return float(flows.flows(self.state(y), self.params, t, regime).personnel[side][0])

    def apply(self, event: _Event, t: float) -> None:
        """What an event that fired at ``t`` changes (ends are checked afterwards)."""
        y, reg = self.y, self.regime
        if event.kind == "route":
            self.template.cut = self.template.cut.copy()
            self.template.cut[0, event.index] = not self.template.cut[0, event.index]
        elif event.kind == "end":
            self.end_at_crossing(t)
        elif event.kind == "exhausted":
            y[(RD, RA)[event.index]] = 0.0
            self.regime = dataclasses.replace(reg, exhausted=_set(reg.exhausted, event.index))
        elif event.kind == "emptied":
            y[(D, A)[event.index]] = y[(PD, PA)[event.index]] = 0.0
            self.regime = dataclasses.replace(reg, empty=_set(reg.empty, event.index))
        elif event.kind == "refilled":
            self.regime = dataclasses.replace(reg, empty=_set(reg.empty, event.index, False))
        elif event.kind == "stock":
            stock = self.c0 + self.s
            if event.index:
                y[stock] = 0.0 if event.index < 0 else self.params.storage_tonnes
            self.regime = dataclasses.replace(reg, stockpile=event.index)

    def end_at_crossing(self, t: float) -> None:
        """A terminal threshold was crossed at ``t``: end with the model's end reasons,
        moving the crossing variables the last few ulps over their thresholds (the root is
        found to within rounding)."""
        p = self.params
        state = self.state(self.y)
        for _ in range(64):
            reason, end_day = endings.end_reasons(state, p, t)
            if reason[0] != RUNNING:
                break
            state.defender = np.nextafter(state.defender, -np.inf)
            state.attacker = np.nextafter(state.attacker, -np.inf)
            flank = np.flatnonzero(p.flank)
            state.control = state.control.copy()
            state.control[:, flank] = np.nextafter(state.control[:, flank], np.inf)
        else:
            raise ModelError(f"a threshold crossed on day {t:g} ends nothing; this is a bug")
        self.finish(self.state(self.y), reason, end_day)

    # -- time ---------------------------------------------------------------------------
    def run(self) -> BlockResult:
        self.observe_until(0.0)
        self.at_breakpoint()
        still = 0
        while not self.done:
            t_next = self.next_breakpoint()
            self.regime = self.regime_between(self.t, t_next)
            self.settle()
            start = self.t
            fired = self.integrate(t_next)
            still = still + 1 if self.t <= start + TIME_EPS else 0
            if still > MAX_STILL:
                raise ModelError(f"discrete changes chatter at day {self.t:g}: the scenario "
                                 "sits on a threshold")
            if fired is not None:
                self.apply(fired, self.t)
                if not self.done:
                    self.settle()
                    if not self.check_end() and self.due():
                        self.at_breakpoint()
            else:
                self.at_breakpoint()
        return self.recorder.result()

    def integrate(self, t_next: float) -> _Event | None:
        """Integrate to ``t_next`` or the first event; observe the whole days passed."""
        if t_next <= self.t:
            return None
        events = self.events()
        sol = solve_ivp(self.rates, (self.t, t_next), self.y, method=METHOD, rtol=self.rtol,
                        atol=self.atol, events=events, dense_output=True)
        if sol.status < 0:
            raise ModelError(f"the mean engine's integration failed on day {self.t:g}: "
                             f"{sol.message}")
        self.history.append((self.t, sol.sol))
        t_end = t_next
        fired = None
        if sol.status == 1:  # a terminal event
            first = min((ts[0], k) for k, ts in enumerate(sol.t_events) if len(ts))
            fired = events[first[1]]
            t_end = float(first[0])
        stop = self.reviews_within(t_end, sol.sol)
        if stop < t_end:  # a review ordered a withdrawal that begins inside the stretch
            fired, t_end = None, stop
        self.y = sol.y[:, -1].copy() if t_end == t_next else np.array(sol.sol(t_end))
        self.t = t_end
        transitions.check_finite(self.state(self.y), self.t)
        self.observe_until(self.t)
        return fired

    def reviews_within(self, t_end: float, dense: Any) -> float:
        """Hold the reviews due before ``t_end`` on the integrated stretch (reviews change no
        rate, so they need not stop the integration); return when the stretch must stop
        instead: at the start of a withdrawal a review orders, if before ``t_end``."""
        stop = t_end
        while self.next_review < stop - TIME_EPS:
            day = self.next_review
            ordered = math.isfinite(self.template.order_day[0])
            self.review(self.state(np.array(dense(day))), day)
            if not ordered and math.isfinite(self.template.order_day[0]):
                stop = max(min(stop, float(self.template.order_day[0])), day)
        return stop

    def review(self, state: SiegeState, day: float) -> None:
        """A decision review on ``day`` of the state there (triggers, a withdrawal order)."""
        state = self.windowed(state, day)
        decisions.review(state, self.params, day)
        self.template.trigger_first = state.trigger_first
        self.template.order_day = state.order_day
        self.review_count += 1
        self.next_review = self.params.first_review_day + (
            self.review_count * self.params.review_interval_days)

    def next_breakpoint(self) -> float:
        """The next time something is due: review, dated event, withdrawal, window edge."""
        p, t = self.params, self.t
        times = [self.horizon]
        times += [day for day, *_ in self.pending]
        order = float(self.template.order_day[0])
        times += [order, order + p.withdrawal_days]
        for wave in p.spread_waves:
            times += [wave.day, wave.day + wave.duration_days]
        return min(x for x in times if x > t + TIME_EPS) if any(
            x > t + TIME_EPS for x in times) else self.horizon

    def regime_between(self, t0: float, t1: float) -> flows.Regime:
        """The regime of the stretch ``[t0, t1]`` as decided by the times in it."""
        mid = 0.5 * (t0 + t1)
        order = float(self.template.order_day[0])
        return dataclasses.replace(
            self.regime,
            withdrawing=order <= mid < order + self.params.withdrawal_days,
            staying=mid < order,
            waves=flows.wave_inflow(self.params, mid),
        )

    def settle(self) -> None:
        """Bring the modes in line with the state (after a jump or a new regime): a full or
        empty stockpile whose flows turned lets go, a side at zero with more arriving than
        lost refills, and the reverse."""
        reg = self.regime
        f = flows.flows(self.state(self.y), self.params, self.t, reg)
        surplus = float(f.surplus[0])
        stock = self.y[self.c0 + self.s]
        mode = reg.stockpile
        if (mode < 0 and surplus > 0) or (mode > 0 and surplus < 0):
            mode = 0
        elif mode == 0 and self.params.consumption_per_person_day > 0 and stock <= 0 \
                and surplus <= 0:
            mode = -1
        empty = list(reg.empty)
        for i, side in enumerate((D, A)):
            if not empty[i] and self.y[side] <= 0 and f.personnel[i][0] <= 0:
                empty[i] = True
            elif empty[i] and self._net_arrivals(self.t, self.y, i) > 0:
                empty[i] = False
        self.regime = dataclasses.replace(reg, stockpile=mode, empty=(empty[0], empty[1]))

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
                side = (D, PD) if kind == "defender" else (A, PA)
                present = (state.defender if kind == "defender" else state.attacker)[0]
                quality = (state.defender_quality if kind == "defender"
                           else state.attacker_quality)[0]
                self.y[side[0]], self.y[side[1]] = present, present * quality
        if self.next_review <= t + TIME_EPS:
            self.review(self.state(self.y), t)
        self.settle()
        self.check_end()

    def check_end(self) -> bool:
        """End the replication if an end condition holds now."""
        reason, end_day = endings.end_reasons(self.state(self.y), self.params, self.t)
        if reason[0] == RUNNING:
            return False
        self.finish(self.state(self.y), reason, end_day)
        return True

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
        ``rolling_window_days`` (days) before ``t``."""
        before = self.losses_at(t - self.params.rolling_window_days)
        window = RollingWindow.empty(1, 1)
        window.sum_defender = state.defender_losses - before[0]
        window.sum_attacker = state.attacker_losses - before[1]
        return dataclasses.replace(state, window=window)

    def observe_until(self, t: float) -> None:
        """Observe each whole day up to ``t`` not yet observed (recorded at the end)."""
        last = min(math.floor(t + TIME_EPS), self.recorder.n_days)
        for day in range(self.observed + 1, last + 1):
            y = self.y if abs(day - t) < TIME_EPS or not self.history else np.array(
                self.history[-1][1](float(day)))
            state = self.windowed(self.state(y), float(day))
            self.observations.append(np.concatenate(band_values(state, self.params, day)))
        self.observed = max(self.observed, last)

    def finish(self, state: SiegeState, reason: NDArray[np.int8], end_day: F64) -> None:
        """End the replication: its outcomes, and the days it was observed."""
        self.recorder.retire(state, self.params, reason, end_day)
        if self.observations:
            days = np.arange(len(self.observations), dtype=np.int64)
            self.recorder.add_trajectory(days, 0, np.array(self.observations).T)
        self.done = True


def _finite(x: float) -> float:
    return 0.0 if math.isinf(x) else float(x)


def _set(pair: tuple[bool, bool], i: int, value: bool = True) -> tuple[bool, bool]:
    out = list(pair)
    out[i] = value
    return out[0], out[1]


def run_mean(scenario: Scenario, first: int, n: int) -> BlockResult:
    """Run the mean-field replication (id 0; ``first`` and ``n`` must ask for it)."""
    if (first, n) != (0, 1):
        raise ValueError("the mean engine runs one replication, id 0")
    return MeanRun(scenario).run()
