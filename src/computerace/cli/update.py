"""`computerace update FILE`: what changed, and why, when new evidence arrives."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import print_json, user_errors
from .tables import col, make_table, print_table


@user_errors
def update(
    evidence_file: Path = typer.Argument(..., help="CSV of new evidence rows, in evidence.csv's columns."),
    scenario: str = typer.Option("baseline", "--scenario", help="Preset or YAML file."),
    samples: int = typer.Option(4000, "--samples", "-n", min=200, max=1_000_000, help="Monte Carlo samples."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Random seed."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Condition the forecast on the catalog, then on the catalog plus your rows: how each headline moved, and
    which of your rows moved it (each row's leave-one-out influence). Method: docs/evidence.md."""
    import computerace as cr

    from ..analysis.evidence import read_evidence_file
    from ..analysis.evidence import update as run_update

    rows = read_evidence_file(evidence_file)
    result = run_update(cr.load_scenario(scenario), rows, samples, seed)
    if json_:
        print_json(result)
        return
    from rich.console import Console

    from .compare import value_formats

    con = Console()
    t = make_table(f"What changed: {scenario} conditioned on the catalog, then also on {evidence_file.name} "
                   f"({len(rows)} rows; {samples:,} samples, seed {seed})",
                   [col("headline"), col("before: median [90%]", "num", short="before [90%]"),
                    col("after", "num")] + [col(f"without {r.id}", "num", short=f"w/o {r.id}", priority=1)
                                            for r in rows])
    infl = {i["row"]: i["change"] for i in result["influence"]}
    for k, v in result["moved"].items():
        if "prior" in v and "p50" in v["prior"]:
            a, b = v["prior"], v["posterior"]
            f = value_formats(k.split("/")[0])[0]
            cells = [f"{f(a['p50'])}\n[{f(a['p5'])}–{f(a['p95'])}]", f"{f(b['p50'])}\n[{f(b['p5'])}–{f(b['p95'])}]"]
            cells += [f(infl[r.id][k]["prior"]["p50"]) for r in rows]
        else:
            cells = [" / ".join(f"{x:.1%}" for x in v["prior"].values()), " / ".join(f"{x:.1%}" for x in v["posterior"].values())]
            cells += [" / ".join(f"{x:.1%}" for x in infl[r.id][k]["prior"].values()) for r in rows]
        t.add_row(k.replace("/", " "), *cells, end_section=True)
    print_table(con, t)
    con.print(f"Effective sample size {result['ess_before']:.0f} before, {result['ess_after']:.0f} after. "
              "'without <row>' is the answer with every new row but that one: the further it is from 'after', "
              "the more that row moved the answer.")
