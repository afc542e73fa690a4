"""`computerace serve-estimate`: how fast a catalog system serves an LLM (per-operator step model, floors, band)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import print_json, user_errors
from .tables import col, make_table, print_table

SYSTEM_HELP = ("Catalog system id (`computerace data systems`), e.g. hgx-h800, h100-sxm, gb200-nvl72, "
               "cloudmatrix-384, atlas-800-a3. With --curve: one or more, comma-separated (default: the scale-up "
               "comparison set).")
MODEL_HELP = ("Model id from data/models.yaml: deepseek-r1, deepseek-v3, llama-3-8b, llama-3-70b, llama-3.1-405b, "
              "qwen3-235b-a22b.")
PRECISION_HELP = ("Precision recipe: bf16, fp8 (DeepSeek's), int8 (W8A8, 16-bit attention) or fp4 (NVFP4 MoE "
                  "linears). Default: the system's best supported recipe (bf16 for a BF16-released model).")
TOKENS_HELP = "Decode: mean context (KV length) in tokens. Prefill: prompt length."
TPOT_HELP = "Decode only: best batch whose time per output token is at most this many ms."
BATCH_HELP = "Sequences per rank (decode) or prompts per rank (prefill). Default: the best the HBM allows."
MTP_HELP = "Multi-token prediction draft depth: 0 (off, default), 1, 2, 3, or auto (the optimiser chooses)."
MODE_HELP = ("disaggregated (each phase on its own ranks) or aggregated (decode steps carry chunked-prefill work of "
             "--io-ratio prompt tokens per output token).")


@user_errors
def serve_estimate(
    system: str = typer.Option(None, "--system", metavar="ID[,ID...]", help=SYSTEM_HELP),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    precision: str = typer.Option(None, "--precision", help=PRECISION_HELP),
    phase: str = typer.Option("decode", "--phase", help="decode or prefill."),
    tokens: int = typer.Option(4096, "--tokens", help=TOKENS_HELP),
    tpot_ms: float = typer.Option(None, "--tpot-ms", help=TPOT_HELP),
    batch: float = typer.Option(None, "--batch", help=BATCH_HELP),
    mtp: str = typer.Option("0", "--mtp", metavar="AUTO|N", help=MTP_HELP),
    mtp_tokens_per_step: float = typer.Option(None, "--mtp-tokens-per-step",
                                              help="Override the accepted tokens per step (measured acceptance)."),
    mode: str = typer.Option("disaggregated", "--mode", metavar="MODE", help=MODE_HELP),
    io_ratio: float = typer.Option(None, "--io-ratio", metavar="RATIO",
                                   help="Aggregated mode: input:output tokens (default 4)."),
    max_batch: float = typer.Option(None, "--max-batch", metavar="N", help="Framework batch cap (sequences per rank)."),
    profile: str = typer.Option("fused", "--profile", metavar="fused|plain",
                                help="Implementation profile: fused (production) or plain."),
    software: str = typer.Option("default", "--software", metavar="FAMILY",
                                 help="Software family factor: deepseek, sglang, rtp-llm or default."),
    ep: int = typer.Option(None, "--ep", help="Pin the expert-parallel group size in ranks (MoE models)."),
    tp: int = typer.Option(None, "--tp", help="Pin the tensor-parallel group size (inside the scale-up domain)."),
    kv_precision: str = typer.Option(None, "--kv-precision", help="KV cache and attention core: bf16 or fp8."),
    curve: bool = typer.Option(False, "--curve", help="Per-chip throughput against per-user speed (decode)."),
    figure: Path = typer.Option(None, "--figure", help="With --curve: also write the scale-up figure (HTML)."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Estimate tokens/s per chip for serving a model on a system: best deployment, its band and latency floor.

    Step = per-operator kernels (floor + roofline per kernel) + expert all-to-all per fabric under the schedule
    (two-batch overlap or none) + MTP drafts + host time. JSON fields include band {low, central, high}, floor_ms,
    mtp_depth, mode and the assumptions used. Equations, sources and validation: docs/serving.md.
    """
    from ..errors import UserError

    depth: int | str = _mtp(mtp)
    if curve or figure is not None:
        _curve(system, model or "deepseek-v3", precision, tokens, depth, kv_precision, figure, json_out)
        return
    if not system or not model:
        raise UserError("give --system and --model (e.g. --system hgx-h800 --model deepseek-r1), or --curve")
    from .. import catalog, serving

    system = catalog.system(system).id  # 'HGX-H800' is hgx-h800
    est = serving.estimate(system, model, precision, phase, tokens, tpot_ms=tpot_ms, batch=batch, mtp=depth,
                           ep=ep, tp=tp, kv_precision=kv_precision, mode=mode, io_ratio=io_ratio,
                           max_batch=max_batch, profile=profile, software=software,
                           mtp_tokens_per_step=mtp_tokens_per_step)
    d = est.as_dict()
    if json_out:
        print_json(d)
        return
    _print_estimate(d)


def _mtp(value: str) -> int | str:
    from ..errors import UserError

    v = str(value).strip().lower()
    if v == "auto":
        return "auto"
    try:
        return int(v)
    except ValueError:
        raise UserError(f"--mtp must be auto or a draft depth 0, 1, 2 or 3; got '{value}'") from None


def _print_estimate(d: dict[str, Any]) -> None:
    from rich.console import Console

    t = make_table(f"{d['model']} on {d['system']} - {d['phase']} ({d['mode']}), {d['precision']} "
                   f"(KV {d['kv_precision']}), {d['tokens']:,} tokens", [col("quantity"), col("value", "num")],
                   show_header=False)
    b = d["band"]
    t.add_row("tokens/s per chip", f"{d['tokens_per_s_per_chip']:,.0f}  (band {b['low']:,.0f} - {b['high']:,.0f})")
    t.add_row("batch per rank", f"{d['batch_per_rank']:g}  (HBM allows {d['max_batch_by_memory']:g}; "
                                f"{d['dies_per_chip']} rank(s) per chip)")
    t.add_row("deployment", d["parallel"]["label"])
    if d["tpot_ms"] is not None:
        t.add_row("time per output token", f"{d['tpot_ms']:.1f} ms  ({d['tokens_per_s_per_user']:.1f} tok/s/user, "
                                           f"{d['tokens_per_step']:g} tokens/step, MTP depth {d['mtp_depth']})")
        t.add_row("latency floor", f"{d['floor_ms']:.2f} ms per token (smallest TPOT of any deployment)")
    t.add_row("step", f"{d['step_total_ms']:.2f} ms")
    for k, v in d["step_ms"].items():
        t.add_row(f"  {k}", f"{v:.2f} ms" + ("  <- binds" if k == d["bound"] else ""))
    con = Console()
    print_table(con, t)
    for a in d["assumptions"]:
        con.print(f"assumption: {a}")


def _curve(system: str | None, model: str, precision: str | None, tokens: int, mtp: int | str,
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
                   caption="Each cell: tokens/s per chip and the deployment that reaches it.")
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
