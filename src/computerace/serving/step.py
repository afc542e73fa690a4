"""The per-operator step model: one decode or prefill step of one rank, operator by operator.

Each operator costs   t_op = n_kernels x floor + max(bytes / (eta_hbm BW), FLOPs / (eta(fmt, m) peak_fmt))
(roofline per kernel plus the smallest kernel's time; eta(fmt, m) the shape curve of hardware.Kernels). Activation
bytes are counted. Per layer: input norm, q/kv projections, RoPE + cache write + quantise, attention core, o-proj,
post-attention norm; then either a dense FFN, or a MoE block: router, top-k, permute, grouped expert GEMMs, SwiGLU,
unpermute, with the shared expert on a parallel stream (the block costs max(shared, routed)). Once per step: final
norm, LM head, sampling. Each of `mtp` draft tokens costs a pass of the MTP layer (a MoE layer) and the head.
Kernel counts come from an implementation profile (models.yaml `kernel_profiles`).

Communication: expert dispatch and combine per MoE layer and micro-batch (fabric.Fabric.call_s), over scale-up
links inside the domain and scale-out links for the share 1 - D/N beyond it; tensor parallelism adds two
all-reduces per layer. Schedules: `none` (step = compute + comm) or two-batch overlap (`tbo`: two micro-batches of
half the tokens; one's communication runs under the other's compute, so the step is
2 max(C_mb, A_mb) + min(C_mb, A_mb) / L_moe, and every weight is read twice).

Units: bytes, FLOPs and seconds; arrays over the batch axis. Valid for decoder-only dense (GQA) and MoE (MLA or
GQA) transformers. Sources: docs/serving.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from .fabric import Fabric
from .hardware import Device, Kernels
from .inputs import Architecture, _data
from .precision import Recipe

PREFILL_QUERY_TILE = 128.0  # query rows per attention tile in prefill kernels (FlashAttention-2 / FlashMLA: 64-128)


@dataclass(frozen=True)
class Plan:
    """One deployment: `ep` ranks of expert parallelism with data-parallel attention, or a `tp`-rank tensor-parallel
    group; `tbo` two-batch overlap; `mtp` draft tokens per step (0 = off)."""

    ep: int = 1
    tp: int = 1
    tbo: bool = False
    mtp: int = 0

    def label(self) -> str:
        s = f"EP{self.ep}" if self.ep > 1 else (f"TP{self.tp}" if self.tp > 1 else "1 rank")
        return s + (" +TBO" if self.tbo else "") + (f" +MTP{self.mtp}" if self.mtp else "")


@dataclass(frozen=True)
class Setup:
    """Everything fixed for one evaluation: model, device (at a band side), recipe, fabrics, profile, factors."""

    arch: Architecture
    dev: Device
    kern: Kernels
    recipe: Recipe
    up: Fabric
    out: Fabric
    profile: dict[str, int]
    acceptance: tuple[float, ...]
    software_factor: float = 1.0
    balanced: bool = False
    host_ms: float = 0.3
    imbalance: float = 1.18
    hbm_reserve: float = 0.10
    comm_sm_share: float = 0.15
    kv_free_fraction: float | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    def accepted(self, mtp: int) -> float:
        """Tokens per step with `mtp` draft tokens: 1 + sum_i prod_{j<=i} p_j."""
        tau, run = 1.0, 1.0
        for p in self.acceptance[:mtp]:
            run *= p
            tau += run
        return tau


# ------------------------------------------------------------------------------------------------ sizes

def weight_bytes(s: Setup, plan: Plan) -> float:
    """Resident weight bytes per rank under the recipe (embedding table in BF16)."""
    a, r, tp = s.arch, s.recipe, plan.tp
    b = a.layers * a.attention_params_per_layer * r.bytes_of("attn")
    b += a.dense_ffn_layers * a.dense_ffn_params * r.bytes_of("dense")
    b += a.embedding_params * 2.0 + (0 if a.tied_embeddings else a.head_params * r.bytes_of("head"))
    if a.is_moe:
        b += a.moe_layers * (a.shared_experts * a.expert_params * r.bytes_of("shared") + a.hidden * a.routed_experts * 2)
        local = max(1.0, float(np.ceil(a.routed_experts / plan.ep))) if plan.ep > 1 else a.routed_experts
        b += a.moe_layers * local * a.expert_params * r.bytes_of("moe")
        if a.mtp_modules and plan.mtp:  # the MTP module: one more MoE layer
            b += a.mtp_modules * (a.attention_params_per_layer * r.bytes_of("attn") + local * a.expert_params
                                  * r.bytes_of("moe"))
    return b / tp


def kv_bytes_per_token(s: Setup, plan: Plan) -> float:
    """KV bytes one rank holds per cached token of one of its sequences (GQA heads split over TP ranks)."""
    a = s.arch
    b = a.kv_values_per_token * s.recipe.bytes_of("core")
    if plan.tp > 1 and a.attention == "gqa":
        b /= min(plan.tp, a.kv_heads)
    return b


def max_sequences(s: Setup, plan: Plan, context_tokens: float) -> int:
    """Sequences a replica (EP rank or TP group) holds: weights + G S kv <= HBM (1 - reserve) per rank, or, for a
    framework that sizes its KV pool as a fraction f of the memory the weights leave, G S kv <= f (HBM - weights)."""
    if s.kv_free_fraction is not None:  # the framework sizes the KV pool as a fraction of what weights leave
        usable = (s.dev.hbm_gb * 1e9 - weight_bytes(s, plan)) * s.kv_free_fraction
    else:
        usable = s.dev.hbm_gb * 1e9 * (1.0 - s.hbm_reserve) - weight_bytes(s, plan)
    if usable <= 0:
        return 0
    return int(usable * plan.tp // (max(context_tokens, 1.0) * kv_bytes_per_token(s, plan) * plan.tp))


# ------------------------------------------------------------------------------------------------ operators

class Ops:
    """Accumulates operator times (arrays): floors, memory-bound bodies and compute-bound bodies."""

    def __init__(self, s: Setup, shape: tuple[int, ...]) -> None:
        self.s = s
        self.bw = s.kern.hbm_eff * s.dev.hbm_tbps * 1e12
        self.floor = np.zeros(shape)
        self.memory = np.zeros(shape)
        self.compute = np.zeros(shape)

    def op(self, kernels: float, nbytes: Any, flops: Any = 0.0, fmt: str = "bf16", rows: Any = 1.0,
           core: bool = False, prefill: bool = False) -> np.ndarray:
        """Adds one operator; returns its time (`core`: the attention core, at the prefill kernel's compute fraction
        when `prefill`)."""
        k = self.s.kern
        bw = k.core_bw_eff * self.s.dev.hbm_tbps * 1e12 if core else self.bw
        t_mem = np.asarray(nbytes, dtype=float) / bw
        if np.any(np.asarray(flops) > 0):
            if core:
                eff = k.prefill_core_mm_eff if prefill else k.core_mm_eff
            else:
                eff = k.matmul_eff(fmt, np.maximum(np.asarray(rows, dtype=float), 1e-9))
            t_comp = np.asarray(flops, dtype=float) / (eff * self.s.dev.peak(fmt))
        else:
            t_comp = 0.0 * t_mem
        fl = kernels * k.floor_us * 1e-6 + 0.0 * t_mem
        self.floor = self.floor + fl
        self.memory = self.memory + np.where(t_mem >= t_comp, t_mem, 0.0)
        self.compute = self.compute + np.where(t_mem >= t_comp, 0.0, t_comp)
        return fl + np.maximum(t_mem, t_comp)

    def gemm(self, kernels: float, params: float, cls: str, rows: Any, width_in: float, width_out: float,
             tokens: Any = None) -> np.ndarray:
        """A linear layer of `params` weights (class `cls` format) over `rows` rows (tokens, default rows)."""
        r = self.s.recipe
        t = rows if tokens is None else tokens
        nbytes = params * r.bytes_of(cls) + t * (width_in + width_out) * 2.0
        return self.op(kernels, nbytes, 2.0 * t * params, r.peak_of(cls), rows)

    def elementwise(self, kernels: float, nbytes: Any) -> np.ndarray:
        return self.op(kernels, nbytes)

    def total(self) -> np.ndarray:
        return self.floor + self.memory + self.compute

    def scaled(self, n: float) -> None:
        self.floor, self.memory, self.compute = self.floor * n, self.memory * n, self.compute * n


def _touched(s: Setup, plan: Plan, routed_tokens: np.ndarray) -> np.ndarray:
    """Distinct local experts a step reads per MoE layer: E_loc (1 - exp(-lambda)), lambda tokens per expert copy."""
    a, n = s.arch, max(plan.ep, 1)
    local = a.routed_experts / n if n <= a.routed_experts else 1.0
    lam = routed_tokens / local if n <= a.routed_experts else routed_tokens
    return local * -np.expm1(-lam)


def attention(o: Ops, plan: Plan, tokens: np.ndarray, kv_read: np.ndarray, core_flops: np.ndarray,
              kv_write_tokens: np.ndarray, chunk: tuple[np.ndarray, np.ndarray] | None = None,
              prefill: bool = False) -> np.ndarray:
    """One layer's attention block on one rank (weights / TP ranks). `chunk` = (KV bytes, FLOPs) of the prefill
    chunks an aggregated step carries: a separate attention kernel (compute-bound prefill beside memory-bound
    decode), so its roofline is taken on its own."""
    s, a, K, tp = o.s, o.s.arch, o.s.profile, plan.tp
    h = a.hidden
    o_params = (a.heads * (a.v_head_dim if a.attention == "mla" else a.head_dim) * h) / tp
    qkv_params = a.attention_params_per_layer / tp - o_params
    kv_layer = a.kv_values_per_token / a.layers * s.recipe.bytes_of("core")
    t = o.elementwise(K["norm"], tokens * h * 2 * 2)
    t = t + o.gemm(K["qkv"], qkv_params, "attn", tokens, h, h / tp)
    t = t + o.elementwise(K["rope"], tokens * h / tp * 2 * 2 + kv_write_tokens * kv_layer)
    t = t + o.op(K["core"], kv_read + tokens * 2 * h / tp * 2, core_flops, s.recipe.peak_of("core"), tokens, core=True,
                 prefill=prefill)
    if chunk is not None and np.any(chunk[1] > 0):
        t = t + o.op(1, chunk[0], chunk[1], s.recipe.peak_of("core"), tokens, core=True, prefill=True)
    t = t + o.gemm(K["o_proj"], o_params, "attn", tokens, h / tp, h)
    return t + o.elementwise(K["norm"], tokens * h * 2 * 2)


def ffn(o: Ops, plan: Plan, tokens: np.ndarray, moe: bool) -> np.ndarray:
    """One layer's FFN on one rank: dense SwiGLU, or the MoE block with the shared expert on a parallel stream."""
    s, a, K, tp = o.s, o.s.arch, o.s.profile, plan.tp
    h = a.hidden
    if not moe:
        inter = a.dense_intermediate / tp
        return (o.gemm(K["dense_ffn"] - 1, a.dense_ffn_params / tp, "dense", tokens, 2 * h, 2 * inter)
                + o.elementwise(1, tokens * inter * 2 * 3))
    k, E = a.experts_per_token, a.routed_experts
    imb = 1.0 if (s.balanced or plan.ep <= 1) else s.imbalance
    routed = tokens * k * imb if plan.ep > 1 else tokens * k  # routed token-rows this rank's experts process
    touched = _touched(s, plan, routed) if plan.ep > 1 else E * -np.expm1(-tokens * k / E)
    rows = routed / np.maximum(touched, 1e-9)
    inter = a.expert_intermediate / tp
    # the routed stream and the shared stream; their floors and bodies are booked, the block takes their max
    before = (o.floor.copy(), o.memory.copy(), o.compute.copy())
    r = o.gemm(K["router"], h * E, "head", tokens, h, E)  # router GEMM (16-bit)
    r = r + o.elementwise(K["topk"], tokens * E * 4 * 2)
    r = r + o.elementwise(K["permute"], tokens * k * h * s.recipe.dispatch_bytes * 2)
    r = r + o.op(K["expert_gemm"], touched * a.expert_params / tp * s.recipe.bytes_of("moe") + routed * (h + inter) * 2,
                 2.0 * routed * a.expert_params / tp, s.recipe.peak_of("moe"), rows)
    r = r + o.elementwise(K["act"], routed * inter * 2 * 3)
    r = r + o.elementwise(K["unpermute"], tokens * k * h * 2 * 2)
    if not a.shared_experts:
        return r
    mid = (o.floor.copy(), o.memory.copy(), o.compute.copy())
    sh = o.gemm(K["shared"] - 1, a.shared_experts * a.expert_params / tp, "shared", tokens, 2 * h, 2 * inter)
    sh = sh + o.elementwise(1, tokens * inter * a.shared_experts * 2 * 3)
    # overlap by max: book only the longer stream's parts
    longer_routed = r >= sh
    for name, b0, m0 in zip(("floor", "memory", "compute"), before, mid, strict=True):
        now = getattr(o, name)
        routed_part, shared_part = m0 - b0, now - m0
        setattr(o, name, b0 + np.where(longer_routed, routed_part, shared_part))
    return np.maximum(r, sh)


