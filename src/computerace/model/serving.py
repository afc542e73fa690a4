"""Serving estimator: how fast a system serves an LLM - roofline + expert-parallel all-to-all + overhead.

Decode, one step of B sequences per chip, each verifying q = ceil(tau) tokens and accepting tau (multi-token
prediction; q = tau = 1 without it), mean context S, T = B q tokens:

    T_step = T_fixed + sum_c max(bytes_c / (eta_hbm BW), FLOPs_c / (eta_mm eta_model peak_c)) + T_comm
    classes c: replicated-weight matrix products, routed experts, attention's core over the KV cache
    T_comm = max(0, T_a2a - omega * T_core) + T_tp          (T_core = the sum over classes)
    T_a2a  = L_moe [imbalance * max(bytes_up / (eta_link BW_up), bytes_out / (eta_link BW_out)) + 4 alpha]
    T_fixed = host_us * B + launch_us * layers
    TPOT = T_step / tau;  tokens/s per chip = B tau / T_step

With one operator class the core is max(T_mem, T_comp). The all-to-all runs over scale-up links while the
expert-parallel group of N chips fits one domain of D and sends the share 1 - D/N of its bytes over scale-out
links otherwise. Prefill: the same step with B prompts of length P (attention over the mean causal position
(P + 1)/2, MLA not absorbed) and a node-deduplicated dispatch; tokens/s per chip = B P / T_step. Tensor
parallelism (T_tp: two ring all-reduces per layer, not overlapped) is the alternative inside one domain.

Units: bytes, FLOPs and seconds inside; results in ms and tokens/s. Valid for decoder-only transformers (dense
GQA, or MoE with MLA or GQA) on one system's chips, batch >= 1, contexts the HBM holds. Inputs and their sources:
model/serving_inputs.py and data/models.yaml; equations, calibration on the reference's rows A and B and
residuals: docs/serving.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from .serving_inputs import (  # noqa: F401  (re-exported: serving.model(), serving.hardware() ...)
    KV_FORMATS,
    PRECISIONS,
    Architecture,
    Efficiency,
    Hardware,
    Precision,
    _data,
    cited_source_ids,
    efficiency,
    hardware,
    kv_bytes,
    model,
    models,
    precision,
)

PHASES = ("decode", "prefill")
# Expert-parallel group sizes tried for MoE models (powers of two plus the deployments in rows A and B and the
# scale-up domain sizes of the catalog's systems), capped at 384 chips.
EP_CANDIDATES = (1, 2, 4, 8, 16, 32, 64, 72, 128, 144, 256, 288, 320, 384)
TP_CANDIDATES = (1, 2, 4, 8, 16, 32, 64)
MAX_EP = 384
MICRO_BATCHES = 2  # two-micro-batch overlap: each MoE layer makes 2 calls (dispatch, combine) per micro-batch


# ----------------------------------------------------------------------------------------------- mechanisms

@dataclass(frozen=True)
class Parallel:
    """One deployment: expert-parallel group of `ep` chips (MoE, data-parallel attention) or a tensor-parallel
    group of `tp` chips (dense)."""

    ep: int = 1
    tp: int = 1

    @property
    def chips(self) -> int:
        return self.ep * self.tp

    def label(self) -> str:
        return f"EP{self.ep}" if self.ep > 1 else (f"TP{self.tp}" if self.tp > 1 else "1 chip")


@dataclass(frozen=True)
class Case:
    arch: Architecture
    hw: Hardware
    prec: Precision
    kv_format: str
    eff: Efficiency
    par: Parallel
    balanced: bool = False

    @property
    def kv_bytes_per_token(self) -> float:
        """KV bytes one chip holds per cached token of one of its sequences."""
        b = self.arch.kv_values_per_token * kv_bytes(self.kv_format)
        if self.par.tp > 1 and self.arch.attention == "gqa":
            # heads split over the TP group, but whole KV heads: at most kv_heads-way. MLA's single latent is
            # replicated on every TP rank, so it is not divided.
            b /= min(self.par.tp, self.arch.kv_heads)
        return b

    @property
    def imbalance(self) -> float:
        return 1.0 if (self.balanced or self.par.ep <= 1) else self.eff.ep_imbalance

    def resident_weight_bytes(self) -> float:
        a, wb = self.arch, self.prec.weight_bytes
        if a.is_moe and self.par.ep > 1:
            local = math.ceil(a.routed_experts / self.par.ep)
            return wb * (a.replicated_params + a.moe_layers * local * a.expert_params)
        return wb * a.total_params / self.par.tp


def max_group_sequences(case: Case, context_tokens: float) -> int:
    """Largest number of sequences G a replica (EP rank, or TP group) holds: resident weights per chip
    + G * S * kv_bytes_per_chip <= HBM * (1 - reserve)."""
    usable = case.hw.hbm_gb * 1e9 * (1.0 - case.eff.hbm_reserve) - case.resident_weight_bytes()
    if usable <= 0:
        return 0
    return int(usable // (max(context_tokens, 1.0) * case.kv_bytes_per_token))


def max_batch_by_memory(case: Case, context_tokens: float) -> float:
    """The HBM limit on sequences per chip (a TP group's sequences are shared by its chips)."""
    return max_group_sequences(case, context_tokens) / case.par.tp


def _touched_experts(case: Case, tokens_per_chip: np.ndarray) -> np.ndarray:
    """Expected distinct local experts a step reads per MoE layer: E_loc * (1 - exp(-lambda)), lambda the mean
    tokens per expert copy (Poisson occupancy; -> E_loc at large batch)."""
    a, n = case.arch, case.par.ep
    local = a.routed_experts / n if n <= a.routed_experts else 1.0
    lam = n * tokens_per_chip * a.experts_per_token / max(a.routed_experts, n)
    return local * -np.expm1(-lam)


def roofline_s(case: Case, tokens: np.ndarray, routed_experts_read: np.ndarray, kv_bytes_moved: np.ndarray,
               attn_flops_per_token: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-operator roofline of one step on one chip, summed over three operator classes.

    Each class takes max(bytes / (eta_hbm * BW), FLOPs / (eta_mm * peak * eta_model)) - as LLM-Viewer and GenZ
    do per operator - because a step runs its kernels one after another: an HBM-bound expert GEMM does not hide
    a compute-bound attention kernel. Classes: (1) matrix products of the replicated weights (attention
    projections, dense FFNs, shared experts, routers, head); (2) routed experts; (3) attention's core over the
    KV cache, at the KV format's peak. Returns (time of the memory-bound classes, time of the compute-bound
    classes); with a single class this is exactly max(T_mem, T_comp).
    """
    a, e, hw, tp = case.arch, case.eff, case.hw, case.par.tp
    bw = e.hbm * hw.hbm_tbps * 1e12
    kv_peak = _data()["kv_formats"][case.kv_format]["peak"]
    f_lin = e.matmul(case.prec.name) * hw.peak(case.prec.name) * e.compute_model
    f_attn = e.matmul(kv_peak) * hw.peak(kv_peak) * e.compute_model
    wb = case.prec.weight_bytes
    classes = (
        (wb * a.read_params_replicated / tp, tokens * 2.0 * a.read_params_replicated / tp / f_lin),
        (wb * a.moe_layers * routed_experts_read * a.expert_params / tp,
         tokens * case.imbalance * a.routed_flops_per_token / tp / f_lin),
        (kv_bytes_moved, tokens * attn_flops_per_token / tp / f_attn),
    )
    memory = np.zeros_like(tokens, dtype=float)
    compute = np.zeros_like(tokens, dtype=float)
    for nbytes, t_comp in classes:
        t_mem = nbytes / bw + 0.0 * tokens
        memory = memory + np.where(t_mem >= t_comp, t_mem, 0.0)
        compute = compute + np.where(t_mem >= t_comp, 0.0, t_comp)
    return memory, compute


def _link_time_s(case: Case, bytes_up: np.ndarray, bytes_out: np.ndarray) -> np.ndarray:
    hw, eta = case.hw, case.eff.link
    t = np.zeros_like(bytes_up, dtype=float)
    if np.any(bytes_up > 0):
        if not hw.scaleup_gbps:
            raise UserError(f"system '{hw.system_id}' has no scale-up bandwidth in the catalog")
        t = np.maximum(t, bytes_up / (eta * hw.scaleup_gbps * 1e9))
    if np.any(bytes_out > 0):
        if not hw.scaleout_gbps:
            raise UserError(f"system '{hw.system_id}' has no scale-out bandwidth in the catalog, so an "
                            f"expert-parallel group of {case.par.ep} chips cannot span domains of {hw.domain_chips}")
        t = np.maximum(t, bytes_out / (eta * hw.scaleout_gbps * 1e9))
    return t


def a2a_s(case: Case, tokens_per_chip: np.ndarray, phase: str) -> np.ndarray:
    """Expert-parallel dispatch + combine time per step over all MoE layers (0 without expert parallelism).

    Decode (low-latency kernels) sends each token to each of its k experts' chips: a share (min(N, D) - 1) / N
    of the bytes crosses scale-up links and 1 - D/N scale-out links. Prefill (normal kernels) sends a token once
    per distinct remote domain (at most `max_domains_per_token`) and fans it out inside the domain.
    """
    a, n, d = case.arch, case.par.ep, case.hw.domain_chips
    if not a.is_moe or n <= 1:
        return np.zeros_like(tokens_per_chip, dtype=float)
    h, k = a.hidden, a.experts_per_token
    per_token = h * (case.prec.dispatch_bytes + case.prec.combine_bytes)
    share_up = (min(n, d) - 1) / n
    if phase == "decode":
        share_out = max(0.0, 1.0 - d / n)
        copies_up, copies_out = k * share_up, k * share_out
    else:
        g = n / d if n > d else 1.0
        domains = g * (1.0 - (1.0 - 1.0 / g) ** k) if g > 1 else 1.0
        if a.max_domains_per_token:
            domains = min(domains, a.max_domains_per_token)
        copies_out = domains * (g - 1.0) / g if g > 1 else 0.0
        ranks = min(n, d) * (1.0 - (1.0 - 1.0 / min(n, d)) ** k)  # distinct chips inside a domain
        copies_up = ranks * share_up
    t = _link_time_s(case, tokens_per_chip * per_token * copies_up, tokens_per_chip * per_token * copies_out)
    calls = 2 * MICRO_BATCHES
    return a.moe_layers * (case.imbalance * t + calls * case.eff.a2a_latency_us * 1e-6)


def tp_allreduce_s(case: Case, tokens: np.ndarray) -> np.ndarray:
    """Two ring all-reduces of the BF16 hidden state per layer inside the TP group (exposed, not overlapped)."""
    t = case.par.tp
    if t <= 1:
        return np.zeros_like(tokens, dtype=float)
    nbytes = tokens * case.arch.hidden * 2.0
    link = _link_time_s(case, 2.0 * (t - 1) / t * nbytes, np.zeros_like(nbytes))
    return case.arch.layers * 2 * (link + case.eff.a2a_latency_us * 1e-6)


@dataclass(frozen=True)
class Step:
    """Arrays over the batch axis, in seconds: time in memory-bound and in compute-bound operators, exposed
    communication and fixed overhead; the step is their sum."""

    batch: np.ndarray  # sequences (prompts in prefill) per chip
    memory: np.ndarray
    compute: np.ndarray
    comm: np.ndarray
    overhead: np.ndarray
    tokens_per_seq: float  # accepted (decode) or prompt (prefill) tokens per sequence per step

    @property
    def total(self) -> np.ndarray:
        return self.overhead + self.memory + self.compute + self.comm

    @property
    def tokens_per_s_per_chip(self) -> np.ndarray:
        return self.batch * self.tokens_per_seq / self.total

    def bound(self, i: int) -> str:
        terms = {"memory": self.memory[i], "compute": self.compute[i], "comm": self.comm[i],
                 "overhead": self.overhead[i]}
        return max(terms, key=lambda k: terms[k])


def _finish(case: Case, b: np.ndarray, group_b: np.ndarray, tokens: np.ndarray, memory: np.ndarray,
            compute: np.ndarray, phase: str, tokens_per_seq: float) -> Step:
    e = case.eff
    a2a = a2a_s(case, tokens, phase)
    comm = np.maximum(0.0, a2a - e.a2a_overlap * (memory + compute)) + tp_allreduce_s(case, tokens)
    overhead = (e.host_us_per_sequence * group_b + e.launch_us_per_layer * case.arch.layers) * 1e-6
    return Step(b, memory, compute, comm, overhead + 0.0 * b, tokens_per_seq)


def decode_step(case: Case, batch: np.ndarray, context_tokens: float, accepted: float = 1.0) -> Step:
    """One decode step for `batch` sequences per chip, each verifying ceil(accepted) tokens against a mean
    context of `context_tokens` (see the module docstring and roofline_s)."""
    a = case.arch
    b = np.asarray(batch, dtype=float)
    q = float(math.ceil(accepted - 1e-9))  # tokens verified per sequence per step
    group_b = b * case.par.tp  # sequences per replica (= per chip without TP)
    tokens = group_b * q
    routed = _touched_experts(case, tokens) if a.is_moe else 0.0 * tokens
    kv_read = group_b * context_tokens * case.kv_bytes_per_token
    memory, compute = roofline_s(case, tokens, routed, kv_read, a.decode_attn_flops_per_context_token * context_tokens)
    return _finish(case, b, group_b, tokens, memory, compute, "decode", accepted)


def prefill_step(case: Case, prompts: np.ndarray, prompt_tokens: float) -> Step:
    """One prefill step of `prompts` prompts of `prompt_tokens` tokens per chip (all local experts read once;
    attention over the mean causal position (P + 1) / 2)."""
    a = case.arch
    b = np.asarray(prompts, dtype=float)
    group_b = b * case.par.tp
    tokens = group_b * prompt_tokens
    local = (a.routed_experts / case.par.ep if case.par.ep <= a.routed_experts else 1.0) if a.is_moe else 0.0
    kv_write = group_b * prompt_tokens * case.kv_bytes_per_token
    mean_position = (prompt_tokens + 1.0) / 2.0
    memory, compute = roofline_s(case, tokens, local + 0.0 * tokens, kv_write,
                                 a.prefill_attn_flops_per_context_token * mean_position)
    return _finish(case, b, group_b, tokens, memory, compute, "prefill", prompt_tokens)


# ----------------------------------------------------------------------------------------------- search

@dataclass(frozen=True)
class Estimate:
    system: str
    model: str
    precision: str
    kv_precision: str
    phase: str
    tokens: int
    parallel: Parallel
    batch_per_chip: float
    max_batch_by_memory: float
    tokens_per_step: float
    step_ms: dict[str, float]
    tokens_per_s_per_chip: float
    bound: str

    @property
    def step_total_ms(self) -> float:
        return sum(self.step_ms.values())

    @property
    def tpot_ms(self) -> float | None:
        return self.step_total_ms / self.tokens_per_step if self.phase == "decode" else None

    def as_dict(self) -> dict[str, Any]:
        r = lambda x, n=4: None if x is None else round(float(x), n)  # noqa: E731
        return {
            "system": self.system, "model": self.model, "precision": self.precision,
            "kv_precision": self.kv_precision, "phase": self.phase, "tokens": self.tokens,
            "parallel": {"ep": self.parallel.ep, "tp": self.parallel.tp},
            "tokens_per_s_per_chip": r(self.tokens_per_s_per_chip, 2),
            "batch_per_chip": r(self.batch_per_chip, 3),
            "tpot_ms": r(self.tpot_ms, 3),
            "step_ms": {k: r(v, 4) for k, v in self.step_ms.items()},
            "step_total_ms": r(self.step_total_ms, 4),
            "tokens_per_step": r(self.tokens_per_step, 3),
            "tokens_per_s_per_user": r(1000.0 / self.tpot_ms, 3) if self.tpot_ms else None,
            "bound": self.bound,
            "max_batch_by_memory": r(self.max_batch_by_memory, 3),
        }


def _candidates(arch: Architecture, hw: Hardware, ep: int | None, tp: int | None) -> list[Parallel]:
    """Deployments tried: tensor parallelism inside the scale-up domain (every model), and for MoE models also
    expert parallelism with data-parallel attention over 2..384 chips (beyond the domain only where the
    catalog gives a scale-out bandwidth). --ep / --tp pin one."""
    if ep is not None and tp is not None and ep > 1 and tp > 1:
        raise UserError("give --ep or --tp, not both (expert parallelism uses data-parallel attention)")
    if ep is not None and ep > 1:
        if not arch.is_moe:
            raise UserError(f"{arch.id} is a dense model: it has no experts to spread with --ep; use --tp")
        if ep > MAX_EP:
            raise UserError(f"--ep must be between 1 and {MAX_EP}, got {ep}")
        return [Parallel(ep=ep)]
    if tp is not None or ep == 1:
        t = tp or 1
        if t < 1 or t > hw.domain_chips:
            raise UserError(f"--tp {t} does not fit {hw.system_id}'s scale-up domain of {hw.domain_chips} chips")
        return [Parallel(tp=t)]
    out = [Parallel(tp=t) for t in TP_CANDIDATES if t <= hw.domain_chips and arch.heads % t == 0]
    if arch.is_moe:
        sizes = sorted({n for n in (*EP_CANDIDATES, hw.domain_chips) if 1 < n <= MAX_EP})
        if not hw.scaleout_gbps:
            sizes = [n for n in sizes if n <= hw.domain_chips]
        out += [Parallel(ep=n) for n in sizes]
    return out


def _resolve(system: str | Hardware, model_id: str, precision_name: str | None, kv_precision: str | None
             ) -> tuple[Architecture, Hardware, Precision, str]:
    arch, hw = model(model_id), (system if isinstance(system, Hardware) else hardware(system))
    prec = precision(precision_name or arch.native_precision)
    hw.peak(prec.name)  # a clear error if the chip lacks this precision
    kv = kv_precision or prec.kv
    kv_bytes(kv)
    kv_peak = _data()["kv_formats"][kv]["peak"]
    if not hw.peak_tflops.get(kv_peak):
        other = [k for k in KV_FORMATS if hw.peak_tflops.get(_data()["kv_formats"][k]["peak"])]
        raise UserError(f"a {kv} KV cache runs attention's core at {kv_peak}, which {hw.chip_id} lacks in the catalog"
                        + (f"; pass --kv-precision {other[0]}" if other else ""))
    return arch, hw, prec, kv


def estimate(system: str | Hardware, model_id: str, precision_name: str | None = None, phase: str = "decode",
             tokens: int = 4096, tpot_ms: float | None = None, batch: float | None = None,
             mtp_tokens_per_step: float | None = None, ep: int | None = None, tp: int | None = None,
             kv_precision: str | None = None, balanced: bool = False, eff: Efficiency | None = None) -> Estimate:
    """Tokens/s per chip of `model_id` on `system` (a catalog id or a Hardware), best deployment among the
    candidates (`_candidates`).

    Decode: `tokens` is the mean context (KV length); with `tpot_ms` the largest batch meeting it, with `batch`
    that batch per chip, with neither the largest batch HBM allows. Prefill: `tokens` is the prompt length and
    `batch` the prompts per chip (default: prefill_tokens_per_chip / tokens).
    """
    if phase not in PHASES:
        raise UserError(f"unknown phase '{phase}': use decode or prefill")
    if tpot_ms is not None and batch is not None:
        raise UserError("give either --tpot-ms or --batch, not both")
    if tokens < 1:
        raise UserError(f"--tokens must be at least 1, got {tokens}")
    if tpot_ms is not None and tpot_ms <= 0:
        raise UserError(f"--tpot-ms must be positive, got {tpot_ms}")
    if batch is not None and batch <= 0:
        raise UserError(f"--batch must be positive, got {batch}")
    arch, hw, prec, kv = _resolve(system, model_id, precision_name, kv_precision)
    eff = eff or efficiency()
    if phase == "prefill":
        if tpot_ms is not None:
            raise UserError("--tpot-ms applies to decode; for prefill give --batch (prompts per chip) or nothing")
        if mtp_tokens_per_step not in (None, 1, 1.0):
            raise UserError("--mtp-tokens-per-step applies to decode only")
        accepted = 1.0
    else:
        accepted = arch.default_mtp_tokens_per_step() if mtp_tokens_per_step is None else float(mtp_tokens_per_step)
        if accepted < 1:
            raise UserError(f"--mtp-tokens-per-step must be at least 1 (1 = no multi-token prediction), got {accepted}")
    best: Estimate | None = None
    reasons: list[str] = []
    for par in _candidates(arch, hw, ep, tp):
        case = Case(arch, hw, prec, kv, eff, par, balanced)
        try:
            e = _best_for(case, phase, tokens, tpot_ms, batch, accepted, reasons)
        except UserError as err:  # e.g. a deployment needing a link bandwidth the catalog lacks
            if ep is not None or tp is not None:
                raise
            reasons.append(f"{par.label()}: {err}")
            continue
        if e is not None and (best is None or e.tokens_per_s_per_chip > best.tokens_per_s_per_chip * (1 + 1e-9)):
            best = e
    if best is None:
        raise UserError(f"{arch.id} at {prec.name} cannot be served on {hw.system_id} as asked: " + "; ".join(
            dict.fromkeys(reasons)))
    return best


def _best_for(case: Case, phase: str, tokens: int, tpot_ms: float | None, batch: float | None,
              accepted: float, reasons: list[str]) -> Estimate | None:
    ctx = float(tokens)
    gmax = max_group_sequences(case, ctx)
    bmax = gmax / case.par.tp
    label = case.par.label()
    if gmax < 1:
        need = case.resident_weight_bytes() / 1e9
        reasons.append(f"{label}: {need:,.0f} GB of weights per chip leave no room for a {tokens}-token KV cache in "
                       f"{case.hw.hbm_gb:g} GB x {1 - case.eff.hbm_reserve:.0%} usable")
        return None
    if phase == "prefill":
        if batch is not None:
            b = float(batch)
        else:  # the default prefill batch, as far as HBM allows
            b = max(1.0 / case.par.tp, min(float(round(case.eff.prefill_tokens_per_chip / tokens)), bmax))
        if b > bmax * (1 + 1e-9):
            reasons.append(f"{label}: {b:g} prompts of {tokens} tokens per chip exceed the {bmax:g} that fit in HBM")
            return None
        return _estimate(case, phase, tokens, prefill_step(case, np.array([b]), ctx), 0, bmax)
    if batch is not None:
        if batch > bmax * (1 + 1e-9):
            reasons.append(f"{label}: batch {batch:g} per chip exceeds the {bmax:g} sequences of {tokens} tokens "
                           "that fit in HBM")
            return None
        return _estimate(case, phase, tokens, decode_step(case, np.array([float(batch)]), ctx, accepted), 0, bmax)
    bs = np.arange(1, gmax + 1, dtype=float) / case.par.tp
    step = decode_step(case, bs, ctx, accepted)
    if tpot_ms is None:
        i = int(np.argmax(step.tokens_per_s_per_chip))
        return _estimate(case, phase, tokens, step, i, bmax)
    ok = step.total / accepted * 1e3 <= tpot_ms * (1 + 1e-12)
    if not ok.any():
        fastest = float(step.total[0] / accepted * 1e3)
        reasons.append(f"{label}: the fastest TPOT is {fastest:.1f} ms (batch 1), above the {tpot_ms:g} ms target")
        return None
    i = int(np.argmax(np.where(ok, step.tokens_per_s_per_chip, -1.0)))
    return _estimate(case, phase, tokens, step, i, bmax)


def _estimate(case: Case, phase: str, tokens: int, step: Step, i: int, bmax: float) -> Estimate:
    ms = {"memory": step.memory[i] * 1e3, "compute": step.compute[i] * 1e3, "comm": step.comm[i] * 1e3,
          "overhead": step.overhead[i] * 1e3}
    return Estimate(case.hw.system_id, case.arch.id, case.prec.name, case.kv_format, phase, tokens, case.par,
                    float(step.batch[i]), bmax, step.tokens_per_seq, {k: float(v) for k, v in ms.items()},
                    float(step.tokens_per_s_per_chip[i]), step.bound(i))


def curve(system: str | Hardware, model_id: str, precision_name: str | None = None, tokens: int = 4096,
          mtp_tokens_per_step: float | None = None, kv_precision: str | None = None,
          speeds: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Best tokens/s per chip at each per-user speed (tokens/s/user = 1000 / TPOT ms), over every deployment
    and batch: the throughput-interactivity frontier of one system."""
    arch, hw, prec, kv = _resolve(system, model_id, precision_name, kv_precision)
    eff = efficiency()
    accepted = arch.default_mtp_tokens_per_step() if mtp_tokens_per_step is None else float(mtp_tokens_per_step)
    speeds = np.asarray(speeds if speeds is not None else SPEEDS, dtype=float)
    best_tput = np.zeros_like(speeds)
    best: list[dict[str, Any] | None] = [None] * len(speeds)
    for par in _candidates(arch, hw, None, None):
        case = Case(arch, hw, prec, kv, eff, par)
        gmax = max_group_sequences(case, float(tokens))
        if gmax < 1:
            continue
        bs = np.arange(1, gmax + 1, dtype=float) / par.tp
        step = decode_step(case, bs, float(tokens), accepted)
        user = accepted / step.total
        tput = step.tokens_per_s_per_chip
        for j, s in enumerate(speeds):
            ok = user >= s
            if ok.any():
                i = int(np.argmax(np.where(ok, tput, -1.0)))
                if tput[i] > best_tput[j]:
                    best_tput[j] = tput[i]
                    best[j] = {"tokens_per_s_per_user": float(s), "tokens_per_s_per_chip": float(tput[i]),
                               "batch_per_chip": float(bs[i]), "parallel": par.label(),
                               "tpot_ms": float(step.total[i] / accepted * 1e3), "bound": step.bound(i)}
    return [b for b in best if b is not None]


SPEEDS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400)


def reasoning_tokens_per_s_per_chip(chip_id: str, model_id: str = "deepseek-v3", tpot_ms: float = 50.0,
                                    tokens: int = 4096) -> float | None:
    """Decode tokens/s per chip of a reasoning model at a TPOT target on the best catalog system built on
    `chip_id` (its 8-bit format if the chip has one, else the model's own): the per-chip rate a
    `reasoning_serving_capacity` metric multiplies by chips held. None if no catalog system with that chip can
    serve the model at the target."""
    from .. import catalog

    best = None
    for sid, sysrow in catalog.systems().items():
        if sysrow.chip != chip_id:
            continue
        try:
            hw = hardware(sid)
            prec = next((p for p in ("fp8", "int8") if hw.peak_tflops.get(p)), None)
            rate = estimate(hw, model_id, prec, "decode", tokens, tpot_ms=tpot_ms).tokens_per_s_per_chip
        except UserError:
            continue
        best = rate if best is None else max(best, rate)
    return best
