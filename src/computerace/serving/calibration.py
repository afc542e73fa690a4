"""Calibration protocol of the serving estimator, and its validation.

1. Kernel-level parameters (HBM and matrix-product fractions by chip, format and shape, attention-core fractions,
   fabric latency and efficiency) come from kernel-level data only (models.yaml `devices:`, `fabrics:`), never
   from end-to-end rows.
2. One whole-model factor per software family (a step-time multiplier: DeepSeek's in-house engine, SGLang,
   RTP-LLM, ...) is fitted on that family's `use: fit` rows by minimising the RMS of log(estimate / measured)
   (`fit_family_factors`); `default` (families without rows) is one factor fitted on all rows pooled, with a
   wide band. The factor scales compute-bound bodies, exposed communication and host time, never the
   memory-bound bodies or kernel floors, which rest on kernel data alone.
3. Validation rows (serving/data/validation.csv) are never fitted; `parse_validation_csv` interprets each as its
   source measured it (per chip, E2E over prefill + decode chips, or per user; aggregated in-flight batching;
   TPOT target; MTP; framework -> family) and `predict` gives the estimator's figure in that metric.
4. Leave-one-system-out: fit on the Hopper-on-InfiniBand fit rows (H800, H100), predict H20, the 8-GPU H200,
   Blackwell, CloudMatrix and single-GPU dense; then the reverse; reported per regime and per system group.
   `residual_table_markdown()` generates docs/serving.md's table with the validation summary;
   `python -m computerace.serving.calibration` prints it.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..errors import UserError
from . import engine
from .inputs import _data

HOPPER_IB = ("hgx-h800", "hgx-h100")  # the fit systems: Hopper nodes joined by InfiniBand / RoCE
UNSERVABLE_LOG_ERROR = 2.0  # |log error| booked for a row the estimator cannot serve as asked (in fits and stats)
FACTOR_GRID = np.round(np.arange(0.50, 3.001, 0.02), 2)


def _validation_csv_rows() -> list[dict[str, Any]]:
    """Rows of the DATA helper's serving/data/validation.csv that name a catalog system and model and a measured
    tokens/s per chip (columns read by name; rows that lack one are left out and counted in `skipped`)."""
    try:
        text = resources.files("computerace.serving").joinpath("data", "validation.csv").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return []
    return parse_validation_csv(text)


FRAMEWORK_FAMILY = {"sglang": "sglang", "trtllm": "trtllm", "trt-llm": "trtllm", "vllm": "vllm",
                    "deepseek": "deepseek", "rtp-llm": "rtp-llm", "mindie": "default", "xdeepserve": "default"}
SOURCE_FAMILY = {"deepseek-": "deepseek", "rtp-llm": "rtp-llm"}  # framework `other`: the in-house engine by source


def _family(framework: str, source: str) -> str:
    """Software family of a validation row: the framework column, or for `other` the in-house engine its source
    names (DeepSeek's, RTP-LLM); CloudMatrix-Infer, MindIE, xDeepServe and unknown engines -> default."""
    fw = framework.strip().lower()
    if fw in ("", "other"):
        return next((fam for key, fam in SOURCE_FAMILY.items() if source.startswith(key)), "default")
    return FRAMEWORK_FAMILY.get(fw, fw)


def _mtp_of(note: str, source: str, phase: str) -> tuple[int | str, float | None]:
    """(MTP depth, accepted tokens per step) as the row's note or source states them: `no MTP` / `without MTP` ->
    0; `MTP3` -> 3; `1 draft` -> 1; `MTP on` / `+ MTP` -> the optimiser's depth ("auto"); CloudMatrix-Infer and
    xDeepServe decode run one draft (huawei-cm384-paper, xdeepserve-2025) when the row does not say. Acceptance:
    `3.10 accepted tokens/step`, `~1.86 tokens/step`, or `~70% acceptance` for one draft."""
    if phase != "decode":
        return 0, None
    low = note.lower()
    if re.search(r"\b(no|without) mtp", low):
        return 0, None
    depth: int | str = 0
    m = re.search(r"mtp ?(\d)\b", low) or re.search(r"mtp[^.;]*?(\d) draft", low)
    if m:
        depth = int(m.group(1))
    elif "mtp" in low:
        depth = "auto"
    elif source in ("huawei-cm384-paper", "xdeepserve-2025"):
        depth = 1
    acc = None
    m = re.search(r"(\d\.\d+) accepted(?: tokens)?/step", low) or re.search(r"(\d\.\d+) tokens/step", low)
    if m and depth:
        acc = float(m.group(1))
    elif depth == 1:
        m = re.search(r"(\d+)% acceptance", low)
        if m:
            acc = 1.0 + float(m.group(1)) / 100.0
        elif source == "huawei-cm384-paper":
            acc = 1.70  # CloudMatrix-Infer: one draft at ~70% acceptance (huawei-cm384-paper; facts.md section 3)
    return depth, acc


def parse_validation_csv(text: str) -> list[dict[str, Any]]:
    """validation.csv rows as measurement dicts, each interpreted as its source measured it.

    Columns are read by name. `metric` says what is compared:
    - `per_chip`: output tokens/s per decode chip (decode) or input tokens/s per prefill chip (prefill);
    - `e2e`: rows whose note begins `E2E` with disaggregated serving: output tokens/s over prefill + decode chips,
      estimated as 1 / (1 / D + r / P) with D decode output tokens/s per chip, P prefill input tokens/s per chip
      and r = input / output tokens (InferenceX's per-GPU figures, LMSYS's long-context TPS/GPU);
    - `per_user`: batch below one sequence per chip (min-latency rows: one sequence over the TP group):
      tokens/s per user, 1000 / TPOT at that batch, compared with 1000 / measured_tpot_ms.
    Aggregated rows (in-flight batching with chunked prefill) run the estimator's aggregated mode at io_ratio =
    input / output tokens. Decode context = input + output / 2 (the mean KV length over a request's decode).
    Conditions: the TPOT target is the constraint (the measured TPOT is reported); without one, the stated batch
    per chip (converted to per rank: / dies); MTP as the note says (`_mtp_of`); framework -> software family.
    Rows without context length are left out (MLPerf, the disaggregated MoE-attention row).
    """
    out = []
    for i, r in enumerate(csv.DictReader(text.splitlines())):
        def num(*keys: str, r: dict[str, Any] = r) -> float | None:
            for k in keys:
                v = (r.get(k) or "").strip()
                if v:
                    try:
                        return float(v)
                    except ValueError:
                        return None
            return None

        def txt(*keys: str, r: dict[str, Any] = r) -> str:
            return next(((r.get(k) or "").strip() for k in keys if (r.get(k) or "").strip()), "")

        measured = num("measured_tokens_per_s_per_chip", "tokens_per_s_per_chip", "measured")
        system, mdl = txt("system"), txt("model")
        phase = txt("phase") or "decode"
        tokens = num("context_tokens", "tokens", "input_tokens")
        if not (measured and system and mdl and tokens) or phase not in engine.PHASES:
            continue
        note, source = txt("note"), txt("source")
        out_tok = num("output_tokens")
        mode = txt("mode") or "disaggregated"
        batch_chip = num("batch_per_chip")
        batch_rank = num("batch_per_rank", "batch")
        tpot = num("tpot_target_ms", "tpot_ms")
        depth, acc = _mtp_of(note, source, phase)
        if num("mtp_depth", "mtp") is not None:
            depth = int(num("mtp_depth", "mtp") or 0)
        metric = "per_chip"
        if note.upper().startswith("E2E") and mode == "disaggregated" and phase == "decode" and out_tok:
            metric = "e2e"
        if "same metric" in note.lower() and phase == "decode" and out_tok and mode == "disaggregated":
            metric = "e2e"  # derived from an E2E row by a ratio: the same metric
        small = (batch_chip is not None and batch_chip < 1) or (batch_rank is not None and batch_rank < 1)
        if small and phase == "decode" and num("measured_tpot_ms"):
            metric = "per_user"
        row: dict[str, Any] = {
            "id": txt("id") or f"V{i + 1}", "use": "validate", "system": system, "model": mdl,
            "precision": txt("precision") or None, "phase": phase, "mode": mode, "metric": metric,
            "input_tokens": int(tokens), "output_tokens": None if out_tok is None else int(out_tok),
            "tokens": int(tokens + (out_tok or 0) / 2) if phase == "decode" else int(tokens),
            "tpot_ms": tpot, "batch": batch_rank, "batch_per_chip": None if batch_rank is not None else batch_chip,
            "mtp": depth, "mtp_tokens_per_step": acc, "measured": measured,
            "measured_tpot_ms": num("measured_tpot_ms"), "tolerance": num("tolerance") or 0.25,
            "regime": txt("regime") or None, "software": _family(txt("framework", "software"), source),
            "source": source, "note": note}
        m = re.search(r"\b(?:D?EP)=?(\d+)\b", note)
        if m and phase == "decode" and metric != "per_user" and int(m.group(1)) > 1:
            row["ep"] = int(m.group(1))  # the expert-parallel width the source ran
        if tpot is not None:  # the SLO is the condition; the batch the source reached is an outcome
            row["batch"] = row["batch_per_chip"] = None
        low = note.lower()
        if re.search(r"fp8 kv|fp8 attention \(fp8 kv", low):
            row["kv_precision"] = "fp8"
        elif re.search(r"(16-bit|bf16) kv", low):
            row["kv_precision"] = "bf16"
        elif source == "trtllm-perf-overview-v019" and row["precision"] == "fp8":
            row["kv_precision"] = "fp8"  # ModelOpt FP8 checkpoints carry an FP8 KV cache (models.yaml framework_memory)
        if mode == "aggregated" and out_tok:
            row["io_ratio"] = tokens / out_tok
        if metric == "per_user":  # batch-1 min latency: decode only, one sequence over the group
            row["io_ratio"] = 0.0
            row["measured"] = 1000.0 / float(num("measured_tpot_ms") or 1.0)
            row["tp"] = int(round(1.0 / (batch_chip or batch_rank or 1.0)))
        out.append(row)
    return _mark_duplicates(out)


def _mark_duplicates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """validation.csv rows that repeat a models.yaml measurement (same source and system, measured within 1%) are
    `use: duplicate`: the models.yaml row (fit or report) stands for them, so no row is both fitted and validated."""
    own = [m for m in _data()["measurements"]]
    for r in rows:
        for m in own:
            if (m["source"] == r["source"] and m["system"] == r["system"] and m["phase"] == r["phase"]
                    and abs(float(m["measured"]) / r["measured"] - 1) <= 0.01):
                r["use"], r["duplicate_of"] = "duplicate", m["id"]
    return rows


MICROBENCH_GPUS = {"H100 SXM 80GB HBM3": "h100-sxm", "H200 141GB HBM3e": "h200"}


def microbenchmark_fractions(text: str) -> dict[str, dict[str, Any]]:
    """Kernel fractions per chip from gpu_microbenchmarks.csv's text (the reference's single-GPU benchmarks):
    hbm_eff = mean achieved / datasheet bandwidth of the weight-streaming bf16 products (m <= 64); mm_eff[fmt] =
    the largest fraction of peak of any product in that format. models.yaml `devices:` must match (a test)."""
    out: dict[str, dict[str, Any]] = {}
    stream: dict[str, list[float]] = {}
    for r in csv.DictReader(text.splitlines()):
        chip = MICROBENCH_GPUS.get(r["gpu"])
        if chip is None or r["kind"] != "matmul":
            continue
        d = out.setdefault(chip, {"mm_eff": {}})
        d["mm_eff"][r["dtype"]] = max(d["mm_eff"].get(r["dtype"], 0.0), float(r["fraction_of_peak"]))
        if r["dtype"] == "bf16" and float(r["m"]) <= 64:
            stream.setdefault(chip, []).append(float(r["achieved_gb_per_s"]) / (float(r["spec_hbm_tb_per_s"]) * 1e3))
    for chip, xs in stream.items():
        out[chip]["hbm_eff"] = float(np.mean(xs))
    return out


def measurements(use: str | None = None) -> list[dict[str, Any]]:
    """models.yaml's measured rows (use: fit / report) and validation.csv's rows (use: validate)."""
    rows = [dict(r) for r in _data()["measurements"]] + _validation_csv_rows()
    return [r for r in rows if use is None or r["use"] == use]


def measurement(row_id: str) -> dict[str, Any]:
    for r in measurements():
        if r["id"] == row_id:
            return r
    raise UserError(f"no measured serving row '{row_id}'")


def regime(row: dict[str, Any]) -> str:
    """The row's own `regime` column where it has one; otherwise 'latency' for decode rows under a tight per-token
    target (< 40 ms) or a small batch (<= 16 per rank), 'throughput' otherwise (prefill included)."""
    if row.get("regime") in ("latency", "throughput"):
        return str(row["regime"])
    if row["phase"] != "decode":
        return "throughput"
    if row.get("tpot_ms") and row["tpot_ms"] < 40:
        return "latency"
    if row.get("batch") and row["batch"] <= 16:
        return "latency"
    return "throughput"


@dataclass(frozen=True)
class Prediction:
    """What a row is compared on (`value`, in the row's metric) with its band, and the decode or prefill estimate
    behind it (`est`; for E2E rows the decode side, `prefill` the prefill side)."""

    value: float
    band: dict[str, float]
    est: engine.Estimate
    prefill: engine.Estimate | None = None


def predict(row: dict[str, Any], factors: dict[str, float] | None = None) -> Prediction:
    """The estimator's figure in the row's metric (parse_validation_csv): per chip, E2E over prefill + decode chips,
    or per user."""
    est = estimate_row(row, factors)
    metric = row.get("metric", "per_chip")
    if metric == "per_user":
        scale = (1000.0 / est.tpot_ms) / est.tokens_per_s_per_chip
        return Prediction(1000.0 / est.tpot_ms, {k: v * scale for k, v in est.band.items()}, est)
    if metric == "e2e":
        pre_row = {**row, "phase": "prefill", "tokens": row["input_tokens"], "tpot_ms": None, "batch": None,
                   "batch_per_chip": None, "mtp": 0, "mtp_tokens_per_step": None, "io_ratio": None,
                   "mode": "disaggregated", "metric": "per_chip"}
        pre = estimate_row(pre_row, factors)
        r = row["input_tokens"] / row["output_tokens"]
        e2e = lambda d, p: 1.0 / (1.0 / d + r / p) if d > 0 and p > 0 else 0.0  # noqa: E731
        band = {k: e2e(est.band[k], pre.band[k]) for k in est.band}
        return Prediction(e2e(est.tokens_per_s_per_chip, pre.tokens_per_s_per_chip), band, est, pre)
    return Prediction(est.tokens_per_s_per_chip, dict(est.band), est)


def estimate_row(row: dict[str, Any], factors: dict[str, float] | None = None) -> engine.Estimate:
    """The estimator under one row's conditions, with the row's software family at `factors` (default: shipped)."""
    fam = row.get("software", "default")
    sw = _data()["software"]
    if factors is not None:
        f = factors.get(fam, factors.get("default", 1.0))
        return _with_factor(row, fam if fam in sw else "default", f)
    return _estimate(row, fam if fam in sw else "default")


def _estimate(row: dict[str, Any], software: str) -> engine.Estimate:
    batch = row.get("batch")
    if batch is None and row.get("batch_per_chip"):
        batch = float(row["batch_per_chip"]) / engine.hardware(row["system"]).dies
    mtp = row.get("mtp", 0) or 0
    acc = row.get("mtp_tokens_per_step") if mtp != "auto" else None
    return engine.estimate(row["system"], row["model"], row.get("precision"), row["phase"], int(row["tokens"]),
                           tpot_ms=row.get("tpot_ms"), batch=batch, mtp=mtp,
                           ep=row.get("ep"), tp=row.get("tp"), kv_precision=row.get("kv_precision"),
                           balanced=bool(row.get("balanced", False)), software=software,
                           mode=row.get("mode", "disaggregated") if row["phase"] == "decode" else "disaggregated",
                           io_ratio=row.get("io_ratio"), mtp_tokens_per_step=acc,
                           kv_free_fraction=row.get("kv_free_fraction", _framework(row, "kv_free_fraction")),
                           max_dispatch_tokens=_framework(row, "max_dispatch_tokens"))


def _framework(row: dict[str, Any], key: str) -> float | None:
    """models.yaml `frameworks`: a setting the row's framework runs its benchmarks with (None: the default)."""
    fm = (_data().get("frameworks") or {}).get(row.get("software") or "") or {}
    return None if key not in fm else float(fm[key])


def _with_factor(row: dict[str, Any], software: str, factor: float) -> engine.Estimate:
    data = _data()
    old = data["software"][software]["factor"]
    data["software"][software]["factor"] = factor
    try:
        return _estimate(row, software)
    finally:
        data["software"][software]["factor"] = old


def log_error(row: dict[str, Any], factors: dict[str, float] | None = None) -> float:
    return math.log(predict(row, factors).value / row["measured"])


def _best_factor(rows: list[dict[str, Any]], fam: str | None) -> float:
    """The factor on FACTOR_GRID minimising the RMS log error of `rows` (fam None: every row's family at it)."""
    def factors(f: float) -> dict[str, float]:
        fams = {r.get("software", "default") for r in rows} | {"default"}
        return {k: f for k in fams} if fam is None else {fam: f}

    def err(r: dict[str, Any], f: float) -> float:
        try:
            return log_error(r, factors(f))
        except UserError:  # not servable as asked at this factor: counted as a large miss
            return -UNSERVABLE_LOG_ERROR

    errs = [err(r, 1.0) for r in rows]
    guess = 1.0 + float(np.mean(errs)) * 1.5  # the factor scales only part of the step: start a little wider
    near = FACTOR_GRID[np.abs(FACTOR_GRID - guess) <= 0.3]
    grid = near if len(near) else FACTOR_GRID
    return float(min(grid, key=lambda f: (sum(err(r, float(f)) ** 2 for r in rows), abs(f - guess))))


def fit_family_factors(rows: list[dict[str, Any]] | None = None) -> dict[str, float]:
    """Per software family, the factor on FACTOR_GRID minimising the RMS log error on its rows (default: the
    `use: fit` rows); 'default' (families without rows) is one factor fitted on all the rows pooled."""
    rows = measurements("fit") if rows is None else rows
    out: dict[str, float] = {}
    for fam in sorted({r.get("software", "default") for r in rows}):
        out[fam] = _best_factor([r for r in rows if r.get("software", "default") == fam], fam)
    out["default"] = _best_factor(rows, None) if rows else 1.0
    return out


def shipped_factors() -> dict[str, float]:
    return {k: float(v["factor"]) for k, v in _data()["software"].items() if isinstance(v, dict) and "factor" in v}


def residuals(factors: dict[str, float] | None = None, use: str | None = None) -> list[dict[str, Any]]:
    """Each row's prediction in its own metric against the measurement; `within` = |residual| <= tolerance."""
    out = []
    for r in measurements(use):
        try:
            p = predict(r, factors)
        except UserError as err:
            out.append({**_meta(r), "estimate": None, "residual": None, "within": False, "error": str(err)})
            continue
        est, res = p.est, p.value / r["measured"] - 1
        out.append({**_meta(r), "estimate": p.value, "residual": res, "log_error": math.log(p.value / r["measured"]),
                    "within": abs(res) <= _tolerance(r), "bound": est.bound, "parallel": est.plan.label(),
                    "batch_per_rank": est.batch_per_rank, "tpot_ms": est.tpot_ms, "band": p.band,
                    "mtp_depth": est.plan.mtp})
    return out


def _tolerance(r: dict[str, Any]) -> float:
    return float(r.get("tolerance") or 0.25)


def _meta(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "use": r["use"], "system": r["system"], "phase": r["phase"], "regime": regime(r),
            "metric": r.get("metric", "per_chip"), "tolerance": _tolerance(r),
            "software": r.get("software", "default"), "measured": float(r["measured"]), "source": r["source"],
            "note": r.get("note", "")}


SYSTEM_GROUPS = {"hgx-h800": "Hopper-IB", "hgx-h100": "Hopper-IB", "hgx-h20": "H20", "hgx-h200": "H200 8-GPU",
                 "dgx-b200": "Blackwell", "gb200-nvl72": "Blackwell", "gb300-nvl72": "Blackwell",
                 "cloudmatrix-384": "CloudMatrix", "h100-sxm": "single-GPU dense", "h200": "single-GPU dense"}


def group(system: str) -> str:
    return SYSTEM_GROUPS.get(system, system)


def _stats(errs: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    return {"n": len(errs), "median_abs_log_error": float(np.median([abs(e) for _, e in errs])),
            "within": sum(abs(math.exp(e) - 1) <= _tolerance(r) for r, e in errs),
            "rows": [(r["id"], e) for r, e in errs]}


def leave_one_out() -> list[dict[str, Any]]:
    """Cached (the rows and models.yaml are fixed for a process): see `_leave_one_out`."""
    return [dict(x) for x in _leave_one_out()]


@functools.cache
def _leave_one_out() -> tuple[dict[str, Any], ...]:
    """Fit the family factors on the Hopper-on-InfiniBand fit rows (H800, H100) and predict every other system
    (H20, the 8-GPU H200, Blackwell, CloudMatrix, single-GPU dense); then the reverse, a diagnostic: fit on the
    other systems' fit and validate rows and predict Hopper-IB. Entries per split and regime, and per split and
    system group (`by`): {split, by, key, n, median_abs_log_error, within, rows}."""
    rows = [r for r in measurements() if r["use"] in ("fit", "validate")
            or (r["use"] != "duplicate" and r.get("predict", True))]
    hop = [r for r in rows if r["system"] in HOPPER_IB]
    other = [r for r in rows if r["system"] not in HOPPER_IB]
    out = []
    for name, train, test in (("fit Hopper-IB, predict others", hop, other),
                              ("fit others, predict Hopper-IB", other, hop)):
        train_fit = [r for r in train if r["use"] == "fit" or (train is other and r["use"] == "validate")]
        if not train_fit or not test:
            continue
        f = fit_family_factors(train_fit)
        errs = []
        for r in test:
            try:
                errs.append((r, log_error(r, f)))
            except UserError:
                errs.append((r, -UNSERVABLE_LOG_ERROR))
        for by, key_of in (("regime", regime), ("system", lambda r: group(r["system"]))):
            for key in dict.fromkeys(key_of(r) for r, _ in errs):
                sel = [(r, e) for r, e in errs if key_of(r) == key]
                out.append({"split": name, "by": by, "key": key, "regime": key if by == "regime" else None,
                            "factors": f, **_stats(sel)})
    return tuple(out)


def validation_summary(rs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Validate rows (validation.csv, never fitted) at the shipped factors: the share within tolerance and the
    median |log error| overall, per system group and per regime."""
    rs = [r for r in (residuals(use="validate") if rs is None else rs) if r["use"] == "validate"]
    scored = [r for r in rs if r["residual"] is not None]
    def ale(r: dict[str, Any]) -> float:
        return UNSERVABLE_LOG_ERROR if r["residual"] is None else abs(r["log_error"])

    scored = rs  # a row the estimator cannot serve counts as a miss at UNSERVABLE_LOG_ERROR
    out: dict[str, Any] = {"n": len(rs), "scored": len(scored), "within": sum(r["within"] for r in scored),
                           "median_abs_log_error": float(np.median([ale(r) for r in scored])),
                           "by_system": {}, "by_regime": {}}
    for key, name in (("by_system", lambda r: group(r["system"])), ("by_regime", lambda r: r["regime"])):
        for k in dict.fromkeys(name(r) for r in scored):
            sel = [r for r in scored if name(r) == k]
            out[key][k] = {"n": len(sel), "within": sum(r["within"] for r in sel),
                           "median_abs_log_error": float(np.median([ale(r) for r in sel]))}
    return out


def h200_h100_ratio(model_id: str = "llama-3-8b", tokens: int = 1024) -> dict[str, Any]:
    """The H200:H100 batch-1 decode ratio of a small dense model (bf16, one GPU) and, per aggregated shape of the
    TensorRT-LLM perf overview, the measured and estimated max-throughput ratios (validation.csv)."""
    b1 = {s: engine.estimate(s, model_id, "bf16", "decode", tokens, batch=1).tokens_per_s_per_chip
          for s in ("h200", "h100-sxm")}
    shapes = []
    rows = {r["id"]: r for r in measurements("validate") if r["model"] == model_id}
    for rid, r in rows.items():
        if r["system"] != "h200":
            continue
        other = rows.get(rid.replace("-h200-", "-h100-sxm-"))
        if other is None:
            continue
        shapes.append({"shape": f"{r['input_tokens']}/{r['output_tokens']}", "measured": r["measured"] / other["measured"],
                       "estimate": predict(r).value / predict(other).value})
    return {"batch1": b1["h200"] / b1["h100-sxm"], "gemv_measured": 3725.0 / 2730.0, "shapes": shapes}


def residual_table_markdown() -> str:
    """docs/serving.md's residual table, the validation summary and the leave-one-system-out table (kept in step
    by a test)."""
    lines = ["| row | use | system | phase | regime | metric | software | plan | batch/rank | TPOT ms | measured | "
             "estimate (low-high) | residual | tol | pass |", "|---" * 15 + "|"]
    rs = residuals()
    dups = [r for r in measurements("duplicate")]
    for r in rs:
        if r["use"] == "duplicate":
            continue
        head = (f"| {r['id']} | {r['use']} | {r['system']} | {r['phase']} | {r['regime']} | {r['metric']} | "
                f"{r['software']} | ")
        if r["estimate"] is None:
            lines.append(head + f"- | - | - | {r['measured']:,.0f} | not servable | - | {r['tolerance']:.0%} | no |")
            continue
        tpot = f"{r['tpot_ms']:.1f}" if r["tpot_ms"] else "-"
        b = r["band"]
        lines.append(head + f"{r['parallel']} | {r['batch_per_rank']:.3g} | {tpot} | {r['measured']:,.0f} | "
                     f"{r['estimate']:,.0f} ({b['low']:,.0f}-{b['high']:,.0f}) | {r['residual']:+.0%} | "
                     f"{r['tolerance']:.0%} | {'yes' if r['within'] else 'no'} |")
    fit = [r for r in rs if r["use"] == "fit" and r["residual"] is not None]
    logs = [abs(r["log_error"]) for r in fit]
    v = validation_summary(rs)
    ratio = h200_h100_ratio()
    lines += ["", f"Fitted rows: {len(fit)}; median |log(estimate / measured)| {np.median(logs):.3f}; largest "
              f"|residual| {max(abs(r['residual']) for r in fit):.0%}. Factors: "
              + ", ".join(f"{k} {v:.2f}" for k, v in shipped_factors().items()) + ".",
              "Duplicates of models.yaml rows in validation.csv (not scored twice): "
              + ", ".join(f"{r['id']} = {r['duplicate_of']}" for r in dups) + ".", "",
              f"**Validate rows (never fitted): {v['within']} of {v['scored']} within tolerance "
              f"({v['within'] / v['scored']:.0%}); median |log error| {v['median_abs_log_error']:.3f}.** "
              f"H200:H100 batch-1 decode ratio, Llama-3-8B: {ratio['batch1']:.3f} estimated vs 1.364 measured for "
              f"the m = 1 GEMV that batch-1 decode is (gpu_microbenchmarks; no end-to-end batch-1 row); "
              "max-throughput ratios measured / estimated: "
              + ", ".join(f"{x['shape']} {x['measured']:.3f} / {x['estimate']:.3f}" for x in ratio["shapes"]) + ".",
              "", "| validate rows | n | within tolerance | median abs log error |", "|---|---|---|---|"]
    for k, x in v["by_system"].items():
        lines.append(f"| system: {k} | {x['n']} | {x['within']} | {x['median_abs_log_error']:.3f} |")
    for k, x in v["by_regime"].items():
        lines.append(f"| regime: {k} | {x['n']} | {x['within']} | {x['median_abs_log_error']:.3f} |")
    lines += ["", "| leave-one-system-out | by | group | rows | within tolerance | median abs log error |",
              "|---|---|---|---|---|---|"]
    for x in leave_one_out():
        lines.append(f"| {x['split']} | {x['by']} | {x['key']} | {x['n']} | {x['within']} | "
                     f"{x['median_abs_log_error']:.3f} |")
    return "\n".join(lines)


__all__ = ["estimate_row", "fit_family_factors", "h200_h100_ratio", "leave_one_out", "measurement", "measurements",
           "predict", "regime", "residual_table_markdown", "residuals", "shipped_factors", "validation_summary"]

def generated_tables() -> dict[str, str]:
    """Every generated table of docs/serving.md, by marker name."""
    from ..report import serving_figure

    return {"reasoning": engine.reasoning_table_markdown(), "device": engine.device_table_markdown(),
            "residual": residual_table_markdown(), "figure": serving_figure.table_markdown()}


def write_docs(text: str) -> str:
    """docs/serving.md's text with each `<!-- generated:NAME -->` ... `<!-- /generated:NAME -->` block rewritten."""
    import re

    for name, table in generated_tables().items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(\n<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise UserError(f"docs/serving.md has no <!-- generated:{name} --> block")
        text = pattern.sub(lambda m, table=table: m.group(1) + table + m.group(2), text)
    return text


if __name__ == "__main__":  # pragma: no cover
    import sys
    from pathlib import Path

    if len(sys.argv) == 3 and sys.argv[1] == "--write-docs":
        doc = Path(sys.argv[2])
        doc.write_text(write_docs(doc.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(residual_table_markdown())
