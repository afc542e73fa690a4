"""Inputs of the serving estimator: LLM architectures and the models.yaml loader.

Everything is read from data/models.yaml (each number with its source id or an assumption) and from the catalog
(systems and chips); parameter counts, FLOPs and KV bytes per token are derived here from the architectures'
shapes, never typed in. The equations that use them are in serving/step.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from ..errors import UserError, did_you_mean


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    import yaml

    text = resources.files("computerace").joinpath("data", "models.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass(frozen=True)
class Architecture:
    """Shape of a decoder-only LLM (models.yaml); parameter counts, FLOPs and KV bytes are derived."""

    id: str
    name: str
    family: str  # "dense" | "moe"
    attention: str  # "gqa" | "mla"
    native_precision: str
    layers: int
    hidden: int
    vocab: int
    heads: int
    tied_embeddings: bool = False
    kv_heads: int = 0
    head_dim: int = 0
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    dense_layers: int = 0
    dense_intermediate: int = 0
    expert_intermediate: int = 0
    routed_experts: int = 0
    shared_experts: int = 0
    experts_per_token: int = 0
    max_domains_per_token: int = 0
    mtp_modules: int = 0
    published: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_moe(self) -> bool:
        return self.family == "moe"

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def attention_params_per_layer(self) -> int:
        h, n = self.hidden, self.heads
        if self.attention == "mla":
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            q = h * self.q_lora_rank + self.q_lora_rank * n * qk if self.q_lora_rank else h * n * qk
            kv = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank * n * (
                self.qk_nope_head_dim + self.v_head_dim)
            return q + kv + n * self.v_head_dim * h
        return 2 * h * n * self.head_dim + 2 * h * self.kv_heads * self.head_dim

    @property
    def dense_ffn_params(self) -> int:
        return 3 * self.hidden * self.dense_intermediate

    @property
    def expert_params(self) -> int:
        return 3 * self.hidden * self.expert_intermediate

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def head_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def dense_ffn_layers(self) -> int:
        return self.dense_layers if self.is_moe else self.layers

    @property
    def replicated_params(self) -> int:
        """Parameters every rank of an expert-parallel group holds (attention, dense FFNs, shared experts,
        routers, embedding and head); for a dense model, all of them."""
        p = self.layers * self.attention_params_per_layer + self.dense_ffn_layers * self.dense_ffn_params
        p += self.moe_layers * (self.shared_experts * self.expert_params + self.hidden * self.routed_experts)
        return p + self.embedding_params + (0 if self.tied_embeddings else self.head_params)

    @property
    def total_params(self) -> int:
        return self.replicated_params + self.moe_layers * self.routed_experts * self.expert_params

    @property
    def read_params_replicated(self) -> int:
        """Replicated parameters read in a step: all but the embedding table, which is only looked up."""
        return self.replicated_params - (0 if self.tied_embeddings else self.embedding_params)

    @property
    def routed_active_params(self) -> int:
        return self.moe_layers * self.experts_per_token * self.expert_params

    @property
    def active_params(self) -> int:
        """Parameters touched per token, embedding included (the published 'activated' count)."""
        return self.replicated_params + self.routed_active_params

    @property
    def linear_flops_per_token(self) -> float:
        """2 x the parameters multiplied per token (everything but the embedding lookup)."""
        return 2.0 * (self.read_params_replicated + self.routed_active_params)

    @property
    def routed_flops_per_token(self) -> float:
        return 2.0 * self.routed_active_params

    @property
    def kv_values_per_token(self) -> int:
        """Cached values per token over all layers: MLA keeps the latent and the RoPE key; GQA keeps K and V."""
        if self.attention == "mla":
            return self.layers * (self.kv_lora_rank + self.qk_rope_head_dim)
        return self.layers * 2 * self.kv_heads * self.head_dim

    @property
    def decode_attn_flops_per_context_token(self) -> float:
        """Attention FLOPs per generated token per cached token: MLA absorbed (MQA over the 576-wide latent:
        QK over kv_lora + rope, PV over kv_lora); GQA: QK and PV over every head."""
        if self.attention == "mla":
            return self.layers * 2.0 * self.heads * (2 * self.kv_lora_rank + self.qk_rope_head_dim)
        return self.layers * 4.0 * self.heads * self.head_dim

    @property
    def prefill_attn_flops_per_context_token(self) -> float:
        """Prefill attention FLOPs per token per earlier position: MLA not absorbed (QK over nope + rope, PV
        over v per head); GQA as in decode."""
        if self.attention == "mla":
            return self.layers * 2.0 * self.heads * (self.qk_nope_head_dim + self.qk_rope_head_dim + self.v_head_dim)
        return self.layers * 4.0 * self.heads * self.head_dim



def models() -> dict[str, Architecture]:
    return {mid: _architecture(mid) for mid in _data()["models"]}


@cache
def _architecture(model_id: str) -> Architecture:
    raw = dict(_data()["models"][model_id])
    if "like" in raw:  # a model with another's shapes (DeepSeek-R1 = DeepSeek-V3)
        base = dict(_data()["models"][raw.pop("like")])
        base.update(raw)
        raw = base
    for k in ("sources", "field_sources", "note"):
        raw.pop(k, None)
    return Architecture(id=model_id, **raw)


def model(model_id: str) -> Architecture:
    if model_id not in _data()["models"]:
        hint = did_you_mean(model_id, _data()["models"])
        hint = hint[:1].upper() + hint[1:] if hint else "Known: " + ", ".join(_data()["models"])
        raise UserError(f"unknown model id '{model_id}'. {hint}")
    return _architecture(model_id)


def cited_source_ids() -> set[str]:
    """Every source id models.yaml cites (architectures, precisions, factors, assumptions, measured rows) and the
    tables in serving/data/ cite."""
    ids: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "field_sources":
                    ids.update(v.values())
                elif k in ("sources", "source") or str(k).endswith("_sources"):
                    ids.update([v] if isinstance(v, str) else v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(_data())
    from . import data as serving_data  # kernel-level and validation tables (serving/data/)

    return ids | serving_data.cited_source_ids()