def head(o: Ops, plan: Plan, rows: np.ndarray) -> np.ndarray:
    a, K = o.s.arch, o.s.profile
    t = o.elementwise(K["norm"], rows * a.hidden * 2 * 2)
    t = t + o.gemm(K["head"], a.head_params / plan.tp, "head", rows, a.hidden, a.vocab / plan.tp)
    return t + o.elementwise(K["sampling"], rows * a.vocab * 4 * 2)


# ------------------------------------------------------------------------------------------------ communication

def a2a_call_s(s: Setup, plan: Plan, tokens: np.ndarray, element_bytes: float, phase: str) -> np.ndarray:
    """One dispatch (or combine) call per MoE layer for `tokens` tokens per rank: alpha + bytes / (eff BW) on each
    link class used, the slower of the two. Decode sends each token to its k experts' ranks; prefill sends once per
    distinct remote domain (node-limited routing) and fans out inside it."""
    a, n, d = s.arch, plan.ep, s.dev.domain_ranks
    k = a.experts_per_token
    imb = 1.0 if s.balanced else s.imbalance
    per_token = a.hidden * element_bytes
    share_up = (min(n, d) - 1) / n
    if phase == "decode":
        copies_up, copies_out = k * share_up, k * max(0.0, 1.0 - d / n)
    else:
        g = n / d if n > d else 1.0
        domains = g * (1.0 - (1.0 - 1.0 / g) ** k) if g > 1 else 1.0
        if a.max_domains_per_token:
            domains = min(domains, a.max_domains_per_token)
        copies_out = domains * (g - 1.0) / g if g > 1 else 0.0
        copies_up = min(n, d) * (1.0 - (1.0 - 1.0 / min(n, d)) ** k) * share_up
    t = np.zeros_like(tokens, dtype=float)
    if copies_up > 0:
        if not s.dev.scaleup_gbps:
            raise UserError(f"system '{s.dev.system_id}' has no scale-up bandwidth in the catalog")
        t = np.maximum(t, s.up.call_s(imb * tokens * per_token * copies_up, s.dev.scaleup_gbps))
    if copies_out > 0:
        if not s.dev.scaleout_gbps:
            raise UserError(f"system '{s.dev.system_id}' has no scale-out bandwidth in the catalog, so an "
                            f"expert-parallel group of {n} ranks cannot span domains of {d}")
        t = np.maximum(t, s.out.call_s(imb * tokens * per_token * copies_out, s.dev.scaleout_gbps))
    return t


