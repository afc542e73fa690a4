"""The scale-up figure: per-chip serving throughput of a large MoE model against per-user speed.

One line per system: the best tokens/s per chip (over every deployment and batch the estimator tries) that still
gives each user at least the speed on the x axis. The second panel divides by the chip's dense 8-bit peak, which
takes the chip's FLOPs out and leaves what the system (HBM, scale-up domain, links) adds or loses. DGX B200 (the
same Blackwell GPU in an 8-GPU NVLink domain) is drawn dashed as the control for GB200 NVL72's 72-GPU domain.
Built from `serving.curve` (central setting, MTP off); no number is computed here that the estimator does not return.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

SCALEUP_SYSTEMS = ("hgx-h800", "hgx-h20", "gb200-nvl72", "cloudmatrix-384", "dgx-b200")
COLOURS = {"hgx-h800": "#1f5fa8", "hgx-h20": "#6d7f8c", "gb200-nvl72": "#2e8b57", "cloudmatrix-384": "#c0392b",
           "dgx-b200": "#2e8b57"}
DASHED = {"dgx-b200"}


def curve_precision(system: str, model_id: str, precision: str | None) -> str:
    """The recipe asked for, else the 8-bit recipe the chip runs (fp8, else int8), so that the figure compares
    systems at one number format; the model's own otherwise."""
    from .. import serving

    if precision:
        return precision
    dev = serving.device(system)
    for p in ("fp8", "int8"):
        if dev.has(p):
            return p
    return serving.model(model_id).native_precision


def curves(systems: Sequence[str], model_id: str = "deepseek-v3", precision: str | None = None, tokens: int = 4096,
           mtp: int | str = 0, kv_precision: str | None = None) -> dict[str, dict[str, Any]]:
    """{system: {precision, chip, domain_chips, peak_8bit_pflops, points: [...]}}, points from serving.curve."""
    from .. import serving

    out: dict[str, dict[str, Any]] = {}
    for sid in systems:
        prec = curve_precision(sid, model_id, precision)
        dev = serving.device(sid)
        p8 = dev.peak_tflops.get("fp8") or dev.peak_tflops.get("int8")
        peak8 = p8 * dev.dies if p8 else None  # per chip (package)
        pts = serving.curve(sid, model_id, prec, tokens, mtp, kv_precision)
        for p in pts:
            p["tokens_per_s_per_8bit_pflops"] = p["tokens_per_s_per_chip"] / (peak8 / 1000) if peak8 else None
        out[sid] = {"precision": prec, "chip": dev.chip_id, "domain_chips": dev.domain_chips,
                    "peak_8bit_pflops": peak8 / 1000 if peak8 else None, "points": pts}
    return out


def ratio_at(c: dict[str, dict[str, Any]], system: str, base: str, speed: float) -> float | None:
    """Per-chip throughput of `system` over `base` at one per-user speed (None if either cannot reach it)."""
    def at(sid: str) -> float | None:
        p = next((p for p in c[sid]["points"] if p["tokens_per_s_per_user"] == speed), None)
        return p["tokens_per_s_per_chip"] if p else None

    a, b = at(system), at(base)
    return a / b if a and b else None


def figure(c: dict[str, dict[str, Any]], model_id: str = "deepseek-v3", tokens: int = 4096) -> go.Figure:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=(
        "tokens/s per chip", "tokens/s per PFLOP/s of dense 8-bit peak"))
    for sid, cur in c.items():
        pts = cur["points"]
        name = f"{sid} ({cur['domain_chips']}-chip domain, {cur['precision']})"
        style = {"color": COLOURS.get(sid, "#444444"), "dash": "dash" if sid in DASHED else "solid"}
        x = [p["tokens_per_s_per_user"] for p in pts]
        hover = [f"{p['parallel']}, batch {p['batch_per_chip']:g}, {p['bound']}-bound" for p in pts]
        fig.add_trace(go.Scatter(x=x, y=[p["tokens_per_s_per_chip"] for p in pts], name=name, mode="lines+markers",
                                 line=style, text=hover, legendgroup=sid), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=[p["tokens_per_s_per_8bit_pflops"] for p in pts], name=name,
                                 mode="lines+markers", line=style, text=hover, legendgroup=sid, showlegend=False),
                      row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text="tokens/s per user (1000 / TPOT ms)", type="log", row=1, col=col)
        fig.update_yaxes(type="log", row=1, col=col)
    fig.update_layout(template="plotly_white", height=480, legend={"orientation": "h", "y": -0.25},
                      title=f"Serving {model_id} ({tokens:,}-token context): throughput against interactivity "
                            "(estimate, conditional on the calibrated serving model)")
    return fig


def write_html(c: dict[str, dict[str, Any]], path: Path | str, model_id: str = "deepseek-v3",
               tokens: int = 4096) -> Path:
    """A self-contained offline HTML file (plotly.js inline); written atomically."""
    import os
    import tempfile

    path = Path(path)
    html = figure(c, model_id, tokens).to_html(include_plotlyjs=True, full_html=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(html)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def table_markdown(speeds: Sequence[float] = (20, 50, 100), model_id: str = "deepseek-v3",
                   tokens: int = 4096) -> str:
    """docs/serving.md's table of the figure: tokens/s per chip (deployment) at a few per-user speeds, the
    NVL72 / DGX B200 ratio (same GPU, 72- vs 8-GPU domain), and the fastest per-user speed each reaches."""
    c = curves(SCALEUP_SYSTEMS, model_id, tokens=tokens)
    head = "| tok/s per user | " + " | ".join(f"{sid} ({cur['precision']})" for sid, cur in c.items())
    lines = [head + " | gb200-nvl72 / dgx-b200 |", "|---" * (len(c) + 2) + "|"]
    for v in speeds:
        cells = []
        for cur in c.values():
            p = next((p for p in cur["points"] if p["tokens_per_s_per_user"] == v), None)
            cells.append(f"{p['tokens_per_s_per_chip']:,.0f} ({p['parallel']}, {p['bound']})" if p else "-")
        r = ratio_at(c, "gb200-nvl72", "dgx-b200", v)
        lines.append(f"| {v:g} | " + " | ".join(cells) + (f" | {r:.2f} |" if r else " | - |"))
    lines.append("| per 8-bit PFLOP/s at 20 | " + " | ".join(
        f"{next((p['tokens_per_s_per_8bit_pflops'] for p in cur['points'] if p['tokens_per_s_per_user'] == 20), 0):,.0f}"
        for cur in c.values()) + " | |")
    lines.append("| fastest tok/s per user | " + " | ".join(
        f"{max(p['tokens_per_s_per_user'] for p in cur['points']):g}" for cur in c.values()) + " | |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(table_markdown())
