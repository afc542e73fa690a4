"""Calibration protocol of the serving estimator, and its validation.

1. Kernel-level parameters (HBM and matrix-product fractions by chip, format and shape, attention-core fractions,
   fabric latency and efficiency) come from kernel-level data only (models.yaml `devices:`, `fabrics:`), never
   from end-to-end rows.
2. One whole-model factor per software family (a step-time multiplier: DeepSeek's in-house engine, SGLang,
   RTP-LLM, ...) is fitted on that family's `use: fit` rows by minimising the RMS of log(estimate / measured)
   (`fit_family_factors`); `default` (families without rows) is one factor fitted on all rows pooled, with a
   wide band. The factor scales compute-bound bodies, exposed communication and host time, never the
   memory-bound bodies or kernel floors, which rest on kernel data alone.
3. Validation is leave-one-system-out: fit on the Hopper-on-InfiniBand rows (H800, H100) and predict the others
   (H20, and Blackwell / CloudMatrix rows where data/validation rows exist), then the reverse; residuals are
   reported separately for throughput-oriented and latency-bound rows (`regime`). `residual_table_markdown()`
   generates docs/serving.md's table; `python -m computerace.serving.calibration` prints it.
"""

from __future__ import annotations

import csv
import math
from importlib import resources
from typing import Any

import numpy as np

from ..errors import UserError
from . import engine
from .inputs import _data

HOPPER_IB = ("hgx-h800", "hgx-h100", "hgx-h200")
FACTOR_GRID = np.round(np.arange(0.50, 3.001, 0.02), 2)


def _validation_csv_rows() -> list[dict[str, Any]]:
    """Rows of the DATA helper's serving/data/validation.csv that name a catalog system and model and a measured
    tokens/s per chip (columns read by name; rows that lack one are left out and counted in `skipped`)."""
    try:
        text = resources.files("computerace.serving").joinpath("data", "validation.csv").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return []
    return parse_validation_csv(text)


def parse_validation_csv(text: str) -> list[dict[str, Any]]:
    """validation.csv rows as measurement dicts (use: validate); columns are read by name (system, model, phase,
    context_tokens | tokens | input_tokens, measured_tokens_per_s_per_chip | tokens_per_s_per_chip | measured,
    and optionally precision, tpot_ms, batch_per_rank | batch, mtp_depth | mtp, software, source, note, id)."""
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

        measured = num("measured_tokens_per_s_per_chip", "tokens_per_s_per_chip", "measured")
        system, mdl = (r.get("system") or "").strip(), (r.get("model") or "").strip()
        phase = (r.get("phase") or "decode").strip()
        tokens = num("context_tokens", "tokens", "input_tokens")
        if not (measured and system and mdl and tokens) or phase not in engine.PHASES:
            continue
        out.append({"id": (r.get("id") or f"V{i + 1}").strip(), "use": "validate", "system": system, "model": mdl,
                    "precision": (r.get("precision") or "").strip() or None, "phase": phase, "tokens": int(tokens),
                    "tpot_ms": num("tpot_ms"), "batch": num("batch_per_rank", "batch"),
                    "mtp": int(num("mtp_depth", "mtp") or 0), "measured": measured,
                    "software": (r.get("software") or "default").strip().lower(),
                    "source": (r.get("source") or "").strip(), "note": (r.get("note") or "").strip()})
    return out


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
    """'latency' for decode rows under a tight per-token target (< 40 ms) or a small batch (<= 16 per rank);
    'throughput' otherwise (prefill included)."""
    if row["phase"] != "decode":
        return "throughput"
    if row.get("tpot_ms") and row["tpot_ms"] < 40:
        return "latency"
    if row.get("batch") and row["batch"] <= 16:
        return "latency"
    return "throughput"


def estimate_row(row: dict[str, Any], factors: dict[str, float] | None = None) -> engine.Estimate:
    """The estimator under one row's conditions, with the row's software family at `factors` (default: shipped)."""
    fam = row.get("software", "default")
    sw = _data()["software"]
    if factors is not None:
        f = factors.get(fam, factors.get("default", 1.0))
        return _with_factor(row, fam if fam in sw else "default", f)
    return _estimate(row, fam if fam in sw else "default")


def _estimate(row: dict[str, Any], software: str) -> engine.Estimate:
    return engine.estimate(row["system"], row["model"], row.get("precision"), row["phase"], int(row["tokens"]),
                           tpot_ms=row.get("tpot_ms"), batch=row.get("batch"), mtp=row.get("mtp", 0) or 0,
                           ep=row.get("ep"), tp=row.get("tp"), kv_precision=row.get("kv_precision"),
                           balanced=bool(row.get("balanced", False)), software=software,
                           mtp_tokens_per_step=row.get("mtp_tokens_per_step"))


def _with_factor(row: dict[str, Any], software: str, factor: float) -> engine.Estimate:
    data = _data()
    old = data["software"][software]["factor"]
    data["software"][software]["factor"] = factor
    try:
        return _estimate(row, software)
    finally:
        data["software"][software]["factor"] = old


