"""The ``[uncertainty]`` of an optimization file: the ensemble over which every candidate of
``siege optimize`` is evaluated.

- ``posterior = "CAL.store"``: each replication of a candidate draws one parameter set from a
  calibration store's posterior, as ``siege simulate --posterior`` does (the draws depend on
  the seed only, so every candidate runs on the same draws); one member, whose statistics are
  over the posterior predictive.
- ``sweep = "SWEEP.toml"``: the points of a sweep file's design (its ``[design]``,
  ``[[parameter]]`` and ``[fixed]``; its scenario, seed and replications are not used) are the
  members; a candidate runs at every member, the member's values applied to the base scenario
  with the candidate's lever values, each member on the optimization's seed and replications.
  A path may not be both a lever and a design parameter (which would win is a guess).

:func:`load_ensemble` checks either against the base scenario and the levers; every fault is
an :class:`~siege.errors.OptimizeError` made by the caller's ``bad(key, message)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siege.errors import CalibrationError, OptimizeError, ScenarioError, SweepError
from siege.run.calibration_store import CalibrationStore
from siege.run.sweep_file import design, load_sweep
from siege.scenario import Scenario
from siege.scenario.compile import why_not_varied

MAX_MEMBERS = 1_000  # members of a sweep ensemble: each multiplies every candidate's runs
_PARTICLE_COLUMNS = ("particle", "weight", "distance")


@dataclass(frozen=True)
class Ensemble:
    """A checked ``[uncertainty]``: its ``kind`` (``posterior`` or ``sweep``), the file or
    store, its hash (the posterior's particles; the sweep's content), and the ``members``:
    scenario values of each (one empty member for a posterior)."""

    kind: str
    path: Path
    sha256: str
    members: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """What decides the results (kept in the store's manifest and in ``--json``)."""
        out: dict[str, Any] = {self.kind: str(self.path), "sha256": self.sha256}
        if self.kind == "sweep":
            out["members"] = [dict(m) for m in self.members]
        return out


def load_ensemble(posterior: str | None, sweep: str | None, file: Path, base: Scenario,
                  levers: Sequence[str],
                  bad: Callable[[str, str], OptimizeError]) -> Ensemble:
    """Check an ``[uncertainty]`` table's ``posterior`` or ``sweep`` (paths relative to the
    optimization ``file``) against the base scenario and the lever paths."""
    if (posterior is None) == (sweep is None):
        raise bad("uncertainty", "give one of posterior = \"CAL.store\" (a calibration "
                  "store) or sweep = \"SWEEP.toml\" (a sweep file whose design is the ensemble)")
    if posterior is not None:
        return _posterior((file.parent / posterior).resolve(), base, levers, bad)
    assert sweep is not None
    return _sweep((file.parent / sweep).resolve(), base, levers, bad)


def _posterior(path: Path, base: Scenario, levers: Sequence[str],
               bad: Callable[[str, str], OptimizeError]) -> Ensemble:
    key = "uncertainty.posterior"
    try:
        store = CalibrationStore.open(path)
        paths = [c for c in store.read("particles").column_names
                 if c not in _PARTICLE_COLUMNS]
        sha = store.particles_sha256()
    except CalibrationError as exc:
        raise bad(key, str(exc)) from None
    both = sorted(set(paths) & set(levers))
    if both:
        raise bad(key, f"'{both[0]}' is a lever and a calibrated parameter of the posterior; "
                  "a lever's value would be replaced by the draws. Drop the lever or "
                  "calibrate without it")
    for p in paths:
        why = why_not_varied(base, p)
        if why is not None:
            raise bad(key, f"the posterior's parameter '{p}' cannot vary per replication in "
                      f"the base scenario: {why}")
    return Ensemble("posterior", path, sha, ({},))


def _sweep(path: Path, base: Scenario, levers: Sequence[str],
           bad: Callable[[str, str], OptimizeError]) -> Ensemble:
    key = "uncertainty.sweep"
    try:
        sweep = load_sweep(path)
        points = design(sweep).values
    except (SweepError, ScenarioError) as exc:
        raise bad(key, str(exc)) from None
    if len(points) > MAX_MEMBERS:
        raise bad(key, f"the design has {len(points):,} points; an ensemble may have at most "
                  f"{MAX_MEMBERS:,} members (each multiplies every candidate's runs)")
    varied = [p.path for p in sweep.parameters] + list(sweep.fixed)
    both = sorted(set(varied) & set(levers))
    if both:
        raise bad(key, f"'{both[0]}' is both a lever and a value of the ensemble's design; "
                  "drop it from one of them")
    members = tuple({**sweep.fixed, **point} for point in points)
    for i, member in enumerate(members):
        try:
            base.with_overrides(member, source=f"ensemble member {i}")
        except ScenarioError as exc:
            raise bad(key, f"member {i} makes an invalid scenario: {exc}") from None
    return Ensemble("sweep", path, sweep.sha256(), members)