def comm_s(s: Setup, plan: Plan, tokens: np.ndarray, phase: str, layers_moe: int, layers_all: int) -> np.ndarray:
    """All communication of one pass: EP dispatch + combine per MoE layer, or TP's two all-reduces per layer."""
    if plan.ep > 1 and s.arch.is_moe:
        r = s.recipe
        return layers_moe * (a2a_call_s(s, plan, tokens, r.dispatch_bytes, phase)
                             + a2a_call_s(s, plan, tokens, r.combine_bytes, phase))
    if plan.tp > 1:
        if not s.dev.scaleup_gbps:
            raise UserError(f"system '{s.dev.system_id}' has no scale-up bandwidth for tensor parallelism")
        nbytes = 2.0 * (plan.tp - 1) / plan.tp * tokens * s.arch.hidden * 2.0
        return layers_all * 2 * s.up.call_s(nbytes, s.dev.scaleup_gbps)
    return np.zeros_like(tokens, dtype=float)


# ------------------------------------------------------------------------------------------------ steps

@dataclass(frozen=True)
class Step:
    """Arrays over the batch axis (seconds per step): kernel floors, memory-bound and compute-bound bodies, exposed
    communication, host overhead; `total` applies the software factor."""

    batch: np.ndarray  # sequences (prompts in prefill) per replica
    floor: np.ndarray
    memory: np.ndarray
    compute: np.ndarray
    comm: np.ndarray
    overhead: np.ndarray
    factor: float
    tokens_per_seq: float  # accepted tokens (decode) or prompt tokens (prefill) per sequence per step

    @property
    def total(self) -> np.ndarray:
        """floors + memory-bound bodies (kernel-level data only) + factor x (compute-bound bodies, exposed
        communication, host overhead): the software family's factor scales what an engine orchestrates."""
        return self.floor + self.memory + self.factor * (self.compute + self.comm + self.overhead)

    def parts_ms(self, i: int) -> dict[str, float]:
        f = self.factor * 1e3
        return {"memory": float(self.memory[i] * 1e3), "compute": float(self.compute[i] * f),
                "floors": float(self.floor[i] * 1e3), "comm": float(self.comm[i] * f),
                "overhead": float(self.overhead[i] * f)}

    def bound(self, i: int) -> str:
        p = self.parts_ms(i)
        return max(p, key=lambda k: p[k])


