"""Tornado plot of Sobol indices: what drives a metric, largest total-order effect on top.

Built from the dict that `analysis.sensitivity.sobol` returns (or its saved JSON), so the report can
embed it without re-running the analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

TOP = 15
ST_COLOUR, S1_COLOUR = "#1f5fa8", "#e08e45"


def _label(row: Mapping[str, Any]) -> str:
    return "<br>+ ".join(row["members"])


def _direction(row: Mapping[str, Any]) -> str:
    parts = []
    for member, rho in row["rank_correlation"].items():
        arrow = "raises" if rho > 0.05 else "lowers" if rho < -0.05 else "no clear direction on"
        parts.append(f"higher {member} {arrow} the metric (rank corr. {rho:+.2f})")
    return "<br>".join(parts)


def tornado_figure(result: Mapping[str, Any], top: int = TOP) -> go.Figure:
    """Horizontal bars of total-order (ST) and first-order (S1) Sobol indices with their confidence
    intervals, for the `top` inputs with the largest ST, the largest on top."""
    import plotly.graph_objects as go

    rows = sorted(result["indices"], key=lambda r: -r["ST"])[:top][::-1]  # plotly draws bottom-up
    labels = [_label(r) for r in rows]
    hover = [_direction(r) for r in rows]
    fig = go.Figure()
    for name, k, colour in (("total order (ST)", "ST", ST_COLOUR), ("first order (S1)", "S1", S1_COLOUR)):
        fig.add_trace(go.Bar(
            y=labels, x=[r[k] for r in rows], orientation="h", name=name, marker_color=colour,
            error_x={"type": "data", "array": [r[f"{k}_conf"] for r in rows], "thickness": 1.2},
            customdata=[[r[f"{k}_ci"][0], r[f"{k}_ci"][1], h] for r, h in zip(rows, hover, strict=True)],
            hovertemplate=f"{k} %{{x:.3f}} [%{{customdata[0]:.3f}}, %{{customdata[1]:.3f}}]"
                          "<br>%{customdata[2]}<extra></extra>",
        ))
    key = f" ({result['key']})" if result.get("key") else ""
    level = round(100 * result.get("conf_level", 0.95))
    fig.update_layout(
        template="plotly_white", barmode="group", bargap=0.25,
        height=max(320, 34 * len(rows) + 160),
        title={"text": f"What drives {result['metric']}{key} in {result['month']}: Sobol indices "
                       f"<br><sup>{result['scenario']} · N={result['samples']:,} base samples, "
                       f"{result['evaluations']:,} model runs · bars show {level}% bootstrap intervals · "
                       "correlated parameters grouped</sup>"},
        xaxis={"title": "share of the metric's variance", "rangemode": "tozero"},
        yaxis={"automargin": True},
        legend={"orientation": "h", "y": -0.12},
        margin={"l": 10, "r": 20, "t": 80, "b": 40},
    )
    return fig


def write_tornado_html(result: Mapping[str, Any], path: str | Path, top: int = TOP) -> Path:
    """The tornado as a self-contained offline HTML file (plotly.js embedded, no network)."""
    path = Path(path)
    html = tornado_figure(result, top).to_html(include_plotlyjs=True, full_html=True,
                                               config={"displaylogo": False})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
