"""Inputs of the serving estimator: LLM architectures, precision recipes, efficiency factors and hardware.

Everything is read from data/models.yaml (each number with its source id or an assumption) and from the catalog
(systems and chips); parameter counts, FLOPs and KV bytes per token are derived here from the architectures'
shapes, never typed in. The equations that use them are in model/serving.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from ..errors import UserError, did_you_mean

PRECISIONS = ("bf16", "fp8", "int8", "fp4")
KV_FORMATS = ("bf16", "fp8")
CHIP_PEAK_FIELD = {"bf16": "dense16_tflops", "fp8": "fp8_dense_tflops", "int8": "int8_dense_tops",
                   "fp4": "fp4_dense_tflops"}
MATMUL_EFF_KEY = {"bf16": "matmul_bf16", "fp8": "matmul_8bit", "int8": "matmul_8bit", "fp4": "matmul_fp4"}


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
    mtp_acceptance: float = 0.0
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

    def default_mtp_tokens_per_step(self) -> float:
        return 1.0 + self.mtp_modules * self.mtp_acceptance if self.mtp_modules else 1.0


@dataclass(frozen=True)
class Precision:
    name: str
    weight_bytes: float
    dispatch_bytes: float
    combine_bytes: float
    kv: str


@dataclass(frozen=True)
class Efficiency:
    """Achieved fractions and overheads (models.yaml `efficiency:`); see docs/serving.md for their sources."""

    hbm: float
    matmul_bf16: float
    matmul_8bit: float
    matmul_fp4: float
    compute_model: float
    a2a_overlap: float
    link: float
    a2a_latency_us: float
    ep_imbalance: float
    host_us_per_sequence: float
    launch_us_per_layer: float
    hbm_reserve: float
    prefill_tokens_per_chip: float

    def matmul(self, precision: str) -> float:
        return float(getattr(self, MATMUL_EFF_KEY[precision]))


@dataclass(frozen=True)
class Hardware:
    """What the estimator needs of a system and its chip. Scale-up bandwidth is per direction (half the
    catalog's bidirectional figure); scale-out is per direction already (a 400 Gb/s NIC = 50 GB/s)."""

    system_id: str
    chip_id: str
    domain_chips: int
    hbm_gb: float
    hbm_tbps: float
    peak_tflops: dict[str, float | None]
    scaleup_gbps: float | None
    scaleout_gbps: float | None

    def peak(self, precision: str) -> float:
        v = self.peak_tflops.get(precision)
        if v is None:
            raise UserError(f"{precision} is not supported by {self.chip_id} in the catalog (no dense {precision} "
                            f"throughput); use one of: {', '.join(p for p in PRECISIONS if self.peak_tflops.get(p))}")
        return v * 1e12


def models() -> dict[str, Architecture]:
    return {mid: _architecture(mid) for mid in _data()["models"]}


@cache
def _architecture(model_id: str) -> Architecture:
    raw = dict(_data()["models"][model_id])
    for k in ("sources", "field_sources"):
        raw.pop(k, None)
    return Architecture(id=model_id, **raw)


def model(model_id: str) -> Architecture:
    if model_id not in _data()["models"]:
        hint = did_you_mean(model_id, _data()["models"])
        hint = hint[:1].upper() + hint[1:] if hint else "Known: " + ", ".join(_data()["models"])
        raise UserError(f"unknown model id '{model_id}'. {hint}")
    return _architecture(model_id)


def precision(name: str) -> Precision:
    if name not in PRECISIONS:
        raise UserError(f"unknown precision '{name}': use one of {', '.join(PRECISIONS)}. "
                        f"{did_you_mean(name, PRECISIONS)}".strip())
    p = _data()["precisions"][name]
    return Precision(name, float(p["weight_bytes"]), float(p["dispatch_bytes"]), float(p["combine_bytes"]), p["kv"])


def kv_bytes(kv_format: str) -> float:
    if kv_format not in KV_FORMATS:
        raise UserError(f"unknown KV-cache precision '{kv_format}': use one of {', '.join(KV_FORMATS)}")
    return float(_data()["kv_formats"][kv_format]["bytes"])


def efficiency() -> Efficiency:
    e = _data()["efficiency"]
    return Efficiency(**{k: float(v["value"]) for k, v in e.items()})


def hardware(system_id: str) -> Hardware:
    """A catalog system and its chip, with the documented fill-ins of models.yaml `hardware_assumptions`."""
    from .. import catalog

    s = catalog.system(system_id)
    c = catalog.chip(s.chip)
    peaks: dict[str, float | None] = {p: getattr(c, CHIP_PEAK_FIELD[p]) for p in PRECISIONS}
    for fld, spec in (_data().get("hardware_assumptions") or {}).get(c.id, {}).items():
        prec = next(p for p, f in CHIP_PEAK_FIELD.items() if f == fld)
        fp16 = c.fp16_dense_tflops or c.dense16_tflops
        if peaks[prec] is None and "times_fp16" in spec and fp16:
            peaks[prec] = spec["times_fp16"] * fp16
    missing = [n for n, v in (("memory_gb", c.memory_gb), ("memory_tbps", c.memory_tbps)) if v is None]
    if missing:
        raise UserError(f"system '{system_id}': its chip '{c.id}' has no {' or '.join(missing)} in the catalog, "
                        "which the serving estimator needs")
    domain = int(s.chips_per_domain or 1)
    up = s.scaleup_gbps_per_chip if s.scaleup_gbps_per_chip is not None else (c.scaleup_gbps if domain > 1 else None)
    return Hardware(system_id, c.id, domain, float(c.memory_gb), float(c.memory_tbps), peaks,
                    None if up is None else up / 2.0, s.scaleout_gbps_per_chip)


def cited_source_ids() -> set[str]:
    """Every source id models.yaml cites (architectures, precisions, factors, assumptions, measured rows)."""
    ids: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("sources", "source"):
                    ids.update([v] if isinstance(v, str) else v)
                elif k == "field_sources":
                    ids.update(v.values())
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(_data())
    return ids
