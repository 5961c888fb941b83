"""Common random numbers: variants of a scenario run with one seed share their draws while
their states agree, so a paired comparison cancels noise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from siege.run.simulate import simulate
from siege.scenario import Scenario

from conftest import scenario_data

DIVERGE_DAY = 100.0


def variant(late_withdrawal: bool) -> Scenario:
    """A siege that often ends before day 100; the second variant adds a withdrawal trigger
    that can only fire from day 100 on (everything before is the same policy)."""
    triggers: list[dict[str, Any]] = [
        {"name": "threat", "measure": "encirclement_threat", "op": ">=", "threshold": 0.8}
    ]
    if late_withdrawal:
        triggers.append({"name": "late", "measure": "day", "op": ">=", "threshold": DIVERGE_DAY})
    data = scenario_data(
        simulation={"horizon_days": 200.0, "time_step_days": 1.0, "replications": 100, "seed": 1},
        policy={"kind": "threshold", "review_interval_days": 2.5, "triggers": triggers},
    )
    for sector in data["sectors"]:
        sector["advance_rate"] *= 0.25
    return Scenario.model_validate(data)


@pytest.mark.parametrize(
    ("engine", "n"), [("batch", 6000), pytest.param("event", 120, marks=pytest.mark.slow)]
)
def test_policies_differing_after_day_100_agree_on_replications_ended_before(
    engine: str, n: int
) -> None:
    base = simulate(variant(False), replications=n, seed=42, engine=engine, workers=1)
    late = simulate(variant(True), replications=n, seed=42, engine=engine, workers=1)
    early = base.columns["end_day"] < DIVERGE_DAY
    # the test has teeth: both groups are well represented, and the policies do differ later
    assert 0.1 < early.mean() < 0.9
    assert np.any(base.end_reason[~early] != late.end_reason[~early])
    shared = [c for c in base.columns if c in late.columns]
    for col in shared:
        np.testing.assert_array_equal(late.columns[col][early], base.columns[col][early], col)
    np.testing.assert_array_equal(late.end_reason[early], base.end_reason[early])
