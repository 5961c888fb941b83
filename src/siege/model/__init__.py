"""The model, below the scenario: its parameters, state, rules (pure array functions) and the
transitions built from them, and the registries the rest of the package derives from:
attrition laws, measures (bands and triggers) and outcome columns."""

from siege.model.laws import LAWS
from siege.model.measures import MEASURES
from siege.model.outcomes import OUTCOMES, SUMMARY_UNITS
from siege.model.params import ModelParams
from siege.model.rules import END_REASONS

__all__ = ["END_REASONS", "LAWS", "MEASURES", "OUTCOMES", "SUMMARY_UNITS", "ModelParams"]
