"""What every table of the scenario schema shares: strict, immutable models and the
constrained types of names and fractions."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
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
    """A table: unknown keys are errors, values are immutable, defaults are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
