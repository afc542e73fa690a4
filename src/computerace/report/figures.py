"""Plotly figures for the HTML report.

Every figure is built from quantiles over the `sample` dimension, computed with numpy in one
vectorised call per variable (no per-month or per-sample Python loop), so 10,000 samples x 228
months render in well under a second. Figures hold quantiles and histogram counts, not raw samples,
which keeps the offline HTML small; the one exception is `capex_paths`, which draws a handful of US
sample paths (chosen deterministically) so a capex bust and its recovery can be seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go
    import xarray as xr

ACTORS = ("US", "China", "RoW")
CHANNELS = ("domestic", "legal_import", "smuggled", "proxy_fab")
YEARS_BEHIND_DATES = ("2025-12", "2030-12", "2035-12", "2040-12")
STOCK_AXIS_TITLE = "H100e (dense BF16)"

ACTOR_COLOURS = {"US": "#1f5fa8", "China": "#c0392b", "RoW": "#6d7f8c"}
CHANNEL_COLOURS = {
    "domestic": "#c0392b",
    "legal_import": "#e08e45",
    "smuggled": "#7d3c98",
    "proxy_fab": "#2e8b57",
}
CHANNEL_LABELS = {
    "domestic": "Domestic (SMIC-made)",
    "legal_import": "Legal imports",
    "smuggled": "Smuggled",
    "proxy_fab": "Proxy fabs (made abroad)",
}
TEMPLATE = "plotly_white"


def quantiles_over_samples(values: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles along axis 0 (the sample axis): returns shape (len(qs), *values.shape[1:]).

    Linear interpolation (numpy's default), so q=0.5 equals `np.median`. NaN-aware only when
    NaNs are present, since `nanquantile` is several times slower.
    """
    arr = np.asarray(values, dtype=np.float64)
    if np.isnan(arr).any():
        return np.nanquantile(arr, qs, axis=0)
    return np.quantile(arr, qs, axis=0)


def _month_labels(months: np.ndarray) -> list[str]:
    return [str(m) for m in np.datetime_as_string(np.asarray(months, dtype="datetime64[D]"), unit="D")]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _positive(a: np.ndarray) -> np.ndarray:
    """Non-positive values cannot sit on a log axis: show them as gaps, not as zeros."""
    return np.where(a > 0, a, np.nan)


def fan_chart(
    dataset: xr.Dataset,
    variable: str = "stock_h100e",
    actors: Sequence[str] = ACTORS,
    title: str | None = None,
) -> go.Figure:
    """Fan chart of `variable` (sample, month, actor): median line, 50% band (p25-p75) and 90% band
    (p5-p95) per actor, on a log y axis.

    Trace names: "<actor> median", "<actor> p5", "<actor> 5-95%" (the p95 edge, filled down to p5),
    "<actor> p25", "<actor> 25-75%" (the p75 edge).
    """
    import plotly.graph_objects as go

    da = dataset[variable].transpose("sample", "month", "actor")
    present = [a for a in actors if a in da["actor"].values]
    da = da.sel(actor=present)
    q = quantiles_over_samples(da.values, [0.05, 0.25, 0.5, 0.75, 0.95])  # (5, month, actor)
    x = _month_labels(da["month"].values)

    fig = go.Figure()
    for i, actor in enumerate(present):
        colour = ACTOR_COLOURS.get(actor, "#444444")
        p5, p25, p50, p75, p95 = (_positive(q[k, :, i]) for k in range(5))
        common = dict(x=x, legendgroup=actor, mode="lines", hoverinfo="skip")
        for lo, lo_name, hi, label, alpha in ((p5, "p5", p95, "5-95%", 0.12), (p25, "p25", p75, "25-75%", 0.28)):
            fig.add_trace(go.Scatter(y=lo, name=f"{actor} {lo_name}", line=dict(width=0, color=colour),
                                     showlegend=False, **common))
            fig.add_trace(go.Scatter(y=hi, name=f"{actor} {label}", line=dict(width=0, color=colour), fill="tonexty",
                                     fillcolor=_rgba(colour, alpha), showlegend=False, **common))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=p50,
                name=f"{actor} median",
                legendgroup=actor,
                mode="lines",
                line=dict(width=2.2, color=colour),
                customdata=np.stack([q[0, :, i], q[4, :, i]], axis=-1),
                hovertemplate=(
                    f"{actor}<br>%{{x|%Y-%m}}<br>median %{{y:.3s}}"
                    "<br>90%: %{customdata[0]:.3s} - %{customdata[1]:.3s}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        height=520,
        title=title or "Installed AI compute by actor (median, 50% and 90% bands)",
        legend=dict(orientation="h", y=-0.15),
        margin=dict(l=70, r=20, t=60, b=60),
    )
    fig.update_yaxes(type="log", title_text=STOCK_AXIS_TITLE)
    fig.update_xaxes(title_text="Month")
    return fig


