"""Calibration of the serving estimator on the reference's measured rows A and B (data/models.yaml).

Only two whole-model factors are fitted, `compute_model` (achieved compute relative to the microbenchmark
ceilings) and `a2a_overlap` (share of the roofline core the expert all-to-all hides under); every other factor
comes from the GPU microbenchmarks, DeepEP's kernel benchmarks or a cited deployment. The fit minimises the RMS of
log(estimate / measured) over the `use: fit` rows by grid search; `use: report` rows are shown with their residual
and the reason they are not fitted. `python -m computerace.model.serving_calibration` prints docs/serving.md's
residual table.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from . import serving


def measurements(use: str | None = None) -> list[dict[str, Any]]:
    rows = serving._data()["measurements"]
    return [r for r in rows if use is None or r["use"] == use]


def measurement(row_id: str) -> dict[str, Any]:
    return next(r for r in measurements() if r["id"] == row_id)


def estimate_row(row: dict[str, Any], eff: serving.Efficiency | None = None) -> serving.Estimate:
    """The estimator under one measured row's conditions (system, model, precision, phase, tokens, batch or
    TPOT target, deployment, MTP, KV format, balanced routing)."""
    return serving.estimate(row["system"], row["model"], row["precision"], row["phase"], int(row["tokens"]),
                            tpot_ms=row.get("tpot_ms"), batch=row.get("batch"),
                            mtp_tokens_per_step=row.get("mtp_tokens_per_step"), ep=row.get("ep"), tp=row.get("tp"),
                            kv_precision=row.get("kv_precision"), balanced=bool(row.get("balanced", False)),
                            eff=eff)


def residuals(eff: serving.Efficiency | None = None, use: str | None = None) -> list[dict[str, Any]]:
    """estimate / measured - 1 for every measured row."""
    out = []
    for r in measurements(use):
        est = estimate_row(r, eff)
        out.append({"id": r["id"], "use": r["use"], "system": r["system"], "phase": r["phase"],
                    "measured": float(r["measured"]), "estimate": est.tokens_per_s_per_chip,
                    "residual": est.tokens_per_s_per_chip / r["measured"] - 1, "bound": est.bound,
                    "parallel": est.parallel.label(), "batch_per_chip": est.batch_per_chip, "tpot_ms": est.tpot_ms,
                    "source": r["source"], "note": r.get("note", "")})
    return out


def rms_log_error(eff: serving.Efficiency) -> float:
    errs = [math.log(estimate_row(r, eff).tokens_per_s_per_chip / r["measured"]) for r in measurements("fit")]
    return math.sqrt(sum(x * x for x in errs) / len(errs))


def fit_calibration(compute_grid: np.ndarray | None = None, overlap_grid: np.ndarray | None = None
                    ) -> tuple[float, float, float]:
    """Grid search of (compute_model, a2a_overlap) minimising rms_log_error; returns (compute_model,
    a2a_overlap, rms). Default grid: compute_model 0.30..1.00 by 0.01, a2a_overlap 0..1 by 0.05."""
    base = serving.efficiency()
    cg = np.round(np.arange(0.30, 1.001, 0.01), 2) if compute_grid is None else compute_grid
    og = np.round(np.arange(0.0, 1.001, 0.05), 2) if overlap_grid is None else overlap_grid
    best = (float("nan"), float("nan"), float("inf"))
    for c in cg:
        for o in og:
            rms = rms_log_error(replace(base, compute_model=float(c), a2a_overlap=float(o)))
            if rms < best[2] - 1e-12:
                best = (float(c), float(o), rms)
    return best


def residual_table_markdown() -> str:
    """The residual table of docs/serving.md (kept in step by tests/test_serving.py)."""
    lines = ["| row | use | system | phase | deployment | batch/chip | TPOT ms | measured | estimate | residual | bound |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in residuals():
        tpot = f"{r['tpot_ms']:.1f}" if r["tpot_ms"] else "-"
        lines.append(f"| {r['id']} | {r['use']} | {r['system']} | {r['phase']} | {r['parallel']} | "
                     f"{r['batch_per_chip']:.3g} | {tpot} | {r['measured']:,.0f} | {r['estimate']:,.0f} | "
                     f"{r['residual']:+.0%} | {r['bound']} |")
    fit = [r["residual"] for r in residuals(use="fit")]
    lines.append("")
    lines.append(f"Fitted rows: {len(fit)}; RMS of log(estimate / measured) {rms_log_error(serving.efficiency()):.3f}; "
                 f"largest |residual| {max(abs(x) for x in fit):.0%}.")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(residual_table_markdown())
