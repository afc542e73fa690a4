"""The report's answer sections: plain-sentence headlines, years behind on every axis, overtaking
odds over time, the claims table, the tornado and backtest panels, and the parameter appendix.

Everything here reads a Run's summary/dataset or results computed by the analysis layer; no metric
is computed here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..formatting import si as _n

AXIS_LABELS = {"stock": "installed stock", "chip": "best chip in volume", "process_node": "process node",
               "largest_training_run": "largest training run", "frontier_capability": "frontier capability"}


def _e(x: Any) -> str:
    return html.escape(str(x))




def headline_sentences(summary: Mapping[str, Any]) -> list[str]:
    """A few sentences with numbers, for the top of the report."""
    m = summary["metrics"]
    out = []
    for d in ("2027-12", "2030-12", "2035-12"):
        if d not in m["stock_h100e"]["US"]:
            continue
        us, cn = m["stock_h100e"]["US"][d], m["stock_h100e"]["China"][d]
        sh = m["china_share"]["China"][d]
        out.append(f"By {d}, the US owns {_n(us['p50'])} H100e (90% interval {_n(us['p5'])}–{_n(us['p95'])}) "
                   f"and China {_n(cn['p50'])} ({_n(cn['p5'])}–{_n(cn['p95'])}), "
                   f"{sh['p50']:.1%} of the world's AI compute.")
    d = "2030-12" if "2030-12" in m["stock_h100e"]["US"] else list(m["stock_h100e"]["US"])[-1]
    parts = []
    for axis, label in AXIS_LABELS.items():
        q = m.get(f"years_behind_{axis}", {}).get("China", {}).get(d)
        if q:
            lb = "≥" if q.get("censored", 0) >= 0.5 else ""
            parts.append(f"{label} {lb}{q['p50']:.1f} years ({q['p5']:.1f}–{q['p95']:.1f})")
    if parts:
        out.append(f"In {d}, China trails the US by " + "; ".join(parts) + ".")
    side = ((summary.get("headline") or {}).get("dates") or {}).get(d)
    if side and side["us_to_china_ratio"].get("p50") is not None and side["years_behind_stock"].get("p50") is not None:
        r, yb, g = side["us_to_china_ratio"], side["years_behind_stock"], side["us_growth_over_lag"]
        growth = f" at the US's {g['p50']:.2f}x a year over that window" if g.get("p50") else ""
        out.append(f"Side by side in {d}: the US holds {r['p50']:.1f}x China's installed stock ({r['p5']:.1f}–"
                   f"{r['p95']:.1f}) and China is {yb['p50']:.1f} years behind ({yb['p5']:.1f}–{yb['p95']:.1f}); "
                   f"years behind = log(ratio) / log(US growth){growth}, so slower US growth means more years "
                   "behind at the same ratio.")
    p = summary["probabilities"]["china_overtakes_us_stock_by"]
    if p:
        out.append("Probability that China's installed stock overtakes the US's: "
                   + ", ".join(f"by {y} {v:.1%}" for y, v in p.items()) + ".")
    limits = binding_sentence(summary, d[:4])
    if limits:
        out.append(limits)
    return out


def binding_sentence(summary: Mapping[str, Any], year: str) -> str | None:
    """'In 2030 what limits new compute: the US - packaging (39%), power (38%); China - HBM (41%), ...'.

    The two most frequent limits per actor (shares of samples, summary.json binding_constraint)."""
    b = summary.get("binding_constraint")
    if not b:
        return None
    parts = []
    for actor in ("US", "China"):
        row = b.get(actor, {}).get(year)
        if not row:
            continue
        top = sorted(((v, k) for k, v in row.items() if v > 0), reverse=True)[:2]
        parts.append(f"{'the US' if actor == 'US' else actor} - " + ", ".join(f"{k} ({v:.0%})" for v, k in top))
    if not parts:
        return None
    return (f"In {year}, what most often limits new compute (share of samples): " + "; ".join(parts)
            + " (docs/metrics.md, binding constraints).")


def years_behind_axes_figure(summary: Mapping[str, Any]) -> Any:
    """Median and 90% band of years behind on each axis at every December (from the summary)."""
    import plotly.graph_objects as go

    m = summary["metrics"]
    fig = go.Figure()
    colours = ["#1f5fa8", "#c0392b", "#7f8c8d", "#e08e45", "#27ae60"]
    for (axis, label), colour in zip(AXIS_LABELS.items(), colours, strict=True):
        q = m.get(f"years_behind_{axis}", {}).get("China")
        if not q:
            continue
        dates = [d for d in q if d.endswith("-12")]
        x = [int(d[:4]) for d in dates]
        fig.add_trace(go.Scatter(x=x + x[::-1], y=[q[d]["p95"] for d in dates] + [q[d]["p5"] for d in dates][::-1],
                                 fill="toself", fillcolor=colour, opacity=0.12, line=dict(width=0),
                                 hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=[q[d]["p50"] for d in dates], name=label, line=dict(color=colour, width=2)))
    fig.update_layout(template="plotly_white", height=420, title="Years China trails the US, by axis "
                      "(median and 90% interval)", yaxis_title="years behind (negative: China ahead)",
                      xaxis_title="December of", legend=dict(orientation="h", y=-0.2))
    return fig


def overtaking_figure(first_overtake_years: np.ndarray, years: Sequence[int]) -> Any:
    """P(China's stock has overtaken the US's by December of each year)."""
    import plotly.graph_objects as go

    p = [float((first_overtake_years <= y + 1).mean()) for y in years]
    fig = go.Figure(go.Scatter(x=list(years), y=p, mode="lines+markers", line=dict(color="#c0392b")))
    fig.update_layout(template="plotly_white", height=320, title="Probability that China's installed stock "
                      "has overtaken the US's", yaxis=dict(title="probability", range=[0, max(0.05, max(p) * 1.2)],
                                                           tickformat=".0%"), xaxis_title="by December of")
    return fig


def sparkline_svg(sweep: Mapping[str, Any] | None, width: int = 120, height: int = 34) -> str:
    """A claim's swept probability as a small inline SVG: P (0..1, bottom to top) against the swept threshold,
    the claim's own threshold marked with a dot. '' when there is no sweep."""
    if not sweep or not sweep.get("points"):
        return ""
    pts = [(float(x), float(p)) for x, p in sweep["points"] if p == p]
    if len(pts) < 2:
        return ""
    xs = [x for x, _ in pts]
    lo, hi = min(xs), max(xs)
    span = (hi - lo) or 1.0
    pad = 3

    def sx(x: float) -> float:
        return pad + (x - lo) / span * (width - 2 * pad)

    def sy(p: float) -> float:
        return height - pad - p * (height - 2 * pad)

    line = " ".join(f"{sx(x):.1f},{sy(p):.1f}" for x, p in pts)
    own = sweep.get("claim_x")
    dot = ""
    if own is not None:
        near = min(pts, key=lambda q: abs(q[0] - float(own)))
        dot = f'<circle cx="{sx(near[0]):.1f}" cy="{sy(near[1]):.1f}" r="2.6" fill="#c0392b"/>'
    title = _e(f"{sweep.get('label', '')}: " + ", ".join(f"{x:.3g} → {p:.1%}" for x, p in pts))
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f"<title>{title}</title>"
            f'<line x1="{pad}" y1="{sy(0):.1f}" x2="{width - pad}" y2="{sy(0):.1f}" stroke="#ddd"/>'
            f'<line x1="{pad}" y1="{sy(1):.1f}" x2="{width - pad}" y2="{sy(1):.1f}" stroke="#eee"/>'
            f'<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>{dot}</svg>')


