"""The scenario language: YAML files -> validated Scenario (see schema.py and distributions.py)."""

from .loader import load_scenario, parse_override_value, presets
from .schema import Parameter, Scenario, Series, param_specs

__all__ = ["Parameter", "Scenario", "Series", "load_scenario", "param_specs", "parse_override_value", "presets"]
