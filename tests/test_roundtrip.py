"""Plain data in and out of text: the one JSON sanitiser, the one TOML writer, and a scenario
read back from its own results file."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np

from siege.jsonsafe import json_safe
from siege.results.parquet import read_results
from siege.run.simulate import simulate
from siege.scenario import scenario_from_dict
from siege.scenario.render import toml_text

from conftest import scenario_data


def test_json_safe_writes_nan_as_null_infinity_as_text_and_numpy_as_python() -> None:
    data = {"a": math.nan, "b": (math.inf, -math.inf, 1.5), "c": np.float64(2.0),
            "d": np.arange(2), "e": {"f": np.int64(3), "g": "inf"}}
    safe = json_safe(data)
    assert safe == {"a": None, "b": ["inf", "-inf", 1.5], "c": 2.0, "d": [0, 1],
                    "e": {"f": 3, "g": "inf"}}
    assert type(safe["c"]) is float and type(safe["e"]["f"]) is int
    json.dumps(safe, allow_nan=False)  # strict JSON


def test_toml_text_is_read_back_by_tomllib() -> None:
    data = {
        "name": "t", "tags": ["a", "b"], "events": [],
        "table": {"x": 1, "y": 2.5, "flag": True, "empty": [], "inner": {"z": "s"},
                  "rows": [{"k": 1}, {"k": 2, "set": {"a.b": 3}}]},
        "items": [{"name": "one", "limit": math.inf}, {"name": "two", "limit": -1.0}],
    }
    back = tomllib.loads(toml_text(data))
    expected = {k: v for k, v in data.items() if k != "events"}  # a top-level [] is left out
    assert back == expected


def test_a_scenario_named_inf_is_read_back_from_its_results_file(tmp_path: Path) -> None:
    data = scenario_data(name="inf", description="-inf")
    data["simulation"]["replications"] = 64
    data["supply"]["storage_tonnes"] = math.inf
    data["events"] = [{"day": 5.0, "set": {"supply.storage_tonnes": math.inf}, "note": "inf"}]
    scenario = scenario_from_dict(data)
    out = tmp_path / "inf.parquet"
    simulate(scenario, workers=1, out=out)
    back = read_results(out).scenario  # every key given now, so compare the values
    assert back.model_dump() == scenario.model_dump()
    assert back.name == "inf" and back.description == "-inf" and back.events[0].note == "inf"
    assert back.events[0].set["supply.storage_tonnes"] == math.inf
    assert back.sha256() == scenario.sha256()
