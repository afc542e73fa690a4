"""Typed, validated access to the shipped catalog in computerace/data/ (every number cited).

Tables: sources.csv, chips.csv, systems.csv, evidence.csv; export_controls.yaml is read by model/controls.py.
Every numeric cell of chips.csv and systems.csv resolves to a `Provenance`: the source ids behind it and a status
(primary / secondary / estimate / derived / assumption). A cell cited to no source must be an assumption with its
reasoning written out; an empty cell may carry status `unsourced` (looked for, not found). `validate()` checks all
of it; the test suite runs it.

As-of discipline: a source dated "2025-04" or "2025" counts as published on the *last* day of that month or year,
so nothing that might postdate an as-of date leaks into a backtest. `chips(as_of=...)` drops chips not yet released
and blanks every field none of whose sources was published by then; `evidence(as_of=...)` drops rows published
later; `published_after(ids, as_of)` names the offending ids for the scenario loader.

Derived per-chip quantities are computed here from the primary fields, never typed in:
H100e on the dense-BF16 basis = 16-bit dense TFLOP/s / 989.4 (BF16, or FP16 where only FP16 is published) and on
Epoch's 8-bit basis = max(FP8, INT8) dense / 1,979. TPP and performance density live in model/controls.py.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import UserError

STATUSES = ("primary", "secondary", "estimate", "derived", "assumption")
CELL_STATUSES = (*STATUSES, "unsourced")
ID_RE = re.compile(r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")
H100_BF16_TFLOPS = 989.4  # H100 SXM dense BF16 (h100-sxm-spec); DESIGN.md's H100e basis
H100_8BIT_TOPS = 1979.0  # H100 SXM dense INT8/FP8, Epoch's chip-sales basis (epoch-chip-counts)


class CatalogError(Exception):
    """The shipped catalog is inconsistent (a bug in data/, not a user mistake)."""


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str
    publisher: str
    published: str
    quote: str
    status: str

    @property
    def published_latest(self) -> dt.date:
        return date_range(self.published)[1]


@dataclass(frozen=True)
class Provenance:
    sources: tuple[str, ...]
    status: str
    assumption: str = ""


# numeric chip fields: name -> (unit, sane lower bound exclusive, upper bound)
CHIP_NUMERIC: dict[str, tuple[str, float, float]] = {
    "bf16_dense_tflops": ("TFLOP/s", 0, 50_000), "fp16_dense_tflops": ("TFLOP/s", 0, 50_000),
    "fp8_dense_tflops": ("TFLOP/s", 0, 100_000), "int8_dense_tops": ("TOPS", 0, 100_000),
    "fp4_dense_tflops": ("TFLOP/s", 0, 200_000), "memory_gb": ("GB", 0, 2_000), "memory_tbps": ("TB/s", 0, 50),
    "die_area_mm2": ("mm²", 50, 5_000), "compute_dies": ("dies", 0.5, 16), "tdp_w": ("W", 1, 5_000),
    "scaleup_gbps": ("GB/s", 1, 20_000), "price_usd": ("USD", 100, 500_000),
}
SYSTEM_NUMERIC: dict[str, tuple[str, float, float]] = {
    "chips_per_domain": ("chips", 0.5, 1_000_000), "scaleup_gbps_per_chip": ("GB/s", 1, 20_000),
    "scaleout_gbps_per_chip": ("GB/s", 1, 5_000), "power_kw": ("kW", 0.1, 1_000_000),
}
COUNTRIES = ("US", "China")
MARKETS = ("datacenter", "consumer")


class _Values:
    """values(): a catalog row's fields as a dict, without its provenance (shared by Chip and System)."""

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "provenance"}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Chip(_Values):
    id: str
    name: str
    vendor: str
    designer_country: str
    foundry: str
    process_node: str
    release_date: str
    market: str
    memory_type: str
    note: str
    bf16_dense_tflops: float | None = None
    fp16_dense_tflops: float | None = None
    fp8_dense_tflops: float | None = None
    int8_dense_tops: float | None = None
    fp4_dense_tflops: float | None = None
    memory_gb: float | None = None
    memory_tbps: float | None = None
    die_area_mm2: float | None = None
    compute_dies: float | None = None
    tdp_w: float | None = None
    scaleup_gbps: float | None = None
    price_usd: float | None = None
    provenance: Mapping[str, Provenance] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dense16_tflops(self) -> float | None:
        """16-bit dense tensor throughput: BF16, or FP16 where the vendor publishes only FP16."""
        return self.bf16_dense_tflops if self.bf16_dense_tflops is not None else self.fp16_dense_tflops

    @property
    def h100e_bf16(self) -> float | None:
        """H100-equivalents on computerace's default basis: dense 16-bit TFLOP/s / 989.4."""
        return None if self.dense16_tflops is None else self.dense16_tflops / H100_BF16_TFLOPS

    @property
    def h100e_8bit(self) -> float | None:
        """H100-equivalents on Epoch's chip-sales basis: max(dense FP8, dense INT8) / 1,979."""
        v = [x for x in (self.fp8_dense_tflops, self.int8_dense_tops) if x is not None]
        return max(v) / H100_8BIT_TOPS if v else None

    def h100e(self, basis: str = "bf16") -> float | None:
        if basis not in ("bf16", "8bit"):
            raise UserError(f"unknown H100e basis '{basis}': use 'bf16' or '8bit'")
        return self.h100e_bf16 if basis == "bf16" else self.h100e_8bit

    @property
    def release(self) -> dt.date:
        """Earliest date the release_date can mean (a chip dated '2026-10' is out from 2026-10-01)."""
        return date_range(self.release_date)[0]