def december_mask(months: np.ndarray) -> np.ndarray:
    """True at December months of a datetime64 month coordinate."""
    m = np.asarray(months, dtype="datetime64[M]")
    return (m.astype(np.int64) % 12) == 11


def china_channels(dataset: xr.Dataset) -> go.Figure:
    """China's acquisitions per calendar year, stacked by channel (per-channel medians), with the median
    of China's remote (rented abroad, not owned) compute at each December as a dashed line.

    The stack of per-channel medians is not the median of the total, so the median total is shown
    as separate markers. Bar traces are named by channel (the `channel` coordinate value) and carry it
    in `meta`.
    """
    import plotly.graph_objects as go

    adds = dataset["china_additions_h100e"].transpose("sample", "year", "channel")
    channels = [str(c) for c in adds["channel"].values]
    years = np.asarray(adds["year"].values).astype(int)
    q = quantiles_over_samples(adds.values, [0.5])[0]  # (year, channel)
    total = quantiles_over_samples(adds.values.sum(axis=2, dtype=np.float64), [0.5])[0]

    fig = go.Figure()
    for j, ch in enumerate(channels):
        label = CHANNEL_LABELS.get(ch, ch)
        fig.add_trace(
            go.Bar(
                x=years,
                y=q[:, j],
                name=label,
                meta=ch,
                marker_color=CHANNEL_COLOURS.get(ch),
                hovertemplate=f"{label}<br>%{{x}}: median %{{y:.3s}} H100e<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=years,
            y=total,
            name="Median of total acquisitions",
            meta="total",
            mode="markers",
            marker=dict(symbol="line-ew-open", size=18, color="#222222", line=dict(width=2)),
            hovertemplate="Total<br>%{x}: median %{y:.3s} H100e<extra></extra>",
        )
    )

    if "china_remote_h100e" in dataset:
        remote = dataset["china_remote_h100e"].transpose("sample", "month")
        dec = december_mask(remote["month"].values)
        dec_years = np.asarray(remote["month"].values[dec], dtype="datetime64[Y]").astype(int) + 1970
        rq = quantiles_over_samples(remote.values[:, dec], [0.5])[0]
        fig.add_trace(
            go.Scatter(
                x=dec_years,
                y=rq,
                name="Remote: rented abroad, not owned (December stock, median)",
                meta="remote",
                mode="lines+markers",
                line=dict(dash="dash", color="#555555", width=2),
                hovertemplate="Remote (not owned)<br>Dec %{x}: median %{y:.3s} H100e<extra></extra>",
            )
        )

    fig.update_layout(
        template=TEMPLATE,
        height=480,
        barmode="stack",
        title="China: acquisitions per year by channel (medians) and rented remote compute",
        legend=dict(orientation="h", y=-0.2),
        margin=dict(l=70, r=20, t=60, b=80),
    )
    fig.update_yaxes(title_text=STOCK_AXIS_TITLE)
    fig.update_xaxes(title_text="Year (double-click the chart to see every year)", dtick=1)
    # Open on the years the debate is about (to 2030); later years dwarf them on a linear axis.
    near = years <= 2030
    if near.any() and (~near).any():
        x_range = (float(years[0]) - 0.6, 2030.6)
        top = max(visible_max(fig.data, x_range), 0.0)
        fig.update_xaxes(range=list(x_range))
        fig.update_yaxes(range=[0, 1.08 * top] if top > 0 else None)
    return fig


