"""`computerace data chips|systems|evidence|sources`: the cited catalog, as tables or JSON."""

from __future__ import annotations

from typing import Any

import typer

from .common import fmt, print_json, user_errors

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
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for col in ("field", "value", "status", "sources / assumption"):
        t.add_column(col, overflow="fold")
    for k, v in values.items():
        if k == "derived":
            continue
        p = prov.get(k)
        val = "" if v is None else (f"{fmt(v)} {p['unit']}".strip() if isinstance(v, float) and p else str(v))
        how = (", ".join(p["sources"]) + (f" — assumption: {p['assumption']}" if p["assumption"] else "")) if p else ""
        t.add_row(k, val, p["status"] if p else "", how)
    for k, v in values.get("derived", {}).items():
        t.add_row(k, "" if v is None else str(v), "derived", "computed from the fields above")
    con = Console()
    con.print(t)
    for i, s in srcs.items():
        con.print(f"[bold]{i}[/] ({s['status']}, {s['published']}) {s['title']} — {s['publisher']}\n"
                  f"  {s['url']}\n  “{s['quote']}”")


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
    from rich.table import Table

    t = Table(title=f"computerace chips ({len(rows)})" + (f" as of {as_of}" if as_of else ""),
              caption="Dense throughput. H100e: BF16 basis (/989.4) and Epoch's 8-bit basis (/1,979). "
                      "`computerace data chips --id ID` shows every source.")
    cols = ("id", "vendor", "release", "BF16 TF", "FP8 TF", "mem GB", "TB/s", "die mm²", "TDP W",
            "H100e", "H100e 8b", "TPP", "PD")
    for col in cols:
        t.add_column(col, justify="left" if col in ("id", "vendor", "release") else "right",
                     no_wrap=col in ("id", "release"))
    for r in rows:
        d = r["derived"]
        t.add_row(r["id"], r["vendor"], r["release_date"],
                  _num(r["bf16_dense_tflops"] if r["bf16_dense_tflops"] is not None else r["fp16_dense_tflops"]),
                  _num(r["fp8_dense_tflops"]), _num(r["memory_gb"]), _num(r["memory_tbps"]),
                  _num(r["die_area_mm2"]), _num(r["tdp_w"]), _num(d["h100e_bf16"]), _num(d["h100e_8bit"]),
                  _num(d["tpp"]), _num(d["pd"]))
    Console(width=max(Console().width, 130)).print(t)


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
    from rich.table import Table

    t = Table(title=f"computerace systems ({len(rows)})", caption="Bandwidths per chip, bidirectional, GB/s.")
    for col in ("id", "chip", "chips", "topology", "scale-up", "scale-out", "power kW", "PF (16-bit)", "H100e"):
        t.add_column(col, overflow="fold")
    for r in rows:
        d = r["derived"]
        t.add_row(r["id"], r["chip"], _num(r["chips_per_domain"]), r["topology"], _num(r["scaleup_gbps_per_chip"]),
                  _num(r["scaleout_gbps_per_chip"]), _num(r["power_kw"]), _num(d["dense16_pflops"]),
                  _num(d["h100e_bf16"]))
    Console(width=max(Console().width, 130)).print(t)


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
        hit = [r for r in catalog.evidence() if r.id == id_]
        if not hit:
            from ..errors import did_you_mean

            raise UserError(f"unknown evidence id '{id_}'. {did_you_mean(id_, [r.id for r in catalog.evidence()])}")
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
    from rich.table import Table

    t = Table(title=f"computerace evidence ({len(rows)} rows)" + (f" as of {as_of}" if as_of else ""))
    for col in ("id", "metric", "actor", "chip", "period end", "low", "central", "high", "unit", "kind",
                "published", "source"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r.id, r.metric, r.actor, r.chip, r.period_end, _num(r.low), _num(r.central), _num(r.high), r.unit,
                  r.kind, r.published, ", ".join(r.source))
    Console(width=max(Console().width, 140)).print(t)


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
    from rich.table import Table

    t = Table(title=f"computerace sources ({len(rows)})" + (f" as of {as_of}" if as_of else ""))
    for col in ("id", "published", "status", "publisher", "title"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["id"], r["published"], r["status"], r["publisher"], r["title"])
    Console(width=max(Console().width, 130)).print(t)
