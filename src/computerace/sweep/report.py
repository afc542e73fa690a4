"""The sweep report: one offline HTML page (plotly.js embedded) of a metric over the grid.

Two axes or more: a heatmap of the chosen statistic over the first two axes (one per value of any
further axis, up to MAX_PANELS), each cell labelled with its median and 90% interval, then lines
along the second axis with their p5-p95 bands. One axis: lines with bands. Then a table of every
metric at the report year, and the grid file that produced the page.
"""

from __future__ import annotations

import html
import itertools
import math
from typing import Any

import numpy as np

from .grid import Grid, label

MAX_PANELS = 6
MAX_TABLE_ROWS = 300
MAX_LINES = 12
CONDITIONAL = ("Every cell is a forecast conditional on its scenario's assumptions, not a prediction of what "
               "will happen.")
CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222;
       max-width: 1150px; margin: 0 auto; padding: 24px; line-height: 1.45; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f6f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.conditional { background: #fff7e0; border-left: 5px solid #e0a800; padding: 10px 14px; font-weight: 600; }
.note { color: #555; font-size: 0.9em; }
.wide { overflow-x: auto; }
pre { background: #f5f6f8; padding: 10px; overflow-x: auto; }
"""


def fmt(x: float, unit: str = "") -> str:
    """A short number: 1.23M, 45.6k, 12.5% for fractions and probabilities."""
    if x is None or not math.isfinite(x):
        return "—"
    if unit in ("fraction", "probability"):
        return f"{x:.1%}"
    a = abs(x)
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{suf}"
    return f"{x:.3g}"


def interval(v: np.ndarray, unit: str) -> str:
    """'p50 [p5–p95]' from a [stat] vector (p5, p50, p95, mean); the mean alone for a probability."""
    if not math.isfinite(v[1]):
        return fmt(float(v[3]), unit)
    return f"{fmt(float(v[1]), unit)} [{fmt(float(v[0]), unit)}–{fmt(float(v[2]), unit)}]"


def _div(fig: Any, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _heatmaps(da: Any, grid: Grid, stat: str, unit: str) -> list[str]:
    """Heatmap of `stat` over the first two axes, one per combination of the further axes."""
    import plotly.graph_objects as go

    a0, a1 = grid.axes[0], grid.axes[1]
    rest = grid.axes[2:]
    out = []
    combos = list(itertools.product(*(range(len(a.values)) for a in rest)))
    for k, combo in enumerate(combos[:MAX_PANELS]):
        sub = da.isel({a.name: i for a, i in zip(rest, combo, strict=True)})
        z = sub.sel(stat=stat).transpose(a0.name, a1.name).values
        q = sub.transpose(a0.name, a1.name, "stat").values
        text = [[interval(q[i, j], unit) for j in range(q.shape[1])] for i in range(q.shape[0])]
        title = ", ".join(f"{a.name} = {label(a.values[i])}" for a, i in zip(rest, combo, strict=True))
        fig = go.Figure(go.Heatmap(
            z=z, x=[label(v) for v in a1.values], y=[label(v) for v in a0.values], text=text,
            texttemplate="%{text}", hovertemplate=f"{a0.name}=%{{y}}<br>{a1.name}=%{{x}}<br>{stat}: %{{z:.4g}}"
                                                  "<br>median [90%]: %{text}<extra></extra>",
            colorscale="Viridis", colorbar={"title": stat}))
        fig.update_layout(template="plotly_white", height=max(380, 60 * len(a0.values) + 160),
                          title=title or None, xaxis={"title": a1.name, "type": "category"},
                          yaxis={"title": a0.name, "type": "category"}, margin={"t": 50 if title else 20})
        out.append(_div(fig, f"heatmap-{k}"))
    if len(combos) > MAX_PANELS:
        out.append(f"<p class='note'>Showing {MAX_PANELS} of {len(combos)} combinations of the further axes; "
                   "all cells are in sweep.nc.</p>")
    return out


def _lines(da: Any, grid: Grid, unit: str, div_id: str) -> str:
    """The metric along the last plotted axis with p5-p95 bands: one line per value of the first axis
    (two or more axes, further axes at their first value) or per year (one axis)."""
    import plotly.colors
    import plotly.graph_objects as go

    colours = plotly.colors.qualitative.Plotly
    x_axis = grid.axes[1] if len(grid.axes) >= 2 else grid.axes[0]
    x = x_axis.coord()
    numeric = x.dtype.kind in "fi"
    xs = list(x) if numeric else [label(v) for v in x_axis.values]
    if len(grid.axes) >= 2:
        sub = da.isel({a.name: 0 for a in grid.axes[2:]})
        series = [(f"{grid.axes[0].name} = {label(v)}", sub.isel({grid.axes[0].name: i}))
                  for i, v in enumerate(grid.axes[0].values)][:MAX_LINES]
    else:
        series = [(f"{y}", da.sel(year=y)) for y in da["year"].values][-MAX_LINES:]
    fig = go.Figure()
    for k, (name, s) in enumerate(series):
        c = colours[k % len(colours)]
        lo, mid, hi, mean = (s.sel(stat=st).values for st in ("p5", "p50", "p95", "mean"))
        if np.isfinite(mid).any():
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=list(hi) + list(lo[::-1]), fill="toself", mode="lines", line={"width": 0},
                                     fillcolor=_rgba(c, 0.15), hoverinfo="skip", showlegend=False, legendgroup=name))
            fig.add_trace(go.Scatter(x=xs, y=mid, name=name, mode="lines+markers", line={"color": c},
                                     legendgroup=name, customdata=np.stack([lo, hi], axis=1),
                                     hovertemplate="%{x}: median %{y:.4g} [%{customdata[0]:.4g}–"
                                                   "%{customdata[1]:.4g}]<extra>" + name + "</extra>"))
        else:
            fig.add_trace(go.Scatter(x=xs, y=mean, name=name, mode="lines+markers", line={"color": c}))
    fig.update_layout(template="plotly_white", height=460, xaxis={"title": x_axis.name},
                      yaxis={"title": unit or "value", "tickformat": ".0%" if unit in ("fraction", "probability")
                             else None}, legend={"title": None}, margin={"t": 30})
    return _div(fig, div_id)


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def _table(ds: Any, grid: Grid, year: int) -> str:
    cols = [a.name for a in grid.axes]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    head += "".join(f"<th>{html.escape(m.label)}<br><span class='note'>{html.escape(m.unit)}</span></th>"
                    for m in grid.metrics)
    rows = []
    idx = list(itertools.product(*(range(len(a.values)) for a in grid.axes)))
    for ix in idx[:MAX_TABLE_ROWS]:
        sub = ds["value"].isel({a.name: i for a, i in zip(grid.axes, ix, strict=True)}).sel(year=year)
        cells = "".join(f"<td>{html.escape(label(a.values[i]))}</td>" for a, i in zip(grid.axes, ix, strict=True))
        cells += "".join(f"<td class='num'>{interval(sub.sel(metric=m.label).values, m.unit)}</td>"
                         for m in grid.metrics)
        rows.append(f"<tr>{cells}</tr>")
    note = (f"<p class='note'>First {MAX_TABLE_ROWS} of {len(idx)} cells; all are in sweep.nc.</p>"
            if len(idx) > MAX_TABLE_ROWS else "")
    return f"<div class='wide'><table><tr>{head}</tr>{''.join(rows)}</table></div>{note}"


def render_sweep_report(ds: Any, grid: Grid) -> str:
    """The report page for a gathered sweep Dataset (see engine.gather) and its grid."""
    from plotly.offline import get_plotlyjs

    rep = grid.report
    metric, year, stat = rep["metric"], int(rep["year"]), rep["stat"]
    unit = next(m.unit for m in grid.metrics if m.label == metric)
    da = ds["value"].sel(metric=metric)
    esc = html.escape
    parts = [f"<h1>Sweep: {esc(grid.name)}</h1>"]
    if grid.description:
        parts.append(f"<p>{esc(grid.description)}</p>")
    parts.append(f"<p class='conditional'>{CONDITIONAL}</p>")
    axes = "; ".join(f"<code>{esc(a.name)}</code> ({len(a.values)} values)" for a in grid.axes) or "none (one cell)"
    parts.append(f"<p>Base scenario <code>{esc(grid.base)}</code>; {grid.n_cells} cells of {grid.samples:,} samples "
                 f"each, seed {grid.seed}; axes: {axes}. computerace {esc(str(ds.attrs.get('version', '')))}.</p>")
    if len(grid.axes) >= 2:
        parts.append(f"<h2>{esc(metric)} ({esc(unit)}) in {year}</h2>")
        parts.append(f"<p class='note'>Colour: {esc(stat)}; each cell reads median [5th–95th percentile] over "
                     "its samples.</p>")
        parts.extend(_heatmaps(da.sel(year=year), grid, stat, unit))
        rest = (" (further axes at their first value)" if len(grid.axes) > 2 else "")
        parts.append(f"<h2>{esc(metric)} in {year} along {esc(grid.axes[1].name)}{rest}</h2>"
                     "<p class='note'>Lines: median; bands: 90% interval over the cell's samples.</p>")
        parts.append(_lines(da.sel(year=year), grid, unit, "lines"))
    elif len(grid.axes) == 1:
        parts.append(f"<h2>{esc(metric)} ({esc(unit)}) along {esc(grid.axes[0].name)}</h2>"
                     "<p class='note'>One line per year: median, with its 90% interval as a band.</p>")
        parts.append(_lines(da, grid, unit, "lines"))
    parts.append(f"<h2>Every metric in {year}</h2><p class='note'>median [5th–95th percentile]; "
                 "probabilities as the share of samples.</p>")
    parts.append(_table(ds, grid, year))
    parts.append(f"<h2>Grid file</h2><pre>{esc(grid.text)}</pre>")
    js = get_plotlyjs().replace("</script", "<\\/script")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>computerace sweep · {esc(grid.name)}</title><style>{CSS}</style>"
            f"<script type='text/javascript'>{js}</script></head><body>{''.join(parts)}</body></html>\n")
