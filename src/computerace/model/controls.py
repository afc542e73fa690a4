"""Export controls: TPP, performance density, and what the US regime of a given date allows China to buy.

TPP = max over the chip's dense tensor formats of (dense TOPS x bit length)   [TPP = 2 x MacTOPS x bit length]
PD  = TPP / applicable die area (mm², summed over the dies that hold the processing units)
Both are computed from the catalog's primary fields (chips.csv). "Max over formats" is computerace's reading of
the rule (the reference's derived check: H100 989.4 x 16 = 15,830; A100 312 x 16 = 4,992; H20 148 x 16 = 2,368).

The regimes are data (data/export_controls.yaml): classification thresholds by effective date, chip-specific
letters and licensing decisions, and review-policy changes. `classify(chip, date)` folds every layer dated on or
before `date` and says whether a licence is required for China, under which layer, why, and with which sources.
Valid range: any date; before 2022-08-26 no AI-chip control applied. Chinese-designed chips are not US exports:
they classify as `not_us_export` (the HBM and equipment rules act on their inputs instead).
Sources: see each layer's `source` in export_controls.yaml; docs/controls.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from .. import catalog
from ..catalog import Chip

FORMATS = (("bf16_dense_tflops", 16), ("fp16_dense_tflops", 16), ("fp8_dense_tflops", 8),
           ("int8_dense_tops", 8), ("fp4_dense_tflops", 4))
POLICIES = ("no_licence", "nac_notification", "licence_required", "presumption_of_denial", "case_by_case",
            "licence_granted", "not_us_export", "indeterminate")
ACCESS = {"no_licence": "open", "nac_notification": "conditional", "licence_granted": "conditional",
          "case_by_case": "conditional", "licence_required": "closed", "presumption_of_denial": "closed",
          "not_us_export": "domestic", "indeterminate": "unknown"}
KINDS = ("regime", "regime_early", "chip_event", "review_policy", "note")


def tpp(c: Chip) -> float | None:
    """Total processing performance: max over formats of dense TOPS x bits; None without any throughput."""
    v = [getattr(c, f) * bits for f, bits in FORMATS if getattr(c, f) is not None]
    return max(v) if v else None


def tpp_format(c: Chip) -> str | None:
    """The format that sets the TPP (ties go to the wider format)."""
    best = tpp(c)
    return next((f for f, bits in FORMATS if getattr(c, f) is not None and getattr(c, f) * bits == best), None)


def performance_density(c: Chip) -> float | None:
    """PD = TPP / die area (mm²); None when either is unknown."""
    t = tpp(c)
    return None if t is None or not c.die_area_mm2 else t / c.die_area_mm2


# ----------------------------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class Condition:
    tpp_min: float | None = None
    tpp_max: float | None = None
    pd_min: float | None = None
    pd_max: float | None = None
    io_gbps_min: float | None = None
    markets: tuple[str, ...] = ()

    def match(self, c: Chip) -> bool | None:
        """True, False, or None when a value it needs is unknown (three-valued)."""
        if self.markets and c.market not in self.markets:
            return False
        checks = [(tpp(c), self.tpp_min, self.tpp_max), (performance_density(c), self.pd_min, self.pd_max),
                  (c.scaleup_gbps, self.io_gbps_min, None)]
        unknown = False
        for v, lo, hi in checks:
            if lo is None and hi is None:
                continue
            if v is None:
                unknown = True
            elif (lo is not None and v < lo) or (hi is not None and v >= hi):
                return False
        return None if unknown else True


@dataclass(frozen=True)
class ControlClass:
    eccn: str
    any_of: tuple[Condition, ...]
    policy: str
    reason: str
    source: tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    id: str
    kind: str
    date: dt.date
    title: str
    source: tuple[str, ...]
    announced: dt.date | None = None
    classes: tuple[ControlClass, ...] = ()
    chips: tuple[str, ...] = ()
    regime: str | None = None
    licence_required: bool | None = None
    policy: str | None = None
    eccn: str | None = None
    reason: str = ""
    conditions: tuple[str, ...] = ()
    applies_if: Mapping[str, Any] = field(default_factory=dict)
    china_effect: str = ""
    affects_domestic: bool = False


@dataclass(frozen=True)
class Rules:
    layers: tuple[Layer, ...]

    def by_id(self, layer_id: str) -> Layer:
        return next(x for x in self.layers if x.id == layer_id)

    def source_ids(self) -> set[str]:
        return {s for x in self.layers for s in (*x.source, *(s for c in x.classes for s in c.source))}


def cited_source_ids() -> set[str]:
    """Every source id cited by the catalog's tables and by the export-control rules."""
    return catalog.cited_source_ids() | rules().source_ids()


