"""`computerace data chips|systems|evidence|sources`: the cited catalog, as tables or JSON."""

from __future__ import annotations

from typing import Any

import typer

from .common import fmt, print_json, user_errors
from .tables import col, make_table, print_table

data_app = typer.Typer(name="data", no_args_is_help=True, add_completion=False,
                       help="The cited catalog: chips, systems, evidence and sources (every number with its source).")

ID_HELP = "Show one row with every field, its status, sources and their quotes."
AS_OF_HELP = "Only what was published by this date (YYYY-MM-DD)."
JSON_HELP = "Print as JSON."


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def _num(x: float | None) -> str:
    """Table cells: 15,832 / 989.4 / 0.315 (full integers above 1,000, four significant digits below)."""
    if x is None:
        return ""
    return f"{x:,.0f}" if abs(x) >= 1000 and abs(x) < 1e7 else (fmt(x) if abs(x) >= 1e7 else f"{x:.4g}")


def chip_record(c: Any) -> dict[str, Any]:
    from ..model.controls import performance_density, tpp, tpp_format

    return {**c.values(), "derived": {"h100e_bf16": _r(c.h100e_bf16), "h100e_8bit": _r(c.h100e_8bit),
                                      "tpp": _r(tpp(c), 1), "tpp_format": tpp_format(c),
                                      "pd": _r(performance_density(c), 3)}}


def _provenance(row: Any, numeric: dict[str, tuple[str, float, float]]) -> dict[str, Any]:
    out = {}
    for name, p in row.provenance.items():
        unit = numeric[name][0] if name in numeric else ""
        out[name] = {"value": getattr(row, name, None), "unit": unit, "status": p.status,
                     "sources": list(p.sources), "assumption": p.assumption or None}
    return out


def _source_dicts(ids: set[str]) -> dict[str, Any]:
    from dataclasses import asdict

    from .. import catalog

    return {i: asdict(catalog.source(i)) for i in sorted(ids)}