def _pct(p: Any) -> str:
    if p is None:
        return "not scored"
    if p in (0.0, 1.0):
        return f"{p:.0%}"
    return "<0.1%" if p < 0.001 else ">99.9%" if p > 0.999 else f"{p:.1%}" if p < 0.1 or p > 0.9 else f"{p:.0%}"


CLAIMS_NOTE = ("P is the share of samples in which a reading holds (of those where its metric is defined). Where the "
               "debate's words admit several readings each is scored. The curve is P with the claim's threshold "
               "swept around its own (the dot; hover for the values), so no answer hangs on one threshold. 'Moves it "
               "most': P(claim | input in its top 10%) - P(claim | input in its bottom 10%), the three largest, for "
               "the sampled parameters and the per-sample events.")


def claims_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """The claims table: one row per reading (a claim's readings together), with its operationalisation, P, the
    swept curve, a note where P is 0 or 1, the top three decile drivers, and 'not scored: <reason>' where the
    model cannot score it."""
    head = ("<table class='claims'><tr><th>Claim</th><th>Reading</th><th>P</th><th>Threshold swept</th>"
            "<th>Moves it most (top − bottom decile)</th><th>Source</th></tr>")
    body = []
    for r in rows:
        src = (f'<a href="{_e(r["source_url"])}">{_e(r["source_title"] or r["source"])}</a>' if r.get("source_url")
               else "no published source found")
        readings = r.get("readings") or [r]
        for i, rd in enumerate(readings):
            first = i == 0
            claim_cell = (f"<td rowspan='{len(readings)}'>{_e(r['claim'])}<br><span class='note'>“{_e(r['quote'])}”"
                          f"</span></td>" if first else "")
            src_cell = f"<td rowspan='{len(readings)}'>{src}</td>" if first else ""
            op = rd.get("operationalisation") or {}
            opline = (f"<br><span class='note'>measured as <code>{_e(op.get('metric'))}</code> "
                      f"{_e(op.get('threshold'))} at {_e(op.get('date'))}: {_e(op.get('basis'))}</span>") if op else ""
            label = f"<b>{_e(rd.get('id', ''))}</b>: " if len(readings) > 1 else ""
            if rd.get("status") == "not-scored":
                body.append(f"<tr data-claim='{_e(r['id'])}' data-reading='{_e(rd.get('id', ''))}'>{claim_cell}"
                            f"<td>{label}{_e(rd['reading'])}{opline}</td><td><b>not scored</b></td>"
                            f"<td colspan='2' class='note'>not scored: {_e(rd.get('reason'))}</td>{src_cell}</tr>")
                continue
            note = f"<br><span class='note'>{_e(rd['note'])}</span>" if rd.get("note") else ""
            drivers = rd.get("drivers") or []
            drive = ("<br>".join(f"<code>{_e(d['input'])}</code> <b>{d['delta']:+.2f}</b> "
                                 f"<span class='note'>({d['p_bottom']:.0%} → {d['p_top']:.0%})</span>" for d in drivers)
                     if drivers else f"<span class='note'>{_e(rd.get('driver') or 'does not vary in this run')}</span>")
            sweep = rd.get("sweep")
            curve = (sparkline_svg(sweep) + f"<br><span class='note'>{_e(sweep['label'])}</span>" if sweep
                     else f"<span class='note'>{_e(rd.get('sweep_note') or '')}</span>")
            body.append(f"<tr data-claim='{_e(r['id'])}' data-reading='{_e(rd.get('id', ''))}'>{claim_cell}"
                        f"<td>{label}{_e(rd['reading'])}{opline}</td><td><b>{_pct(rd['probability'])}</b>{note}</td>"
                        f"<td>{curve}</td><td>{drive}</td>{src_cell}</tr>")
    return f"<p class='note'>{_e(CLAIMS_NOTE)}</p>" + head + "".join(body) + "</table>"


