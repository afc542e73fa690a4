"""Headline metrics of a Run: quantiles, shares, ratios, years behind, overtaking probabilities.

Definitions (docs/metrics.md):
- china_share = China's owned stock / World owned stock (US + China + RoW); remote compute excluded.
- china_share_with_remote = (China's owned stock + compute it rents abroad) / World stock: the usage
  basis of AI 2027's "about 12%" (the rented compute is part of RoW's stock).
- us_to_china_ratio = US stock / China stock.
- years_behind_stock (per sample, per month t): the lag L with China(t) = US(t - L), interpolated
  log-linearly between months on the US's running maximum. Negative when China is ahead (then the US
  lags China). When the matching date lies before the horizon starts, L is only known to be at least
  (t - start): the value is that lower bound and the sample is flagged `censored`, never a silent NaN.
- years_behind_<axis> for the axes in AXES (docs/metrics.md): the same lag on other paths.
- china_overtakes_us_stock_by[Y] = P(China's installed stock exceeds the US's in some month up to December Y);
  china_overtakes_us_operational_stock_by[Y] the same on operational stock (what available power runs).
- capex_usd (by actor: AI capex per calendar year, beside spend_usd on accelerators), unsold_h100e (Western,
  China), unpowered_h100e (by actor), china_imports_h100e / _chips (by part): per calendar
  year; us_abroad_h100e: US-owned stock at sites in the rest of the world (part of the US stock).
- years_behind_at_most[axis][YYYY-12][k] = P(years behind <= k), k = 1..10, censored samples counting as > k.
- model_form (issue 15): the headlines pooled and within each model form ("<western>/<domestic>", physics or
  growth), and the share of their variance between forms (law of total variance; docs/metrics.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .reasoning import METRICS as _reasoning_metrics

QUANTILES = {"p5": 0.05, "p50": 0.5, "p95": 0.95}
OVERTAKE_YEARS = (2030, 2035, 2040)


def quantile_table(values: np.ndarray) -> dict[str, np.ndarray]:
    """p5, p50, p95 and mean over axis 0 (samples) of a [sample, ...] array; NaN-free input."""
    q = np.quantile(values, list(QUANTILES.values()), axis=0)
    out = {k: q[i] for i, k in enumerate(QUANTILES)}
    out["mean"] = values.mean(axis=0)
    return out


def _lag_months(lead: np.ndarray, lag: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Months by which `lag` trails `lead` at month indices `at`: t - tau with runmax(lead)(tau) = lag(t).

    lead, lag: [sample, month], positive. Returns (months, censored), each [sample, len(at)]; censored
    marks values below the lead's first month (months is then the lower bound t).
    """
    S, T = lead.shape
    runmax = np.maximum.accumulate(np.log(np.maximum(lead, 1e-30)), axis=1)
    target = np.log(np.maximum(lag[:, at], 1e-30))
    first = runmax[:, :1]
    # One searchsorted over all samples: offset each sample's non-decreasing path by a large step.
    span = float(np.max(runmax - first)) + float(np.max(np.abs(target - first))) + 10.0
    offset = (np.arange(S) * span * 4)[:, None]
    flat = (runmax - first + offset).ravel()
    k = np.searchsorted(flat, (target - first + offset).ravel(), side="left").reshape(target.shape)
    k -= (np.arange(S) * T)[:, None]
    censored = target < first
    hi = np.clip(k, 1, T - 1)
    lo = hi - 1
    r_lo, r_hi = np.take_along_axis(runmax, lo, 1), np.take_along_axis(runmax, hi, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(r_hi > r_lo, (target - r_lo) / (r_hi - r_lo), 0.0)
    tau = lo + np.clip(frac, 0.0, 1.0)
    tau = np.where(k >= T, T - 1, tau)
    tau = np.where(k <= 0, 0.0, tau)
    return np.asarray(at)[None, :] - tau, censored


AXES = ("stock", "chip", "process_node", "same_node", "largest_training_run", "frontier_capability")

#: When the observed capability lag of Chinese models is matched (the capability axis's calibration month):
#: the sources of capability.china_algorithmic_lag_years measure it in 2025 (grunewald-china-2026, epoch-china-llm-2025).
CAPABILITY_CALIBRATION = "2025-12"


def _years_behind(us: np.ndarray, cn: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Years China's path trails the US's at month indices `at` (negative when ahead) and censoring flags."""
    years = np.empty((us.shape[0], len(at)))
    censored = np.empty((us.shape[0], len(at)), bool)
    for lo in range(0, us.shape[0], 10_000):  # bounded memory for large runs
        sl = slice(lo, lo + 10_000)
        behind, c1 = _lag_months(us[sl], cn[sl], at)
        ahead, c2 = _lag_months(cn[sl], us[sl], at)
        china_ahead = cn[sl][:, at] >= us[sl][:, at]
        years[sl] = np.where(china_ahead, -ahead, behind) / 12.0
        censored[sl] = np.where(china_ahead, c2, c1)
    return years, censored


def axis_paths(ds: xr.Dataset, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """The US and China paths [sample, month] compared on one years-behind axis (not process_node).

    stock: installed stock. chip: H100e per package of the US frontier chip vs China's best chip in volume.
    largest_training_run: operational stock x FLOP per H100e of the largest run (China's cluster share
    scaled by china_cluster_share_ratio, or by china_centralised_share_ratio once China centralises). frontier_capability: that run x algorithmic efficiency, China's
    algorithms lagging by china_algorithmic_lag_years.
    """
    if axis == "stock":
        return (ds["stock_h100e"].sel(actor="US").values, ds["stock_h100e"].sel(actor="China").values)
    if axis == "chip":  # China's chip vs the US trend (see chip_years_behind); as paths, the stepped US releases
        return (ds["best_chip_h100e"].sel(rival="US").values, ds["best_chip_h100e"].sel(rival="China").values)
    from ..model.capability import algorithmic_efficiency

    per_h100e = ds["run_flop_per_h100e"].values[:, None]
    us = ds["operational_h100e"].sel(actor="US").values * per_h100e
    ratio = ds["china_cluster_share_ratio"].values[:, None]
    if "china_centralise_year" in ds:  # China centralises compute for its largest run (AI 2027's CDZ)
        from ..model.events import centralised_share_ratio

        ratio = centralised_share_ratio(_month_years(ds), ds["china_cluster_share_ratio"].values,
                                        ds["china_centralise_year"].values, ds["china_centralised_share_ratio"].values)
    cn = ds["operational_h100e"].sel(actor="China").values * per_h100e * ratio
    if axis == "largest_training_run":
        return us, cn
    if axis == "frontier_capability":
        t = _month_years(ds)
        g = ds["algorithmic_progress_per_year"].values
        zero = np.zeros_like(g)
        us_cap, cn_raw = us * algorithmic_efficiency(t, g, zero), cn * algorithmic_efficiency(t, g, zero)
        return us_cap, cn_raw * capability_calibration(t, us_cap, cn_raw, ds["china_algorithmic_lag_years"].values)
    raise ValueError(f"unknown axis {axis!r}; one of {', '.join(AXES)}")


def capability_calibration(t: np.ndarray, us_cap: np.ndarray, cn_raw: np.ndarray, lag: np.ndarray,
                           at: str = CAPABILITY_CALIBRATION) -> np.ndarray:
    """[sample, 1] factor K that makes China's capability lag the observed `lag` years at month `at`.

    The observed lag of Chinese frontier models (~7 months, 4-14; Epoch, Grunewald) is the *total* lag: compute and
    algorithms together. China's capability is its largest run x algorithmic efficiency x K, where K, fixed per
    sample, is what the raw compute comparison misses: distillation from US models, diffusion of published
    methods, and any difference in efficiency. K is set so that China at `at` equals the US at `at` - lag; later the
    lag moves only with the two sides' compute and algorithms. K < 1 or > 1 are both possible."""
    t0 = 1970 + (np.datetime64(at, "M").astype(int)) / 12.0
    m0 = int(np.clip(np.searchsorted(t, t0 - 1e-9), 0, len(t) - 1))
    target = np.log(np.maximum(us_cap, 1e-300))  # [sample, month]
    tt = np.clip(t[m0] - lag, t[0], t[m0])
    k = np.clip(np.searchsorted(t, tt) - 1, 0, len(t) - 2)  # month index below t0 - lag, per sample
    rows = np.arange(len(lag))
    frac = (tt - t[k]) / (t[k + 1] - t[k])
    log_us_then = target[rows, k] * (1 - frac) + target[rows, k + 1] * frac
    return np.exp(log_us_then - np.log(np.maximum(cn_raw[:, m0], 1e-300)))[:, None]


def _month_years(ds: xr.Dataset) -> np.ndarray:
    m = ds["month"].values.astype("datetime64[M]").astype(int)
    return 1970 + m / 12.0


def years_behind(ds: xr.Dataset, axis: str = "stock", months: list[int] | None = None
                 ) -> tuple[xr.DataArray, xr.DataArray]:
    """Years China trails the US on `axis` (see AXES), per sample at month indices `months` (default all),
    and the censoring flag (the lag reaches back before the horizon: the value is a lower bound).

    process_node: month - TSMC's volume date of the best node SMIC has (never censored; NaN-free when
    SMIC has a 7nm-class node, as from July 2021).
    """
    at = np.arange(ds.sizes["month"]) if months is None else np.asarray(months)
    if axis == "chip":
        years = chip_years_behind(ds, at)
        censored = np.zeros_like(years, dtype=bool)
    elif axis == "same_node":
        tm = _month_years(ds)[at]
        years = same_node_lag(tm, ds["tsmc_node_year"].values, ds["smic_node_year"].values)
        censored = np.isnan(years)
        years = np.where(censored, 0.0, years)
    elif axis == "process_node":
        from ..model.capability import node_tsmc_year

        tm = _month_years(ds)[at]
        node = node_tsmc_year(tm, ds["tsmc_node_year"].values, ds["smic_node_year"].values)
        years = (tm[None, :] - node).astype(np.float64)
        censored = np.isnan(years)
        years = np.where(censored, _month_years(ds)[at][None, :] - 2010.0, years)
    else:  # in blocks of samples: the paths of a 100k-sample run would need GBs at once
        S = ds.sizes["sample"]
        years = np.empty((S, len(at)))
        censored = np.empty((S, len(at)), bool)
        for lo in range(0, S, 10_000):
            us, cn = axis_paths(ds.isel(sample=slice(lo, lo + 10_000)), axis)
            years[lo:lo + 10_000], censored[lo:lo + 10_000] = _years_behind(us, cn, at)
    coords = {"sample": ds["sample"], "month": ds["month"][at]}
    return (xr.DataArray(years, coords, ("sample", "month"), name=f"years_behind_{axis}",
                         attrs={"units": "years", "censored_means": "at least this many years"}),
            xr.DataArray(censored, coords, ("sample", "month"), name=f"years_behind_{axis}_censored"))


def chip_years_behind(ds: xr.Dataset, at: np.ndarray) -> np.ndarray:
    """Years China's best chip trails the US frontier chip on the US per-chip trend, at month indices `at`.

    The US frontier chip is read as a trend between releases, not as steps: from the latest US release at t
    (value v, released at t_r; after the last listed release, the path itself, t_r = t) the trend falls back at
    the sample's per-chip growth g (capability.frontier_chip_growth_per_year: Epoch's 1.6x a year, sampled 1.3-1.7)
    to China's best chip c:

        lag(t) = (t - t_r) + ln(v / c) / ln(g)

    negative when China's chip is above the trend. t_r is the month the US path last changed (a release, or each
    month once it grows past its last listed release). g is read from the US path's growth in the year after its
    last listed release, or 1.6 when the horizon ends before that year does."""
    us = ds["best_chip_h100e"].sel(rival="US").values.astype(np.float64)  # [sample, month]
    cn = ds["best_chip_h100e"].sel(rival="China").values[:, at].astype(np.float64)
    t = _month_years(ds)
    # the month the US path last changed (a release, or growth after the last one): a flat stretch is a release's
    step = np.r_[1.0, np.median(us[:, 1:] / np.maximum(us[:, :-1], 1e-300), axis=0)]
    changed = step > 1 + 1e-9
    rel = np.maximum.accumulate(np.where(changed, np.arange(len(t)), 0))
    # g: the year of steady growth right after the last release (the same months whatever the horizon's end,
    # so a run cut short reads the same g)
    jumps = np.flatnonzero(step > 1.08)
    last = int(jumps[-1]) if jumps.size else 0
    after = np.flatnonzero(changed[last + 1:]) + last + 1  # growth steps after the last release
    k0 = int(after[0]) if after.size else len(t)
    grows = k0 + 11 < len(t) and bool(changed[k0:k0 + 12].all())
    g = us[:, k0 + 11] / us[:, k0 - 1] if grows else np.full(us.shape[0], 1.6)  # twelve monthly steps
    log_g = np.log(np.maximum(g, 1.01))[:, None]
    v = us[:, at]
    return (t[at] - t[rel[at]])[None, :] + np.log(np.maximum(v, 1e-300) / np.maximum(cn, 1e-300)) / log_g


def same_node_lag(t_at: np.ndarray, tsmc_years: np.ndarray, smic_years: np.ndarray) -> np.ndarray:
    """[sample, month]: for SMIC's best node at each month, SMIC's date for it minus TSMC's (the same-node lag the
    debate's "2-4 years behind" means); NaN before SMIC's first node."""
    reached = (smic_years[:, None, :] <= t_at[None, :, None]).sum(axis=2)
    i = np.maximum(reached - 1, 0)
    lag = np.take_along_axis(smic_years, i, axis=1) - np.take_along_axis(tsmc_years, i, axis=1)
    return np.where(reached > 0, lag, np.nan)


def years_behind_stock(ds: xr.Dataset, months: list[int] | None = None) -> tuple[xr.DataArray, xr.DataArray]:
    """Years China's installed stock trails the US's (the stock axis of `years_behind`)."""
    return years_behind(ds, "stock", months)


def report_months(ds: xr.Dataset) -> list[int]:
    """Indices of every December in the horizon, plus the last month."""
    months = ds["month"].values.astype("datetime64[M]")
    idx = [i for i, m in enumerate(months) if str(m).endswith("-12")]
    if len(months) - 1 not in idx:
        idx.append(len(months) - 1)
    return idx


def _table(values: np.ndarray, labels: list[str], censored: np.ndarray | None = None) -> dict[str, Any]:
    """{label: {p5, p50, p95, mean[, censored]}} for values [sample, len(labels)]."""
    q = quantile_table(values)
    out: dict[str, Any] = {}
    for i, lab in enumerate(labels):
        row = {k: float(q[k][i]) for k in ("p5", "p50", "p95", "mean")}
        if censored is not None:
            row["censored"] = float(censored[:, i].mean())
        out[lab] = row
    return out


def headline_block(ds: xr.Dataset, metrics: dict[str, Any], stock_years: Any = None) -> dict[str, Any]:
    from .headline import headline_block as block

    return block(ds, metrics, stock_years)


def _chip_lag_by_spec() -> dict[str, Any]:
    from .chip_axes import spec_lags

    return spec_lags()


def summary(ds: xr.Dataset, manifest: dict[str, Any]) -> dict[str, Any]:
    """The summary.json dict (layout in DESIGN.md): quantiles of headline metrics and probabilities."""
    idx = report_months(ds)
    labels = [str(m) for m in ds["month"].values.astype("datetime64[M]")[idx]]
    stock = ds["stock_h100e"].values[:, idx].astype(np.float64)  # [S, D, actor]
    actors = [str(a) for a in ds["actor"].values]
    chans = [str(c) for c in ds["channel"].values]
    cstock = ds["china_stock_h100e"].values[:, idx].astype(np.float64)
    world = stock.sum(axis=2)

    def by_key(arr3: np.ndarray, world_arr: np.ndarray, china_ch: np.ndarray | None, lab: list[str]
               ) -> dict[str, Any]:
        out = {a: _table(arr3[:, :, i], lab) for i, a in enumerate(actors)}
        out["World"] = _table(world_arr, lab)
        if china_ch is not None:
            for j, c in enumerate(chans):
                out[f"China/{c}"] = _table(china_ch[:, :, j], lab)
        return out

    metrics: dict[str, Any] = {}
    metrics["stock_h100e"] = by_key(stock, world, cstock, labels)
    ylabels = [str(y) for y in ds["year"].values]
    adds = ds["additions_h100e"].values.astype(np.float64)
    metrics["additions_h100e"] = by_key(adds, adds.sum(axis=2), ds["china_additions_h100e"].values.astype(
        np.float64), ylabels)
    op = ds["operational_h100e"].values[:, idx].astype(np.float64)
    metrics["operational_h100e"] = by_key(op, op.sum(axis=2), None, labels)
    pw = ds["power_gw"].values[:, idx].astype(np.float64)
    metrics["power_gw"] = by_key(pw, pw.sum(axis=2), None, labels)
    metrics["remote_h100e"] = {"China": _table(ds["china_remote_h100e"].values[:, idx].astype(np.float64),
                                                labels)}
    china = stock[:, :, actors.index("China")]
    us = stock[:, :, actors.index("US")]
    metrics["china_share"] = {"China": _table(china / world, labels)}
    remote = ds["china_remote_h100e"].values[:, idx].astype(np.float64)
    metrics["china_share_with_remote"] = {"China": _table((china + remote) / world, labels)}
    with np.errstate(divide="ignore"):
        ratio = np.where(china > 0, us / np.maximum(china, 1e-300), np.inf)
    metrics["us_to_china_ratio"] = {"US:China": _table(ratio, labels)}
    at_most: dict[str, Any] = {}
    for axis in AXES:
        yb, cens = years_behind(ds, axis, idx)
        metrics[f"years_behind_{axis}"] = {"China": _table(yb.values, labels, cens.values)}
        if axis == "stock":
            stock_yb, stock_cens = yb.values, cens.values
        # P(years behind <= k): a censored value is only a lower bound, so it counts as "not <= k".
        known = np.where(cens.values, np.inf, yb.values)
        at_most[axis] = {lab: {str(k): float((known[:, i] <= k).mean()) for k in range(1, 11)}
                         for i, lab in enumerate(labels) if lab.endswith("-12") and int(lab[:4]) % 5 == 0}

    if "reasoning_serving_tokens_per_s" in ds:  # issue 18: capacity to serve a large reasoning model fast
        from .reasoning import metrics_block

        metrics.update(metrics_block(ds, _table, labels))

    if "binding_constraint" in ds:
        ends = labels  # each year's last month: the Decembers and the horizon's last month, one per year
        assert len(ends) == ds.sizes["year"], "one report month per calendar year"
        gens = ds["generation"].values.tolist()
        for var in ("stock_by_generation_h100e", "power_by_generation_gw"):
            arr = ds[var].values.astype(np.float64)  # [S, year, actor, generation]
            q = quantile_table(arr)  # one pass over every key: [year, actor, generation] each
            metrics[var] = {f"{a}/{g}": {lab: {k: float(q[k][d, i, j]) for k in ("p5", "p50", "p95", "mean")}
                                         for d, lab in enumerate(ends)}
                            for i, a in enumerate(actors) for j, g in enumerate(gens)}
        # a cap that is unlimited in some sample (HBM before the ban) has no quantiles: such years are left out
        # W per H100e of each actor's installed stock (before any power cap): "more, worse chips" draw more
        needed = ds["power_by_generation_gw"].values.astype(np.float64).sum(axis=3)  # [S, year, actor]
        held = ds["stock_by_generation_h100e"].values.astype(np.float64).sum(axis=3)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(held > 0, needed * 1e9 / np.where(held > 0, held, 1.0), np.nan)
        metrics["watts_per_h100e"] = {a: _table(w[:, :, i], ends) for i, a in enumerate(actors)
                                      if np.isfinite(w[:, :, i]).all()}
        chain = ds["china_supply_chain"].values.astype(np.float64)
        metrics["china_supply_chain"] = {}
        for j, st in enumerate(ds["step"].values.tolist()):
            ok = np.isfinite(chain[:, :, j]).all(axis=0)
            metrics["china_supply_chain"][str(st)] = _table(chain[:, ok, j], [y for y, o in zip(ylabels, ok, strict=True) if o])

    # supply meets demand: what nobody bought, what power could not take, US-owned chips abroad, imports by part
    for var, dim in (("capex_usd", "actor"), ("unsold_h100e", "supplier"), ("unpowered_h100e", "actor"),
                     ("china_imports_h100e", "part"),
                     ("china_imports_chips", "part"), ("china_imports_usd", "part")):
        if var in ds:
            arr = ds[var].values.astype(np.float64)  # [S, year, key]
            metrics[var] = {str(k): _table(arr[:, :, j], ylabels) for j, k in enumerate(ds[dim].values.tolist())}
    if "us_abroad_h100e" in ds:
        metrics["us_abroad_h100e"] = {"US": _table(ds["us_abroad_h100e"].values[:, idx].astype(np.float64), labels)}

    probabilities: dict[str, Any] = {"china_overtakes_us_stock_by": overtakes_by(ds, "stock_h100e")}
    if "operational_h100e" in ds:
        probabilities["china_overtakes_us_operational_stock_by"] = overtakes_by(ds, "operational_h100e")
    probabilities["years_behind_at_most"] = at_most
    forms = model_forms(ds)
    if forms is not None:  # issue 15: how much of each headline comes from the model's own form
        heads = [f"{y}-12" for y in OVERTAKE_YEARS if f"{y}-12" in labels]
        # the arrays summary() tabulated above, whole: the pooled rows are then identical to theirs, bit for bit
        headline = {"years_behind_stock": (stock_yb, stock_cens), "china_share": (china / world, None)}
        model_form = model_form_block(forms, headline, labels, overtaken_by_samples(ds, "stock_h100e"), heads)
    return {
        "scenario": manifest["scenario"], "seed": manifest["seed"], "samples": manifest["samples"],
        "version": manifest["version"], "scenario_hash": manifest["scenario_hash"],
        "catalog_version": manifest["catalog_version"],
        "metrics": metrics,
        "probabilities": probabilities,
        **headline_block(ds, metrics, (list(idx), stock_yb, stock_cens)),  # beside the US:China ratio
        "chip_lag_by_spec": _chip_lag_by_spec(),  # the chip lag on BF16, 8-bit and HBM bandwidth (catalog)
        **({"binding_constraint": binding_fractions(ds)} if "binding_constraint" in ds else {}),
        # issue 18: capacity to serve a large reasoning model fast, by actor and year (docs/reasoning-serving.md)
        **({"reasoning_serving": _reasoning_block(ds)} if "reasoning_serving_tokens_per_s" in ds else {}),
        **({"model_form": model_form} if forms is not None else {}),
        # a conditioned run (Run.conditioned): ESS, tempering, the observations that carried the weight, and
        # each headline's prior -> posterior shift
        **({"conditioning": manifest["conditioning"]} if "conditioning" in manifest else {}),
    }


def _reasoning_block(ds: xr.Dataset) -> dict[str, Any]:
    from .reasoning import block

    return block(ds)


#: The model-form switches recorded per sample (1.0 physics form, 0.0 growth form), Western first.
FORM_SWITCHES = (("western_model", "supply.western_model"), ("domestic_model", "channels.domestic_model"))
FORM_NAMES = {1: "physics", 0: "growth"}
#: Forms with fewer samples report their count but no quantiles, means or probabilities (null).
MODEL_FORM_MIN_SAMPLES = 20


def model_forms(ds: xr.Dataset) -> np.ndarray | None:
    """Each sample's model form, "<western>/<domestic>" ("physics/growth": CoWoS/HBM physics for Western
    output, China's growth ramp), from the per-sample switches; None when the run does not record them."""
    if not all(var in ds for var, _ in FORM_SWITCHES):
        return None
    west, dom = ((ds[var].values > 0.5).astype(int) for var, _ in FORM_SWITCHES)
    names = np.array([FORM_NAMES[0], FORM_NAMES[1]])
    return np.char.add(np.char.add(names[west], "/"), names[dom])


def form_order(forms: np.ndarray) -> list[str]:
    """The forms present, in a fixed order: physics/physics, physics/growth, growth/physics, growth/growth."""
    order = [f"{w}/{d}" for w in ("physics", "growth") for d in ("physics", "growth")]
    present = set(np.unique(forms).tolist())
    return [f for f in order if f in present] + sorted(present - set(order))


def variance_share_from_form(values: np.ndarray, forms: np.ndarray) -> float:
    """Share of the variance of `values` [sample] that lies between model forms (law of total variance).

    Var(Y) = E[Var(Y | F)] + Var(E[Y | F]); returns Var(E[Y | F]) / Var(Y) = sum_f n_f (mean_f - mean)^2 /
    sum_i (y_i - mean)^2, population moments over the samples given (the caller drops censored or
    non-finite values first). 0 with one form or no spread; in [0, 1].
    """
    y = np.asarray(values, dtype=np.float64)
    groups = np.unique(forms)
    if y.size == 0 or groups.size < 2:
        return 0.0
    mean = y.mean()
    total = float(np.sum((y - mean) ** 2))
    if not total > 0:
        return 0.0
    between = sum(float(np.sum(forms == f)) * (float(y[forms == f].mean()) - mean) ** 2 for f in groups)
    return float(min(max(between / total, 0.0), 1.0))


def overtaken_by_samples(ds: xr.Dataset, var: str = "stock_h100e") -> dict[str, np.ndarray]:
    """{year: [sample] bool}: China's `var` exceeded the US's in some month up to December of the year (the
    per-sample flags whose means are `overtakes_by`)."""
    months = ds["month"].values.astype("datetime64[M]")
    ever = np.logical_or.accumulate(ds[var].sel(actor="China").values > ds[var].sel(actor="US").values, axis=1)
    out = {}
    for y in OVERTAKE_YEARS:
        m = np.datetime64(f"{y}-12", "M")
        if months[0] <= m <= months[-1]:
            out[str(y)] = ever[:, int((m - months[0]).astype(int))]
    return out


def _null_row(censored: bool) -> dict[str, Any]:
    return {k: None for k in ("p5", "p50", "p95", "mean", *(("censored",) if censored else ()))}


def model_form_block(forms: np.ndarray, headline: dict[str, tuple[np.ndarray, np.ndarray | None]],
                     labels: list[str], overtaken: dict[str, np.ndarray], dates: list[str] | None = None
                     ) -> dict[str, Any]:
    """summary.json's `model_form` block: each headline pooled and within each model form.

    forms: [sample] labels (`model_forms`). headline: {metric: (values [sample, label], censored or None)},
    labels naming the columns; reported at `dates` (default all labels). Quantiles as in `summary`
    (censored years behind enter as their lower bound); the variance share (`variance_share_from_form`)
    over finite, uncensored values only. overtaken: {year: [sample] bool}. Forms with fewer than
    MODEL_FORM_MIN_SAMPLES samples get null statistics.
    """
    dates = list(labels) if dates is None else dates
    order = form_order(forms)
    masks = {f: forms == f for f in order}
    small = {f for f in order if masks[f].sum() < MODEL_FORM_MIN_SAMPLES}
    n = forms.size
    metrics: dict[str, Any] = {}
    for metric, (values, censored) in headline.items():
        pooled = _table(values, labels, censored)
        by_form = {f: ({d: _null_row(censored is not None) for d in labels} if f in small
                       else pooled if m.all()  # one form: its rows are the pooled ones, to the last bit
                       else _table(values[m], labels, None if censored is None else censored[m]))
                   for f, m in masks.items()}
        metrics[metric] = {}
        for d in dates:
            i = labels.index(d)
            ok = np.isfinite(values[:, i]) & (True if censored is None else ~censored[:, i])
            metrics[metric][d] = {
                "pooled": pooled[d], "by_form": {f: by_form[f][d] for f in order},
                "share_from_form": variance_share_from_form(values[ok, i], forms[ok]),
                "variance_samples": int(ok.sum())}
    probs = {y: {"pooled": float(flags.mean()),
                 "by_form": {f: None if f in small else float(flags[masks[f]].mean()) for f in order}}
             for y, flags in overtaken.items()}
    return {"switches": {var: key for var, key in FORM_SWITCHES}, "min_samples": MODEL_FORM_MIN_SAMPLES,
            "forms": {f: {"samples": int(masks[f].sum()), "share": float(masks[f].sum() / n)} for f in order},
            "metrics": metrics, "probabilities": {"china_overtakes_us_stock_by": probs}}


def overtakes_by(ds: xr.Dataset, var: str = "stock_h100e") -> dict[str, float]:
    """{year: P(China's `var` exceeds the US's in some month up to December of the year)} for OVERTAKE_YEARS.

    var: stock_h100e (installed: what each owns) or operational_h100e (what its power runs).
    """
    months = ds["month"].values.astype("datetime64[M]")
    ahead = ds[var].sel(actor="China").values > ds[var].sel(actor="US").values
    ever = np.logical_or.accumulate(ahead, axis=1)
    out = {}
    for y in OVERTAKE_YEARS:
        m = np.datetime64(f"{y}-12", "M")
        if months[0] <= m <= months[-1]:
            out[str(y)] = float(ever[:, int((m - months[0]).astype(int))].mean())
    return out


def binding_fractions(ds: xr.Dataset) -> dict[str, dict[str, dict[str, float]]]:
    """{actor: {year: {constraint: fraction of samples}}}: which limit bound each actor's acquisitions in most
    months of the year (model/supply.py BINDING; power when installed chips are stranded, budget when money
    buys less than supply offers, else the supply step that bound). Fractions sum to 1 per actor and year."""
    codes = ds["binding_constraint"].values  # [S, year, actor]
    names = [str(c) for c in ds["constraint"].values]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for i, a in enumerate(str(x) for x in ds["actor"].values):
        out[a] = {str(y): {n: float((codes[:, j, i] == k).mean()) for k, n in enumerate(names)}
                  for j, y in enumerate(ds["year"].values.tolist())}
    return out


def _month_index(ds: xr.Dataset, date: str) -> int:
    months = ds["month"].values.astype("datetime64[M]")
    m = np.datetime64(date, "M")
    if not months[0] <= m <= months[-1]:
        raise ValueError(f"date {date} is outside the horizon {months[0]} .. {months[-1]}")
    return int((m - months[0]).astype(int))


#: Reasoning-serving metrics (date YYYY; key an actor or World for the capacity, China for the others).
REASONING_METRICS = _reasoning_metrics


def sample_values(ds: xr.Dataset, metric: str, key: str = "China", date: str = "2030-12") -> np.ndarray:
    """Per-sample values [sample] of one metric at one date (YYYY-MM for stocks, YYYY for flows).

    metric: stock_h100e / operational_h100e / power_gw (key: US, China, RoW, World or China/<channel>),
    additions_h100e / spend_usd (key as above, date YYYY), price_usd_per_h100e (spend / additions, key an
    actor, date YYYY), china_share, china_share_with_remote, us_to_china_ratio,
    us_to_china_additions_ratio, us_to_china_spend_ratio, china_to_us_price_ratio (date YYYY),
    years_behind_<axis>, and REASONING_METRICS (date YYYY). The single place claims, comparisons and reports read
    per-sample metrics.
    """
    def at_year(var: str, k: str) -> np.ndarray:
        y = int(date[:4])
        a = ds[var].sel(year=y)
        if k == "World":
            return a.values.astype(np.float64).sum(axis=1)
        if k.startswith("China/"):
            return ds["china_" + var].sel(year=y, channel=k.split("/", 1)[1]).values.astype(np.float64)
        return a.sel(actor=k).values.astype(np.float64)

    def at_month(var: str, k: str) -> np.ndarray:
        i = _month_index(ds, date)
        if k.startswith("China/"):
            return ds["china_stock_h100e"].isel(month=i).sel(channel=k.split("/", 1)[1]).values.astype(np.float64)
        a = ds[var].isel(month=i).values.astype(np.float64)
        if k == "World":
            return a.sum(axis=1)
        return a[:, list(ds["actor"].values).index(k)]

    if metric in ("stock_h100e", "operational_h100e", "power_gw"):
        return at_month(metric, key)
    if metric in ("additions_h100e", "spend_usd"):
        if key.startswith("China/") and metric == "spend_usd":
            raise ValueError("spend_usd is reported by actor, not by channel")
        return at_year(metric, key)
    if metric == "price_usd_per_h100e":
        return at_year("spend_usd", key) / at_year("additions_h100e", key)
    if metric == "us_to_china_additions_ratio":
        return at_year("additions_h100e", "US") / at_year("additions_h100e", "China")
    if metric == "us_to_china_spend_ratio":
        return at_year("spend_usd", "US") / at_year("spend_usd", "China")
    if metric == "china_to_us_price_ratio":
        return ((at_year("spend_usd", "China") / at_year("additions_h100e", "China"))
                / (at_year("spend_usd", "US") / at_year("additions_h100e", "US")))
    if metric in ("china_share", "china_share_with_remote", "us_to_china_ratio"):
        us, cn, world = at_month("stock_h100e", "US"), at_month("stock_h100e", "China"), at_month("stock_h100e", "World")
        if metric == "china_share":
            return cn / world
        if metric == "us_to_china_ratio":
            return us / cn
        remote = ds["china_remote_h100e"].isel(month=_month_index(ds, date)).values.astype(np.float64)
        return (cn + remote) / world
    if metric in REASONING_METRICS:  # docs/reasoning-serving.md
        from . import reasoning

        y = int(date[:4])
        if metric == "reasoning_serving_tokens_per_s":
            return at_year("reasoning_serving_tokens_per_s", key)
        if key != "China":
            raise ValueError(f"{metric} is defined for China only")
        if metric == "years_behind_reasoning_serving":
            yb, _ = reasoning.years_behind(ds)
            return yb[:, list(ds["year"].values).index(y)]
        if metric == "reasoning_floor_ms":
            return ds["reasoning_floor_ms"].sel(year=y).values.astype(np.float64)
        cn = at_year("reasoning_serving_tokens_per_s", "China")
        alt = ds["reasoning_serving_china_no_supernode_tokens_per_s"].sel(year=y).values.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(cn > 0, alt / np.where(cn > 0, cn, 1.0), 1.0)
    if metric.startswith("years_behind_"):
        axis = metric[len("years_behind_"):]
        yb, _ = years_behind(ds, axis, [_month_index(ds, date)])
        return yb.values[:, 0]
    raise ValueError(f"unknown metric {metric!r}")


def first_overtaking_year(ds: xr.Dataset) -> np.ndarray:
    """Fractional year of the first month China's stock exceeds the US's, per sample (inf: never)."""
    ahead = ds["stock_h100e"].sel(actor="China").values > ds["stock_h100e"].sel(actor="US").values
    first = np.where(ahead.any(axis=1), ahead.argmax(axis=1), -1)
    t = _month_years(ds)
    return np.where(first >= 0, t[np.maximum(first, 0)], np.inf)
