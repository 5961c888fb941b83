"""The posterior-median scenario of a calibration (``siege calibrate --write-scenario``): the
base scenario file with each calibrated value set to its posterior median and its credible
intervals in a comment; every other line as it was."""

from __future__ import annotations

import contextlib
from pathlib import Path

from siege.analysis.calibrate import PosteriorSummary
from siege.errors import CalibrationError, ScenarioError
from siege.files import atomic_write_bytes
from siege.output.terminal import fmt_value as num
from siege.scenario import to_toml
from siege.scenario.patch import set_values
from siege.scenario.read import read_toml


def calibrated_values(summary: PosteriorSummary) -> dict[str, tuple[float, str]]:
    """Each calibrated path's posterior median (4 significant digits) and its comment, which
    names the command that calibrated it (the file relative to the working folder, if in it)."""
    file = summary.calibration.file
    with contextlib.suppress(ValueError):
        file = file.relative_to(Path.cwd())
    out = {}
    for p in summary.parameters:
        comment = (f"calibrated: siege calibrate {file.as_posix()}: posterior median; 90 % "
                   f"interval {num(p.q05)}–{num(p.q95)}, 50 % {num(p.q25)}–{num(p.q75)} "
                   f"(prior {p.prior.describe()})")
        out[p.path] = (float(num(p.median)), comment)
    return out


def calibrated_scenario_text(summary: PosteriorSummary) -> str:
    """The base scenario's file with the calibrated values in place; when that file has
    changed since the calibration, uses ``extends`` or cannot be edited line by line, the
    resolved scenario as TOML with the comments on the calibrated lines."""
    calibration = summary.calibration
    values = calibrated_values(summary)
    head = (f"# posterior medians of the calibration {calibration.file.name} "
            f"(generation {summary.posterior.generation}, ESS {summary.posterior.ess:.0f})\n")
    try:
        data, text = read_toml(calibration.scenario_file)
        if "extends" not in data:
            return head + set_values(text, calibration.scenario, values)
    except (ScenarioError, ValueError):
        pass  # the file has gone or changed: write the resolved scenario instead
    scenario = calibration.scenario.with_overrides({p: v for p, (v, _) in values.items()})
    return head + set_values(to_toml(scenario), scenario, values)


def write_calibrated_scenario(summary: PosteriorSummary, path: str | Path) -> Path:
    """Write :func:`calibrated_scenario_text` to ``path`` (whole or not at all)."""
    out = Path(path)
    if not out.parent.is_dir():
        raise CalibrationError(f"{out}: folder {out.parent} does not exist",
                               key="--write-scenario")
    atomic_write_bytes(out, calibrated_scenario_text(summary).encode())
    return out