def _pass(s: Setup, plan: Plan, tokens: np.ndarray, seqs: np.ndarray, kv_read: np.ndarray, core_flops: np.ndarray,
          kv_write: np.ndarray, head_rows: np.ndarray, phase: str, layers: int | None = None,
          chunk: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Ops, np.ndarray]:
    """Compute (Ops) and communication time of one forward pass over `tokens` tokens per rank."""
    a = s.arch
    o = Ops(s, tokens.shape)
    n_layers = a.layers if layers is None else layers
    n_moe = (a.moe_layers if layers is None else layers) if a.is_moe else 0
    n_dense = n_layers - n_moe
    per_layer_core = core_flops / a.layers
    per_layer_kv = kv_read / a.layers
    one = Ops(s, tokens.shape)
    per_layer_chunk = None if chunk is None else (chunk[0] / a.layers, chunk[1] / a.layers)
    attention(one, plan, tokens, per_layer_kv, per_layer_core, kv_write, per_layer_chunk, prefill=phase == "prefill")
    if n_dense:
        dense = Ops(s, tokens.shape)
        ffn(dense, plan, tokens, moe=False)
        dense.scaled(n_dense)
    if n_moe:
        moe = Ops(s, tokens.shape)
        ffn(moe, plan, tokens, moe=True)
        moe.scaled(n_moe)
    one.scaled(n_layers)
    for part in [one] + ([dense] if n_dense else []) + ([moe] if n_moe else []):
        o.floor, o.memory, o.compute = o.floor + part.floor, o.memory + part.memory, o.compute + part.compute
    head(o, plan, head_rows)
    return o, comm_s(s, plan, tokens, phase, n_moe, n_layers)


