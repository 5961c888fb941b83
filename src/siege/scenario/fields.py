"""What every table of the scenario schema shares: strict, immutable models and the
constrained types of names and fractions."""

from __future__ import annotations

from typing import Annotated, Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
MAX_HORIZON_DAYS = 3650  # ten years: the daily bands take about 80 kB a day per accumulator
MAX_TRAJECTORY_DAYS = 100_000  # sample trajectories times days kept: a few hundred MB at most
MIN_REVIEW_INTERVAL_DAYS = 0.01  # about a quarter of an hour; reviews are simulation steps
Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Identifier: lower-case letters, digits and '_', starting with a letter.",
    ),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    """A table: unknown keys are errors, values immutable, defaults validated, and types strict
    (a boolean is never a number, a string never a number or a boolean, a float never an
    integer; an integer is a float where a float is expected)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _arrays_as_tuples(cls, value: Any, info: ValidationInfo) -> Any:
        """TOML arrays arrive as lists; strict mode takes only tuples for tuple fields."""
        field = cls.model_fields[info.field_name or ""]
        if isinstance(value, list) and get_origin(field.annotation) is tuple:
            return tuple(value)
        return value
