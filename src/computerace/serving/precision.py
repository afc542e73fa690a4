"""Precision recipes: the number format of each operator class (models.yaml `recipes:`).

A recipe says which format the attention projections, routed experts, shared experts, dense FFNs, LM head and the
attention core (KV cache) run in, and the bytes per element of the expert all-to-all. Bytes per weight and the chip
peak a product runs at follow from the format (`formats:`). Sources: DeepSeek's FP8 recipe (deepseek-v3-report,
deepseek-day6-2025), NVIDIA's NVFP4 DeepSeek-R1 card (MoE linears only), Huawei's W8A8 INT8 with 16-bit attention.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError, did_you_mean
from .inputs import _data

CLASSES = ("attn", "moe", "shared", "dense", "head", "core")


@dataclass(frozen=True)
class Recipe:
    name: str
    formats: dict[str, str]  # operator class -> format
    dispatch_bytes: float
    combine_bytes: float
    needs: str  # the chip peak the recipe cannot run without

    def bytes_of(self, cls: str) -> float:
        return float(_data()["formats"][self.formats[cls]]["bytes"])

    def peak_of(self, cls: str) -> str:
        return str(_data()["formats"][self.formats[cls]]["peak"])

    def with_core(self, kv_format: str) -> Recipe:
        if kv_format not in ("bf16", "fp8"):
            raise UserError(f"unknown KV-cache precision '{kv_format}': use bf16 or fp8")
        return Recipe(self.name, {**self.formats, "core": kv_format}, self.dispatch_bytes, self.combine_bytes,
                      self.needs)


def names() -> tuple[str, ...]:
    return tuple(_data()["recipes"])


def recipe(name: str) -> Recipe:
    """The recipe `name` (bf16, fp8, int8, fp4); a UserError naming the choices otherwise."""
    r = _data()["recipes"].get(name)
    if r is None:
        hint = did_you_mean(name, names())
        raise UserError(f"unknown precision '{name}': use one of {', '.join(names())}" + (f"; {hint}" if hint else ""))
    return Recipe(name, dict(r["classes"]), float(r["dispatch_bytes"]), float(r["combine_bytes"]), r["needs"])


def preference() -> list[str]:
    return list(_data()["recipe_preference"])
