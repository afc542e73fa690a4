"""summary.json's `headline` block: years behind (installed stock) and the US:China installed ratio side by side.

Why both: with China(t) = US(t - L), the ratio is R(t) = US(t) / US(t - L) = g^L, g the US's average yearly
growth over those L years, so

    years behind L = log(R) / log(g).

A flat ratio with slower US growth means *more* years behind: at R = 8, g = 2.8x/yr gives 2 years, g = 1.5x/yr
5.1 years. Years behind measures how far back in the US's own history China's stock sits; the ratio how much
more the US has now. The block reports both, and the US growth over the lag window that links them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from . import metrics as M

EXPLANATION = ("years behind = log(US:China ratio) / log(g), g the US's average yearly stock growth over the "
               "years-behind window; when US growth slows, the same ratio means more years behind.")


def _row(values: np.ndarray) -> dict[str, float | None]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"p5": None, "p50": None, "p95": None, "samples": 0}
    q = np.quantile(v, [0.05, 0.5, 0.95])
    return {"p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2]), "samples": int(v.size)}


def headline_block(ds: xr.Dataset, summary_metrics: dict[str, Any] | None = None,
                   stock_years: tuple[list[int], np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """{"headline": {...}}: at each December of the run, years behind on the stock axis and the US:China
    installed ratio (p5, p50, p95; the same rows as summary.json's `metrics`), and the US's implied average
    yearly growth over the lag window g = ratio^(1 / years behind) (over samples with China behind and the lag
    inside the horizon; `samples` counts them).

    `summary_metrics` is summary()'s `metrics` dict when called from there (its rows are reused, so the
    numbers are identical), and `stock_years` its (month indices, years behind, censored) arrays on the stock
    axis; otherwise they are computed here.
    """
    idx = [i for i in M.report_months(ds) if str(ds["month"].values.astype("datetime64[M]")[i]).endswith("-12")]
    labels = [str(m) for m in ds["month"].values.astype("datetime64[M]")[idx]]
    us = ds["stock_h100e"].sel(actor="US").values[:, idx].astype(np.float64)
    cn = ds["stock_h100e"].sel(actor="China").values[:, idx].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cn > 0, us / np.maximum(cn, 1e-300), np.inf)
    if stock_years is not None:  # summary() computed years behind at its report months already: reuse them
        at, yb_all, cens_all = stock_years
        cols = [at.index(i) for i in idx]
        L, censored = yb_all[:, cols], cens_all[:, cols]
    else:
        yb, cens = M.years_behind(ds, "stock", idx)
        L, censored = yb.values, cens.values
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where((L > 0.05) & ~censored & np.isfinite(ratio) & (ratio > 1), np.exp(np.log(ratio) / L), np.nan)
    sm = summary_metrics or {}
    yb_rows = ((sm.get("years_behind_stock") or {}).get("China") or {})
    ratio_rows = ((sm.get("us_to_china_ratio") or {}).get("US:China") or {})
    dates: dict[str, Any] = {}
    for j, lab in enumerate(labels):
        y_row = yb_rows.get(lab) or {**{k: v for k, v in _row(L[:, j]).items() if k != "samples"},
                                      "censored": float(censored[:, j].mean())}
        r_row = ratio_rows.get(lab) or {k: v for k, v in _row(ratio[:, j]).items() if k != "samples"}
        dates[lab] = {
            "years_behind_stock": {k: y_row.get(k) for k in ("p5", "p50", "p95", "censored") if k in y_row},
            "us_to_china_ratio": {k: r_row.get(k) for k in ("p5", "p50", "p95")},
            "us_growth_over_lag": _row(g[:, j]),
        }
    return {"headline": {"explanation": EXPLANATION, "dates": dates}}