def _schedule(s: Setup, plan: Plan, run) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """(floor, memory, compute, exposed comm) of a pass under the plan's schedule. run(fraction) evaluates the pass
    on that fraction of the tokens."""
    if not plan.tbo:
        o, c = run(1.0)
        return o.floor, o.memory, o.compute, c
    o, c = run(0.5)  # one micro-batch of half the tokens; both run, each reading the weights
    comp = o.total()
    n_moe = max(s.arch.moe_layers, 1)
    step = 2 * np.maximum(comp, c) + np.minimum(comp, c) / n_moe
    exposed = step - 2 * comp
    return 2 * o.floor, 2 * o.memory, 2 * o.compute, exposed


def decode_step(s: Setup, plan: Plan, batch: np.ndarray, context_tokens: float, io_ratio: float = 0.0,
                accepted: float | None = None) -> Step:
    """One decode step of `batch` sequences per replica, each verifying mtp + 1 tokens against a mean context of
    `context_tokens`; aggregated mode (io_ratio > 0) adds a chunk of io_ratio prompt tokens (of length
    context_tokens) per accepted token. MTP drafts run after the verify pass, not overlapped."""
    a = s.arch
    b = np.asarray(batch, dtype=float)
    q = 1.0 + plan.mtp
    tau = s.accepted(plan.mtp) if accepted is None else accepted
    chunk = b * tau * io_ratio
    mean_pos = (context_tokens + 1.0) / 2.0
    tpr = 1.0 / plan.tp  # a TP group's tokens are processed by every rank, its weights split

    def run(frac: float) -> tuple[Ops, np.ndarray]:
        bb, cc = b * frac, chunk * frac
        tokens = bb * q + cc
        # a prefill chunk's attention reads its prompt's earlier KV once per query tile (FlashAttention-style
        # kernels; PREFILL_QUERY_TILE rows), not once per token as a decode token does
        kv_read = bb * context_tokens * kv_bytes_per_token(s, plan)
        flops = bb * q * context_tokens * a.decode_attn_flops_per_context_token * tpr
        chunk_kv = cc * mean_pos / PREFILL_QUERY_TILE * kv_bytes_per_token(s, plan)
        chunk_flops = cc * mean_pos * a.prefill_attn_flops_per_context_token * tpr
        return _pass(s, plan, tokens, bb, kv_read, flops, tokens, bb * q, "decode", chunk=(chunk_kv, chunk_flops))

    floor, memory, compute, comm = _schedule(s, plan, run)
    if plan.mtp and a.mtp_modules:
        for _ in range(plan.mtp):  # each draft: the MTP layer + head over one token per sequence
            kv = b * context_tokens * kv_bytes_per_token(s, plan)  # _pass takes one layer's share
            fl = b * context_tokens * a.decode_attn_flops_per_context_token * tpr
            o, c = _pass(s, plan, b, b, kv, fl, b, b, "decode", layers=1)
            floor, memory, compute, comm = floor + o.floor, memory + o.memory, compute + o.compute, comm + c
    overhead = s.host_ms * 1e-3 + 0.0 * b
    return Step(b, floor, memory, compute, comm, overhead, s.software_factor, tau)


