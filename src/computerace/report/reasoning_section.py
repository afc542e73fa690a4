"""The report's reasoning-serving section: each actor's capacity to serve a large reasoning MoE at a stated per-user
speed, by year, with its 90% band; years behind on that axis; and what China's capacity would be without its
CloudMatrix-class supernodes. Built from summary.json's `reasoning_serving` block and metrics (analysis/reasoning.py): no
number is computed here that the summary does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

TITLE = "Reasoning-serving capacity: who can serve large reasoning models fast"
TABLE_YEARS = ("2026", "2028", "2030", "2035", "2040")
COLOURS = {"US": "#1f5fa8", "China": "#c0392b", "RoW": "#6d7f8c"}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def figure(block: Mapping[str, Any], metrics: Mapping[str, Any]) -> go.Figure:
    """Median and 5-95% band of capacity (tokens/s) per actor at each year's end, log y axis."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for actor in ("US", "China", "RoW"):
        series = metrics["reasoning_serving_tokens_per_s"].get(actor)
        if not series:
            continue
        years = [d[:4] for d in series]
        colour = COLOURS[actor]
        q = {k: [max(v[k], 1e-9) for v in series.values()] for k in ("p5", "p50", "p95")}
        fig.add_trace(go.Scatter(x=years, y=q["p5"], name=f"{actor} p5", mode="lines", line=dict(width=0, color=colour),
                                 legendgroup=actor, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=years, y=q["p95"], name=f"{actor} 5-95%", mode="lines",
                                 line=dict(width=0, color=colour),
                                 fill="tonexty", fillcolor=_rgba(colour, 0.15), legendgroup=actor, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=years, y=q["p50"], name=f"{actor} median", mode="lines",
                                 line=dict(width=2.2, color=colour),
                                 legendgroup=actor,
                                 hovertemplate=f"{actor} %{{x}}: median %{{y:.3s}} tokens/s<extra></extra>"))
    fig.update_layout(
        title=(f"Capacity to serve {block['model']} at {block['tokens_per_s_per_user']:.0f} tokens/s per user "
               "(median, 5-95%)"),
        yaxis=dict(type="log", title="tokens/s (all users)"), xaxis=dict(title="end of year"),
        template="plotly_white", height=420, margin=dict(l=70, r=20, t=60, b=50))
    return fig


def _cell(q: Mapping[str, Any] | None, fmt: Any) -> str:
    if not q or q.get("p50") is None:
        return "<td>-</td>"
    return f"<td>{fmt(q['p50'])} <span class='ci'>[{fmt(q['p5'])} - {fmt(q['p95'])}]</span></td>"


def table_html(metrics: Mapping[str, Any]) -> str:
    """Capacity by actor, years behind and China's without-supernodes share at the table years (Decembers)."""
    from .html import fmt_number, fmt_percent

    cap = metrics["reasoning_serving_tokens_per_s"]
    years = [y for y in TABLE_YEARS if f"{y}-12" in cap["US"]]
    head = "<tr><th></th>" + "".join(f"<th>{y}</th>" for y in years) + "</tr>"
    rows = []
    for actor in ("US", "China", "RoW"):
        s = cap[actor]
        rows.append(f"<tr><td>{actor}: tokens/s</td>" + "".join(_cell(s.get(f"{y}-12"), fmt_number) for y in years)
                    + "</tr>")
    yb = metrics["years_behind_reasoning_serving"]["China"]
    rows.append("<tr><td>China: years behind the US on this axis</td>"
                + "".join(_cell(yb.get(f"{y}-12"), lambda x: f"{x:.1f}") for y in years) + "</tr>")
    ratio = metrics["reasoning_serving_without_supernodes_ratio"]["China"]
    rows.append("<tr><td>China without supernodes (share of its capacity kept)</td>"
                + "".join(_cell(ratio.get(f"{y}-12"), fmt_percent) for y in years) + "</tr>")
    return f"<table class='headline'>{head}{''.join(rows)}</table>"


def section(summary: Mapping[str, Any], figure_html: Any) -> tuple[str, str] | None:
    """(title, body) of the section, or None when the summary has no `reasoning_serving` block."""
    block, metrics = summary.get("reasoning_serving"), summary.get("metrics", {})
    if not block or "reasoning_serving_tokens_per_s" not in metrics:
        return None
    note = (f"<p class='note'>Each actor's operational compute at the end of each year, split by system class "
            f"(8-GPU servers, NVL72-class racks, CloudMatrix-class supernodes, 8/16-NPU servers, TPU/Trainium pods; "
            f"sourced shares with ranges, docs/system-classes.md), times the tokens per second each class serves of "
            f"{block['model']} at {block['tokens_per_s_per_user']:.0f} tokens/s per user and a "
            f"{block['context_tokens']}-token context (the serving estimator's low-central-high band, docs/serving.md). "
            "A class whose minimum time per token is above the target serves nothing at this speed, however many "
            "chips it has. Years behind: when the US last had China's capacity. 'Without supernodes': China's "
            "capacity had its supernode chips been in 8/16-NPU servers instead.</p>")
    return TITLE, note + table_html(metrics) + figure_html(figure(block, metrics), "fig-reasoning-serving")
