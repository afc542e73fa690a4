"""Backtest: the baseline as it could have been written at an earlier date, scored on what came after.

1. As-of scenario: every parameter whose sources were all published after the as-of date is widened to
   an uninformed prior (its 90% interval stretched by a factor of 3 either side); one with sources from
   both sides is widened by 2; schedule steps (policy) after the date are dropped, holding the last known
   regime. Assumptions are kept, and may embed hindsight: the report says so.
2. Simulate the as-of scenario over the whole horizon.
3. Score against evidence (data/evidence.csv) published after the date whose observation period ends
   after it: per series, coverage of the model's 50% and 90% intervals and the CRPS (relative to the
   observed value). Coverage near 50% and 90% means calibrated intervals; CRPS rewards sharpness too.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import UserError
from ..scenario.distributions import Beta, ControlsSchedule, Dist, LogNormal, Normal, Point, Uniform
from ..scenario.schema import Series

Z90 = 1.6448536269514722


def widen(d: Dist, factor: float) -> Dist:
    """A distribution with the same median and its 90% interval widened by `factor` either side."""
    s_add = math.log(factor) / Z90
    if isinstance(d, LogNormal):
        return LogNormal(f"{d.text}, widened x{factor:g}", d.mu, math.hypot(d.sigma, s_add))
    if isinstance(d, Point) and d.value > 0:
        return LogNormal(f"{d.text}, widened x{factor:g}", math.log(d.value), s_add)
    if isinstance(d, Normal):
        return Normal(f"{d.text}, widened x{factor:g}", d.mean, math.hypot(d.sd, abs(d.mean) * (factor - 1) / Z90))
    if isinstance(d, Uniform | Beta):
        return d  # already spans its range
    m = d.median
    return LogNormal(f"{d.text}, widened x{factor:g}", math.log(m), s_add) if m > 0 else d


def as_of_scenario(scenario: Any, as_of: dt.date) -> tuple[Any, list[dict[str, Any]]]:
    """The scenario as knowable at `as_of` (see module docstring) and the list of changes made."""
    from ..catalog import sources

    src = sources()
    year = as_of.year + (as_of.timetuple().tm_yday - 1) / 365.25
    params, changes = {}, []
    for key, p in scenario.parameters.items():
        dates = [src[s].published for s in p.source if s in src]
        after = [d for d in dates if _date(d) > as_of]
        factor = 3.0 if dates and len(after) == len(dates) else 2.0 if after else 1.0
        v = p.value
        if isinstance(v, ControlsSchedule):  # the rules engine: hold the regime in force at the as-of date
            params[key] = replace(p, value=ControlsSchedule(v.text, freeze_after=f"{as_of.year}-{as_of.month:02d}"))
            changes.append({"parameter": key, "change": f"export-control regime held as of {as_of}"})
            continue
        if isinstance(v, Series):
            times, dists = list(v.times), list(v.dists)
            if v.mode == "step" and times[-1] > year:
                keep = [i for i, t in enumerate(times) if t <= year] or [0]
                times, dists = [times[i] for i in keep], [dists[i] for i in keep]
                changes.append({"parameter": key, "change": f"policy steps after {as_of} dropped"})
            if factor > 1:
                dists = [widen(d, factor) for d in dists]
            v = Series(tuple(times), tuple(dists), v.mode)
        elif factor > 1:
            v = widen(v, factor)
        if factor > 1:
            changes.append({"parameter": key, "change": f"widened x{factor:g} (sources published after {as_of}: "
                                                         + ", ".join(s for s in p.source if s in src and _date(src[s].published) > as_of) + ")"})
        params[key] = replace(p, value=v)
    resolved = dict(scenario.resolved)
    resolved["as_of"] = as_of.isoformat()
    return scenario.model_copy(update={"parameters": params, "resolved": resolved,
                                       "name": f"{scenario.name}@{as_of}"}), changes


def _date(text: str) -> dt.date:
    from ..catalog import date_range

    return date_range(text)[1]


def crps(samples: np.ndarray, y: float) -> float:
    """Continuous ranked probability score of an ensemble: E|X - y| - E|X - X'| / 2 (sorted-sample form)."""
    x = np.sort(samples.astype(np.float64))
    n = len(x)
    term1 = np.mean(np.abs(x - y))
    term2 = np.sum(x * (2 * np.arange(1, n + 1) - n - 1)) / (n * n)
    return float(term1 - term2)


def score(x: np.ndarray, y: float) -> dict[str, Any]:
    """Score one observation y against model samples x: quantiles, 50%/90% interval hits, relative CRPS."""
    q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"model_p5": q[0], "model_p25": q[1], "model_p50": q[2], "model_p75": q[3], "model_p95": q[4],
            "in_50": bool(q[1] <= y <= q[3]), "in_90": bool(q[0] <= y <= q[4]), "crps_relative": crps(x, y) / abs(y)}


def _cumulative_additions(ds: Any, keys: list[tuple[str, str]], year: int) -> np.ndarray:
    """Sum over keys of additions from the horizon's first year through `year` (per sample)."""
    years = [int(y) for y in ds["year"].values if int(y) <= year]
    total = np.zeros(ds.sizes["sample"])
    for var, key in keys:
        a = ds[var].sel(year=years)
        a = a.sel(actor=key) if var == "additions_h100e" else a.sel(channel=key)
        total += a.values.astype(np.float64).sum(axis=1)
    return total


def _month_value(ds: Any, var: str, date: str, sel: dict[str, str]) -> np.ndarray:
    return ds[var].sel(month=f"{date}-01", **sel).values.astype(np.float64)


