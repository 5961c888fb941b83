"""The deterministic limit: with large forces and Poisson losses on a fine step, the mean loss
trajectory matches the Lanchester ODE solved by scipy.integrate.solve_ivp within 1 %."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from siege import simulate
from siege.scenario import scenario_from_dict

D0, A0, DAYS = 1.0e5, 2.0e5, 10

LAWS = {
    # law: (attacker kill rate a, defender kill rate b, exponent W, right-hand side)
    "square": (0.02, 0.03, 1.0, lambda a, b, w, D, A: (-a * A, -b * D)),
    "linear": (2e-7, 3e-7, 1.0, lambda a, b, w, D, A: (-a * A * D, -b * D * A)),
    "helmbold": (
        0.02,
        0.03,
        0.4,
        lambda a, b, w, D, A: (-a * A * (D / A) ** (1 - w), -b * D * (A / D) ** (1 - w)),
    ),
}


def _scenario(law: str, a: float, b: float, w: float):  # type: ignore[no-untyped-def]
    return scenario_from_dict(
        {
            "simulation": {
                "horizon_days": DAYS,
                "time_step_days": 0.01,
                "replications": 64,
                "seed": 5,
                "sample_trajectories": 64,
            },
            "defender": {"strength": D0, "collapse_fraction": 0.0},
            "attacker": {"strength": A0, "culmination_fraction": 0.0},
            "attrition": {
                "law": law,
                "helmbold_exponent": w,
                "attacker_kill_rate": a,
                "defender_kill_rate": b,
                "overdispersion": 0.0,
            },
        }
    )


@pytest.mark.parametrize("law", sorted(LAWS))
def test_mean_losses_match_lanchester_ode(law: str) -> None:
    a, b, w, rhs = LAWS[law]
    res = simulate(_scenario(law, a, b, w))
    specs = [s.name for s in res.bands.specs]
    samples = np.concatenate(res.bands.samples)  # (reps, days + 1, measures)
    mean_d = samples[:, :, specs.index("defender_strength")].mean(axis=0)
    mean_a = samples[:, :, specs.index("attacker_strength")].mean(axis=0)
    days = np.arange(DAYS + 1)
    ode = solve_ivp(
        lambda t, y: rhs(a, b, w, y[0], y[1]),
        (0, DAYS),
        [D0, A0],
        t_eval=days,
        rtol=1e-10,
        atol=1e-6,
    )
    loss_d_ode, loss_a_ode = D0 - ode.y[0], A0 - ode.y[1]
    loss_d, loss_a = D0 - mean_d, A0 - mean_a
    assert loss_d_ode[-1] > 0.2 * D0  # a real fight, not a trickle
    np.testing.assert_allclose(loss_d[1:], loss_d_ode[1:], rtol=0.01)
    np.testing.assert_allclose(loss_a[1:], loss_a_ode[1:], rtol=0.01)
