"""`computerace compare A B [...]`: paired differences between scenarios under common random numbers."""

from __future__ import annotations

from collections.abc import Callable

import typer

from .common import fmt, print_json, user_errors
from .tables import col, make_table, print_table

DEFAULT = [("stock_h100e", "US"), ("stock_h100e", "China"), ("stock_h100e", "World"), ("china_share", "China"),
           ("operational_h100e", "China"),
           # how much of China's stock each channel moves (e.g. would China have bought NVIDIA instead of Huawei?)
           ("stock_h100e", "China/domestic"), ("stock_h100e", "China/legal_import"), ("stock_h100e", "China/smuggled"),
           ("stock_h100e", "China/proxy_fab"),
           ("years_behind_stock", "China"), ("years_behind_frontier_capability", "China")]


@user_errors
def compare(
    scenarios: list[str] = typer.Argument(..., help="Two or more presets or YAML files; the first is the reference."),
    samples: int = typer.Option(4000, "--samples", "-n", min=10, max=1_000_000),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Shared by every scenario (common random numbers)."),
    metric: list[str] = typer.Option(None, "--metric", metavar="METRIC[:KEY]", help="metric[:key], e.g. stock_h100e:China (repeatable)."),
    year: list[int] = typer.Option(None, "--year", help="December of these years (default 2027, 2030, 2035)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare scenarios sample by sample (same seed, so the same random numbers): the paired difference
    B - A and ratio B / A with 90% intervals, and P(B > A)."""
    import numpy as np

    import computerace as cr

    from ..analysis.metrics import sample_values
    from ..errors import UserError

    if len(scenarios) < 2:
        raise UserError("compare needs at least two scenarios, e.g. `computerace compare baseline no-export-controls`")
    pairs = DEFAULT
    if metric:
        pairs = [(m.split(":")[0], m.split(":")[1] if ":" in m else "China") for m in metric]
    years = year or [2027, 2030, 2035]
    runs = [cr.run(s, samples=samples, seed=seed) for s in scenarios]
    ref = runs[0]
    rows = []
    for other in runs[1:]:
        for m, k in pairs:
            for y in years:
                try:
                    a = sample_values(ref.dataset, m, k, f"{y}-12")
                    b = sample_values(other.dataset, m, k, f"{y}-12")
                except (ValueError, KeyError) as e:
                    raise UserError(f"cannot compare {m}:{k} in {y}: {e}") from None
                d = b - a
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = b / a
                r = r[np.isfinite(r)]
                q = lambda x: [float(v) for v in np.quantile(x, [0.05, 0.5, 0.95])] if len(x) else [np.nan] * 3  # noqa: E731
                rows.append({"reference": ref.manifest["scenario"], "scenario": other.manifest["scenario"],
                             "metric": m, "key": k, "date": f"{y}-12", "reference_p50": float(np.median(a)),
                             "scenario_p50": float(np.median(b)), "difference_p5_p50_p95": q(d),
                             "ratio_p5_p50_p95": q(r), "p_scenario_higher": float((d > 0).mean())})
    if json_:
        print_json({"samples": samples, "seed": seed, "comparisons": rows})
        return
    from rich.console import Console

    t = make_table(f"Paired comparison vs '{ref.manifest['scenario']}' ({samples:,} samples, seed {seed}, "
                   "common random numbers)", [
                       col("scenario", "id", priority=3), col("metric key"), col("Dec", "num"),
                       col("reference p50", "num", short="ref. p50", priority=1),
                       col("scenario p50", "num", short="scen. p50", priority=1),
                       col("difference p50 [p5–p95]", "num", short="difference [90%]"),
                       col("ratio p50 [p5–p95]", "num", short="ratio [90%]", priority=2),
                       col("P(higher)", "num", short="P(>)")],
                   caption="In December of each year. difference = scenario - reference per sample; 90% intervals. "
                           "Shares are in %, their differences in percentage points (pp).")
    for r in rows:
        d, q = r["difference_p5_p50_p95"], r["ratio_p5_p50_p95"]
        value, diff = value_formats(r["metric"])
        t.add_row(r["scenario"], f"{r['metric']} {r['key']}", r["date"][:4], value(r["reference_p50"]),
                  value(r["scenario_p50"]), f"{diff(d[1])}\n[{diff(d[0])}–{diff(d[2])}]",
                  f"{q[1]:.3g}\n[{q[0]:.3g}–{q[2]:.3g}]", f"{r['p_scenario_higher']:.0%}", end_section=True)
    print_table(Console(), t)


#: Metrics that are shares of 0-1: printed as percentages (as `computerace run` prints China's share).
SHARE_METRICS = ("china_share", "china_share_with_remote")


def value_formats(metric: str) -> tuple[Callable[[float], str], Callable[[float], str]]:
    """(format of a value, format of a paired difference) for `metric`: shares (china_share, or any name holding
    '_share', e.g. the backtest's china_owned_share_excl_smuggled) as 6.4% and +1.2 pp, everything else with
    k/M/B suffixes (`fmt`). Used by compare, update and backtest."""
    if metric in SHARE_METRICS or "_share" in metric:
        return (lambda x: f"{x:.1%}"), (lambda x: f"{100 * x:+.1f} pp")
    return fmt, fmt