@dataclass(frozen=True)
class System(_Values):
    id: str
    name: str
    vendor: str
    chip: str
    topology: str
    release_date: str
    note: str
    chips_per_domain: float | None = None
    scaleup_gbps_per_chip: float | None = None
    scaleout_gbps_per_chip: float | None = None
    power_kw: float | None = None
    provenance: Mapping[str, Provenance] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Evidence:
    id: str
    metric: str
    actor: str
    chip: str
    period_start: str
    period_end: str
    low: float | None
    central: float | None
    high: float | None
    unit: str
    interval: str
    kind: str
    published: str
    source: tuple[str, ...]
    status: str
    note: str


# ----------------------------------------------------------------------------------------------- dates

def date_range(text: str) -> tuple[dt.date, dt.date]:
    """'2025' -> (2025-01-01, 2025-12-31); '2025-04' -> (2025-04-01, 2025-04-30); '2025-04-03' -> that day."""
    s = str(text).strip()
    try:
        if re.fullmatch(r"\d{4}", s):
            y = int(s)
            return dt.date(y, 1, 1), dt.date(y, 12, 31)
        if re.fullmatch(r"\d{4}-\d{2}", s):
            y, m = map(int, s.split("-"))
            return dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1])
        d = dt.date.fromisoformat(s)
        return d, d
    except ValueError:
        raise ValueError(f"not a date (YYYY, YYYY-MM or YYYY-MM-DD): '{text}'") from None


def parse_date(text: str | dt.date, what: str = "date") -> dt.date:
    """A user-supplied YYYY-MM-DD (or a date); a UserError that says the expected form otherwise."""
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise UserError(f"{what} must be YYYY-MM-DD (e.g. 2024-01-01), got '{text}'") from None


# ----------------------------------------------------------------------------------------------- reading

