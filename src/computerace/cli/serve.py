"""`computerace serve-estimate`: how fast a catalog system serves an LLM (roofline + all-to-all + overhead)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import print_json, user_errors
from .tables import col, make_table, print_table

SYSTEM_HELP = ("Catalog system id (`computerace data systems`), e.g. hgx-h800, h100-sxm, gb200-nvl72, "
               "cloudmatrix-384. With --curve: one or more, comma-separated (default: the scale-up comparison set).")
MODEL_HELP = "Model id from data/models.yaml: deepseek-v3, llama-3-8b, llama-3-70b, llama-3.1-405b, qwen3-235b-a22b."
PRECISION_HELP = "bf16, fp8, int8 or fp4 (default: the model's released precision, e.g. fp8 for deepseek-v3)."
TOKENS_HELP = "Decode: mean context (KV length) in tokens. Prefill: prompt length."
TPOT_HELP = "Decode only: largest batch whose time per output token is at most this many ms."
BATCH_HELP = "Sequences per chip (decode) or prompts per chip (prefill). Default: the most HBM allows."
MTP_HELP = ("Decode: tokens accepted per step with multi-token prediction (1 = off). "
            "Default: the model's MTP module at its published acceptance (1.8 for deepseek-v3), else 1.")


@user_errors
def serve_estimate(
    system: str = typer.Option(None, "--system", metavar="ID[,ID...]", help=SYSTEM_HELP),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    precision: str = typer.Option(None, "--precision", help=PRECISION_HELP),
    phase: str = typer.Option("decode", "--phase", help="decode or prefill."),
    tokens: int = typer.Option(4096, "--tokens", help=TOKENS_HELP),
    tpot_ms: float = typer.Option(None, "--tpot-ms", help=TPOT_HELP),
    batch: float = typer.Option(None, "--batch", help=BATCH_HELP),
    mtp_tokens_per_step: float = typer.Option(None, "--mtp-tokens-per-step", help=MTP_HELP),
    ep: int = typer.Option(None, "--ep", help="Pin the expert-parallel group size (MoE models)."),
    tp: int = typer.Option(None, "--tp", help="Pin the tensor-parallel group size (inside the scale-up domain)."),
    kv_precision: str = typer.Option(None, "--kv-precision", help="KV cache and attention core: bf16 or fp8."),
    curve: bool = typer.Option(False, "--curve", help="Per-chip throughput against per-user speed (decode)."),
    figure: Path = typer.Option(None, "--figure", help="With --curve: also write the scale-up figure (HTML)."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Estimate tokens/s per chip for serving a model on a system, and which term binds.

    Decode step = fixed overhead + per-operator roofline (HBM or FLOPs) + the exposed part of the expert-parallel
    all-to-all (scale-up links inside one domain, scale-out links beyond it). Equations, sources, calibration and
    residuals: docs/serving.md.
    """
    from ..errors import UserError

    if curve or figure is not None:
        _curve(system, model or "deepseek-v3", precision, tokens, mtp_tokens_per_step, kv_precision, figure, json_out)
        return
    if not system or not model:
        raise UserError("give --system and --model (e.g. --system hgx-h800 --model deepseek-v3), or --curve")
    from .. import catalog
    from ..model import serving

    system = catalog.system(system).id  # 'HGX-H800' is hgx-h800
    est = serving.estimate(system, model, precision, phase, tokens, tpot_ms=tpot_ms, batch=batch,
                           mtp_tokens_per_step=mtp_tokens_per_step, ep=ep, tp=tp, kv_precision=kv_precision)
    d = est.as_dict()
    if json_out:
        print_json(d)
        return
    _print_estimate(d)


def _print_estimate(d: dict[str, Any]) -> None:
    from rich.console import Console

    par = d["parallel"]
    group = f"EP{par['ep']}" if par["ep"] > 1 else (f"TP{par['tp']}" if par["tp"] > 1 else "1 chip")
    t = make_table(f"{d['model']} on {d['system']} - {d['phase']}, {d['precision']} "
                   f"(KV {d['kv_precision']}), {d['tokens']:,} tokens", [col("quantity"), col("value", "num")],
                   show_header=False)
    t.add_row("tokens/s per chip", f"{d['tokens_per_s_per_chip']:,.0f}")
    t.add_row("batch per chip", f"{d['batch_per_chip']:g}  (HBM allows {d['max_batch_by_memory']:g})")
    t.add_row("deployment", group)
    if d["tpot_ms"] is not None:
        t.add_row("time per output token", f"{d['tpot_ms']:.1f} ms  ({d['tokens_per_s_per_user']:.1f} tok/s/user, "
                                           f"{d['tokens_per_step']:g} tokens/step)")
    t.add_row("step", f"{d['step_total_ms']:.2f} ms")
    for k, v in d["step_ms"].items():
        t.add_row(f"  {k}", f"{v:.2f} ms" + ("  <- binds" if k == d["bound"] else ""))
    print_table(Console(), t)


def _curve(system: str | None, model: str, precision: str | None, tokens: int, mtp: float | None,
           kv_precision: str | None, figure: Path | None, json_out: bool) -> None:
    from .. import catalog
    from ..report import serving_figure

    systems = ([catalog.system(s.strip()).id for s in system.split(",")] if system  # 'GB200-NVL72' is gb200-nvl72
               else list(serving_figure.SCALEUP_SYSTEMS))
    curves = serving_figure.curves(systems, model, precision, tokens, mtp, kv_precision)
    if figure is not None:
        serving_figure.write_html(curves, figure, model, tokens)
    if json_out:
        print_json({"model": model, "tokens": tokens, "curves": curves})
        return
    from rich.console import Console

    speeds = sorted({p["tokens_per_s_per_user"] for c in curves.values() for p in c["points"]})
    t = make_table(f"{model}: best tokens/s per chip at each per-user speed ({tokens:,}-token context)",
                   [col("tok/s/user", "num")] + [col(f"{sid} ({c['precision']})", "num", short=sid)
                                                 for sid, c in curves.items()],
                   caption="Each cell: tokens/s per chip and the deployment (EP or TP group) that reaches it.")
    for s in speeds:
        row = [f"{s:g}"]
        for c in curves.values():
            p = next((p for p in c["points"] if p["tokens_per_s_per_user"] == s), None)
            row.append(f"{p['tokens_per_s_per_chip']:,.0f}\n{p['parallel']}" if p else "-")
        t.add_row(*row)
    con = Console()
    print_table(con, t)
    if figure is not None:
        con.print(f"figure written to {figure}")