def prefill_step(s: Setup, plan: Plan, prompts: np.ndarray, prompt_tokens: float) -> Step:
    """One prefill step of `prompts` prompts of `prompt_tokens` tokens per replica (attention over the mean causal
    position (P + 1) / 2; the head runs on each prompt's last token)."""
    a = s.arch
    b = np.asarray(prompts, dtype=float)
    mean_pos = (prompt_tokens + 1.0) / 2.0

    def run(frac: float) -> tuple[Ops, np.ndarray]:
        bb = b * frac
        tokens = bb * prompt_tokens
        flops = tokens * mean_pos * a.prefill_attn_flops_per_context_token / plan.tp
        kv = tokens * kv_bytes_per_token(s, plan)
        return _pass(s, plan, tokens, bb, kv, flops, tokens, bb, "prefill")

    floor, memory, compute, comm = _schedule(s, plan, run)
    if plan.ep > 1 and a.is_moe:  # the all-to-all kernels hold a share of the SMs while compute runs beside them
        slow = 1.0 / (1.0 - s.comm_sm_share)
        memory, compute = memory * slow, compute * slow
    return Step(b, floor, memory, compute, comm, s.host_ms * 1e-3 + 0.0 * b, s.software_factor, prompt_tokens)


def setup(arch: Architecture, dev: Device, recipe: Recipe, side: int = 0, profile: str = "fused",
          software: str = "default", balanced: bool = False, kv_free_fraction: float | None = None) -> Setup:
    """A Setup at a band side (-1 low, 0 central, +1 high): kernel fractions, floors, fabrics, MTP acceptance and
    the software factor all at that side."""
    from .fabric import fabric

    d = _data()
    profiles = d["kernel_profiles"]
    if profile not in profiles or profile == "assumption":
        raise UserError(f"unknown implementation profile '{profile}': use fused or plain")
    sw = d["software"]
    fam = sw.get(software, sw["default"])
    band = float(fam.get("band", sw.get("fit_band", 0.1)))
    factor = float(fam["factor"]) * (1.0 - side * band)
    m = d["mtp"]
    acc = tuple(min(0.99, max(0.0, p + side * float(m["band"]))) for p in m["acceptance"])
    dd = d["defaults"]
    return Setup(arch, dev, dev.kernels.at(side), recipe, fabric(dev.fabric_up).at(side),
                 fabric(dev.fabric_out).at(side), dict(profiles[profile]), acc, factor, balanced,
                 float(dd["host_ms_per_step"]), float(dd["ep_imbalance"]), float(dd["hbm_reserve"]),
                 float(dd["prefill_comm_sm_share"]), None if kv_free_fraction is None else float(kv_free_fraction),
                 dev.fill_ins)