SERIES = {
    "western_sales_h100e_cumulative": {
        "metrics": ["nvidia_sales_h100e_cumulative", "google_tpu_sales_h100e_cumulative",
                    "amd_sales_h100e_cumulative", "aws_trainium_sales_h100e_cumulative"],
        "describe": "Western accelerators sold since 2022 (NVIDIA, TPU, AMD, Trainium; Epoch, 8-bit H100e) vs "
                    "the model's cumulative acquisitions of Western output (US, RoW, China legal and smuggled)"},
    "china_legal_nvidia_h100e_cumulative": {
        "metrics": ["china_legal_nvidia_h100e_cumulative"],
        "describe": "NVIDIA chips sold to China since 2022 (Epoch owners) vs the model's cumulative legal imports"},
    "china_owned_share_excl_smuggled": {
        "metrics": ["china_owned_share"],
        "describe": "Chinese companies' share of world compute, smuggled chips excluded (Epoch) vs the model"},
    "huawei_compute_h100e": {
        "metrics": ["huawei_compute_h100e"],
        "describe": "the compute Huawei's bank of ~3M TSMC-made dies amounts to (RAND, May 2025) vs all the "
                    "model's proxy-fab acquisitions over the horizon (the bank once packaged under the HBM cap)"},
    "us_ai_power_gw": {"metrics": ["ai_power_gw"], "describe": "US AI data-centre power (EPRI/Epoch) vs the model's US power drawn"},
}


def _model_values(ds: Any, series: str, row: Any) -> np.ndarray | None:
    end = _date(row.period_end)
    if series == "western_sales_h100e_cumulative":
        if (end.month, end.day) != (12, 31):
            return None
        return _cumulative_additions(ds, [("additions_h100e", "US"), ("additions_h100e", "RoW"),
                                          ("china_additions_h100e", "legal_import"),
                                          ("china_additions_h100e", "smuggled")], end.year)
    if series == "china_legal_nvidia_h100e_cumulative":
        if (end.month, end.day) != (12, 31):
            return None
        return _cumulative_additions(ds, [("china_additions_h100e", "legal_import")], end.year)
    m = f"{end.year}-{end.month:02d}"
    if series == "china_owned_share_excl_smuggled":
        st = ds["stock_h100e"].sel(month=f"{m}-01").values.astype(np.float64)
        smug = _month_value(ds, "china_stock_h100e", m, {"channel": "smuggled"})
        return (st[:, 1] - smug) / (st.sum(axis=1) - smug)
    if series == "huawei_compute_h100e":
        # RAND: "~3M TSMC dies ... equivalent to approximately 1 million H100s" - the bank's worth, not what was
        # installed by May 2025; the model's counterpart is everything the bank yields once packaged
        return ds["china_additions_h100e"].sel(channel="proxy_fab").values.astype(np.float64).sum(axis=1)
    if series == "us_ai_power_gw":
        return _month_value(ds, "power_gw", m, {"actor": "US"})
    return None


def backtest(as_of: str | dt.date = "2024-01-01", scenario: Any = "baseline", samples: int = 2000,
             seed: int = 0) -> dict[str, Any]:
    """Run the as-of scenario and score it on later evidence (see module docstring)."""
    import computerace as cr

    from ..catalog import evidence, parse_date

    d = parse_date(as_of, "--as-of date") if not isinstance(as_of, dt.date) else as_of
    base = cr.load_scenario(scenario) if isinstance(scenario, str) else scenario
    first, last = base.horizon.start, base.horizon.end
    if not (dt.date(int(first[:4]), int(first[5:]), 1) <= d <= dt.date(int(last[:4]), 12, 31)):
        raise UserError(f"--as-of {d} lies outside the horizon {first} .. {last}; pick a date inside it")
    sc, changes = as_of_scenario(base, d)
    ds = cr.run(sc, samples=samples, seed=seed).dataset
    later = [r for r in evidence() if _date(r.published) > d and _date(r.period_end) > d]
    out_series = []
    for name, spec in SERIES.items():
        rows = [r for r in later if r.metric in spec["metrics"]]
        obs: dict[str, dict[str, Any]] = {}
        for r in rows:  # sum designers reported separately for the same period end
            key = r.period_end
            o = obs.setdefault(key, {"period_end": key, "central": 0.0, "low": 0.0, "high": 0.0, "row": r,
                                     "sources": set()})
            o["central"] += r.central if r.central is not None else (r.low + r.high) / 2
            o["low"] += r.low if r.low is not None else np.nan
            o["high"] += r.high if r.high is not None else np.nan
            o["sources"] |= set(r.source)
        scored = []
        for o in obs.values():
            x = _model_values(ds, name, o["row"])
            if x is None:
                continue
            y = o["central"]
            scored.append({"period_end": o["period_end"], "observed": y, "observed_low": o["low"],
                           "observed_high": o["high"], **score(x, y), "sources": sorted(o["sources"])})
        if not scored:
            continue
        out_series.append({"series": name, "describe": spec["describe"], "n": len(scored),
                           "coverage_50": float(np.mean([s["in_50"] for s in scored])),
                           "coverage_90": float(np.mean([s["in_90"] for s in scored])),
                           "crps_relative": float(np.mean([s["crps_relative"] for s in scored])),
                           "observations": sorted(scored, key=lambda s: s["period_end"])})
    n = sum(s["n"] for s in out_series)
    return {"as_of": d.isoformat(), "scenario": base.name, "samples": samples, "seed": seed,
            "observations": n, "series": out_series, "changes": changes,
            "overall": {"coverage_50": float(np.mean([o["in_50"] for s in out_series for o in s["observations"]]))
                        if n else None,
                        "coverage_90": float(np.mean([o["in_90"] for s in out_series for o in s["observations"]]))
                        if n else None},
            "caveat": "Assumptions are kept as written in 2026 and may embed hindsight; parameters set from "
                      "sources published after the as-of date are widened, not re-estimated."}