def _print_detail(title: str, values: dict[str, Any], prov: dict[str, Any], srcs: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape

    t = make_table(title, [col("field", "id"), col("value"), col("status", priority=1),
                           col("sources / assumption", priority=2)])
    for k, v in values.items():
        if k == "derived":
            continue
        p = prov.get(k)
        val = "" if v is None else (f"{fmt(v)} {p['unit']}".strip() if isinstance(v, float) and p else str(v))
        how = (", ".join(p["sources"]) + (f" — assumption: {p['assumption']}" if p["assumption"] else "")) if p else ""
        t.add_row(escape(k), escape(val), p["status"] if p else "", escape(how))
    for k, v in values.get("derived", {}).items():
        t.add_row(escape(k), "" if v is None else escape(str(v)), "derived", "computed from the fields above")
    con = Console()
    print_table(con, t)
    for i, s in srcs.items():
        con.print(f"[bold]{escape(i)}[/] ({escape(s['status'])}, {escape(s['published'])}) {escape(s['title'])} — "
                  f"{escape(s['publisher'])}\n  {escape(s['url'])}\n  “{escape(s['quote'])}”")


def _show_one(kind: str, row: Any, numeric: dict[str, tuple[str, float, float]], record: Any, json_: bool) -> None:
    """One chip or system with every field's provenance and the sources it cites (JSON or a table)."""
    prov = _provenance(row, numeric)
    srcs = _source_dicts({x for p in row.provenance.values() for x in p.sources})
    rec = record(row)
    if json_:
        print_json({kind: rec, "provenance": prov, "sources": srcs})
    else:
        _print_detail(f"{row.id}: {row.name}", rec, prov, srcs)


@data_app.command("chips")
@user_errors
def chips(id_: str = typer.Option(None, "--id", help=ID_HELP),
          as_of: str = typer.Option(None, "--as-of", help=AS_OF_HELP),
          json_: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Accelerators with specs, H100e on two bases, TPP and performance density."""
    from .. import catalog

    if id_:
        _show_one("chip", catalog.chip(id_, as_of), catalog.CHIP_NUMERIC, chip_record, json_)
        return
    rows = [chip_record(c) for c in catalog.chips(as_of).values()]
    if json_:
        print_json({"chips": rows})
        return
    from rich.console import Console

    t = make_table(f"computerace chips ({len(rows)})" + (f" as of {as_of}" if as_of else ""), [
        col("id", "id"), col("vendor", priority=4), col("release", "num", justify="left", priority=2),
        col("BF16 TF", "num", short="BF16", priority=3), col("FP8 TF", "num", short="FP8", priority=5),
        col("mem GB", "num", short="GB", priority=5), col("TB/s", "num", priority=6),
        col("die mm²", "num", short="mm²", priority=7), col("TDP W", "num", short="W", priority=6),
        col("H100e", "num"), col("H100e 8b", "num", short="8-bit", priority=4), col("TPP", "num", priority=1),
        col("PD", "num", priority=3)],
        caption="Dense throughput. H100e: BF16 basis (/989.4) and Epoch's 8-bit basis (/1,979). "
                "`computerace data chips --id ID` shows every source.")
    for r in rows:
        d = r["derived"]
        t.add_row(r["id"], r["vendor"], r["release_date"],
                  _num(r["bf16_dense_tflops"] if r["bf16_dense_tflops"] is not None else r["fp16_dense_tflops"]),
                  _num(r["fp8_dense_tflops"]), _num(r["memory_gb"]), _num(r["memory_tbps"]),
                  _num(r["die_area_mm2"]), _num(r["tdp_w"]), _num(d["h100e_bf16"]), _num(d["h100e_8bit"]),
                  _num(d["tpp"]), _num(d["pd"]))
    print_table(Console(), t)


def system_record(s: Any) -> dict[str, Any]:
    from .. import catalog

    c = catalog.chips()[s.chip]
    n = s.chips_per_domain or 0
    per = c.dense16_tflops
    return {**s.values(), "derived": {
        "dense16_pflops": _r(None if per is None else per * n / 1000, 2),
        "h100e_bf16": _r(None if c.h100e_bf16 is None else c.h100e_bf16 * n, 2),
        "memory_tb": _r(None if c.memory_gb is None else c.memory_gb * n / 1000, 3),
        "memory_tbps_total": _r(None if c.memory_tbps is None else c.memory_tbps * n, 2)}}


@data_app.command("systems")
@user_errors
def systems(id_: str = typer.Option(None, "--id", help=ID_HELP),
            as_of: str = typer.Option(None, "--as-of", help=AS_OF_HELP),
            json_: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Scale-up systems: chip, chips per domain, topology, bandwidth per chip, power."""
    from .. import catalog

    if id_:
        _show_one("system", catalog.system(id_), catalog.SYSTEM_NUMERIC, system_record, json_)
        return
    rows = [system_record(s) for s in catalog.systems(as_of).values()]
    if json_:
        print_json({"systems": rows})
        return
    from rich.console import Console

    t = make_table(f"computerace systems ({len(rows)})", [
        col("id", "id"), col("chip", "id", priority=2), col("chips", "num"), col("topology", priority=4),
        col("scale-up", "num", short="up"), col("scale-out", "num", short="out", priority=3),
        col("power kW", "num", short="kW", priority=3), col("PF (16-bit)", "num", short="PF16", priority=2),
        col("H100e", "num")], caption="Bandwidths per chip, bidirectional, GB/s.")
    for r in rows:
        d = r["derived"]
        t.add_row(r["id"], r["chip"], _num(r["chips_per_domain"]), r["topology"], _num(r["scaleup_gbps_per_chip"]),
                  _num(r["scaleout_gbps_per_chip"]), _num(r["power_kw"]), _num(d["dense16_pflops"]),
                  _num(d["h100e_bf16"]))
    print_table(Console(), t)


@data_app.command("evidence")
@user_errors
def evidence(id_: str = typer.Option(None, "--id", help=ID_HELP),
             metric: str = typer.Option(None, "--metric", help="Only rows of this metric."),
             as_of: str = typer.Option(None, "--as-of", help=AS_OF_HELP),
             json_: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Historical observations and estimates, with the period observed and the date published."""
    from dataclasses import asdict

    from .. import catalog
    from ..errors import UserError

    rows = catalog.evidence(as_of, metric)
    if id_:
        ids = [r.id for r in catalog.evidence()]
        found = catalog.resolve_id(id_, ids)
        if found is None:
            raise UserError(f"unknown evidence id '{id_}'. {catalog._suggest(id_, ids)}")
        hit = [r for r in catalog.evidence() if r.id == found]
        id_ = found
        rec = asdict(hit[0])
        srcs = _source_dicts(set(hit[0].source))
        if json_:
            print_json({"evidence": rec, "sources": srcs})
        else:
            _print_detail(f"{id_}: {hit[0].metric}", rec, {}, srcs)
        return
    if json_:
        print_json({"evidence": [asdict(r) for r in rows]})
        return
    from rich.console import Console

    t = make_table(f"computerace evidence ({len(rows)} rows)" + (f" as of {as_of}" if as_of else ""), [
        col("id", "id"), col("metric", "id", priority=1), col("actor", priority=3), col("chip", "id", priority=5),
        col("period end", "num", short="period", justify="left"), col("low", "num", priority=3),
        col("central", "num"), col("high", "num", priority=3), col("unit", priority=1), col("kind", priority=6),
        col("published", "num", short="publ.", justify="left", priority=5), col("source", "id", priority=6)],
        caption="`computerace data evidence --id ID` shows one row with its sources.")
    for r in rows:
        t.add_row(r.id, r.metric, r.actor, r.chip, r.period_end, _num(r.low), _num(r.central), _num(r.high), r.unit,
                  r.kind, r.published, ", ".join(r.source))
    print_table(Console(), t)


def cited_by(source_id: str) -> list[str]:
    """Where the catalog cites a source: 'chip a100.die_area_mm2', 'evidence ev-001', 'rule oct-2023' ..."""
    from .. import catalog
    from ..model.controls import rules

    out = []
    for kind, table in (("chip", catalog.chips()), ("system", catalog.systems())):
        for row in table.values():
            out += [f"{kind} {row.id}.{k}" for k, p in row.provenance.items() if source_id in p.sources]
    out += [f"evidence {e.id}" for e in catalog.evidence() if source_id in e.source]
    out += [f"rule {x.id}" for x in rules().layers
            if source_id in (*x.source, *(s for c in x.classes for s in c.source))]
    return out


@data_app.command("sources")
@user_errors
def sources(id_: str = typer.Option(None, "--id", help="Show one source with its quote and what cites it."),
            as_of: str = typer.Option(None, "--as-of", help=AS_OF_HELP),
            json_: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Every source with its publisher, date, status and quote."""
    from dataclasses import asdict

    from .. import catalog

    if id_:
        rec = {**asdict(catalog.source(id_)), "cited_by": cited_by(id_)}
        if json_:
            print_json({"source": rec})
            return
        from rich.console import Console

        Console().print(f"[bold]{rec['id']}[/] ({rec['status']}, published {rec['published']})\n{rec['title']} — "
                        f"{rec['publisher']}\n{rec['url']}\n“{rec['quote']}”\ncited by: "
                        + (", ".join(rec["cited_by"]) or "scenarios only (see `computerace presets`)"))
        return
    rows = [asdict(s) for s in catalog.sources(as_of).values()]
    if json_:
        print_json({"sources": rows})
        return
    from rich.console import Console
    from rich.markup import escape

    t = make_table(f"computerace sources ({len(rows)})" + (f" as of {as_of}" if as_of else ""), [
        col("id", "id"), col("published", "num", short="publ.", justify="left", priority=2),
        col("status", priority=3), col("publisher", priority=1), col("title")],
        caption="`computerace data sources --id ID` shows a source's quote and what cites it.")
    for r in rows:
        t.add_row(r["id"], r["published"], r["status"], escape(r["publisher"]), escape(r["title"]))
    print_table(Console(), t)
