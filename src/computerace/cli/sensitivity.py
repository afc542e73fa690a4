"""`computerace sensitivity`: Sobol indices of a metric over every uncertain input, with a tornado plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import parse_sets, print_json, user_errors
from .tables import col, make_table, print_table

DEFAULT_SAMPLES = 2048  # keep in step with analysis.sensitivity.DEFAULT_SAMPLES (imported lazily)


def sensitivity_table(result: dict[str, Any], top: int | None = None) -> Any:
    """A table of the indices (a FitTable: print it with cli.tables.print_table), sorted by total order (as in
    `result`), with 95% intervals."""
    level = round(100 * result["conf_level"])
    key = f" ({result['key']})" if result["key"] else ""
    t = make_table(f"computerace sensitivity · {result['scenario']} · {result['metric']}{key} in "
                   f"{result['month']} · Sobol, N={result['samples']:,}",
                   [col("#", "num"), col("input", "id"), col("S1 [95%]", "num", priority=1),
                    col("ST [95%]", "num"), col("direction", short="dir.", priority=2)],
                   caption=f"{result['evaluations']:,} model runs in {result['seconds']:.1f} s · "
                           f"{level}% bootstrap intervals · sorted by total order ST · "
                           "correlated parameters are grouped ('+'); direction: sign of the rank correlation")
    rows = result["indices"] if top is None else result["indices"][:top]
    for i, r in enumerate(rows, 1):
        dirs = " ".join("↑" if v > 0.05 else "↓" if v < -0.05 else "·" for v in r["rank_correlation"].values())
        t.add_row(str(i), "\n+ ".join(r["members"]),
                  f"{r['S1']:.3f}\n[{r['S1_ci'][0]:.3f}, {r['S1_ci'][1]:.3f}]",
                  f"{r['ST']:.3f}\n[{r['ST_ci'][0]:.3f}, {r['ST_ci'][1]:.3f}]", dirs, end_section=True)
    return t


@user_errors
def sensitivity(
    scenario: str = typer.Argument("baseline", help="Preset name (see `computerace presets`) or a YAML file."),
    metric: str = typer.Option("years_behind_stock", "--metric", "-m",
                               help="Summary metric: years_behind_<stock|chip|process_node|largest_training_run|"
                                    "frontier_capability>, china_share, us_to_china_ratio, stock_h100e, "
                                    "additions_h100e, spend_usd ... (docs/sensitivity.md)."),
    year: int = typer.Option(2030, "--year", "-y", help="The metric is taken in December of this year."),
    key: str = typer.Option(None, "--key", "-k", help="Actor or channel for per-actor metrics: US, China, RoW, "
                                                      "World, China/<channel> (default: China)."),
    samples: int = typer.Option(DEFAULT_SAMPLES, "--samples", "-n", min=2, max=1 << 20,
                                help="Base samples N, a power of 2; model runs = N x (groups + 2)."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Seed of the scrambled Sobol sequence."),
    log: bool = typer.Option(False, "--log", help="Analyse log10 of the metric (for stocks and ratios "
                                                  "spanning orders of magnitude)."),
    set_: list[str] = typer.Option(None, "--set", help="Override a parameter: key=value."),
    top: int = typer.Option(None, "--top", min=1, help="Print only the first TOP rows of the table."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON instead of the table."),
    out: Path = typer.Option(None, "--out", "-o", help="Write sensitivity.json and tornado.html here."),
) -> None:
    """Sobol first- and total-order indices of a metric over every uncertain parameter and event of a
    scenario (correlated parameters grouped), sorted by total order, with a tornado plot."""
    import computerace as cr

    from ..analysis.sensitivity import check_metric, metric_months, scenario_inputs, sobol
    from ..errors import UserError

    sc = cr.load_scenario(scenario, parse_sets(set_))
    check_metric(metric, key)
    metric_months(sc, year)
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory; give a directory path")
    if json_:
        result = sobol(sc, metric, year, key, samples, seed, log)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        groups = len(scenario_inputs(sc).group_names)
        with Progress(TextColumn("[bold]Sobol[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("model runs"), TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task(f"{sc.name} · {metric} {year}", total=samples * (groups + 2))
            result = sobol(sc, metric, year, key, samples, seed, log, progress=lambda k: bar.advance(task, k))
    if out is not None:
        import json

        from ..report.tornado import write_tornado_html

        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "sensitivity.json.tmp"
        tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        tmp.replace(out / "sensitivity.json")
        write_tornado_html(result, out / "tornado.html")
    if json_:
        print_json(result)
        return
    from rich.console import Console

    con = Console()
    print_table(con, sensitivity_table(result, top))
    o = result["output"]
    con.print(f"{result['metric']} in {result['month']} ({result['unit']}): median {o['p50']:.3g}, "
              f"90% interval [{o['p5']:.3g}, {o['p95']:.3g}]; sum of S1 = {result['sum_S1']:.2f} "
              "(the rest of the variance comes from interactions).")
    con.print(f"Time: {result['seconds']:.1f} s for {result['evaluations']:,} model runs.")
    if out is not None:
        con.print(f"Files in {out}/: sensitivity.json, tornado.html")
