"""The rules of the siege (array functions) and the parameters they read."""

from siege.model.params import ModelParams, build_params
from siege.model.rules import END_REASONS

__all__ = ["END_REASONS", "ModelParams", "build_params"]