def _date(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


@lru_cache(maxsize=1)
def rules() -> Rules:
    """export_controls.yaml, validated: known kinds, policies, chips, regimes and source ids."""
    import yaml

    raw = yaml.safe_load(resources.files("computerace").joinpath("data", "export_controls.yaml").read_text("utf-8"))
    layers = []
    for x in raw["layers"]:
        classes = tuple(ControlClass(k["eccn"], tuple(Condition(**{**c, "markets": tuple(c.get("markets", ()))})
                                                            for c in k["any_of"]),
                                     k["policy"], " ".join(k["reason"].split()), tuple(k["source"]))
                        for k in x.get("classes", ()))
        layers.append(Layer(
            id=x["id"], kind=x["kind"], date=_date(x["date"]), title=x["title"], source=tuple(x["source"]),
            announced=_date(x["announced"]) if x.get("announced") else None, classes=classes,
            chips=tuple(x.get("chips", ())), regime=x.get("regime"), licence_required=x.get("licence_required"),
            policy=x.get("policy"), eccn=x.get("eccn"), reason=" ".join(str(x.get("reason", "")).split()),
            conditions=tuple(x.get("conditions", ())), applies_if=x.get("applies_if", {}),
            china_effect=" ".join(str(x.get("china_effect", "")).split()),
            affects_domestic=bool(x.get("affects_domestic", False))))
    out = Rules(tuple(sorted(layers, key=lambda x: x.date)))
    _check(out)
    return out


def _check(r: Rules) -> None:
    known, chips, ids = catalog.source_ids(), catalog.chips(), [x.id for x in r.layers]
    problems = [f"duplicate layer ids in {ids}"] if len(set(ids)) != len(ids) else []
    for x in r.layers:
        problems += [f"{x.id}: unknown kind '{x.kind}'"] * (x.kind not in KINDS)
        problems += [f"{x.id}: unknown source '{s}'" for s in (*x.source, *(s for c in x.classes for s in c.source))
                     if s not in known]
        problems += [f"{x.id}: unknown chip '{c}'" for c in x.chips if c not in chips]
        problems += [f"{x.id}: unknown policy '{p}'" for p in (x.policy, *(c.policy for c in x.classes))
                     if p is not None and p not in POLICIES]
        if x.kind == "regime_early" and x.regime not in ids:
            problems.append(f"{x.id}: unknown regime '{x.regime}'")
    if problems:
        raise catalog.CatalogError("export_controls.yaml: " + "; ".join(problems))


# ----------------------------------------------------------------------------------------------- classify

@dataclass(frozen=True)
class Classification:
    chip: str
    date: str
    tpp: float | None
    pd: float | None
    eccn: str | None
    license_required_for_china: bool | None
    policy: str
    access: str
    reason: str
    regime: str
    source: list[str]
    conditions: list[str] = field(default_factory=list)
    tpp_format: str | None = None
    io_gbps: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tpp"] = None if self.tpp is None else round(self.tpp, 1)
        d["pd"] = None if self.pd is None else round(self.pd, 3)
        return d


def _under(layer: Layer, c: Chip) -> dict[str, Any]:
    """The classification of `c` under a regime layer's thresholds."""
    unknown = False
    for cls in layer.classes:
        hits = [cond.match(c) for cond in cls.any_of]
        if any(h is True for h in hits):
            return dict(eccn=cls.eccn, licence=cls.policy != "no_licence", policy=cls.policy, reason=cls.reason,
                        source=[*layer.source, *cls.source], conditions=[])
        unknown |= any(h is None for h in hits)
    if unknown:
        return dict(eccn=None, licence=None, policy="indeterminate", source=list(layer.source), conditions=[],
                    reason=f"Cannot classify under {layer.id}: a value the thresholds need (TPP, die area or "
                           "I/O bandwidth) is not in the catalog for this chip.")
    return dict(eccn=None, licence=False, policy="no_licence", source=list(layer.source), conditions=[],
                reason=f"Below every {layer.id} threshold (TPP {_n(tpp(c))}, PD {_n(performance_density(c), 2)}, "
                       f"I/O {_n(c.scaleup_gbps)} GB/s): no licence needed.")


def _n(x: float | None, digits: int = 0) -> str:
    return "unknown" if x is None else f"{x:,.{digits}f}"


def _applies(layer: Layer, c: Chip) -> bool | None:
    a = layer.applies_if
    t, bw = tpp(c), (None if c.memory_tbps is None else c.memory_tbps * 1000)
    if t is None or bw is None:
        return None
    ok = t < a.get("tpp_max", float("inf")) and bw < a.get("memory_gbps_max", float("inf"))
    return ok and ("released_by" not in a or c.release <= _date(a["released_by"]))


def _fold(c: Chip, d: dt.date) -> dict[str, Any]:
    state: dict[str, Any] = dict(
        eccn=None, licence=False, policy="no_licence", regime="none", source=[], conditions=[], origin="none",
        reason="No US export control on AI chips applied to this chip on this date (the first, for the A100 and "
               "H100, dates from 2022-08-26).")
    r = rules()
    for x in r.layers:
        if x.date > d:
            break
        if x.kind == "regime":
            state = {**_under(x, c), "regime": x.id, "origin": "regime"}
        elif x.kind == "regime_early" and c.id in x.chips:
            under = _under(r.by_id(x.regime or ""), c)
            state = {**under, "regime": x.id, "origin": "regime", "source": [*x.source, *under["source"]],
                     "reason": f"{x.reason} {under['reason']}"}
        elif x.kind == "chip_event" and c.id in x.chips:
            state = dict(eccn=x.eccn if x.eccn is not None else state["eccn"], licence=x.licence_required,
                         policy=x.policy, reason=x.reason, regime=x.id, source=list(x.source),
                         conditions=list(x.conditions), origin="event")
        elif x.kind == "review_policy" and state["origin"] == "regime" and state["policy"] == "presumption_of_denial":
            if _applies(x, c):
                state = {**state, "policy": x.policy, "regime": x.id, "conditions": list(x.conditions),
                         "source": [*x.source, *state["source"]],
                         "reason": f"{state['eccn']}: {x.reason}"}
    return state


def classify(chip: str | Chip, date: str | dt.date) -> Classification:
    """Whether a licence is required to export `chip` to China on `date`, under which layer and why."""
    c = chip if isinstance(chip, Chip) else catalog.chip(chip)
    d = catalog.parse_date(date)
    state = _fold(c, d)
    notes = []
    if c.release > d:
        notes.append(f"{c.id} was not yet released on {d} (release {c.release_date}); classified as specified.")
    if c.designer_country == "China":
        as_us = f" Were it a US item, it would be {state['eccn']} ({state['policy']})." if state["eccn"] else ""
        hbm = [x.id for x in rules().layers if x.affects_domestic and x.date <= d]
        state = dict(state, eccn=None, licence=False, policy="not_us_export", conditions=[],
                     reason=f"Designed in China by {c.vendor}: not a US export, so no US licence governs its sale "
                            f"in China.{as_us}" + (f" US rules that bear on it: {', '.join(hbm)}." if hbm else ""))
    return Classification(
        chip=c.id, date=d.isoformat(), tpp=tpp(c), pd=performance_density(c), eccn=state["eccn"],
        license_required_for_china=state["licence"], policy=state["policy"], access=ACCESS[state["policy"]],
        reason=state["reason"], regime=state["regime"], source=list(dict.fromkeys(state["source"])),
        conditions=state["conditions"], tpp_format=tpp_format(c), io_gbps=c.scaleup_gbps, notes=notes)


@dataclass(frozen=True)
class TimelineEntry:
    date: str
    layer: str
    kind: str
    title: str
    changed: bool
    status: Classification
    effect: str


def timeline(chip: str | Chip) -> list[TimelineEntry]:
    """Each rule change that could touch `chip`, with the chip's status once it took effect."""
    c = chip if isinstance(chip, Chip) else catalog.chip(chip)
    out: list[TimelineEntry] = []
    prev = classify(c, rules().layers[0].date - dt.timedelta(days=1))
    for x in rules().layers:
        if x.kind in ("chip_event", "regime_early") and c.id not in x.chips:
            continue
        now = classify(c, x.date)
        changed = (now.policy, now.license_required_for_china, now.eccn) != (
            prev.policy, prev.license_required_for_china, prev.eccn)
        effect = now.reason if now.regime == x.id or changed else (x.china_effect or "No change for this chip.")
        out.append(TimelineEntry(x.date.isoformat(), x.id, x.kind, x.title, changed, now, effect))
        prev = now
    return out


# ----------------------------------------------------------------------------------------------- for the model

def legal_import_access(date: str | dt.date, chips: Iterable[str] | None = None) -> dict[str, str]:
    """{chip id: access} for US-designed chips released by `date`: open / conditional / closed / unknown."""
    d = catalog.parse_date(date)
    table = catalog.chips()
    ids = chips if chips is not None else [k for k, c in table.items() if c.designer_country == "US"]
    return {k: classify(table[k], d).access for k in ids if table[k].release <= d}


def allowed_fraction(date: str | dt.date, weights: Mapping[str, float], conditional: float = 1.0) -> float:
    """a(t) = sum_i w_i * g(access_i) / sum_i w_i, g = 1 open, `conditional` for conditional, 0 closed/unknown.

    weights: {chip id: weight} (e.g. the H100e mix China would buy absent controls); conditional in [0, 1]
    is the share of licence-conditional supply that actually ships. Chips not yet released get weight 0.
    """
    d = catalog.parse_date(date)
    table = catalog.chips()
    num = den = 0.0
    for k, w in weights.items():
        c = table[k] if k in table else catalog.chip(k)
        if c.release > d:
            continue
        g = {"open": 1.0, "conditional": conditional}.get(classify(c, d).access, 0.0)
        num, den = num + w * g, den + w
    return num / den if den else 0.0


def best_legal_import(date: str | dt.date, basis: str = "bf16", conditional: bool = True) -> tuple[str, float] | None:
    """The US-designed chip with the most H100e per chip that China may buy on `date` (open, or conditional)."""
    ok = {"open", "conditional"} if conditional else {"open"}
    table = catalog.chips()
    best = [(table[k].h100e(basis) or 0.0, k) for k, a in legal_import_access(date).items() if a in ok]
    return (max(best)[1], max(best)[0]) if best else None


# ----------------------------------------------------------------------------- the legal-import channel
#: Frontier parts, oldest first: China's access to the frontier output of a month is its access to the newest of
#: these released by then (the bulk of that month's Western output). Compliant and licensed parts (A800, H800,
#: H20, H200 under the January 2026 rule) are offered as volumes of their own (model/imports.py).
FRONTIER_CHIPS = ("a100", "h100-sxm", "b200", "b300")


def _access_value(access: str) -> tuple[float, float]:
    return (1.0, 0.0) if access == "open" else (0.0, 1.0) if access == "conditional" else (0.0, 0.0)


@lru_cache(maxsize=8)
def access_schedule(months: tuple[str, ...], parts: tuple[str, ...] = ()
                    ) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Per month (mid-month): (open 0/1, licence-conditional 0/1) for "frontier" and for each part in `parts`.

    "frontier" is the newest released chip of FRONTIER_CHIPS; a part not yet released is closed. Cached per
    horizon. Source: the rules in export_controls.yaml through `classify`.
    """
    table = catalog.chips()
    out: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("frontier", *parts)}
    for m in months:
        d = catalog.parse_date(f"{m}-15")
        released = [i for i in FRONTIER_CHIPS if table[i].release <= d]
        newest = max(released, key=lambda i: table[i].release) if released else FRONTIER_CHIPS[0]
        for name, chip in (("frontier", newest), *((k, k) for k in parts)):
            o, c = _access_value(classify(table[chip], d).access) if table[chip].release <= d else (0.0, 0.0)
            out[name][0].append(o)
            out[name][1].append(c)
    return {k: (tuple(o), tuple(c)) for k, (o, c) in out.items()}


def allowed_path(months: tuple[str, ...], conditional_share: np.ndarray, freeze_after: int | None = None,
                 chip: str = "frontier", parts: tuple[str, ...] = ()) -> np.ndarray:
    """a(t) = 1 if `chip` is open to China, the shipped share c if licence-conditional, 0 if closed: [sample, month].

    chip "frontier" (China's access to frontier output) or one of `parts`. conditional_share: [sample].
    `freeze_after` (a month index) holds the regime of that month afterwards (for as-of backtests).
    Source: the rules in export_controls.yaml through `classify`.
    """
    sched = access_schedule(months, parts)
    T = len(months)
    idx = np.arange(T) if freeze_after is None else np.minimum(np.arange(T), freeze_after)
    o, c = (np.asarray(x)[idx] for x in sched[chip])
    return o[None, :] + c[None, :] * conditional_share[:, None]
