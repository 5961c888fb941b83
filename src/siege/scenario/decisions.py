"""Schema tables of the decisions: ``[[policy.triggers]]``, ``[policy]`` and ``[withdrawal]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from siege.model.measures import TRIGGER_MEASURES
from siege.scenario.fields import MIN_REVIEW_INTERVAL_DAYS, Fraction, Name, Strict

# the allowed trigger measures come from the model's registry of measures (type checkers see a
# plain string)
if TYPE_CHECKING:
    MeasureName = str
else:
    MeasureName = Literal[TRIGGER_MEASURES]


class Trigger(Strict):
    """A named condition on one measure, evaluated at each decision review."""

    name: Name
    measure: MeasureName = Field(description="What is measured (see the trigger measures).")
    op: Literal[">=", "<=", ">", "<"] = Field(description="Comparison with the threshold.")
    threshold: float = Field(description="Threshold, in the measure's unit.")


class Policy(Strict):
    """The withdrawal policy: triggers reviewed on a schedule, combined, then a latency."""

    kind: Literal["hold", "threshold"] = Field(
        "hold",
        description="hold: never withdraw (triggers only recorded); threshold: withdraw on them.",
    )
    combine: Literal["any", "all"] = Field(
        "any", description="Withdraw when any / all of the triggers hold at a review."
    )
    review_interval_days: float = Field(
        1.0,
        ge=MIN_REVIEW_INTERVAL_DAYS,
        description=(
            "Time between decision reviews (days), at least 0.01 (a quarter of an hour): each "
            "review is a step of the simulation, and a shorter interval only multiplies them."
        ),
    )
    first_review_day: float = Field(0.0, ge=0, description="Day of the first review (days).")
    decision_latency_days: float = Field(
        0.0, ge=0, description="Time from the decision at a review to the order (days)."
    )
    rolling_window_days: float = Field(
        14.0, gt=0, le=365, description="Window of the rolling exchange ratio (days)."
    )
    triggers: tuple[Trigger, ...] = Field((), description="[[policy.triggers]] tables.")

    @model_validator(mode="after")
    def _triggers(self) -> Policy:
        names = [t.name for t in self.triggers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"trigger names must be unique; repeated: {', '.join(sorted(dup))}")
        if self.kind == "threshold" and not self.triggers:
            raise ValueError("policy kind 'threshold' needs at least one [[policy.triggers]]")
        return self


class Withdrawal(Strict):
    """Withdrawal as an operation: it takes days, costs losses, and can be caught by the pocket."""

    duration_days: float = Field(3.0, gt=0, le=365, description="Duration (days).")
    loss_rate_per_day: Fraction = Field(
        0.01,
        description="Share of the garrison lost per day of withdrawal, all routes open (1/day).",
    )
    loss_rate_no_routes_per_day: Fraction = Field(
        0.1,
        description=(
            "Share lost per day with no open route capacity (1/day); interpolated in between."
        ),
    )
