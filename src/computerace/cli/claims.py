"""`computerace claims [SCENARIO]`: the debate's claims, each reading with its probability under the scenario,
the probability with its threshold swept, and the inputs that move it most."""

from __future__ import annotations

from typing import Any

import typer

from .common import parse_sets, print_json, user_errors
from .tables import col, make_table, print_table


def probability_text(p: float | None) -> str:
    """'42%', '0.3%', '<0.1%' ... ; 'not scored' for None. Exactly 0 and 1 print as 0% and 100% (a note says why)."""
    if p is None:
        return "not scored"
    if p in (0.0, 1.0):
        return f"{p:.0%}"
    if p < 0.001:
        return "<0.1%"
    if p > 0.999:
        return ">99.9%"
    return f"{p:.1%}" if p < 0.1 or p > 0.9 else f"{p:.0%}"


def sweep_text(r: dict[str, Any]) -> str:
    """The swept threshold in one line: 'P(x <= k): k=1 0.3% .. k=6 99%  ▁▂▅█'."""
    from ..analysis.claims import sparkline_text

    s = r.get("sweep")
    if not s:
        return r.get("sweep_note") or ""
    pts = s["points"]
    name = {"window": "window starting at", "joint_window": "all windows moved by", "at_most": "P(<= k), k =",
            "at_least": "P(>= k), k ="}.get(s["kind"], s["kind"])
    return f"{sparkline_text(pts)} {name} " + ", ".join(f"{x:.3g}: {probability_text(p)}" for x, p in pts)


def reading_cell(r: dict[str, Any], escape: Any) -> str:
    lines = [escape(r["reading"])]
    if r.get("status") == "not-scored":
        lines.append(f"[bold]not scored:[/bold] {escape(r['reason'] or '')}")
        return "\n".join(lines)
    op = r.get("operationalisation") or {}
    lines.append(f"[dim]measured as {escape(str(op.get('metric')))} {escape(str(op.get('threshold')))} at "
                 f"{escape(str(op.get('date')))}: {escape(str(op.get('basis')))}[/dim]")
    if r.get("note"):
        lines.append(f"[italic]{escape(r['note'])}[/italic]")
    lines.append(f"[dim]swept: {escape(sweep_text(r))}[/dim]")
    drivers = "; ".join(f"{d['input']} {d['delta']:+.2f}" for d in r.get("drivers") or []) or r["driver"]
    lines.append(f"[dim]moves it most: {escape(drivers)}[/dim]")
    return "\n".join(lines)


@user_errors
def claims(
    scenario: str = typer.Argument("baseline", help="Preset name or YAML file."),
    samples: int = typer.Option(4000, "--samples", "-n", min=100, max=1_000_000, help="Monte Carlo samples."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Random seed (shared with counterfactual runs)."),
    set_: list[str] = typer.Option(None, "--set", help="Override a parameter: key=value."),
    claim: list[str] = typer.Option(None, "--claim", help="Only these claim ids (repeatable)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score the claims of data/claims.yaml: each reading's probability under the scenario, with its threshold
    swept and the inputs that move it most."""
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
                   [col("claim"), col("reading", "id", priority=3), col("P", "num"),
                    col("read as / threshold swept / what moves it", priority=1), col("source", priority=2)],
                   show_lines=True,
                   caption="P = share of samples in which the reading holds. Where the debate's words admit several "
                           "readings each is scored. 'Moves it most': P(claim | input in its top 10%) - P(claim | "
                           "input in its bottom 10%). Conditional on the scenario's assumptions.")
    for r in rows:
        for i, rd in enumerate(r["readings"]):
            t.add_row(escape(r["claim"]) if i == 0 else "", escape(rd["id"]), probability_text(rd["probability"]),
                      reading_cell(rd, escape),
                      escape(r["source"] or "no published source found") if i == 0 else "")
    print_table(Console(), t)
