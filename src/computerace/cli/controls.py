"""`computerace controls classify|timeline|allowed`: US export controls on AI chips to China, by date."""

from __future__ import annotations

from typing import Any

import typer

from .common import fmt, print_json, user_errors
from .tables import col, make_table, print_table

controls_app = typer.Typer(name="controls", no_args_is_help=True, add_completion=False,
                           help="US export controls on AI chips bound for China: classify a chip on a date, "
                                "its timeline, or what China may buy on a date.")

LICENCE = {True: "licence required", False: "no licence required", None: "cannot tell"}


def _sources_lines(ids: list[str]) -> str:
    from .. import catalog

    return "\n".join(f"  - {i}: {catalog.source(i).title} ({catalog.source(i).publisher}, "
                     f"{catalog.source(i).published})" for i in ids)


def _describe(d: dict[str, Any]) -> str:
    tpp = "unknown" if d["tpp"] is None else f"{d['tpp']:,.0f}" + (f" ({d['tpp_format']})" if d["tpp_format"] else "")
    pd = "unknown" if d["pd"] is None else f"{d['pd']:.2f}"
    lines = [f"{d['chip']} on {d['date']}: {LICENCE[d['license_required_for_china']]} for China "
             f"[{d['policy']}, access: {d['access']}]",
             f"  ECCN {d['eccn'] or '—'} · TPP {tpp} · PD {pd} · decided by '{d['regime']}'",
             f"  why: {d['reason']}"]
    lines += [f"  condition: {c}" for c in d["conditions"]]
    lines += [f"  note: {n}" for n in d["notes"]]
    return "\n".join(lines)


@controls_app.command("classify")
@user_errors
def classify(chip: str = typer.Argument(..., help="Chip id (see `computerace data chips`)."),
             date: str = typer.Option(..., "--date", help="Date of export, YYYY-MM-DD."),
             json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Whether exporting CHIP to China on DATE needs a US licence, under which rule, and why."""
    from .. import catalog
    from ..model.controls import classify as run

    d = run(catalog.chip(chip).id, date).to_dict()  # 'H20' is h20
    if json_:
        print_json(d)
        return
    _echo(_describe(d) + "\n  sources:\n" + _sources_lines(d["source"]))


@controls_app.command("timeline")
@user_errors
def timeline(chip: str = typer.Argument(..., help="Chip id (see `computerace data chips`)."),
             json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Each rule change that could touch CHIP, and the chip's status once it took effect."""
    from .. import catalog
    from ..model.controls import timeline as run

    chip = catalog.chip(chip).id  # 'H20' is h20
    entries = run(chip)
    if json_:
        print_json({"chip": chip, "timeline": [{"date": e.date, "layer": e.layer, "kind": e.kind,
                                                 "title": e.title, "changed": e.changed, "effect": e.effect,
                                                 "status": e.status.to_dict()} for e in entries]})
        return
    from rich.console import Console
    from rich.markup import escape

    t = make_table(f"export-control timeline: {chip}", [
        col("date", "num", justify="left"), col("rule"), col("licence for China", short="licence"),
        col("policy", priority=2), col("ECCN", priority=3), col("effect on this chip", short="effect", priority=1)],
        show_lines=True)
    for e in entries:
        s = e.status
        mark = "[bold]" if e.changed else ""
        t.add_row(e.date, f"{escape(e.layer)}\n{escape(e.title)}", f"{mark}{LICENCE[s.license_required_for_china]}",
                  escape(s.policy), escape(s.eccn or "—"), escape(e.effect))
    print_table(Console(), t)


@controls_app.command("allowed")
@user_errors
def allowed(date: str = typer.Option(..., "--date", help="Date, YYYY-MM-DD."),
            json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """US-designed chips released by DATE, grouped by what China may buy: open, conditional, closed."""
    from .. import catalog
    from ..model.controls import best_legal_import, legal_import_access

    acc = legal_import_access(date)
    groups: dict[str, list[str]] = {}
    for k, a in acc.items():
        groups.setdefault(a, []).append(k)
    best = best_legal_import(date)
    if json_:
        print_json({"date": catalog.parse_date(date).isoformat(), "access": acc, "groups": groups,
                    "best_legal_import": None if best is None else {"chip": best[0], "h100e_bf16": round(best[1], 4)}})
        return
    lines = [f"{a:>11}: " + ", ".join(groups[a]) for a in ("open", "conditional", "closed", "unknown") if a in groups]
    if best:
        lines.append(f"best chip China may buy: {best[0]} ({fmt(best[1])} H100e each, BF16 basis)")
    _echo("\n".join(lines))


def _echo(text: str) -> None:
    """Plain text wrapped to the terminal's width (continuation lines indented like the line they continue)."""
    import textwrap

    from rich.console import Console

    width = Console().width
    out = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                             break_on_hyphens=False) or [""]
    typer.echo("\n".join(out))
