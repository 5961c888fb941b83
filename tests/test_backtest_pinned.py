"""The documented sieges read nothing outside scenarios/history/: the bundled scenarios may be
recalibrated (scenarios/bakhmut.toml was, on Bakhmut's own outcome) without moving the
backtest, which must stay out of sample."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from siege.scenario.history import load_history

HISTORY = Path(__file__).resolve().parents[1] / "scenarios" / "history"


def test_no_history_scenario_extends_a_file_outside_the_folder() -> None:
    for path in sorted(HISTORY.glob("*.toml")):
        ref = tomllib.loads(path.read_text(encoding="utf-8")).get("extends")
        if ref is not None:
            assert (path.parent / ref).resolve().parent == HISTORY.resolve(), path.name


def test_the_folder_alone_loads_to_the_same_scenarios(tmp_path: Path) -> None:
    alone = tmp_path / "nowhere" / "history"  # no bundled scenario beside or above it
    shutil.copytree(HISTORY, alone)
    here = {s.name: s.scenario.model_dump() for s in load_history(HISTORY)}
    there = {s.name: s.scenario.model_dump() for s in load_history(alone)}
    assert here == there and len(here) == 9