def log_error(row: dict[str, Any], factors: dict[str, float] | None = None) -> float:
    return math.log(estimate_row(row, factors).tokens_per_s_per_chip / row["measured"])


def _best_factor(rows: list[dict[str, Any]], fam: str | None) -> float:
    """The factor on FACTOR_GRID minimising the RMS log error of `rows` (fam None: every row's family at it)."""
    def factors(f: float) -> dict[str, float]:
        fams = {r.get("software", "default") for r in rows} | {"default"}
        return {k: f for k in fams} if fam is None else {fam: f}

    errs = [log_error(r, factors(1.0)) for r in rows]
    guess = 1.0 + float(np.mean(errs)) * 1.5  # the factor scales only part of the step: start a little wider
    near = FACTOR_GRID[np.abs(FACTOR_GRID - guess) <= 0.3]
    grid = near if len(near) else FACTOR_GRID
    return float(min(grid, key=lambda f: (sum(log_error(r, factors(float(f))) ** 2 for r in rows), abs(f - guess))))


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
    out = []
    for r in measurements(use):
        try:
            est = estimate_row(r, factors)
        except UserError as err:
            out.append({**_meta(r), "estimate": None, "residual": None, "error": str(err)})
            continue
        out.append({**_meta(r), "estimate": est.tokens_per_s_per_chip,
                    "residual": est.tokens_per_s_per_chip / r["measured"] - 1, "bound": est.bound,
                    "parallel": est.plan.label(), "batch_per_rank": est.batch_per_rank, "tpot_ms": est.tpot_ms,
                    "band": est.band})
    return out


def _meta(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "use": r["use"], "system": r["system"], "phase": r["phase"], "regime": regime(r),
            "software": r.get("software", "default"), "measured": float(r["measured"]), "source": r["source"],
            "note": r.get("note", "")}


def leave_one_out() -> list[dict[str, Any]]:
    """Fit on Hopper-on-InfiniBand rows, predict the rest; then fit on the rest, predict Hopper-on-InfiniBand.
    Each entry: {split, regime, n, median_abs_log_error, rows}."""
    rows = [r for r in measurements() if r["use"] in ("fit", "validate") or r.get("predict", True)]
    hop = [r for r in rows if r["system"] in HOPPER_IB]
    other = [r for r in rows if r["system"] not in HOPPER_IB]
    out = []
    for name, train, test in (("fit Hopper-IB, predict others", hop, other),
                              ("fit others, predict Hopper-IB", other, hop)):
        train_fit = [r for r in train if r["use"] in ("fit", "validate")]
        if not train_fit or not test:
            continue
        f = fit_family_factors(train_fit)
        for reg in ("throughput", "latency"):
            sel = [r for r in test if regime(r) == reg]
            errs = []
            for r in sel:
                try:
                    errs.append((r["id"], log_error(r, f)))
                except UserError:
                    continue
            if errs:
                out.append({"split": name, "regime": reg, "n": len(errs),
                            "median_abs_log_error": float(np.median([abs(e) for _, e in errs])), "rows": errs})
    return out


def residual_table_markdown() -> str:
    """docs/serving.md's residual table and leave-one-system-out summary (kept in step by a test)."""
    lines = ["| row | use | system | phase | regime | software | plan | batch/rank | TPOT ms | measured | estimate "
             "(low-high) | residual | bound |", "|---" * 13 + "|"]
    for r in residuals():
        if r["estimate"] is None:
            lines.append(f"| {r['id']} | {r['use']} | {r['system']} | {r['phase']} | {r['regime']} | {r['software']} "
                         f"| - | - | - | {r['measured']:,.0f} | not servable | - | - |")
            continue
        tpot = f"{r['tpot_ms']:.1f}" if r["tpot_ms"] else "-"
        b = r["band"]
        lines.append(f"| {r['id']} | {r['use']} | {r['system']} | {r['phase']} | {r['regime']} | {r['software']} | "
                     f"{r['parallel']} | {r['batch_per_rank']:.3g} | {tpot} | {r['measured']:,.0f} | "
                     f"{r['estimate']:,.0f} ({b['low']:,.0f}-{b['high']:,.0f}) | {r['residual']:+.0%} | {r['bound']} |")
    fit = [r for r in residuals(use="fit") if r["residual"] is not None]
    logs = [abs(math.log(1 + r["residual"])) for r in fit]
    lines += ["", f"Fitted rows: {len(fit)}; median |log(estimate / measured)| {np.median(logs):.3f}; largest "
              f"|residual| {max(abs(r['residual']) for r in fit):.0%}. Factors: "
              + ", ".join(f"{k} {v:.2f}" for k, v in shipped_factors().items()) + ".", "",
              "| leave-one-system-out | regime | rows | median abs log error |", "|---|---|---|---|"]
    for v in leave_one_out():
        lines.append(f"| {v['split']} | {v['regime']} | {v['n']} | {v['median_abs_log_error']:.3f} |")
    return "\n".join(lines)


__all__ = ["estimate_row", "fit_family_factors", "leave_one_out", "measurement", "measurements", "regime",
           "residual_table_markdown", "residuals", "shipped_factors"]

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