def backtest_html(result: Mapping[str, Any]) -> str:
    rows = result.get("series", [])
    head = ("<table><tr><th>Series</th><th>observations</th><th>50% coverage</th><th>90% coverage</th>"
            "<th>CRPS (relative)</th></tr>")
    body = "".join(f"<tr><td>{_e(r.get('series'))}</td><td>{r.get('n')}</td><td>{r.get('coverage_50', float('nan')):.0%}"
                   f"</td><td>{r.get('coverage_90', float('nan')):.0%}</td><td>{r.get('crps_relative', float('nan')):.3g}</td></tr>"
                   for r in rows)
    return (f"<p class='note'>Sources published before {_e(result.get('as_of'))} only; scored against evidence "
            f"published after it.</p>" + head + body + "</table>")


def value_text(scenario: Any, key: str) -> str:
    """A parameter's value as written in the scenario, in words, never a Python repr: "5 to 10 (90% CI,
    lognormal)", "uniform(low 1, high 2)", "by year: 2025: 3; 2030: 5 (log interpolation)" (mappings through
    `distributions.describe`)."""
    from ..scenario.distributions import describe
    from ..scenario.schema import Series

    p = scenario.parameters[key]
    v = p.value
    sec, _, name = key.partition(".")
    entry = (scenario.resolved.get(sec) or {}).get(name) if isinstance(scenario.resolved, dict) else None
    raw = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(raw, dict) and len(raw) == 1 and "schedule" in raw and isinstance(raw["schedule"], dict):
        text = "schedule: " + "; ".join(f"from {k}: {describe(x)}" for k, x in raw["schedule"].items())
    elif isinstance(raw, dict | list):
        text = describe(raw)
    elif isinstance(v, Series):
        text = "; ".join(d.text for d in v.dists)
    else:
        text = v.text
    if isinstance(v, Series):
        text += f" ({v.mode} interpolation)" if v.mode != "step" else " (steps)"
    return text


def appendix_html(scenario: Any) -> str:
    """Every parameter: value or distribution (in words: `value_text`), unit, sources (linked) and assumption."""
    from ..catalog import sources

    src = sources()
    point = isinstance(scenario.resolved, dict) and scenario.resolved.get("mode") == "point"
    rows = []
    for key, p in scenario.parameters.items():
        text = value_text(scenario, key) + ("; point mode: its median" if point and p.uncertain else "")
        links = ", ".join(f'<a href="{_e(src[s].url)}">{_e(s)}</a>' if s in src else _e(s) for s in p.source)
        basis = links + (("<br>assumption: " + _e(" ".join(p.assumption.split()))) if p.assumption else "")
        rows.append(f"<tr><td><code>{_e(key)}</code></td><td>{_e(text)}</td><td>{_e(p.spec.unit)}</td>"
                    f"<td>{basis}</td></tr>")
    return ("<table><tr><th>Parameter</th><th>Value or distribution</th><th>Unit</th><th>Source / assumption</th></tr>"
            + "".join(rows) + "</table>")
