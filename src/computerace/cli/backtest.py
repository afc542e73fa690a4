"""`computerace backtest --as-of YYYY-MM-DD`: the baseline as of a date, scored on later evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import print_json, user_errors
from .tables import col, make_table, print_table


def backtest_figure(result: dict):  # noqa: ANN201
    """Observed values against the model's 50% and 90% intervals, one panel per series."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    series = result["series"]
    fig = make_subplots(rows=len(series) or 1, cols=1, subplot_titles=[s["series"] for s in series],
                        vertical_spacing=0.08)
    for i, s in enumerate(series, start=1):
        x = [o["period_end"] for o in s["observations"]]
        for lo, hi, w, name in (("model_p5", "model_p95", 6, "model 90%"), ("model_p25", "model_p75", 14, "model 50%")):
            for o in s["observations"]:
                fig.add_trace(go.Scatter(x=[o["period_end"]] * 2, y=[o[lo], o[hi]], mode="lines",
                                         line=dict(width=w, color="#1f5fa8"), opacity=0.35, name=name,
                                         showlegend=False), row=i, col=1)
        fig.add_trace(go.Scatter(x=x, y=[o["observed"] for o in s["observations"]], mode="markers",
                                 marker=dict(color="#c0392b", size=10, symbol="diamond"), name="observed",
                                 showlegend=i == 1), row=i, col=1)
    fig.update_layout(template="plotly_white", height=260 * max(1, len(series)),
                      title=f"Backtest as of {result['as_of']}: later evidence vs the model's intervals")
    return fig


@user_errors
def backtest(
    as_of: str = typer.Option("2024-01-01", "--as-of", help="Use only sources published by this date."),
    scenario: str = typer.Option("baseline", "--scenario", help="Preset or YAML file to backtest."),
    samples: int = typer.Option(2000, "--samples", "-n", min=100, max=1_000_000),
    seed: int = typer.Option(0, "--seed", "-s", min=0),
    out: Path = typer.Option(None, "--out", "-o", help="Write backtest.json and backtest.html here."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
    vintages: bool = typer.Option(False, "--vintages", help="The backtest from vintages: the baseline as written on "
                                  "2023-01-01, 2024-01-01 and 2025-04-01, conditioned on the evidence of its day and "
                                  "scored on later evidence (coverage, CRPS, log score, skill vs a naive trend), with "
                                  "AI 2027 beside the 2025 vintage. Ignores --as-of and --scenario."),
) -> None:
    """Backtest: widen what was not yet published at --as-of, simulate, and score coverage and CRPS
    against evidence published after it (or, with --vintages, the backtest from the baseline's vintages)."""
    import json

    from ..analysis.backtest import backtest as run_backtest
    from ..results import atomic_write

    if vintages:
        from ..analysis.backtest import vintage_backtest

        res = vintage_backtest(samples=samples, seed=seed)
        if out is not None:
            atomic_write(Path(out) / "backtest.json", json.dumps(res, indent=1, default=str) + "\n")
        if json_:
            print_json(res)
        else:
            _print_vintages(res)
        return

    result = run_backtest(as_of, scenario, samples=samples, seed=seed)
    if out is not None:
        atomic_write(Path(out) / "backtest.json", json.dumps(result, indent=1, default=str) + "\n")
        fig = backtest_figure(result)
        atomic_write(Path(out) / "backtest.html", fig.to_html(include_plotlyjs=True, full_html=True))
    if json_:
        print_json(result)
        return
    from rich.console import Console

    from .compare import value_formats

    t = make_table(f"Backtest of '{result['scenario']}' as of {result['as_of']} ({samples:,} samples)",
                   [col("series", "id"), col("obs", "num"), col("50% coverage", "num", short="50% cov.", priority=2),
                    col("90% coverage", "num", short="90% cov."),
                    col("CRPS / observed", "num", short="CRPS/obs", priority=1),
                    col("last: observed vs model p50 [p5–p95]", "num", short="last: observed vs model",
                        priority=3)], caption=result["caveat"])
    for s in result["series"]:
        o = s["observations"][-1]
        f = value_formats(s["series"])[0]
        t.add_row(s["series"], str(s["n"]), f"{s['coverage_50']:.0%}", f"{s['coverage_90']:.0%}",
                  f"{s['crps_relative']:.2f}", f"{o['period_end']}: {f(o['observed'])} vs {f(o['model_p50'])}\n"
                  f"[{f(o['model_p5'])}–{f(o['model_p95'])}]")
    con = Console()
    print_table(con, t)
    ov = result["overall"]
    if ov["coverage_50"] is not None:
        con.print(f"Overall: {result['observations']} observations, 50% intervals cover "
                  f"{ov['coverage_50']:.0%}, 90% intervals cover {ov['coverage_90']:.0%}.")


def _print_vintages(res: dict) -> None:
    from rich.console import Console

    def row(name: str, sc: dict) -> list[str]:
        if not sc.get("observations"):
            return [name, "0"] + ["—"] * 6
        c50, c90 = sc["coverage_50_interval"], sc["coverage_90_interval"]
        skill = "—" if sc["skill_vs_naive"] is None else f"{sc['skill_vs_naive']:+.2f} ({sc['naive_observations']})"
        return [name, str(sc["observations"]), ", ".join(sc["series"]),
                f"{sc['coverage_50']:.0%} [{c50[0]:.0%}–{c50[1]:.0%}]", f"{sc['coverage_90']:.0%} [{c90[0]:.0%}–{c90[1]:.0%}]",
                f"{sc['crps_relative']:.2f}", f"{sc['log_score']:.2f}", skill]

    t = make_table(f"Backtest from vintages ({res['samples']:,} samples, seed {res['seed']}): each vintage conditioned "
                   "on the evidence of its day, scored on what was published after it",
                   [col("vintage"), col("obs", "num"), col("series", priority=4),
                    col("50% coverage [90% CI]", "num", short="50% cov. [90% CI]", priority=2),
                    col("90% coverage [90% CI]", "num", short="90% cov. [90% CI]"),
                    col("CRPS / observed", "num", short="CRPS/obs", priority=1),
                    col("log score", "num", short="log sc.", priority=3),
                    col("skill vs naive (n)", "num", short="skill (n)", priority=1)])
    for v in res["vintages"]:
        t.add_row(*row(f"{v['as_of']} (on {v['conditioned_on']} obs.)", v["scores"]))
        if "ai2027" in v:
            t.add_row(*row("AI 2027 (Apr 2025)", v["ai2027"]["scores"]))
    t.add_row(*row("pooled", res["pooled"]))
    print_table(Console(), t)
