"""What all engines share: the combat step (the model's transitions in order), the recorder
of a block's outcomes and bands, the dated-events timeline and the SimPy processes."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray
from simpy.core import URGENT

from siege.model import arrivals, pocket, transitions
from siege.model.measures import band_values
from siege.model.outcomes import computed_columns, final_outcomes
from siege.model.params import ModelParams
from siege.model.probes import Probe, ProbeRecorder
from siege.model.rules import RUNNING
from siege.model.state import SiegeState
from siege.results.bands import BandAccumulator, MeasureSpec, band_specs
from siege.results.block import BlockResult
from siege.rng import Streams
from siege.scenario import Scenario
from siege.scenario.compile import build_varied_params

#: Reports, as a block runs, how many of its replications are done: those ended, plus the
#: running ones' share of the horizon (fractional; rising to the block's size). Observation
#: only: an engine calls it without changing anything it draws or computes.
BlockProgress = Callable[[float], None]


@dataclass(frozen=True)
class BlockInputs:
    """What a block may carry besides its scenario: values of scenario paths per replication,
    ``(n,)`` each for the block's ``n`` replications (calibration particles, posterior draws;
    see :func:`siege.scenario.compile.build_varied_params`), and probes to record per
    replication (:mod:`siege.model.probes`)."""

    values: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    probes: tuple[Probe, ...] = ()


def combat_step(
    state: SiegeState, params: ModelParams, t: float, dt: float, streams: Streams
) -> None:
    """Advance every running replication over ``[t, t + dt)`` (days): the transitions of a
    combat step, in order. Losses go into the rolling window's open cell (the engine opens
    cells)."""
    if state.n == 0:
        return
    eff = transitions.effectiveness(state, params, t)
    d_loss, a_loss = transitions.attrition(state, params, eff, dt, streams)
    w_loss = transitions.withdrawal_losses(state, params, t, dt, d_loss, streams)
    transitions.take_losses(state, d_loss if w_loss is None else d_loss + w_loss, a_loss)
    transitions.reinforce(state, params, t, dt)
    arrivals.spread_waves(state, params, t, dt)
    transitions.advance(state, params, eff, dt, streams)
    transitions.update_routes(state, params)
    pocket.update(state, params)
    transitions.count_open_route_days(state, dt)
    transitions.consume(state, params, dt)
    transitions.check_finite(state, t + dt)


class Recorder:
    """Collects outcomes, daily bands and sample trajectories for one block."""

    def __init__(
        self,
        scenario: Scenario,
        params: ModelParams,
        first: int,
        n: int,
        probes: tuple[Probe, ...] = (),
    ) -> None:
        self.first = first
        self.n = n
        self.n_days = scenario.simulation.whole_days
        self.specs: list[MeasureSpec] = band_specs(params)
        self.bands = BandAccumulator(self.specs, self.n_days)
        self.reason = np.full(n, RUNNING, dtype=np.int8)
        self.columns = {c: np.full(n, np.nan) for c in computed_columns(params)}
        k = scenario.simulation.sample_trajectories
        self.sample_ids = np.arange(first, min(first + n, k), dtype=np.int64)
        self.samples = np.full((self.sample_ids.size, self.n_days + 1, len(self.specs)), np.nan)
        self.probes = ProbeRecorder(probes, params, n) if probes else None

    def observe(self, state: SiegeState, params: ModelParams, day: int) -> None:
        """Record the running replications' state on a whole day."""
        if day > self.n_days or state.n == 0:
            return
        values = band_values(state, params, day)
        self.add_values(day, state.rep, values)
        self.observe_probes(state, params, day, values)

    def observe_probes(
        self, state: SiegeState, params: ModelParams, day: int, values: list[NDArray[np.float64]]
    ) -> None:
        """Record the probes (if any) of the running replications on a whole day, from their
        state and band ``values``."""
        if self.probes is not None:
            self.probes.observe(state.rep - self.first, state, params, day, values)

    def add_values(
        self,
        day: int,
        rep: NDArray[np.int64],
        values: list[NDArray[np.float64]],
        span: tuple[int, int] | None = None,
    ) -> None:
        """Record observed values ``(k,)`` per measure of replications ``rep`` (ascending) on
        ``day``: every value there is that day of the replications in ``span`` (ids
        ``[first, end)``; default the whole block)."""
        if day > self.n_days or rep.shape[0] == 0:
            return
        self.bands.add(day, values, rep, span or (self.first, self.first + self.n))
        if self.sample_ids.size:
            sel = rep < self.first + self.sample_ids.size
            if sel.any():
                rows = rep[sel] - self.first
                for m, v in enumerate(values):
                    self.samples[rows, day, m] = v[sel]

    def add_trajectory(
        self, days: NDArray[np.int64], rep: int, values: NDArray[np.float64]
    ) -> None:
        """Record one replication's observed values ``(measures, len(days))`` on several
        whole days at once."""
        self.bands.add_trajectory(days, values, rep)
        if rep - self.first < self.sample_ids.size:
            keep = days <= self.n_days
            self.samples[rep - self.first, days[keep], :] = values[:, keep].T

    def retire(
        self,
        state: SiegeState,
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
        for col, values in final_outcomes(state, params, ending, reason, end_day).items():
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
            probes=self.probes.values if self.probes is not None else np.empty((self.n, 0)),
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
    """Dated events in time order: parameter changes first, then waves, then a relief of the
    pocket, on a tie."""
    items: list[tuple[float, int, int, str, Any]] = []
    for i, ev in enumerate(scenario.events):
        items.append((ev.day, 0, i, "set", dict(ev.set)))
    if scenario.pocket is not None and scenario.pocket.relief_day is not None:
        items.append((scenario.pocket.relief_day, 2, 0, "relief", None))
    for side_name in ("defender", "attacker"):
        side = getattr(scenario, side_name)
        for i, wave in enumerate(side.waves):
            if wave.duration_days > 0:  # spread over a window: arrives in combat steps
                continue
            q = wave.quality if wave.quality is not None else side.quality
            items.append((wave.day, 1, i, side_name, (wave.personnel, q)))
    items.sort(key=lambda x: (x[0], x[1], x[3], x[2]))
    return [(d, kind, payload) for d, _, _, kind, payload in items]


class Timeline:
    """Dated events with the parameters in force after each (built once per block)."""

    def __init__(
        self, scenario: Scenario, values: Mapping[str, NDArray[np.float64]] | None = None
    ) -> None:
        values = values or {}
        self.base = build_varied_params(scenario, values)
        self.items: list[tuple[float, str, Any, ModelParams | None]] = []
        current = scenario
        for day, kind, payload in timeline(scenario):
            params = None
            if kind == "set":
                current = current.with_overrides(payload, source="events")
                params = build_varied_params(current, values)
            self.items.append((day, kind, payload, params))

    def take(self, index: NDArray[np.intp]) -> Timeline:
        """The timeline of the replications at block positions ``index`` (see
        :meth:`ModelParams.take`)."""
        out = Timeline.__new__(Timeline)
        out.base = self.base.take(index)
        out.items = [(day, kind, payload, None if p is None else p.take(index))
                     for day, kind, payload, p in self.items]
        return out


class SimpyRun:
    """What both engines share: the dated-events process, and the processes started in one
    order (dated events, reviews, each route's convoys, combat) so ties at equal times are
    resolved the same way in both."""

    env: simpy.Environment
    done: simpy.Event
    horizon: float
    events: Timeline
    params: ModelParams
    state: SiegeState

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
            if kind == "relief":
                pocket.relieve(self.state, self.params)
                self.routes_changed()
            elif params is not None:
                self.use_params(params)
            else:
                personnel, quality = payload
                arrivals.add_wave(self.state, kind, personnel, quality, self.env.now)

    def before_event(self) -> None:
        """Called before a dated event acts (the batch engine delivers convoys here)."""

    def routes_changed(self) -> None:
        """Called after a dated change of the routes' state (the batch engine recomputes its
        convoys' thresholds)."""

    def use_params(self, params: ModelParams) -> None:
        """Put the parameters of a dated event in force (the batch engine keeps the rows of
        the replications still running)."""
        self.params = params

    def run_processes(self) -> None:
        """Start every process and run the environment until every replication has ended.

        The processes' generators are closed at the end: a generator suspended in a ``yield``
        holds this run (its ``self``), which holds the environment that holds the processes, a
        reference cycle that Python frees only at its next full collection. Closed, the run and
        its arrays (the recorder's band histograms, about 28 MB on the Bakhmut scenario
        whatever the block's size) are freed as soon as the block returns, instead of piling up
        in a worker that runs one block after another."""
        env = self.env
        generators = [self.dated_events(), self.reviews(),
                      *(self.convoys(r) for r in range(self.params.n_routes)), self.combat()]
        try:
            for generator in generators:
                env.process(generator)
            env.run(until=self.done)
        finally:
            for generator in generators:
                generator.close()
