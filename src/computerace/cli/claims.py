"""`computerace claims [SCENARIO]`: the debate's claims, each with its probability under the scenario."""

from __future__ import annotations

import typer

from .common import parse_sets, print_json, user_errors
from .tables import col, make_table, print_table


@user_errors
def claims(
    scenario: str = typer.Argument("baseline", help="Preset name or YAML file."),
    samples: int = typer.Option(4000, "--samples", "-n", min=100, max=1_000_000, help="Monte Carlo samples."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Random seed (shared with counterfactual runs)."),
    set_: list[str] = typer.Option(None, "--set", help="Override a parameter: key=value."),
    claim: list[str] = typer.Option(None, "--claim", help="Only these claim ids (repeatable)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score the claims of data/claims.yaml: probability under the scenario and what drives each."""
    import computerace as cr

    from ..analysis.claims import score

    sc = cr.load_scenario(scenario, parse_sets(set_))
    rows = score(sc, samples=samples, seed=seed, claim_ids=claim)
    if json_:
        print_json({"scenario": sc.name, "samples": samples, "seed": seed, "claims": rows})
        return
    from rich.console import Console
    from rich.markup import escape

    t = make_table(f"Claims under '{sc.name}' ({samples:,} samples, seed {seed})",
                   [col("claim"), col("P", "num"), col("read as / what drives it", priority=1),
                    col("source", priority=2)], show_lines=True,
                   caption="P = share of samples in which the claim, read as stated, holds. Conditional on the "
                           "scenario's assumptions.")
    for r in rows:
        t.add_row(escape(r["claim"]), f"{r['probability']:.0%}",
                  f"{escape(r['reading'])}\n[dim]{escape(r['driver'])}[/dim]",
                  escape(r["source"] or "no published source found"))
    print_table(Console(), t)
