"""Unit tests of the model's rule functions (pure array functions)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from siege.model import rules
from siege.model.laws import LAWS
from siege.model.params import AttritionParams

finite = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False)
positive = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@given(arrays(np.float64, 20, elements=finite), arrays(np.float64, 20, elements=positive))
def test_losses_never_negative_never_above_present(drawn, present) -> None:  # type: ignore[no-untyped-def]
    losses = rules.clip_losses(drawn, present)
    assert np.all(losses >= 0)
    assert np.all(losses <= present)


def attrition(law: str, exponent: float = 0.5) -> AttritionParams:
    return AttritionParams(law, exponent, 0.1, 0.2, 0.0)


def test_attrition_laws() -> None:
    a, d = np.array([200.0]), np.array([100.0])
    fa, fd = np.array([0.1]), np.array([0.2])
    dr, ar = LAWS["square"].rates(a, d, fa, fd, attrition("square"))
    assert dr[0] == 20.0 and ar[0] == 20.0
    dr, ar = LAWS["linear"].rates(a, d, fa, fd, attrition("linear"))
    assert dr[0] == 0.1 * 200 * 100 and ar[0] == 0.2 * 200 * 100
    helmbold = LAWS["helmbold"].rates
    dr, ar = helmbold(a, d, fa, fd, attrition("helmbold", 1.0))  # W = 1 is square
    assert np.isclose(dr[0], 20.0) and np.isclose(ar[0], 20.0)
    dr, ar = helmbold(a, d, fa, fd, attrition("helmbold", 0.5))
    assert np.isclose(dr[0], 0.1 * 200 * (100 / 200) ** 0.5)
    dr, ar = helmbold(np.array([0.0]), d, fa, fd, attrition("helmbold", 0.5))
    assert dr[0] == 0.0 and ar[0] == 0.0


def test_rules_take_one_parameter_value_per_replication() -> None:
    """A parameter given per replication ``(n,)`` acts on each replication as the same value
    given alone would."""
    a, d = np.array([200.0, 200.0]), np.array([100.0, 100.0])
    fa, fd = np.array([0.1, 0.1]), np.array([0.2, 0.2])
    both = attrition("helmbold", np.array([1.0, 0.5]))  # type: ignore[arg-type]
    dr, _ = LAWS["helmbold"].rates(a, d, fa, fd, both)
    for i, w in enumerate((1.0, 0.5)):
        assert dr[i] == LAWS["helmbold"].rates(a, d, fa, fd, attrition("helmbold", w))[0][i]
    strength = np.array([100.0, 100.0])
    rates = np.array([10.0, 20.0])
    new, _, reserves = rules.reinforce(
        strength, np.ones(2), np.array([15.0, 15.0]), rates, 0.0, 1.0, 0.5, 1.0
    )
    assert new.tolist() == [110.0, 115.0] and reserves.tolist() == [5.0, 0.0]


def test_cut_route_delivers_nothing() -> None:
    cut = np.array([False, True, False, True])
    threshold = rules.convoy_threshold(cut, np.array([0.3, 0.3, 0.3, 0.0]))
    uniform = np.array([0.5, 0.999, 0.1, 0.999])  # through, cut, lost, cut
    assert rules.convoy_deliveries(uniform, threshold, 25.0).tolist() == [25.0, 0.0, 0.0, 0.0]


def test_route_cut_has_hysteresis() -> None:
    cut = np.array([[False], [True], [True], [False]])
    adj = np.array([[0.7], [0.7], [0.3], [0.85]])
    new = rules.update_cuts(cut, adj, np.array([0.8]), np.array([0.5]))
    assert new[:, 0].tolist() == [False, True, False, True]


def test_fortification_erodes_with_control_and_time() -> None:
    control = np.linspace(0, 1, 11)
    f = rules.fortification_multiplier(4.0, 1.5, 0.0, control, 0.0)
    assert f[0] == 4.0 and f[-1] == 1.0
    assert np.all(np.diff(f) < 0)
    later = rules.fortification_multiplier(4.0, 1.5, 0.01, control, 100.0)
    assert np.all(later[:-1] < f[:-1]) and np.all(later >= 1.0)


def test_supply_effectiveness_ramp() -> None:
    eff = rules.supply_effectiveness(np.array([0.0, 2.0, 4.0, 40.0, np.inf]), 4.0, 0.3)
    assert np.allclose(eff, [0.3, 0.65, 1.0, 1.0, 1.0])


@given(
    arrays(np.float64, (5, 3), elements=st.floats(0, 1)),
    arrays(np.float64, (5, 3), elements=st.floats(1e-6, 1e6)),
    arrays(np.float64, (5, 3), elements=st.floats(0, 20)),
)
def test_advance_keeps_control_in_unit_interval(control, ratio, noise) -> None:  # type: ignore[no-untyped-def]
    drive = rules.advance_drive(ratio, 1.0, 1.0)
    new = rules.advance_control(control, drive, np.array([0.5, 1.0, 5.0]), 1.0, noise)
    assert np.all((new >= 0) & (new <= 1))
    # the attacker gains where it outnumbers at parity, loses where outnumbered
    gains = ratio > 1.0
    assert np.all(new[gains] >= control[gains] - 1e-12)
    assert np.all(new[~gains] <= control[~gains] + 1e-12)


def test_reinforcement_draws_pool_and_dilutes_quality() -> None:
    strength, quality, reserves = rules.reinforce(
        np.array([1000.0]), np.array([1.0]), np.array([50.0]), 100.0, 100.0, 1.0, 0.5, 1.0
    )
    assert reserves[0] == 0.0  # pool exhausted: only 50 trained arrive
    assert strength[0] == 1000 + 50 + 100
    assert np.isclose(quality[0], (1000 + 50 + 50) / 1150)


def test_pocket_needs_all_routes_cut_and_flanks() -> None:
    cut = np.array([[True, True], [True, False], [True, True]])
    flank = np.array([0.95, 0.95, 0.5])
    assert rules.pocket_closed(cut, flank, True, 0.9).tolist() == [True, False, False]
    assert not rules.pocket_closed(cut, flank, False, 0.9).any()


def test_triggers_compare_and_combine() -> None:
    v = np.array([0.1, 0.5, np.nan])
    assert rules.compare(v, ">=", 0.5).tolist() == [False, True, False]
    fired = np.array([[True, False], [True, True], [False, False]])
    assert rules.combine(fired, "any").tolist() == [True, True, False]
    assert rules.combine(fired, "all").tolist() == [False, True, False]


def test_withdrawal_losses_grow_as_routes_close() -> None:
    rate = rules.withdrawal_loss_rate(np.array([1.0, 0.5, 0.0]), 0.01, 0.1)
    assert np.allclose(rate, [0.01, 0.055, 0.1])
