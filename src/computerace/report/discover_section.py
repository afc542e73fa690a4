"""Scenario discovery in the report and in `computerace discover --out`: the box in words, its table and the
peeling trajectory (coverage against density) as a plotly figure. The analysis is analysis/discover.py."""

from __future__ import annotations

import html
import math
from typing import Any

#: The report section's title and the outcome it discovers.
TITLE = "Scenario discovery: in which worlds China overtakes by 2040"
#: The report searches at most this many prior samples (PRIM's cost grows with samples; the CLI searches more).
REPORT_SAMPLES = 2000
OUTCOME = "overtake-by-2040"

BOX_COLOURS = ("#d62728", "#2ca02c", "#9467bd")


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _qp(x: float | None) -> str:
    return "—" if x is None else f"{x:.2g}"


def _figure_html(fig: Any, div_id: str) -> str:
    """Inline figure (no plotly.js) with a fixed div id, so the same result renders to the same bytes."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       default_height=f"{fig.layout.height or 420}px",
                       config={"displaylogo": False, "responsive": True})


PAGE_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222;
       max-width: 1150px; margin: 0 auto; padding: 24px; line-height: 1.45; }
table { border-collapse: collapse; margin: 10px 0; font-size: 0.93em; }
th, td { border: 1px solid #ddd; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f5f6f8; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #555; font-size: 0.9em; }
code { background: #f5f6f8; padding: 2px 5px; border-radius: 3px; }
"""


def trajectory_figure(result: Any) -> Any:
    """Coverage (x) against density (y) along each box's peeling trajectory; the reported boxes marked, the base
    rate as a dashed line."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for b, colour in zip(result.boxes, BOX_COLOURS, strict=False):
        t = b.trajectory
        fig.add_trace(go.Scatter(
            x=[s["coverage"] for s in t], y=[s["density"] for s in t], mode="lines+markers",
            name=f"box {b.number}: peeling trajectory", line={"color": colour, "width": 1.5},
            marker={"size": 5, "color": [s["restricted_dims"] for s in t], "colorscale": "Viridis",
                    "showscale": b.number == 1, "colorbar": {"title": "restricted<br>inputs", "len": 0.6}},
            text=[f"step {i}: {s['restricted_dims']} restricted, mass {s['mass']:.1%}" for i, s in enumerate(t)],
            hovertemplate="coverage %{x:.1%}<br>density %{y:.1%}<br>%{text}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=[b.coverage], y=[b.density], mode="markers", name=f"box {b.number} (reported)",
            marker={"symbol": "star", "size": 16, "color": colour, "line": {"color": "black", "width": 1}},
            hovertemplate=f"box {b.number}<br>coverage %{{x:.1%}}<br>density %{{y:.1%}}<extra></extra>"))
    fig.add_hline(y=result.base_rate, line_dash="dash", line_color="grey",
                  annotation_text=f"base rate {result.base_rate:.1%}", annotation_position="bottom left")
    fig.update_layout(height=420, margin={"l": 60, "r": 20, "t": 40, "b": 50},
                      title=f"PRIM peeling trajectory: {result.outcome}",
                      xaxis={"title": "coverage (share of the cases inside the box)", "tickformat": ".0%",
                             "range": [0, 1.02]},
                      yaxis={"title": "density (share of the box that are cases)", "tickformat": ".0%",
                             "range": [0, 1.02]},
                      legend={"orientation": "h", "y": -0.2}, template="plotly_white")
    return fig


def box_table_html(result: Any) -> str:
    """One row per restricted input of each box: its limits, in words, its quasi-p-value and what it is."""
    if not result.boxes:
        return ""
    rows = []
    for b in result.boxes:
        rows.append(f"<tr><th colspan='5'>Box {b.number}: coverage {_pct(b.coverage)}, density {_pct(b.density)}, "
                    f"mass {_pct(b.mass)} ({b.hits:,} of {b.samples:,} samples in the box)</th></tr>")
        for d in b.dimensions:
            lo = "—" if d.lower is None else f"{d.lower:.4g}"
            hi = "—" if d.upper is None else f"{d.upper:.4g}"
            rows.append(f"<tr><td><code>{_esc(d.name)}</code></td><td class='num'>{_esc(lo)} .. {_esc(hi)}</td>"
                        f"<td>{_esc(d.words)}</td><td class='num'>{_qp(d.qp_lower)} / {_qp(d.qp_upper)}</td>"
                        f"<td>{_esc(d.description)}</td></tr>")
        if b.dropped_restrictions:
            rows.append(f"<tr><td colspan='5' class='note'>Dropped as not significant (quasi-p-value above "
                        f"{result.settings.get('max_qp')}): {_esc(', '.join(b.dropped_restrictions))}</td></tr>")
    return ("<table><tr><th>input</th><th>limits (its units; quantiles for a path)</th><th>in words</th>"
            "<th>quasi-p (lower / upper)</th><th>what it is</th></tr>" + "".join(rows) + "</table>")


def result_html(result: Any, div_id: str = "fig-discover") -> str:
    """The result as an HTML fragment (no plotly.js: the page embeds it once): statement, box table, figure."""
    parts = [f"<p>{_esc(result.statement)}</p>"]
    if result.boxes:
        parts.append(box_table_html(result))
        parts.append(_figure_html(trajectory_figure(result), div_id))
    parts.append(
        "<p class='note'>PRIM (ema-workbench) over the inputs that best tell the samples where it happens from the "
        f"rest ({len(result.inputs)} searched: {_esc(', '.join(result.inputs))}). Coverage: the share of the samples "
        "where it happens that lie in the box; density: the share of the box's samples where it happens; mass: "
        "the box's share of all samples. Box rule and method: docs/discover.md. Parameter limits are in the "
        "parameter's units (quantiles of its distribution in brackets); a time path is drawn at one quantile, so "
        "its limit is a quantile of the path.</p>")
    return "\n".join(parts)


def discover_section(run: Any, outcome: str = OUTCOME, samples_note: bool = True) -> str:
    """The report's scenario-discovery section body (HTML; the report adds the title `TITLE`). Discovery runs on
    the prior samples: a posterior run's prior (`run._prior`) when it has one, else the run itself."""
    from ..analysis.discover import discover

    prior = getattr(run, "_prior", None) or run
    n = prior.dataset.sizes["sample"]
    if n > REPORT_SAMPLES:  # the first REPORT_SAMPLES prior samples: independent draws, enough for PRIM, ~2 s
        result = discover(prior.dataset.isel(sample=slice(0, REPORT_SAMPLES)), outcome, scenario=prior.scenario,
                          basis="prior")
    else:
        result = discover(prior, outcome)
    note = (f"<p class='note'>Searched on the {result.samples:,} {result.basis} samples (the prior covers the "
            "scenario's whole ranges; the posterior's resampled copies would repeat a few worlds"
            + (f"; the first {REPORT_SAMPLES:,} of the run's {n:,}, independent draws: "
               "`computerace discover` searches more" if n > REPORT_SAMPLES else "") + ").</p>"
            if samples_note else "")
    return note + result_html(result)


def page_html(result: Any) -> str:
    """A self-contained offline page for `computerace discover --out` (plotly.js inline)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs().replace("</script", "<\\/script")
    title = f"computerace discover: {result.outcome}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{_esc(title)}</title>", f"<style>{PAGE_CSS}</style>",
        f'<script type="text/javascript">{js}</script>', "</head>", "<body>",
        f"<h1>{_esc(title)}</h1>",
        f"<p class='note'>Scenario {_esc(result.scenario or '—')}, {result.samples:,} {result.basis} samples.</p>",
        result_html(result), "</body>", "</html>"])
