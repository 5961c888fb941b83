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
- the same design inline: ``[uncertainty.design]``, ``[[uncertainty.parameter]]`` and
  ``[uncertainty.fixed]``, read as a sweep file's are (with the optimization's scenario).

:func:`load_ensemble` checks either against the base scenario and the levers; every fault is
an :class:`~siege.errors.OptimizeError` made by the caller's ``bad(key, message)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siege.errors import CalibrationError, OptimizeError, ScenarioError, SweepError
from siege.run.calibration_store import CalibrationStore
from siege.run.sweep_file import Sweep, design, load_sweep, parse_sweep
from siege.scenario import Scenario
from siege.scenario.compile import why_not_varied

MAX_MEMBERS = 1_000  # members of a sweep ensemble: each multiplies every candidate's runs
INLINE_KEYS = ("design", "parameter", "fixed")  # an inline design's keys in [uncertainty]
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


def load_ensemble(table: dict[str, Any], file: Path, base: Scenario, levers: Sequence[str],
                  bad: Callable[[str, str], OptimizeError]) -> Ensemble:
    """Check an ``[uncertainty]`` table (``posterior`` or ``sweep``, paths relative to the
    optimization ``file``, or an inline design, with the optimization's ``scenario`` put in
    it) against the base scenario and the lever paths."""
    given = [f"{k} = ..." for k in ("posterior", "sweep") if table.get(k) is not None]
    if any(table.get(k) is not None for k in INLINE_KEYS):
        given.append("an inline design")
    if len(given) != 1:
        raise bad("uncertainty", "give one of posterior = \"CAL.store\" (a calibration "
                  "store), sweep = \"SWEEP.toml\" (a sweep file whose design is the ensemble) "
                  "or an inline design ([uncertainty.design] and [[uncertainty.parameter]])"
                  + (f"; got {' and '.join(given)}" if given else ""))
    if table.get("posterior") is not None:
        return _posterior((file.parent / table["posterior"]).resolve(), base, levers, bad)
    if table.get("sweep") is not None:
        path = (file.parent / table["sweep"]).resolve()
        try:
            sweep = load_sweep(path)
        except (SweepError, ScenarioError) as exc:
            raise bad("uncertainty.sweep", str(exc)) from None
        return _sweep(sweep, path, "uncertainty.sweep", base, levers, bad)
    data = {k: table[k] for k in (*INLINE_KEYS, "scenario") if table.get(k) is not None}
    try:
        sweep = parse_sweep(data, file)
    except SweepError as exc:
        raise _inline_error(str(exc), data, bad) from None
    return _sweep(sweep, file, "uncertainty", base, levers, bad)


def _inline_error(message: str, data: dict[str, Any],
                  bad: Callable[[str, str], OptimizeError]) -> OptimizeError:
    """A sweep file's message (``FILE: key 'parameter 'PATH'.high': ...``) about an inline
    design, under the key it has in the optimization file (``uncertainty.parameter[0].high``)."""
    found = re.match(r"^.*?: key '(.+?)': (.*)$", message, re.S)
    if found is None:
        return bad("uncertainty", message)
    key, text = found.groups()
    named = re.match(r"^parameter '([^']+)'(.*)$", key)
    if named is not None:
        paths = [p.get("path") if isinstance(p, dict) else None for p in data["parameter"]]
        if named.group(1) in paths:
            key = f"parameter[{paths.index(named.group(1))}]{named.group(2)}"
    return bad(f"uncertainty.{key}", text)


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


def _sweep(sweep: Sweep, path: Path, key: str, base: Scenario, levers: Sequence[str],
           bad: Callable[[str, str], OptimizeError]) -> Ensemble:
    """The members of a checked design (``path``: its sweep file, or the optimization file
    for an inline one; ``key``: where a fault is reported)."""
    points = design(sweep).values
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
