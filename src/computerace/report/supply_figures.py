"""Report figures of the supply physics: what binds each actor, and China's domestic chain step by step.

Both read only the summary dict (summary.json), so the dashboard or a notebook can draw them from a saved run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: One colour per constraint (model/supply.py BINDING), stable across figures.
CONSTRAINT_COLOURS = {"wafers": "#7f8c8d", "yield": "#e08e45", "HBM": "#8e44ad", "packaging": "#1f5fa8",
                      "power": "#c0392b", "budget": "#27ae60", "growth form": "#bdc3c7"}

#: China's chain as drawn: (summary step, label). The three caps are the candidates for the binding step.
CHAIN_BARS = (("wafers", "AI wafer starts"), ("gross_dies", "gross dies"), ("good_dies", "good dies"),
              ("die_packages", "packages the dies allow"), ("hbm_packages", "packages the HBM allows"),
              ("packaging_packages", "packages the packaging allows"), ("packages", "packages made"),
              ("h100e", "H100e"))
CAPS = {"die_packages": ("wafers", "yield"), "hbm_packages": ("HBM",), "packaging_packages": ("packaging",)}


def binding_figure(summary: Mapping[str, Any], actors: Sequence[str] = ("US", "China", "RoW")) -> Any:
    """Stacked bars: for each actor and year, the share of samples in which each limit bound acquisitions."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    b = summary["binding_constraint"]
    fig = make_subplots(rows=1, cols=len(actors), shared_yaxes=True, subplot_titles=list(actors),
                        horizontal_spacing=0.03)
    for col, actor in enumerate(actors, start=1):
        years = list(b[actor])
        for name, colour in CONSTRAINT_COLOURS.items():
            y = [b[actor][yr].get(name, 0.0) for yr in years]
            if not any(y):
                continue
            fig.add_trace(go.Bar(x=[int(v) for v in years], y=y, name=name, marker_color=colour, legendgroup=name,
                                 showlegend=col == 1 or not any(b[a][yr].get(name, 0.0) for a in actors[:col - 1]
                                                                for yr in b[a]),
                                 hovertemplate=f"{actor} %{{x}}: {name} binds in %{{y:.0%}} of samples<extra></extra>"),
                          row=1, col=col)
    fig.update_layout(template="plotly_white", barmode="stack", height=380, bargap=0.1,
                      title="What limits each actor's new compute (share of samples, by year)",
                      legend=dict(orientation="h", y=-0.18))
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title_text="share of samples", row=1, col=1)
    return fig


def chain_binding_shares(summary: Mapping[str, Any], year: str) -> dict[str, float]:
    """China's binding supply step in `year` among the physical steps only (wafers, yield, HBM, packaging),
    as shares of the samples in which one of them bound (budget and power set aside)."""
    row = summary["binding_constraint"]["China"][year]
    phys = {k: row.get(k, 0.0) for k in ("wafers", "yield", "HBM", "packaging")}
    total = sum(phys.values())
    return {k: v / total for k, v in phys.items()} if total > 0 else {}


#: Font sizes of the chain figure (tick labels, bar labels, panel titles), legible at the report's width.
CHAIN_FONT = 13


def chain_figure(summary: Mapping[str, Any], years: Sequence[int] = (2025, 2027, 2030)) -> Any:
    """China's domestic chain, wafers -> good dies -> packages -> H100e (medians per year, log scale), the
    binding cap drawn in red with the share of samples in which it bound.

    One panel per year, stacked, each a horizontal bar chart: the steps read top to bottom as labels on the left
    (no angled or overlapping ticks) and the 'binds in' shares sit beside their bars, inside the axis range."""
    import math

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    chain = summary["metrics"]["china_supply_chain"]
    shown = [y for y in years if str(y) in chain.get("packages", {})]
    rows = max(1, len(shown))
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=[f"China's domestic chain in {y}" for y in shown] or None)
    order = [label for _, label in CHAIN_BARS]
    values_all: list[float] = []
    for row, year in enumerate(shown, start=1):
        shares = chain_binding_shares(summary, str(year))
        labels, values, colours, text = [], [], [], []
        for step, label in CHAIN_BARS:
            q = chain.get(step, {}).get(str(year))
            share = sum(shares.get(c, 0.0) for c in CAPS.get(step, ()))
            labels.append(label)
            if q is None:  # an unlimited cap (HBM before the ban)
                values.append(None)
                text.append("no cap")
                colours.append("#dddddd")
                continue
            values.append(q["p50"])
            if q["p50"] and q["p50"] > 0:
                values_all.append(float(q["p50"]))
            binds = step in CAPS and share >= max(shares.values(), default=0.0) and share > 0
            colours.append("#c0392b" if binds else ("#e8a09a" if step in CAPS else "#1f5fa8"))
            text.append(f"binds in {share:.0%}" if step in CAPS else "")
        fig.add_trace(go.Bar(y=labels, x=values, orientation="h", marker_color=colours, text=text,
                             textposition="outside", cliponaxis=False, textfont=dict(size=CHAIN_FONT),
                             name=str(year), meta=year, showlegend=False,
                             hovertemplate=f"{year} %{{y}}: %{{x:.3s}} (median)<extra></extra>"), row=row, col=1)
        fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], automargin=True,
                         tickfont=dict(size=CHAIN_FONT), row=row, col=1)
        axis = "" if row == 1 else str(row)
        for label, v, t in zip(labels, values, text, strict=True):
            if v is None:  # no bar to carry the words
                fig.add_annotation(x=0.005, xref=f"x{axis} domain", y=label, yref=f"y{axis}", text=t,
                                   showarrow=False, xanchor="left", font=dict(size=CHAIN_FONT, color="#777777"))
    if values_all:  # room on the right of the longest bar for its label
        lo, hi = math.log10(min(values_all)), math.log10(max(values_all))
        fig.update_xaxes(type="log", range=[math.floor(lo) - 0.2, hi + 0.9])
    else:
        fig.update_xaxes(type="log")
    fig.update_xaxes(tickfont=dict(size=CHAIN_FONT - 1))
    fig.update_xaxes(title_text="per year (median; log scale)", row=rows, col=1)
    fig.update_layout(template="plotly_white", height=150 + 260 * rows, margin=dict(l=20, r=30, t=90, b=60),
                      bargap=0.25, font=dict(size=CHAIN_FONT),
                      title="China's domestic supply: wafers -> good dies -> packages -> H100e<br>"
                            "<sup>median per year; red: the cap that binds most often</sup>")
    return fig
