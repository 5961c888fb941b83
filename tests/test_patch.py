"""Writing values into a scenario file's text (``siege calibrate --write-scenario``): in place,
comments kept, the old value after ``| was``, and a second write not nesting the first."""

from __future__ import annotations

from pathlib import Path

from siege.scenario.load import load_scenario
from siege.scenario.patch import set_values

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "history" / "kut.toml"


def test_a_second_write_keeps_the_first_was_only(tmp_path: Path) -> None:
    text = SCENARIO.read_text()
    scenario = load_scenario(SCENARIO)
    original = next(line for line in text.splitlines() if line.startswith("strength = 11000"))
    first = set_values(text, scenario, {"defender.strength": (9000.0, "calibrated: first")})
    line = next(x for x in first.splitlines() if x.startswith("strength = 9000.0"))
    assert line.count("| was") == 1
    assert line.endswith(original.split("=", 1)[1].split("#", 1)[0].strip() + ": " +
                         original.split("#", 1)[1].strip())
    path = tmp_path / "kut.toml"
    path.write_text(first)
    second = set_values(first, load_scenario(path),
                        {"defender.strength": (9500.0, "calibrated: second")})
    again = next(x for x in second.splitlines() if x.startswith("strength = 9500.0"))
    assert again.count("| was") == 1
    assert again.startswith("strength = 9500.0  # calibrated: second | was 11000")
    assert load_scenario(path).defender.strength == 9000.0