def visible_max(traces: Sequence[object], x_range: tuple[float, float]) -> float:
    """The highest y any trace reaches while x lies within `x_range`: stacked bars by their stack, a line also
    where it crosses an edge of the range (it is drawn from the last point inside to the first outside), so an
    axis range up to this keeps every bar, marker and line on the chart."""
    lo, hi = x_range
    stack: dict[float, float] = {}
    top = -np.inf
    for t in traces:
        tx, ty = getattr(t, "x", None), getattr(t, "y", None)
        if tx is None or ty is None:
            continue
        x, y = np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)
        if x.size == 0:
            continue
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if getattr(t, "type", "") == "bar":
            for xi, yi in zip(x, y, strict=True):
                if lo <= xi <= hi and yi > 0:
                    stack[float(xi)] = stack.get(float(xi), 0.0) + float(yi)
            continue
        inside = (x >= lo) & (x <= hi)
        if inside.any():
            top = max(top, float(y[inside].max()))
        mode = getattr(t, "mode", None) or "lines"
        if "lines" in mode and x.size > 1:
            order = np.argsort(x)
            for edge in (lo, hi):
                if x.min() < edge < x.max():
                    top = max(top, float(np.interp(edge, x[order], y[order])))
    if stack:
        top = max(top, max(stack.values()))
    return float(top) if np.isfinite(top) else 0.0


def _select_months(months: np.ndarray, dates: Sequence[str]) -> list[tuple[str, int]]:
    m = np.asarray(months, dtype="datetime64[M]")
    out = []
    for d in dates:
        idx = np.nonzero(m == np.datetime64(d, "M"))[0]
        if idx.size:
            out.append((d, int(idx[0])))
    return out


def censored_fractions(censored: xr.DataArray, dates: Sequence[str] = YEARS_BEHIND_DATES) -> dict[str, float]:
    """Fraction of samples whose lag lies beyond the horizon, at each of `dates` present in the data."""
    c = censored.transpose("sample", "month")
    vals = np.asarray(c.values, dtype=bool)
    return {d: float(vals[:, i].mean()) for d, i in _select_months(c["month"].values, dates)}


