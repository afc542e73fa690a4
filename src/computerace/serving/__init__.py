"""The serving estimator: how fast a system serves an LLM, per operator, with floors and a band (docs/serving.md).

Modules: inputs (architectures), precision (recipes per operator class), hardware (devices, k dies per package),
fabric (communication per fabric), step (the per-operator step model), engine (the optimiser, floors, bands,
curves and the race link), calibration (software-family factors, leave-one-system-out validation).

The race reads `reasoning_rate(system_id, model_id="deepseek-r1", tpot_ms=50.0, context_tokens=4096)`.
"""

from __future__ import annotations

from .engine import (
    MODES,
    PHASES,
    SPEEDS,
    Estimate,
    best_recipe,
    curve,
    estimate,
    hardware,
    reasoning_rate,
)
from .hardware import Device, device
from .inputs import Architecture, _data, cited_source_ids, model, models
from .precision import Recipe, recipe
from .step import Plan

__all__ = ["MODES", "PHASES", "SPEEDS", "Architecture", "Device", "Estimate", "Plan", "Recipe", "_data",
           "best_recipe", "cited_source_ids", "curve", "device", "estimate", "hardware", "model", "models",
           "reasoning_rate", "recipe"]
