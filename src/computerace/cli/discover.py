"""`computerace discover --outcome OUTCOME [SCENARIO]`: scenario discovery, the parameter regions (PRIM boxes)
where an outcome happens, with coverage and density, said in words (docs/discover.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import parse_sets, print_json, user_errors
from .tables import col, make_table, print_table


@user_errors
def discover(
    scenario: str = typer.Argument("baseline", help="Preset name or YAML file."),
    outcome: str = typer.Option(..., "--outcome", "-o", metavar="OUTCOME",
                                help="A claim id (computerace claims), a built-in outcome (overtake-by-2040, "
                                     "operational-overtake-by-2040, years-behind-below-2-in-2030) or an expression "
                                     "'stock_h100e/China/2030-12 > 5e7'; prefix 'not ' to negate."),
    samples: int = typer.Option(3000, "--samples", "-n", min=100, max=1_000_000, help="Monte Carlo samples."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Random seed."),
    set_: list[str] = typer.Option(None, "--set", help="Override a parameter: key=value."),
    posterior: bool = typer.Option(False, "--posterior/--prior",
                                   help="Search the posterior (resampled on the evidence) instead of the prior "
                                        "(the default: the prior covers the scenario's whole ranges)."),
    threshold: float = typer.Option(None, "--threshold", min=0.0, max=1.0, metavar="DENSITY",
                                    help="Density a box must reach (default 1.25 x the base rate)."),
    peel_alpha: float = typer.Option(0.05, "--peel-alpha", metavar="SHARE", help="Share of samples PRIM peels per step."),
    min_mass: float = typer.Option(0.05, "--min-mass", metavar="SHARE", help="Smallest box, as a share of the samples."),
    max_inputs: int = typer.Option(10, "--max-inputs", min=1, metavar="N",
                                   help="Search the inputs with the highest feature scores (default 10)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
    out: Path = typer.Option(None, "--out", help="Write discover.json and discover.html into this directory."),
) -> None:
    """Which worlds make an outcome happen: PRIM boxes over the parameters and events, in words."""
    import computerace as cr

    from ..analysis.discover import check_outcome
    from ..analysis.discover import discover as find
    from ..results import strict_json

    outcome = check_outcome(outcome)  # a bad outcome exits 2 before the run
    sc = cr.load_scenario(scenario, parse_sets(set_))
    run = cr.run(sc, samples=samples, seed=seed)
    if posterior:
        run = run.conditioned()
    result = find(run, outcome, threshold=threshold, peel_alpha=peel_alpha, min_mass=min_mass,
                  max_inputs=max_inputs)
    doc = {"scenario": sc.name, "samples": samples, "seed": seed, **result.to_dict()}
    files = []
    if out is not None:
        from ..report.discover_section import page_html
        from ..results import atomic_write

        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "discover.json", strict_json(doc))
        atomic_write(out / "discover.html", page_html(result))
        files = [str(out / "discover.json"), str(out / "discover.html")]
    if json_:
        print_json(doc)
        return
    from rich.console import Console
    from rich.markup import escape

    con = Console()
    con.print(escape(result.statement), highlight=False)
    for b in result.boxes:
        t = make_table(f"Box {b.number}: coverage {b.coverage:.0%}, density {b.density:.0%}, mass {b.mass:.0%}",
                       [col("input", "id"), col("in words"), col("quasi-p", "num", priority=2),
                        col("what it is", priority=1)],
                       caption="quasi-p: one-sided binomial test of each restriction (lower / upper side).")
        for d in b.dimensions:
            qp = " / ".join("—" if v is None else f"{v:.2g}" for v in (d.qp_lower, d.qp_upper))
            t.add_row(escape(d.name), escape(d.words), qp, escape(d.description))
        print_table(con, t)
        if b.dropped_restrictions:
            con.print(f"[dim]Dropped as not significant: {escape(', '.join(b.dropped_restrictions))}[/dim]")
    traj = result.trajectory
    if traj:
        b = result.boxes[0]
        con.print(f"[dim]Peeling trajectory of box 1: {len(traj)} steps from coverage 100%, density "
                  f"{traj[0]['density']:.0%} to coverage {traj[-1]['coverage']:.0%}, density "
                  f"{traj[-1]['density']:.0%}; the box rule chose step {b.trajectory_index} (docs/discover.md). "
                  f"Searched {len(result.inputs)} inputs on the {result.basis} samples.[/dim]")
    for f in files:
        con.print(f"[dim]wrote {escape(f)}[/dim]")