def years_behind_hist(
    years: xr.DataArray, censored: xr.DataArray, dates: Sequence[str] = YEARS_BEHIND_DATES, bins: int = 40
) -> go.Figure:
    """Histograms of how many years China's installed stock lags the US's, at each of `dates`.

    Censored samples (lag beyond the horizon: the value is a lower bound) are stacked in a separate
    colour, and each panel is annotated "censored: x.x%". Negative values mean China is ahead.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    y = years.transpose("sample", "month")
    c = censored.transpose("sample", "month")
    sel = _select_months(y["month"].values, dates)
    fracs = censored_fractions(censored, dates)
    n_panels = max(len(sel), 1)
    fig = make_subplots(
        rows=1, cols=n_panels, shared_yaxes=True, subplot_titles=[d for d, _ in sel] or ["no date in horizon"]
    )
    yv = np.asarray(y.values, dtype=np.float64)
    cv = np.asarray(c.values, dtype=bool)
    for k, (d, i) in enumerate(sel):
        col = k + 1
        v, cens = yv[:, i], cv[:, i]
        ok = np.isfinite(v)
        n = max(v.size, 1)
        if ok.any():
            lo, hi = float(v[ok].min()), float(v[ok].max())
            if hi - lo < 1e-9:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, bins + 1)
        else:
            edges = np.linspace(0.0, 1.0, bins + 1)
        centres = 0.5 * (edges[:-1] + edges[1:])
        width = float(edges[1] - edges[0])
        for part, mask, colour, label in (
            ("observed", ok & ~cens, "#1f5fa8", "Within horizon"),
            ("censored", ok & cens, "#c0392b", "Beyond horizon (lower bound)"),
        ):
            counts, _ = np.histogram(v[mask], bins=edges)
            fig.add_trace(
                go.Bar(
                    x=centres,
                    y=counts / n,
                    width=width,
                    name=label,
                    meta=f"{d} {part}",
                    legendgroup=part,
                    showlegend=(k == 0),
                    marker_color=colour,
                    hovertemplate=f"{d}<br>%{{x:.1f}} years: %{{y:.1%}} of samples<extra>{label}</extra>",
                ),
                row=1,
                col=col,
            )
        # Censored samples sit at the extreme of the range, so the median is exact while fewer than
        # half are censored; beyond that it is only a bound and is not printed as a number.
        if ok.any() and fracs[d] < 0.5:
            med_text = f"median: {float(np.median(v[ok])):.1f} y"
        else:
            med_text = "median: beyond horizon"
        xref = "x domain" if col == 1 else f"x{col} domain"
        yref = "y domain" if col == 1 else f"y{col} domain"
        fig.add_annotation(
            x=0.98,
            y=0.98,
            xref=xref,
            yref=yref,
            xanchor="right",
            yanchor="top",
            showarrow=False,
            text=f"censored: {fracs[d]:.1%}<br>{med_text}",
            name=f"censored {d}",
            bgcolor="rgba(255,255,255,0.8)",
            font=dict(size=11),
        )
        fig.update_xaxes(title_text="years behind", row=1, col=col)
    fig.update_yaxes(title_text="share of samples", tickformat=".0%", row=1, col=1)
    fig.update_layout(
        template=TEMPLATE,
        height=420,
        barmode="stack",
        bargap=0.02,
        title="Years China's installed stock lags the US's (negative = China ahead)",
        legend=dict(orientation="h", y=-0.25),
        margin=dict(l=70, r=20, t=80, b=80),
    )
    return fig


#: Buyers of Western output in `western_output_by_buyer`, with their colours.
WESTERN_BUYERS = (("US", "US buyers (at home and abroad)", "#1f5fa8"), ("RoW", "Rest of the world", "#6d7f8c"),
                  ("China/legal_import", "China, legal (licensed and frontier parts)", "#e67e22"),
                  ("China/smuggled", "China, smuggled", "#8e44ad"), ("unsold", "Nobody (unsold)", "#cccccc"))


def western_output_by_buyer(dataset: xr.Dataset) -> go.Figure:
    """Where Western output went each calendar year (per-buyer medians, stacked): US, RoW, China's legal imports
    and smuggled chips, and what nobody bought (`unsold_h100e`, Western). Bar traces carry the buyer in `meta`.

    The market (docs/metrics.md, "Supply meets demand") shares output by money when it is short; a grey bar is
    output that found no buyer who could pay for and power it.
    """
    import plotly.graph_objects as go

    adds = dataset["additions_h100e"].transpose("sample", "year", "actor")
    cadds = dataset["china_additions_h100e"].transpose("sample", "year", "channel")
    years = np.asarray(adds["year"].values).astype(int)
    series = {"US": adds.sel(actor="US").values, "RoW": adds.sel(actor="RoW").values,
              "China/legal_import": cadds.sel(channel="legal_import").values,
              "China/smuggled": cadds.sel(channel="smuggled").values}
    if "unsold_h100e" in dataset:
        series["unsold"] = dataset["unsold_h100e"].sel(supplier="Western").transpose("sample", "year").values
    fig = go.Figure()
    for key, label, colour in WESTERN_BUYERS:
        if key not in series:
            continue
        med = quantiles_over_samples(series[key].astype(np.float64), [0.5])[0]
        fig.add_trace(go.Bar(x=years, y=med, name=label, meta=key, marker_color=colour,
                             hovertemplate=f"{label}<br>%{{x}}: median %{{y:.3s}} H100e<extra></extra>"))
    fig.update_layout(template=TEMPLATE, height=460, barmode="stack",
                      title="Where Western output went each year (medians)",
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=70, r=20, t=60, b=80))
    fig.update_yaxes(title_text=STOCK_AXIS_TITLE)
    fig.update_xaxes(title_text="Year", dtick=2)
    return fig


def capex_sample_indices(dataset: xr.Dataset, busts: int = 3, calm: int = 2, recovery_years: int = 3) -> dict[str, list[int]]:
    """Samples whose US capex path is drawn, chosen deterministically (lowest sample positions first).

    "bust": the first `busts` samples whose first AI-capex bust (`capex_bust_year`) starts at least
    `recovery_years` before the horizon's last year, so the fall and the return can both be seen;
    "calm": the first `calm` samples with no bust within the horizon. Positions along `sample`.
    """
    if "capex_bust_year" not in dataset:
        return {"bust": [], "calm": []}
    bust = np.asarray(dataset["capex_bust_year"].values, dtype=np.float64)
    last = int(np.asarray(dataset["year"].values).max())
    return {"bust": np.nonzero(bust < last + 1 - recovery_years)[0][:busts].tolist(),
            "calm": np.nonzero(~(bust < last + 1))[0][:calm].tolist()}


def capex_paths(dataset: xr.Dataset, actors: Sequence[str] = ACTORS) -> go.Figure:
    """AI capex by actor and calendar year (`capex_usd` [sample, year, actor]): median line and 90% band
    (p5-p95) per actor on a log axis, with a few US sample paths drawn thin (`capex_sample_indices`) so a
    bust and its recovery can be seen.

    Trace names: "<actor> median", "<actor> p5", "<actor> 5-95%" (the p95 edge, filled down to p5); sample
    paths carry meta "US sample <i> (bust <year>)" or "US sample <i> (no bust)", i the sample coordinate.
    """
    import plotly.graph_objects as go

    da = dataset["capex_usd"].transpose("sample", "year", "actor")
    present = [a for a in actors if a in da["actor"].values]
    da = da.sel(actor=present)
    years = np.asarray(da["year"].values).astype(int)
    values = np.asarray(da.values, dtype=np.float64)
    q = quantiles_over_samples(values, [0.05, 0.5, 0.95])  # (3, year, actor)

    fig = go.Figure()
    for i, actor in enumerate(present):
        colour = ACTOR_COLOURS.get(actor, "#444444")
        common = dict(x=years, legendgroup=actor, mode="lines", hoverinfo="skip", showlegend=False)
        fig.add_trace(go.Scatter(y=_positive(q[0, :, i]), name=f"{actor} p5", line=dict(width=0, color=colour),
                                 **common))
        fig.add_trace(go.Scatter(y=_positive(q[2, :, i]), name=f"{actor} 5-95%", line=dict(width=0, color=colour),
                                 fill="tonexty", fillcolor=_rgba(colour, 0.15), **common))
        fig.add_trace(go.Scatter(x=years, y=_positive(q[1, :, i]), name=f"{actor} median", legendgroup=actor,
                                 mode="lines", line=dict(width=2.4, color=colour),
                                 hovertemplate=f"{actor}<br>%{{x}}: median %{{y:.3s}} USD<extra></extra>"))
    if "US" in present:
        us = values[:, :, present.index("US")]
        bust_year = (np.asarray(dataset["capex_bust_year"].values, dtype=np.float64) if "capex_bust_year" in dataset
                     else None)
        picks = capex_sample_indices(dataset)
        samples = np.asarray(dataset["sample"].values)
        for kind, dash in (("bust", "solid"), ("calm", "dot")):
            for j in picks[kind]:
                label = (f"US sample {samples[j]} (bust {bust_year[j]:.1f})" if kind == "bust" and bust_year is not None
                         else f"US sample {samples[j]} (no bust)")
                fig.add_trace(go.Scatter(x=years, y=_positive(us[j]), name=label, meta=label, mode="lines",
                                         legendgroup="samples", line=dict(width=1, color="#1f5fa8", dash=dash),
                                         opacity=0.75,
                                         hovertemplate=f"{label}<br>%{{x}}: %{{y:.3s}} USD<extra></extra>"))
    fig.update_layout(template=TEMPLATE, height=480,
                      title="AI capex by actor per year (median and 90% band) and a few US sample paths",
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=70, r=20, t=60, b=80))
    fig.update_yaxes(type="log", title_text="USD per year")
    fig.update_xaxes(title_text="Year", dtick=2)
    return fig
