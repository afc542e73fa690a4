"""`computerace run`: the baseline forecast (or any scenario) with its table, data and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import fmt, parse_sets, print_json, user_errors

TABLE_YEARS = (2024, 2025, 2026, 2027, 2028, 2030, 2035, 2040)


def headline_table(summary: dict[str, Any], years: tuple[int, ...] = TABLE_YEARS) -> Any:
    """The headline table (cli/tables.FitTable, fitted to the terminal when printed): stock by actor at year ends
    (median and 90% interval), China's share, the US:China ratio and years behind."""
    from rich.markup import escape

    from .tables import col, make_table

    m = summary["metrics"]
    dates = list(m["stock_h100e"]["World"])
    show = [d for d in dates if d.endswith("-12") and int(d[:4]) in years]
    if dates[-1] not in show and years == TABLE_YEARS:
        show.append(dates[-1])
    t = make_table(f"computerace · {summary['scenario']} · {summary['samples']:,} samples · seed {summary['seed']}",
                   [col("month", "id"), col("US", "num"), col("China", "num"), col("RoW", "num", priority=2),
                    col("World", "num", priority=1), col("China share", "num", short="CN share"),
                    col("US:China", "num", priority=3), col("years behind", "num", short="yrs behind")],
                   caption="Owned compute in H100e (dense BF16), median [90% interval]. "
                           "A forecast conditional on the scenario's assumptions.")

    def cell(q: dict[str, float], pct: bool = False) -> str:
        if pct:
            return escape(f"{q['p50']:.1%}\n[{q['p5']:.1%}–{q['p95']:.1%}]")
        return escape(f"{fmt(q['p50'])}\n[{fmt(q['p5'])}–{fmt(q['p95'])}]")

    for d in show:
        yb = m["years_behind_stock"]["China"][d]
        ybs = f"{yb['p50']:.1f}\n[{yb['p5']:.1f}–{yb['p95']:.1f}]"
        if yb.get("censored", 0) >= 0.5:
            ybs = f"≥{yb['p50']:.1f}\n(beyond horizon)"
        elif yb.get("censored", 0) > 0.05:
            ybs += f"\n({yb['censored']:.0%} ≥)"
        r = m["us_to_china_ratio"]["US:China"][d]
        t.add_row(d, *(cell(m["stock_h100e"][a][d]) for a in ("US", "China", "RoW", "World")),
                  cell(m["china_share"]["China"][d], pct=True),
                  escape(f"{r['p50']:.1f}×\n[{r['p5']:.1f}–{r['p95']:.1f}]"), escape(ybs), end_section=True)
    return t


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The lines printed under the table: the overtaking probabilities and what the run was conditioned on."""
    probs = summary["probabilities"]
    out = ["P(China's owned stock exceeds the US's by December of): "
           + ", ".join(f"{y}: {v:.1%}" for y, v in probs["china_overtakes_us_stock_by"].items())]
    if "china_overtakes_us_operational_stock_by" in probs:
        out.append("P(China's operational stock (what power runs) exceeds the US's by December of): "
                   + ", ".join(f"{y}: {v:.1%}" for y, v in probs["china_overtakes_us_operational_stock_by"].items()))
    cond = summary.get("conditioning")
    if cond is not None and not cond["rows"]:
        out.append(f"No evidence the model computes was published by {cond['as_of']}: only history constrains this "
                   f"run ({cond['history_excluded']} samples excluded). --prior gives the unconditioned run.")
    elif cond is not None:
        top = ", ".join(r["observation"] for r in cond["rows"][:3])
        out.append(f"Conditioned on {cond['observations']} observations (evidence to {cond['as_of']}): effective "
                   f"sample size {cond['ess']:.0f} of {cond['samples']:,}"
                   + (f", likelihood tempered to {cond['tempering']:.2f}" if cond["tempering"] < 1 else "")
                   + f"; most weight: {top}. --prior gives the unconditioned run.")
    return out


def readme_example(width: int = 120) -> str:
    """The README's example output (tests/test_docs.py checks the README holds exactly this): `computerace run
    --samples 2000 --seed 7`, rows for 2025, 2030 and 2040, printed at `width` columns."""
    import io

    from rich.console import Console

    import computerace as cr

    summary = cr.run("baseline", samples=2000, seed=7).conditioned().summary()
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=False, color_system=None, legacy_windows=False)
    from .tables import print_table

    print_table(con, headline_table(summary, years=(2025, 2030, 2040)))
    for line in summary_lines(summary):
        con.print(line)
    con.print("Files in computerace-out/baseline/: inference.nc, manifest.json, quantiles.csv, report.html, run.nc, "
              "summary.json")
    return "\n".join(x.rstrip() for x in buf.getvalue().splitlines()) + "\n"


def modified_name(base: str, changed: dict[str, Any]) -> str:
    """The name of a run with --set overrides: the scenario's name plus what changed ('baseline+smuggling.enforcement
    =0.05'), or, when that is long, the number of overrides and a short hash of them."""
    import hashlib

    from ..scenario.distributions import describe

    text = ",".join(f"{k}={describe(v)}" for k, v in sorted(changed.items()))
    if len(text) <= 60:
        return f"{base}+{text}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{base}+{len(changed)}-overrides-{digest}"


@user_errors
def run(
    scenario: str = typer.Argument("baseline", help="Preset name (see `computerace presets`) or a YAML file."),
    samples: int = typer.Option(10_000, "--samples", "-n", min=1, max=10_000_000, help="Monte Carlo samples."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Random seed; same seed, same results."),
    out: Path = typer.Option(None, "--out", "-o", help="Output directory (default: computerace-out/<scenario name>)."),
    set_: list[str] = typer.Option(None, "--set", help="Override a parameter: key=value, e.g. "
                                   "smuggling.enforcement=0.02 or 'finance.compute_share=0.4 to 0.7'."),
    chunk: int = typer.Option(None, "--chunk", min=1, help="Samples simulated at once (memory); results do not depend on it."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no table."),
    json_: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of the table."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html (faster)."),
    no_netcdf: bool = typer.Option(False, "--no-netcdf", help="Skip run.nc and inference.nc (every sample): write "
                                   "only the summary, quantiles, manifest and report (faster, far smaller)."),
    point: bool = typer.Option(False, "--point", help="Point mode: every distribution at its median "
                               "(one deterministic path, simulated once; same as 'mode: point' in the scenario)."),
    as_of: str = typer.Option(None, "--as-of", help="YYYY-MM-DD: refuse any parameter whose source was "
                              "published after this date (naming each one)."),
    evidence: Path = typer.Option(None, "--evidence", help="A CSV of your own evidence rows (evidence.csv's columns): "
                                  "condition on the catalog plus these (see also `computerace update`)."),
    prior: bool = typer.Option(False, "--prior", help="The unconditioned forecast (the default is conditioned on the "
                               "evidence published up to --as-of, or on the whole catalog; docs/evidence.md)."),
    full: bool = typer.Option(False, "--full", help="Also compute a Sobol sensitivity of years behind in 2030 "
                              "and a backtest as of 2024-01-01, and add the tornado and backtest panels to the report."),
) -> None:
    """Run a scenario: print the headline table and write summary.json, run.nc, quantiles.csv,
    manifest.json and report.html."""
    import computerace as cr

    sets = parse_sets(set_)
    if point:
        sets["mode"] = "point"
    if as_of is not None:
        from ..catalog import parse_date

        as_of = parse_date(as_of, "--as-of date").isoformat()
    if as_of is not None and scenario == "baseline":  # the baseline as written then (its vintage), not hindsight
        from ..scenario.loader import vintage_for, vintages

        vintage = vintage_for(as_of)
        if vintage is None:
            from ..errors import UserError

            raise UserError(f"no baseline vintage was written on or before {as_of}; vintages: "
                            + (", ".join(vintages()) or "none") + ". Use a later --as-of date or your own scenario file")
        scenario = str(vintage)
    sc = cr.load_scenario(scenario, sets, as_of=as_of)
    changed = {k: v for k, v in sets.items() if k not in ("mode", "name")}
    if changed and "name" not in sets:  # a modified run is named (and filed) as one, never as the preset itself
        sc = sc.model_copy(update={"name": modified_name(sc.name, changed)})
    obs = None  # --evidence: the catalog's rows plus the user's, read (and checked) before any simulation
    if evidence is not None:
        from ..errors import UserError

        if prior or point:
            raise UserError("--evidence conditions the forecast; it cannot be combined with --prior or --point")
        from ..analysis.evidence import observations, read_evidence_file
        from ..catalog import evidence as catalog_evidence

        obs = observations(rows=list(catalog_evidence(as_of) if as_of else catalog_evidence())
                           + read_evidence_file(evidence))
    if sc.resolved.get("mode") == "point" and samples != 1:
        samples = 1  # point mode is one deterministic path: every sample would be the same
    from ..outdir import check_target, safe_name

    out_dir = out or Path("computerace-out") / safe_name(sc.name)  # never outside computerace-out/, whatever the name
    check_target(out_dir, "--out" if out else "output directory")  # before any simulation (api.run checks memory)
    months = len(sc.months())
    if quiet or json_:
        result = cr.run(sc, samples=samples, seed=seed, chunk=chunk)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]simulating[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("sample-months"), TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task(sc.name, total=samples * months)
            result = cr.run(sc, samples=samples, seed=seed, chunk=chunk,
                            progress=lambda k: bar.advance(task, k))
    if not prior:  # the headline numbers are the posterior (a point-mode run is returned as it is)
        result = result.conditioned(as_of=as_of, observations=obs)
    sensitivity = backtest = None
    if full and not no_report:
        from ..analysis.backtest import backtest as run_backtest
        from ..analysis.sensitivity import sobol

        sensitivity = sobol(sc, metric="years_behind_stock", year=2030, samples=512, seed=seed)
        backtest = run_backtest("2024-01-01", sc, samples=min(samples, 2000), seed=seed)
    paths = result.save(out_dir, report=not no_report, sensitivity=sensitivity, backtest=backtest, netcdf=not no_netcdf)
    summary = result.summary()
    if json_:
        print_json(summary)
        return
    if quiet:
        return
    from rich.console import Console

    from .tables import print_table

    con = Console()
    print_table(con, headline_table(summary))
    for line in summary_lines(summary):
        con.print(line)
    con.print(f"Files in {out_dir}/: " + ", ".join(sorted(x.name for x in paths.values())))
