"""Calibration files: what a valid one gives, and bad ones refused through the real CLI before
anything runs (exit status 2, naming the file, the key and the line)."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest

from siege.scenario.calibration import load_calibration
from siege.scenario.render import toml_text

from conftest import run_cli, scenario_data

CALIBRATION: dict[str, Any] = {
    "scenario": "scenario.toml",
    "seed": 3,
    "abc": {"population": 30, "max_generations": 2},
    "prior": [
        {"path": "sectors.north.advance_rate", "distribution": "loguniform", "low": 0.01,
         "high": 0.2},
        {"path": "attrition.defender_kill_rate", "distribution": "truncnormal", "mean": 0.01,
         "sd": 0.005, "low": 0.001, "high": 0.05},
    ],
    "target": [
        {"kind": "series", "measure": "control_north", "days": [10, 20, 30],
         "values": [0.3, 0.5, 0.6], "sd": 0.1},
        {"kind": "milestone", "name": "West road cut", "route_cut": "west", "day": 25, "sd": 5},
        {"kind": "milestone", "name": "threat", "trigger": "threat", "low": 20, "high": math.inf,
         "sd": 5},
        {"kind": "outcome", "end_reason": "withdrew", "end_day": 35, "sd": 4},
    ],
}


def write_calibration(folder: Path, changes: dict[str, Any] | None = None,
                      scenario: dict[str, Any] | None = None) -> Path:
    """The small calibration (and its scenario) in ``folder``; ``changes`` maps a dotted
    location (``prior.0.low``, ``abc.kernel``) to a new value (None removes the key)."""
    (folder / "scenario.toml").write_text(toml_text(scenario or scenario_data()))
    data = copy.deepcopy(CALIBRATION)
    for where, value in (changes or {}).items():
        *path, last = where.split(".")
        node: Any = data
        for part in path:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(last) if last.isdigit() else last
        if value is None:
            del node[key]
        else:
            node[key] = value
    path = folder / "cal.toml"
    path.write_text(toml_text(data))
    return path


def test_a_valid_file_gives_priors_targets_and_components(tmp_path: Path) -> None:
    cal = load_calibration(write_calibration(tmp_path))
    assert cal.paths == ["sectors.north.advance_rate", "attrition.defender_kill_rate"]
    assert [t.key for t in cal.targets] == ["control_north", "west_road_cut", "threat",
                                             "outcome"]
    labels = [c.label for t in cal.targets for c in t.components]
    assert labels == ["control_north@10", "control_north@20", "control_north@30",
                      "west_road_cut", "threat", "outcome.end_reason", "outcome.end_day"]
    threat = cal.targets[2].components[0]
    assert (threat.low, threat.high, threat.scale, threat.never) == (20, math.inf, 5, 41)
    # the stopping rules do not change what the generations are: a store may resume
    changed = load_calibration(write_calibration(tmp_path, {"abc.max_generations": 9}))
    assert changed.sha256() == cal.sha256()
    assert load_calibration(write_calibration(tmp_path, {"seed": 4})).sha256() != cal.sha256()


BAD = [  # change, the key the error names, a word of the message
    ({"prior.0.path": "sectors.nowhere.advance_rate"}, "prior[0].path", "no sector named"),
    ({"prior.0.distribution": "beta"}, "prior[0].distribution", "not a distribution"),
    ({"prior.0.low": 0.0}, "prior[0].low", "above 0"),
    ({"prior.0.high": 0.001}, "prior[0].high", "must be above low"),
    ({"prior.1": {"path": "attrition.defender_kill_rate", "distribution": "normal",
                  "mean": 0.01, "sd": 0.01}}, "prior[1]", "reaches -inf"),
    ({"prior.1": {"path": "defender.collapse_fraction", "distribution": "uniform", "low": 0.5,
                  "high": 1.5}}, "prior[1]", "reaches 1.5"),
    ({"prior.1": {"path": "advance.noise_cv", "distribution": "uniform", "low": 0.1,
                  "high": 1.0}}, "prior[1].path", "cannot take one value per replication"),
    ({"prior.1.path": "sectors.north.advance_rate"}, "prior[1].path", "already has a prior"),
    ({"prior.0.sd": 1.0}, "prior[0].sd", "unknown key"),
    ({"abc.populations": 10}, "abc.populations", "unknown key"),
    ({"abc.kernel": "gaussian"}, "abc.kernel", "not a kernel"),
    ({"abc.population": 1}, "abc.population", "must be from 2"),
    ({"target.0.measure": "no_such_measure"}, "target[0].measure", "no measure"),
    ({"target.0.days": [10, 20, 300]}, "target[0].days", "horizon"),
    ({"target.0.values": [0.3, 0.5]}, "target[0].values", "give 3 values"),
    ({"target.0.sd": None}, "target[0]", "uncertainty"),
    ({"target.0.kind": "trajectory"}, "target[0].kind", "not a target kind"),
    ({"target.1.route_cut": "nowhere"}, "target[1].route_cut", "no route named"),
    ({"target.2.trigger": "nowhere"}, "target[2].trigger", "no trigger named"),
    ({"target.2.sd": None}, "target[2].sd", "needs sd"),
    ({"target.3.end_reason": "stormed"}, "target[3].end_reason", "not an end reason"),
    ({"target.1.name": "threat"}, "target[2].name", "two targets named"),
    ({"scenario": "missing.toml"}, "scenario", "file not found"),
]


@pytest.mark.parametrize(("change", "key", "words"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_calibration_files_are_refused_with_file_key_and_line(
    tmp_path: Path, change: dict[str, Any], key: str, words: str
) -> None:
    path = write_calibration(tmp_path, change)
    result = run_cli("calibrate", str(path), "--out", str(tmp_path / "store"), "--workers", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert str(path) in message and f"key '{key}'" in message and words in message, message
    line = int(re.search(r"line (\d+)", message).group(1))  # type: ignore[union-attr]
    text = path.read_text().splitlines()
    written = text[line - 1].strip()
    name = key.rsplit(".", 1)[-1] if "." in key else key
    if "[" not in name and None not in change.values():
        assert written.startswith(name), (line, written)  # the line that writes the key
    else:  # a table, or a key missing from it: the table's header
        assert written.startswith("["), (line, written)
    assert not (tmp_path / "store").exists()  # nothing ran
