"""The scenario layer: the schema (typed, validated, with units; its allowed laws and trigger
measures from the model's registries), loading (``extends``, overrides, file and line in every
error), rendering (TOML, the reference docs) and compiling a scenario into the model's
parameters."""

from siege.scenario.compile import build_params
from siege.scenario.load import (
    apply_overrides,
    load_scenario,
    parse_assignment,
    scenario_from_dict,
    scenario_from_json,
)
from siege.scenario.render import reference_markdown, to_toml
from siege.scenario.schema import Scenario

__all__ = [
    "Scenario",
    "apply_overrides",
    "build_params",
    "load_scenario",
    "parse_assignment",
    "reference_markdown",
    "scenario_from_dict",
    "scenario_from_json",
    "to_toml",
]
