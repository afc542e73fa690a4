"""`computerace compare A B [...]`: paired differences between scenarios under common random numbers."""

from __future__ import annotations

import typer

from .common import fmt, print_json, user_errors

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
    metric: list[str] = typer.Option(None, "--metric", help="metric[:key], e.g. stock_h100e:China (repeatable)."),
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
    from rich.table import Table

    t = Table(title=f"Paired comparison vs '{ref.manifest['scenario']}' ({samples:,} samples, seed {seed}, "
                    "common random numbers)", caption="difference = scenario - reference per sample; 90% intervals")
    for c in ("scenario", "metric", "date", "reference p50", "scenario p50", "difference p50 [p5–p95]",
              "ratio p50 [p5–p95]", "P(higher)"):
        t.add_column(c, justify="right" if c not in ("scenario", "metric") else "left")
    for r in rows:
        d, q = r["difference_p5_p50_p95"], r["ratio_p5_p50_p95"]
        t.add_row(r["scenario"], f"{r['metric']}:{r['key']}", r["date"], fmt(r["reference_p50"]), fmt(r["scenario_p50"]),
                  f"{fmt(d[1])} [{fmt(d[0])}–{fmt(d[2])}]", f"{q[1]:.3g} [{q[0]:.3g}–{q[2]:.3g}]",
                  f"{r['p_scenario_higher']:.0%}")
    Console(width=max(Console().width, 140)).print(t)
