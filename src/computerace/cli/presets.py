"""`computerace presets`: the built-in scenarios with their descriptions and sources."""

from __future__ import annotations

import typer

from .common import print_json, user_errors
from .tables import col, make_table, print_table


@user_errors
def presets(json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the built-in scenarios (presets) with a one-line description and their sources."""
    from ..scenario import load_scenario
    from ..scenario import presets as names

    rows = []
    for name in names():
        sc = load_scenario(name)
        rows.append({"name": name, "description": " ".join(sc.description.split()),
                     "sources": sorted(sc.sources_used()), "scenario_hash": sc.hash})
    if json_:
        print_json({"presets": rows})
        return
    from rich.console import Console
    from rich.markup import escape

    t = make_table("computerace presets", [col("preset", "id"), col("description"),
                                           col("sources", "num", priority=1)])
    for r in rows:
        t.add_row(r["name"], escape(r["description"]), str(len(r["sources"])))
    print_table(Console(), t)
