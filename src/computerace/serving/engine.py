"""The optimiser: the best deployment of a model on a system, with its floor and a low/central/high band.

For each candidate plan (expert parallelism over 2..768 ranks with data-parallel attention, or tensor parallelism
inside the scale-up domain; two-batch overlap on or off; MTP depth 0..3 when asked for with `mtp="auto"`) and each
batch the HBM holds (capped by a framework batch cap if given), step.py gives the step time. Decode: the plan and
batch with the most tokens/s per chip whose time per output token meets the target; prefill: prompts per rank.
The floor is the smallest time per output token any plan reaches (batch 1). The band re-runs the whole search with
every kernel fraction, floor, fabric, MTP acceptance and software factor at its low and high setting
(models.yaml bands), so it is the band of the optimised answer, not of one configuration.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError, did_you_mean
from . import precision as precision_mod
from .hardware import SIDES, Device, device
from .inputs import Architecture, _data, model
from .step import Plan, Setup, Step, decode_step, max_sequences, prefill_step, setup

PHASES = ("decode", "prefill")
MODES = ("disaggregated", "aggregated")
EP_CANDIDATES = (2, 4, 8, 16, 32, 64, 72, 128, 144, 256, 288, 320, 512, 768)
TP_CANDIDATES = (1, 2, 4, 8, 16)  # beyond 16 ranks the all-reduce and head split stop paying
MAX_EP = 768
SPEEDS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400)
GRID_POINTS = 96


@dataclass(frozen=True)
class Estimate:
    system: str
    model: str
    precision: str
    kv_precision: str
    phase: str
    mode: str
    tokens: int
    plan: Plan
    dies_per_chip: int
    batch_per_rank: float
    max_batch_by_memory: float
    tokens_per_step: float
    step_ms: dict[str, float]
    tokens_per_s_per_chip: float
    bound: str
    band: dict[str, float]
    floor_ms: float | None
    floor_band_ms: dict[str, float] | None
    assumptions: tuple[str, ...] = field(default=())

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
            "kv_precision": self.kv_precision, "phase": self.phase, "mode": self.mode, "tokens": self.tokens,
            "parallel": {"ep": self.plan.ep, "tp": self.plan.tp, "tbo": self.plan.tbo, "label": self.plan.label()},
            "mtp_depth": self.plan.mtp,
            "tokens_per_s_per_chip": r(self.tokens_per_s_per_chip, 2),
            "band": {k: r(v, 2) for k, v in self.band.items()},
            "floor_ms": r(self.floor_ms, 3),
            "floor_band_ms": None if self.floor_band_ms is None else {k: r(v, 3) for k, v in self.floor_band_ms.items()},
            "batch_per_rank": r(self.batch_per_rank, 3),
            "batch_per_chip": r(self.batch_per_rank * self.dies_per_chip, 3),
            "dies_per_chip": self.dies_per_chip,
            "tpot_ms": r(self.tpot_ms, 3),
            "step_ms": {k: r(v, 4) for k, v in self.step_ms.items()},
            "step_total_ms": r(self.step_total_ms, 4),
            "tokens_per_step": r(self.tokens_per_step, 3),
            "tokens_per_s_per_user": r(1000.0 / self.tpot_ms, 3) if self.tpot_ms else None,
            "bound": self.bound,
            "max_batch_by_memory": r(self.max_batch_by_memory, 3),
            "assumptions": list(self.assumptions),
        }


# ------------------------------------------------------------------------------------------------ inputs

def hardware(system: str) -> Device:
    """The catalog system as the rank its software sees (hardware.device)."""
    return device(system)


def _resolve(system: str | Device, model_id: str, precision_name: str | None, kv_precision: str | None
             ) -> tuple[Architecture, Device, precision_mod.Recipe]:
    arch = model(model_id)
    dev = system if isinstance(system, Device) else device(system)
    name = precision_name or best_recipe(dev, arch)
    rec = precision_mod.recipe(name)
    for cls in precision_mod.CLASSES:  # every format the recipe uses must exist on the chip
        dev.peak(rec.peak_of(cls)) if cls != "core" else None
    dev.peak(rec.needs)
    if kv_precision:
        rec = rec.with_core(kv_precision)
    if not dev.has(rec.peak_of("core")):
        other = [k for k in ("bf16", "fp8") if dev.has(k)]
        raise UserError(f"a {rec.formats['core']} KV cache runs attention's core at {rec.peak_of('core')}, which "
                        f"{dev.chip_id} lacks in the catalog" + (f"; pass --kv-precision {other[0]}" if other else ""))
    return arch, dev, rec


def best_recipe(dev: Device, arch: Architecture) -> str:
    """The system's best supported recipe: the first of models.yaml `recipe_preference` whose formats the chip
    runs (fp4 on Blackwell, fp8 on Hopper, int8 on Ascend); a BF16 model without an 8-bit release stays bf16
    unless the chip lacks BF16."""
    for name in precision_mod.preference():
        rec = precision_mod.recipe(name)
        if all(dev.has(rec.peak_of(c)) for c in precision_mod.CLASSES):
            if arch.native_precision == "bf16" and name != "bf16" and dev.has("bf16"):
                continue
            return name
    raise UserError(f"{dev.chip_id} runs none of the recipes {', '.join(precision_mod.names())} in the catalog")


def _setups(arch: Architecture, dev: Device, rec: precision_mod.Recipe, profile: str, software: str,
            balanced: bool, kv_free_fraction: float | None = None) -> dict[str, Setup]:
    return {name: setup(arch, dev, rec, side, profile, software, balanced, kv_free_fraction)
            for name, side in SIDES.items()}


def _plans(arch: Architecture, dev: Device, ep: int | None, tp: int | None, mtp: int | str,
           tbo: bool | None) -> list[Plan]:
    if ep is not None and tp is not None and ep > 1 and tp > 1:
        raise UserError("give --ep or --tp, not both (expert parallelism uses data-parallel attention)")
    if mtp == "auto":
        depths = list(range(len(_data()["mtp"]["acceptance"]) + 1)) if arch.mtp_modules else [0]
    else:
        depth = int(mtp)
        if depth < 0 or depth > len(_data()["mtp"]["acceptance"]):
            raise UserError(f"--mtp must be auto or 0..{len(_data()['mtp']['acceptance'])}, got {mtp}")
        if depth and not arch.mtp_modules:
            raise UserError(f"{arch.id} has no multi-token-prediction module: use --mtp 0")
        depths = [depth]
    shapes: list[tuple[int, int]] = []
    if ep is not None and ep > 1:
        if not arch.is_moe:
            raise UserError(f"{arch.id} is a dense model: it has no experts to spread with --ep; use --tp")
        if ep > MAX_EP:
            raise UserError(f"--ep must be between 1 and {MAX_EP}, got {ep}")
        shapes = [(ep, 1)]
    elif tp is not None or ep == 1:
        t = tp or 1
        if t < 1 or t > dev.domain_ranks:
            raise UserError(f"--tp {t} does not fit {dev.system_id}'s scale-up domain of {dev.domain_ranks} ranks")
        shapes = [(1, t)]
    else:
        shapes = [(1, t) for t in TP_CANDIDATES if t <= dev.domain_ranks and arch.heads % t == 0]
        if arch.is_moe:
            sizes = sorted({n for n in (*EP_CANDIDATES, dev.domain_ranks) if 1 < n <= MAX_EP})
            if not dev.scaleout_gbps:
                sizes = [n for n in sizes if n <= dev.domain_ranks]
            shapes += [(n, 1) for n in sizes]
    out = []
    for e, t in shapes:
        overlaps = [False, True] if (e > 1 and tbo is None) else [bool(tbo) and e > 1]
        out += [Plan(ep=e, tp=t, tbo=o, mtp=d) for o in dict.fromkeys(overlaps) for d in depths]
    return out


def _grid(g_max: int, cap: float | None) -> np.ndarray:
    top = g_max if cap is None else min(g_max, int(cap))
    if top < 1:
        return np.zeros(0)
    if top <= GRID_POINTS:
        return np.arange(1, top + 1, dtype=float)
    return np.unique(np.round(np.geomspace(1, top, GRID_POINTS)))


# ------------------------------------------------------------------------------------------------ search

@dataclass
class _Best:
    rate_per_rank: float = -1.0
    plan: Plan | None = None
    step: Step | None = None
    i: int = 0
    g_max: int = 0


def _search(s: Setup, plans: list[Plan], phase: str, tokens: int, tpot_ms: float | None, batch: float | None,
            io_ratio: float, max_batch: float | None, reasons: list[str], accepted: float | None = None,
            max_dispatch: float | None = None) -> tuple[_Best, float | None]:
    """The best plan and batch at one band side, and the floor (smallest TPOT in ms, decode)."""
    best, floor = _Best(), None
    ctx = float(tokens)
    for plan in plans:
        g_max = max_sequences(s, plan, ctx)
        if g_max < 1:
            need = (s.dev.hbm_gb * 1e9 * (1 - s.hbm_reserve))
            reasons.append(f"{plan.label()}: the weights per rank leave no room for a {tokens}-token KV cache in "
                           f"{s.dev.hbm_gb:g} GB per rank x {1 - s.hbm_reserve:.0%} usable ({need / 1e9:,.0f} GB)")
            continue
        try:
            if phase == "prefill":
                if batch is not None:
                    bs = np.array([float(batch) * plan.tp])
                else:
                    default = float(_data()["defaults"]["prefill_tokens_per_rank"]) * plan.tp / tokens
                    bs = np.array([max(1.0, min(float(round(default)), g_max))])
                if bs[0] > g_max * (1 + 1e-9):
                    reasons.append(f"{plan.label()}: {bs[0] / plan.tp:g} prompts of {tokens} tokens per rank exceed "
                                   f"the {g_max / plan.tp:g} that fit in HBM")
                    continue
                st = prefill_step(s, plan, bs, ctx)
            else:
                if batch is not None:
                    bs = np.array([float(batch) * plan.tp])
                    if bs[0] > g_max * (1 + 1e-9):
                        reasons.append(f"{plan.label()}: batch {batch:g} per rank exceeds the {g_max / plan.tp:g} "
                                       f"sequences of {tokens} tokens that fit in HBM")
                        continue
                else:
                    cap = None if max_batch is None else max_batch * plan.tp
                    if max_dispatch is not None and plan.ep > 1:  # the all-to-all buffer per micro-batch
                        d = max_dispatch * (2 if plan.tbo else 1) / (1 + plan.mtp)
                        cap = d if cap is None else min(cap, d)
                    bs = _grid(g_max, cap)
                st = decode_step(s, plan, bs, ctx, io_ratio, accepted)
        except UserError as err:
            reasons.append(f"{plan.label()}: {err}")
            continue
        rate = st.batch * st.tokens_per_seq / st.total / plan.tp  # tokens/s per rank
        ok = np.ones_like(rate, dtype=bool)
        if phase == "decode":
            tpot = st.total / st.tokens_per_seq * 1e3
            f0 = float(tpot[0]) if bs[0] <= plan.tp else None
            if f0 is not None:
                floor = f0 if floor is None else min(floor, f0)
            if tpot_ms is not None:
                ok = tpot <= tpot_ms * (1 + 1e-12)
                if not ok.any():
                    reasons.append(f"{plan.label()}: the fastest TPOT is {float(tpot.min()):.1f} ms (batch "
                                   f"{bs[0] / plan.tp:g}), above the {tpot_ms:g} ms target")
                    continue
        i = int(np.argmax(np.where(ok, rate, -1.0)))
        if rate[i] > best.rate_per_rank * (1 + 1e-9):
            best = _Best(float(rate[i]), plan, st, i, g_max)
    return best, floor


def estimate(system: str | Device, model_id: str, precision_name: str | None = None, phase: str = "decode",
             tokens: int = 4096, tpot_ms: float | None = None, batch: float | None = None, mtp: int | str = 0,
             ep: int | None = None, tp: int | None = None, kv_precision: str | None = None, balanced: bool = False,
             mode: str = "disaggregated", io_ratio: float | None = None, max_batch: float | None = None,
             profile: str = "fused", software: str = "default", tbo: bool | None = None,
             mtp_tokens_per_step: float | None = None, kv_free_fraction: float | None = None,
             max_dispatch_tokens: float | None = None) -> Estimate:
    """Tokens/s per chip of `model_id` on `system` (catalog id or Device), best plan, with band and floor.

    Decode: `tokens` is the mean context; with `tpot_ms` the best batch meeting it, with `batch` (sequences per
    rank) that batch, with neither the best batch HBM allows. Prefill: `tokens` is the prompt length and `batch`
    prompts per rank. `mtp`: draft depth, or "auto" for the optimiser's choice. `mode`: disaggregated (each phase
    on its own ranks) or aggregated (decode steps carry prefill chunks of io_ratio prompt tokens per output token).
    `max_batch`: a framework batch cap per rank. `mtp_tokens_per_step` overrides the acceptance (measured rows).
    `kv_free_fraction`: a framework's KV pool as a fraction of the HBM the weights leave (TensorRT-LLM: 0.95)
    instead of the default reserve of 10% of HBM. `max_dispatch_tokens`: the expert all-to-all's buffer limit in
    tokens per rank per micro-batch (SGLang on DeepEP: 256), which caps the decode batch of expert-parallel plans.
    """
    if phase not in PHASES:
        raise UserError(f"unknown phase '{phase}': use decode or prefill")
    if mode not in MODES:
        raise UserError(f"unknown serving mode '{mode}': use disaggregated or aggregated. "
                        f"{did_you_mean(mode, MODES)}".strip())
    if tpot_ms is not None and batch is not None:
        raise UserError("give either --tpot-ms or --batch, not both")
    if tokens < 1:
        raise UserError(f"--tokens must be at least 1, got {tokens}")
    if tpot_ms is not None and tpot_ms <= 0:
        raise UserError(f"--tpot-ms must be positive, got {tpot_ms}")
    if batch is not None and batch <= 0:
        raise UserError(f"--batch must be positive, got {batch}")
    if max_batch is not None and max_batch < 1:
        raise UserError(f"--max-batch must be at least 1, got {max_batch}")
    if kv_free_fraction is not None and not 0 < kv_free_fraction <= 1:
        raise UserError(f"--kv-free-fraction must be in (0, 1], got {kv_free_fraction}")
    if mtp_tokens_per_step is not None and mtp_tokens_per_step < 1:
        raise UserError(f"--mtp-tokens-per-step must be at least 1, got {mtp_tokens_per_step}")
    if mtp_tokens_per_step is not None and mtp_tokens_per_step > 1 and mtp in (0, "0"):
        mtp = math.ceil(mtp_tokens_per_step - 1 - 1e-9)  # a measured acceptance implies at least that many drafts
    if phase == "prefill":
        if tpot_ms is not None:
            raise UserError("--tpot-ms applies to decode; for prefill give --batch (prompts per rank) or nothing")
        if mtp not in (0, "0", "auto"):
            raise UserError("--mtp applies to decode only")
        if mode == "aggregated":
            raise UserError("--mode aggregated describes decode steps that carry prefill chunks: use --phase decode")
        mtp = 0
    families = [k for k, v in _data()["software"].items() if isinstance(v, dict)]
    if software not in families:
        raise UserError(f"unknown software family '{software}': use one of {', '.join(families)}. "
                        f"{did_you_mean(software, families)}".strip())
    ratio = 0.0
    if mode == "aggregated":
        ratio = float(_data()["defaults"]["io_ratio"] if io_ratio is None else io_ratio)
        if ratio < 0:
            raise UserError(f"--io-ratio must be >= 0, got {ratio}")
    arch, dev, rec = _resolve(system, model_id, precision_name, kv_precision)
    plans = _plans(arch, dev, ep, tp, mtp, tbo)
    setups = _setups(arch, dev, rec, profile, software, balanced, kv_free_fraction)
    reasons: list[str] = []
    results: dict[str, tuple[_Best, float | None]] = {}
    for name, s in setups.items():
        results[name] = _search(s, plans, phase, tokens, tpot_ms, batch, ratio, max_batch,
                                reasons if name == "central" else [], mtp_tokens_per_step, max_dispatch_tokens)
    best, floor = results["central"]
    if best.plan is None or best.step is None:
        raise UserError(f"{arch.id} at {rec.name} cannot be served on {dev.system_id} as asked: "
                        + "; ".join(dict.fromkeys(reasons)))
    st, i = best.step, best.i
    k = dev.dies
    band = {n: max(r[0].rate_per_rank, 0.0) * k for n, r in results.items()}
    floors = {n: r[1] for n, r in results.items()}
    floor_band = None if floor is None else {n: float(v) for n, v in floors.items() if v is not None}
    return Estimate(dev.system_id, arch.id, rec.name, rec.formats["core"], phase, mode, tokens, best.plan, k,
                    float(st.batch[i] / best.plan.tp), best.g_max / best.plan.tp, st.tokens_per_seq, st.parts_ms(i),
                    best.rate_per_rank * k, st.bound(i), band, floor, floor_band, assumptions(dev, rec))


def assumptions(dev: Device, rec: precision_mod.Recipe) -> tuple[str, ...]:
    """The stated assumptions (not kernel measurements) an estimate on this device and recipe rests on."""
    out = list(dev.fill_ins)
    d = _data()
    if dev.kernels.assumed:
        out.append(f"{dev.chip_id}: kernel fractions and floors are assumptions (band +-{dev.kernels.band:.0%}; "
                   "models.yaml devices)")
    else:
        out.append(f"{dev.chip_id}: per-kernel floor {dev.kernels.floor_us:g} us is an assumption")
    for fid in dict.fromkeys((dev.fabric_up, dev.fabric_out)):
        if "sources" not in d["fabrics"][fid] or "alpha is an assumption" in d["fabrics"][fid].get("how", ""):
            out.append(f"fabric {fid}: call latency {d['fabrics'][fid]['alpha_us']:g} us and link efficiency are "
                       f"assumptions (band +-{d['fabrics'][fid]['band']:.0%})")
    if "assumption" in d["recipes"][rec.name]:
        out.append(f"recipe {rec.name}: {d['recipes'][rec.name]['assumption'].split(';')[0].split('.')[0]}")
    return tuple(out)


# ------------------------------------------------------------------------------------------------ curve, race

def curve(system: str | Device, model_id: str, precision_name: str | None = None, tokens: int = 4096,
          mtp: int | str = 0, kv_precision: str | None = None, speeds: Any = None,
          mode: str = "disaggregated") -> list[dict[str, Any]]:
    """Best tokens/s per chip at each per-user speed (tokens/s/user = 1000 / TPOT ms): the throughput-interactivity
    frontier of one system (central setting)."""
    arch, dev, rec = _resolve(system, model_id, precision_name, kv_precision)
    s = setup(arch, dev, rec)
    ratio = float(_data()["defaults"]["io_ratio"]) if mode == "aggregated" else 0.0
    speeds = np.asarray(speeds if speeds is not None else SPEEDS, dtype=float)
    best_tput = np.zeros_like(speeds)
    best: list[dict[str, Any] | None] = [None] * len(speeds)
    for plan in _plans(arch, dev, None, None, mtp, None):
        g = max_sequences(s, plan, float(tokens))
        if g < 1:
            continue
        bs = _grid(g, None)
        try:
            st = decode_step(s, plan, bs, float(tokens), ratio)
        except UserError:
            continue
        user = st.tokens_per_seq / st.total
        tput = st.batch * st.tokens_per_seq / st.total / plan.tp * dev.dies
        for j, v in enumerate(speeds):
            ok = user >= v
            if ok.any():
                i = int(np.argmax(np.where(ok, tput, -1.0)))
                if tput[i] > best_tput[j]:
                    best_tput[j] = tput[i]
                    best[j] = {"tokens_per_s_per_user": float(v), "tokens_per_s_per_chip": float(tput[i]),
                               "batch_per_rank": float(bs[i] / plan.tp),
                               "batch_per_chip": float(bs[i] / plan.tp * dev.dies), "parallel": plan.label(),
                               "mtp_depth": plan.mtp, "tpot_ms": float(st.total[i] / st.tokens_per_seq * 1e3),
                               "bound": st.bound(i)}
    return [b for b in best if b is not None]


@functools.lru_cache(maxsize=512)
def reasoning_rate(system_id: str, model_id: str = "deepseek-r1", tpot_ms: float = 50.0,
                   context_tokens: int = 4096) -> dict[str, Any]:
    """Decode tokens/s per chip of `model_id` on `system_id` at a per-user speed of 1000 / tpot_ms tokens/s.

    Best plan chosen by the optimiser (MTP depth included), the system's best supported recipe, disaggregated
    serving. Returns {"low", "central", "high" (tokens/s per chip; 0 where that setting's floor is above the
    target), "floor_ms" (None when the system cannot hold the model at all), "floor_band_ms", "system", "chip",
    "precision", "mtp_depth", "mode", "plan"}.
    """
    from .. import catalog

    sid = catalog.system(system_id).id
    arch = model(model_id)
    dev = device(sid)
    prec = best_recipe(dev, arch)
    try:
        e = estimate(sid, model_id, prec, "decode", context_tokens, tpot_ms=tpot_ms, mtp="auto")
        return {**{k: float(v) for k, v in e.band.items()}, "floor_ms": e.floor_ms, "floor_band_ms": e.floor_band_ms,
                "system": sid, "chip": dev.chip_id, "precision": prec, "mtp_depth": e.plan.mtp, "mode": e.mode,
                "plan": e.plan.label()}
    except UserError:
        pass
    # nothing meets the target at the central setting: 0, with the floor and the band's other sides
    rec = precision_mod.recipe(prec)
    plans = _plans(arch, dev, None, None, "auto", None)
    out: dict[str, Any] = {"system": sid, "chip": dev.chip_id, "precision": prec, "mtp_depth": 0,
                           "mode": "disaggregated", "plan": None}
    floors: dict[str, float] = {}
    for name, s in _setups(arch, dev, rec, "fused", "default", False).items():
        b, f = _search(s, plans, "decode", context_tokens, tpot_ms, None, 0.0, None, [])
        out[name] = max(b.rate_per_rank, 0.0) * dev.dies
        if f is not None:
            floors[name] = f
    if not floors:  # the model does not fit at all: there is no floor
        out.update(floor_ms=None, floor_band_ms=None)
    else:
        out.update(floor_ms=floors.get("central", min(floors.values())), floor_band_ms=floors)
    return out


RACE_SYSTEMS = ("hgx-h100", "hgx-h200", "hgx-h20", "hgx-h800", "dgx-b200", "gb200-nvl72", "gb300-nvl72",
                "cloudmatrix-384", "atlas-800t-a2", "atlas-800-a3")


def reasoning_table_markdown(systems: tuple[str, ...] = RACE_SYSTEMS) -> str:
    """docs/serving.md's table of reasoning_rate for the race's systems (kept in step by a test)."""
    lines = ["| system | chip | recipe | plan | MTP | tok/s per chip low | central | high | floor ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for sid in systems:
        r = reasoning_rate(sid)
        lines.append(f"| {sid} | {r['chip']} | {r['precision']} | {r['plan'] or '-'} | {r['mtp_depth']} | "
                     f"{r['low']:,.0f} | {r['central']:,.0f} | {r['high']:,.0f} | {r['floor_ms']:.1f} |")
    return "\n".join(lines)


def device_table_markdown() -> str:
    """docs/serving.md's table of kernel-level device parameters (kept in step by a test)."""
    from .hardware import _device_entry, kernels

    lines = ["| chip | HBM eff | matmul eff (bf16 / 8-bit / fp4) | tile rows | sustained clock | core bw / mm | "
             "floor us | band | basis |", "|---|---|---|---|---|---|---|---|---|"]
    for cid in ("h100-sxm", "h200", "h800", "h20", "b200", "gb200", "ascend-910b", "ascend-910c"):
        k = kernels(cid)
        mm = " / ".join(f"{k.mm_eff[f]:.2f}" if f in k.mm_eff else "-" for f in ("bf16", "fp8", "fp4"))
        if "fp8" not in k.mm_eff and "int8" in k.mm_eff:
            mm = " / ".join((f"{k.mm_eff['bf16']:.2f}", f"{k.mm_eff['int8']:.2f}", "-"))
        raw, _ = _device_entry(cid)
        basis = ("measured (microbenchmarks, FlashMLA)" if not k.assumed else
                 "partly measured (how), rest assumed" if "how" in raw else "assumption")
        lines.append(f"| {cid} | {k.hbm_eff:.2f} | {mm} | {k.tile_m:g} | {k.sustained_clock:g} | "
                     f"{k.core_bw_eff:.2f} / {k.core_mm_eff:.2f} | {k.floor_us:g} | +-{k.band:.0%} | {basis} |")
    return "\n".join(lines)