def _read(name: str) -> str:
    return resources.files("computerace").joinpath("data", name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    reader = csv.DictReader(_read(name).splitlines())
    rows = []
    for row in reader:
        if None in row or None in row.values():  # more or fewer fields than the header
            raise CatalogError(f"{name}, line {reader.line_num}: {len(reader.fieldnames or [])} columns expected "
                               f"({', '.join(reader.fieldnames or [])}); quote any field that holds a comma")
        rows.append(row)
    return rows


def _ids(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in re.split(r"[;,]", text or "") if s.strip())


def _pairs(text: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (text or "").split(";"):
        if part.strip():
            if "=" not in part:
                raise CatalogError(f"{where}: expected field=value, got '{part.strip()}'")
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _assumptions(text: str) -> dict[str, str]:
    out = {}
    for part in (text or "").split(" | "):
        if part.strip():
            k, _, v = part.partition(":")
            out[k.strip()] = v.strip()
    return out


def _provenance(row: dict[str, str], numeric: Mapping[str, Any], where: str) -> dict[str, Provenance]:
    """Per-field provenance: field_sources / field_status override the row's source / status."""
    fsrc = _pairs(row.get("field_sources", ""), f"{where} field_sources")
    fstat = _pairs(row.get("field_status", ""), f"{where} field_status")
    why = _assumptions(row.get("assumption", ""))
    for k in (*fsrc, *fstat, *why):
        if k not in row:
            raise CatalogError(f"{where}: provenance for unknown field '{k}'")
    out = {}
    for name in [*numeric, *fsrc, *fstat]:
        if name in out:
            continue
        status = fstat.get(name, row.get("status", ""))
        srcs = _ids(fsrc[name]) if name in fsrc else (() if status == "assumption" else _ids(row.get("source", "")))
        out[name] = Provenance(srcs, status, why.get(name, ""))
    return out


def _num(text: str, where: str) -> float | None:
    if text is None or text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise CatalogError(f"{where}: '{text}' is not a number") from None


@lru_cache(maxsize=1)
def _sources() -> dict[str, Source]:
    out: dict[str, Source] = {}
    for row in _rows("sources.csv"):
        if row["id"] in out:
            raise CatalogError(f"sources.csv: duplicate id '{row['id']}'")
        out[row["id"]] = Source(**row)
    return out


def sources(as_of: str | dt.date | None = None) -> dict[str, Source]:
    """All sources, or only those certainly published on or before `as_of`."""
    if as_of is None:
        return _sources()
    d = parse_date(as_of, "as-of date")
    return {k: s for k, s in _sources().items() if s.published_latest <= d}


def source_ids() -> set[str]:
    return set(_sources())


def published_after(ids: Iterable[str], as_of: str | dt.date) -> list[str]:
    """The ids among `ids` whose source may have been published after `as_of` (unknown ids included)."""
    known = sources(as_of)
    return sorted({i for i in ids if i not in known})


def source(source_id: str) -> Source:
    """One source by id, case-insensitively; an unknown id is a UserError that suggests the ids it may mean."""
    sid = resolve_id(source_id, _sources())
    if sid is None:
        raise UserError(f"unknown source id '{source_id}'. {_suggest(source_id, _sources())} "
                        "(list them with `computerace data sources`)")
    return _sources()[sid]


@lru_cache(maxsize=1)
def _chips() -> dict[str, Chip]:
    out: dict[str, Chip] = {}
    for row in _rows("chips.csv"):
        where = f"chips.csv, chip '{row['id']}'"
        kw: dict[str, Any] = {k: row[k] for k in ("id", "name", "vendor", "designer_country", "foundry",
                                                  "process_node", "release_date", "market", "memory_type", "note")}
        kw.update({k: _num(row[k], f"{where}, {k}") for k in CHIP_NUMERIC})
        numeric = {k: v for k, v in kw.items() if k in CHIP_NUMERIC and v is not None}
        kw["provenance"] = _provenance(row, numeric, where)
        if kw["id"] in out:
            raise CatalogError(f"chips.csv: duplicate id '{kw['id']}'")
        out[kw["id"]] = Chip(**kw)
    return out


@lru_cache(maxsize=1)
def _systems() -> dict[str, System]:
    out: dict[str, System] = {}
    for row in _rows("systems.csv"):
        where = f"systems.csv, system '{row['id']}'"
        kw: dict[str, Any] = {k: row[k] for k in ("id", "name", "vendor", "chip", "topology", "release_date", "note")}
        kw.update({k: _num(row[k], f"{where}, {k}") for k in SYSTEM_NUMERIC})
        numeric = {k: v for k, v in kw.items() if k in SYSTEM_NUMERIC and v is not None}
        kw["provenance"] = _provenance(row, numeric, where)
        out[kw["id"]] = System(**kw)
    return out


@lru_cache(maxsize=1)
def _evidence() -> list[Evidence]:
    out = []
    for row in _rows("evidence.csv"):
        where = f"evidence.csv, row '{row['id']}'"
        kw: dict[str, Any] = {**row, "source": _ids(row["source"]),
                              **{k: _num(row[k], f"{where}, {k}") for k in ("low", "central", "high")}}
        out.append(Evidence(**kw))
    return out


# ----------------------------------------------------------------------------------------------- accessors

def _known_by(prov: Provenance, d: dt.date) -> bool:
    """A value is known by `d` if any of its sources was published by then (assumptions: always)."""
    if not prov.sources:
        return True
    srcs = _sources()
    return any(s in srcs and srcs[s].published_latest <= d for s in prov.sources)


def chips(as_of: str | dt.date | None = None) -> dict[str, Chip]:
    """Chips by id. With `as_of`: only chips released by then, each field kept only if sourced by then."""
    if as_of is None:
        return _chips()
    d = parse_date(as_of, "as-of date")
    out = {}
    for cid, c in _chips().items():
        if c.release > d:
            continue
        blank: dict[str, Any] = {k: None for k, p in c.provenance.items()
                                 if k in CHIP_NUMERIC and not _known_by(p, d)}
        out[cid] = replace(c, **blank) if blank else c
    return out


def chip(chip_id: str, as_of: str | dt.date | None = None) -> Chip:
    """One chip by id, case-insensitively ('H100-SXM' is 'h100-sxm'); an unknown id is a UserError that suggests
    the ids it may mean (`suggest_ids`)."""
    cid = resolve_id(chip_id, _chips())
    if cid is None:
        raise UserError(f"unknown chip id '{chip_id}'. {_suggest(chip_id, _chips())} "
                        "(list them with `computerace data chips`)")
    table = chips(as_of)
    if cid in table:
        return table[cid]
    raise UserError(f"chip '{cid}' was not released by {as_of} (release date {_chips()[cid].release_date})")


def systems(as_of: str | dt.date | None = None) -> dict[str, System]:
    """Systems by id; with `as_of`, only those available by then (their own release date, else their chip's)."""
    if as_of is None:
        return _systems()
    d = parse_date(as_of, "as-of date")

    def released(s: System) -> dt.date:
        return date_range(s.release_date)[0] if s.release_date else _chips()[s.chip].release

    return {k: s for k, s in _systems().items() if released(s) <= d}


def system(system_id: str) -> System:
    """One system by id, case-insensitively; an unknown id is a UserError that suggests the ids it may mean."""
    sid = resolve_id(system_id, _systems())
    if sid is None:
        raise UserError(f"unknown system id '{system_id}'. {_suggest(system_id, _systems())} "
                        "(list them with `computerace data systems`)")
    return _systems()[sid]


def evidence(as_of: str | dt.date | None = None, metric: str | None = None) -> list[Evidence]:
    """Evidence rows, optionally only those published by `as_of` and/or of one metric."""
    rows = _evidence()
    if metric is not None:
        if metric not in {r.metric for r in rows}:
            raise UserError(f"unknown evidence metric '{metric}'. {_suggest(metric, {r.metric for r in rows})}")
        rows = [r for r in rows if r.metric == metric]
    if as_of is not None:
        d = parse_date(as_of, "as-of date")
        rows = [r for r in rows if date_range(r.published)[1] <= d]
    return rows


def evidence_h100e(rows: Iterable[Evidence], basis: str = "bf16") -> dict[str, dict[str, float]]:
    """Convert per-chip unit rows (unit 'chips') to H100e on `basis`, per chip (catalog spec of that chip).

    Returns {period_end: {"low", "central", "high"}} summed over chips. The central value is the sum of medians;
    low/high sum the per-chip bounds, i.e. assume perfectly correlated chip counts (a band at least as wide as the
    true one). Chips without a spec on `basis` raise a CatalogError rather than being dropped silently.
    """
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.unit != "chips" or not r.chip:
            raise CatalogError(f"evidence row {r.id} is not a per-chip unit count")
        f = _chips()[r.chip].h100e(basis)
        if f is None:
            raise CatalogError(f"chip '{r.chip}' has no throughput on the {basis} basis")
        acc = out.setdefault(r.period_end, {"low": 0.0, "central": 0.0, "high": 0.0})
        for k in acc:
            acc[k] += (getattr(r, k) or 0.0) * f
    return out


def _normalise_id(word: str) -> str:
    """'H100 SXM', 'h100_sxm' and 'h100-sxm' -> 'h100sxm': lowercase, without '-', '_' and spaces."""
    return re.sub(r"[-_\s]+", "", str(word).lower())


def resolve_id(word: str, options: Iterable[str]) -> str | None:
    """The id among `options` that `word` names: itself, else its one case-insensitive match (None if neither)."""
    opts = list(options)
    if word in opts:
        return word
    low = str(word).strip().lower()
    hits = [o for o in opts if o.lower() == low]
    return hits[0] if len(hits) == 1 else None


def suggest_ids(word: str, options: Iterable[str], n: int = 6) -> list[str]:
    """The ids `word` may mean, best first: ids whose normalised form (`_normalise_id`) equals the normalised word;
    else those it starts ('H100' -> h100-sxm, h100-pcie, h100-nvl; not h800 or b100), then those with a later
    '-'-separated part it starts (system 'H20' -> hgx-h20); else difflib's closest, compared in lowercase. Options keep their given (catalog) order."""
    opts = list(options)
    w = _normalise_id(word)
    if not w:
        return []
    same = [o for o in opts if _normalise_id(o) == w]
    if same:
        return same[:n]
    prefix = [o for o in opts if _normalise_id(o).startswith(w)]
    # then ids with a later part that starts so: system 'H20' -> hgx-h20, 'B200' -> dgx-b200
    parts = [o for o in opts if o not in prefix
             and any(_normalise_id(o[m.end():]).startswith(w) for m in re.finditer(r"[-_\s]", o))]
    if prefix or parts:
        return (prefix + parts)[:n]
    by_lower = {o.lower(): o for o in opts}
    return [by_lower[c] for c in difflib.get_close_matches(str(word).lower(), list(by_lower), n=3, cutoff=0.6)]


def _suggest(word: str, options: Iterable[str]) -> str:
    """'Did you mean 'h100-sxm', 'h100-pcie' or 'h100-nvl'?' or, when nothing is close, a few known ids."""
    opts = list(options)
    hits = suggest_ids(word, opts)
    if not hits:
        return "Known ids: " + ", ".join(sorted(opts)[:12]) + (" ..." if len(opts) > 12 else "")
    quoted = [f"'{h}'" for h in hits]
    return "Did you mean " + (quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]) + "?"


def cited_source_ids() -> set[str]:
    """Every source id the catalog's own tables cite (chips, systems, evidence); the export-control rules add
    theirs in model/controls.cited_source_ids (the catalog does not import the rules)."""
    ids: set[str] = set()
    for table in (_chips(), _systems()):
        for row in table.values():
            for p in row.provenance.values():
                ids.update(p.sources)
    for r in _rows("chips.csv") + _rows("systems.csv"):
        ids.update(_ids(r["source"]))
    for e in _evidence():
        ids.update(e.source)
    return ids


# ----------------------------------------------------------------------------------------------- validation

def validate() -> list[str]:
    """Every problem in the shipped catalog, as readable lines (empty when it is consistent)."""
    problems: list[str] = []
    srcs = _sources()
    for s in srcs.values():
        if not ID_RE.match(s.id):
            problems.append(f"sources.csv: id '{s.id}' is not lowercase-hyphenated")
        if s.status not in STATUSES:
            problems.append(f"sources.csv: '{s.id}' has status '{s.status}', expected one of {STATUSES}")
        try:
            date_range(s.published)
        except ValueError as err:
            problems.append(f"sources.csv: '{s.id}': {err}")
        if not (s.title and s.url and s.quote):
            problems.append(f"sources.csv: '{s.id}' lacks a title, url or quote")
    for kind, table, numeric in (("chip", _chips(), CHIP_NUMERIC), ("system", _systems(), SYSTEM_NUMERIC)):
        for row in table.values():
            where = f"{kind} '{row.id}'"
            if not ID_RE.match(row.id):
                problems.append(f"{where}: id is not lowercase-hyphenated")
            for name, (unit, lo, hi) in numeric.items():
                v = getattr(row, name)
                p = row.provenance.get(name)
                if v is None:
                    if p and p.status not in CELL_STATUSES:
                        problems.append(f"{where}: {name} has status '{p.status}'")
                    continue
                if not lo < v <= hi:
                    problems.append(f"{where}: {name} = {v} {unit} is outside ({lo}, {hi}]")
                if p is None or p.status not in STATUSES:
                    problems.append(f"{where}: {name} = {v} has no valid status")
                elif p.status == "assumption":
                    if not p.assumption:
                        problems.append(f"{where}: {name} is an assumption without its reasoning")
                elif not p.sources:
                    problems.append(f"{where}: {name} = {v} has neither a source nor an assumption")
                for sid in p.sources if p else ():
                    if sid not in srcs:
                        problems.append(f"{where}: {name} cites unknown source '{sid}'")
            if kind == "chip":
                c = row
                assert isinstance(c, Chip)
                if c.designer_country not in COUNTRIES or c.market not in MARKETS:
                    problems.append(f"{where}: designer_country/market '{c.designer_country}'/'{c.market}'")
                try:
                    date_range(c.release_date)
                except ValueError as err:
                    problems.append(f"{where}: release_date: {err}")
            elif row.chip not in _chips():  # type: ignore[union-attr]
                problems.append(f"{where}: unknown chip '{row.chip}'")  # type: ignore[union-attr]
    for e in _evidence():
        where = f"evidence '{e.id}'"
        if e.status not in STATUSES or not e.source or any(s not in srcs for s in e.source):
            problems.append(f"{where}: needs a known source and a valid status")
        if e.chip and e.chip not in _chips():
            problems.append(f"{where}: unknown chip '{e.chip}'")
        if all(v is None for v in (e.low, e.central, e.high)):
            problems.append(f"{where}: no value")
        vals = [v for v in (e.low, e.central, e.high) if v is not None]
        if vals != sorted(vals):
            problems.append(f"{where}: low <= central <= high violated")
        for d in (e.period_start, e.period_end, e.published):
            try:
                date_range(d)
            except ValueError as err:
                problems.append(f"{where}: {err}")
    return problems


@lru_cache(maxsize=1)
def catalog_version() -> str:
    """A short hash of the catalog's files, recorded in every run's manifest."""
    h = hashlib.sha256()
    root = resources.files("computerace").joinpath("data")
    for name in sorted(p.name for p in root.iterdir() if p.name.endswith((".csv", ".yaml"))):
        h.update(name.encode())
        h.update(_read(name).encode())
    return h.hexdigest()[:12]
