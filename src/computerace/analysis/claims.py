"""Claims from the public debate, scored under a scenario: P(claim), its threshold swept, and what moves it.

A claim (data/claims.yaml) has one or more *readings*: where the debate's words admit two meanings ("2-4
years behind": chip, process-node or capability lag; "China overtakes": installed or operational stock) each
is scored separately and shown together. A reading states its **operationalisation** (metric, threshold, date,
basis; validated when the file is loaded) and a formal **definition**: a condition on per-sample metrics
(`analysis.metrics.sample_values`, plus the few claim-only metrics below). Its probability is the share of
samples where it holds (of the samples where its metric is defined, e.g. die yield only under the physics form
of China's supply). A reading the model cannot score yet has `status: not-scored` and the missing term as
`reason`.

Each scored reading also carries:

- a **sweep**: the probability with the threshold moved around the claim's own (P(metric <= k) for a range of
  k; for a window [low, high], the same-width windows shifted around it, and the cumulative P(metric <= k)), so
  no answer hangs on one threshold;
- **drivers** (`decile_drivers`): for each input (a parameter's sampled quantile or a per-sample event
  variable), P(claim | input in its top 10%) - P(claim | input in its bottom 10%), with sign; the three largest
  in magnitude. Where the reading holds in all or none of the samples nothing is shown ("does not vary in this
  run"). The CLI, the report and the dashboard all read them from `score`.

A counterfactual reading runs the named preset with the same seed and samples (common random numbers) and
compares sample by sample.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from ..errors import UserError
from . import metrics

#: Per-sample event variables of run.nc used as driver inputs beside the parameters' quantiles.
EVENT_INPUTS = ("taiwan_event_year", "euv_year", "controls_shift_year", "controls_regime", "capex_bust_year",
                "china_centralise_year")
#: Metrics `metrics.sample_values` computes (years_behind_<axis> for each axis in metrics.AXES as well).
SAMPLE_METRICS = ("stock_h100e", "operational_h100e", "power_gw", "additions_h100e", "spend_usd",
                  "price_usd_per_h100e", "china_share", "china_share_with_remote", "us_to_china_ratio",
                  "us_to_china_additions_ratio", "us_to_china_spend_ratio", "china_to_us_price_ratio",
                  *metrics.REASONING_METRICS)
#: Metrics computed here (docstring of `claim_values`).
CLAIM_METRICS = ("china_die_yield", "leading_lab_h100e", "china_effective_spend_share")
KINDS = ("between", "growth", "overtake", "binding", "event_before", "counterfactual")
STATUSES = ("scored", "not-scored")
OPERATIONALISATION_KEYS = ("metric", "threshold", "date", "basis")
DECILE = 0.1
TOP_DRIVERS = 3
NEVER = "does not happen in any sample of this run"
ALWAYS = "holds in every sample of this run (its negation does not happen in any sample)"
NO_VARIATION = "does not vary in this run"


class ClaimsError(UserError):
    """claims.yaml is malformed: the message names the claim id and the key."""


@dataclass(frozen=True)
class Reading:
    id: str
    reading: str
    operationalisation: dict[str, Any]
    definition: dict[str, Any] | None
    status: str = "scored"
    reason: str | None = None


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    quote: str
    source: str | None
    readings: tuple[Reading, ...] = field(default_factory=tuple)

    @property
    def reading(self) -> str:
        """The first (primary) reading's text."""
        return self.readings[0].reading

    @property
    def definition(self) -> dict[str, Any] | None:
        """The first (primary) reading's definition (None when it is not scored)."""
        return self.readings[0].definition

    @property
    def operationalisation(self) -> dict[str, Any]:
        return self.readings[0].operationalisation

    @property
    def status(self) -> str:
        """'not-scored' when no reading can be scored, else 'scored'."""
        return "scored" if any(r.status == "scored" for r in self.readings) else "not-scored"


# ------------------------------------------------------------------------------------------- loading
def known_metrics() -> set[str]:
    return set(SAMPLE_METRICS) | set(CLAIM_METRICS) | {f"years_behind_{a}" for a in metrics.AXES}


def _leaf_metric(defn: dict[str, Any]) -> str:
    kind = defn["kind"]
    if kind in ("between", "growth", "counterfactual"):
        return str(defn["metric"])
    if kind == "overtake":
        return "first_overtaking_year" + ("_operational" if defn.get("stock") == "operational" else "")
    if kind == "binding":
        return "binding_constraint"
    return str(defn["event"])


def _leaves_of(defn: dict[str, Any]) -> list[dict[str, Any]]:
    if "all" in defn:
        return [leaf for d in defn["all"] for leaf in _leaves_of(d)]
    return [defn]


REQUIRED = {"between": ("metric",), "growth": ("metric", "key", "from", "to", "low", "high"),
            "overtake": ("after", "by"), "binding": ("actor", "year", "constraint"),
            "event_before": ("event", "before"), "counterfactual": ("preset", "metric", "date")}


def _check_definition(cid: str, defn: Any) -> None:
    def fail(msg: str) -> None:
        raise ClaimsError(f"claims.yaml: claim '{cid}': definition: {msg}")

    if not isinstance(defn, dict):
        fail("expected a mapping with 'kind' (or 'all: [...]')")
    if "all" in defn:
        if not isinstance(defn["all"], list) or not defn["all"]:
            fail("'all' must be a non-empty list of definitions")
        for d in defn["all"]:
            _check_definition(cid, d)
        return
    kind = defn.get("kind")
    if kind not in KINDS:
        fail(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    missing = [k for k in REQUIRED[kind] if k not in defn]
    if missing:
        fail(f"kind '{kind}' needs {', '.join(missing)}")
    if kind == "between":
        if ("date" in defn) == ("dates" in defn):
            fail("kind 'between' needs exactly one of 'date' or 'dates' (a list: the condition holds at every date)")
        if defn.get("low") is None and defn.get("high") is None:
            fail("kind 'between' needs 'low', 'high' or both")
    if kind in ("between", "growth", "counterfactual") and defn["metric"] not in known_metrics():
        from ..errors import did_you_mean

        hint = did_you_mean(str(defn["metric"]), known_metrics())
        fail(f"unknown metric {defn['metric']!r}" + (f"; {hint}" if hint else ""))
    if kind == "event_before" and defn["event"] not in EVENT_INPUTS:
        fail(f"unknown event {defn['event']!r}; one of {', '.join(EVENT_INPUTS)}")
    if kind == "overtake" and defn.get("stock", "installed") not in ("installed", "operational"):
        fail("overtake 'stock' is 'installed' or 'operational'")


def _check_operationalisation(cid: str, op: Any, defn: dict[str, Any] | None) -> dict[str, Any]:
    def fail(msg: str) -> None:
        raise ClaimsError(f"claims.yaml: claim '{cid}': operationalisation: {msg}. Every reading states "
                          "{metric, threshold, date, basis} (docs/claims.md).")

    if not isinstance(op, dict):
        fail("missing (expected a mapping {metric, threshold, date, basis})")
    missing = [k for k in OPERATIONALISATION_KEYS if op.get(k) in (None, "", [])]
    if missing:
        fail(f"missing {', '.join(missing)}")
    unknown = set(op) - set(OPERATIONALISATION_KEYS) - {"sweep"}
    if unknown:
        fail(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(OPERATIONALISATION_KEYS)}, sweep")
    if not isinstance(op["basis"], str) or len(op["basis"].split()) < 3:
        fail("'basis' must say in words what is measured, e.g. 'dense BF16 H100e of ...'")
    if not isinstance(op["threshold"], str | int | float):
        fail("'threshold' must be a string such as \"2 <= lag <= 4\" or a number")
    names = op["metric"] if isinstance(op["metric"], list) else [op["metric"]]
    if not all(isinstance(n, str) for n in names):
        fail("'metric' must be a name or a list of names")
    dates = op["date"] if isinstance(op["date"], list) else [op["date"]]
    for d in dates:
        if not re.fullmatch(r"\d{4}(-\d{2})?( to \d{4}(-\d{2})?)?", str(d)):
            fail(f"'date' {d!r} must be YYYY, YYYY-MM or 'YYYY-MM to YYYY-MM' (or a list of them)")
    if "sweep" in op and (not isinstance(op["sweep"], list) or len(op["sweep"]) < 3
                          or not all(isinstance(x, int | float) for x in op["sweep"])):
        fail("'sweep' must be a list of at least three numbers (the thresholds, or window starts, to sweep)")
    if defn is not None:
        used = {_leaf_metric(leaf) for leaf in _leaves_of(defn)}
        if set(names) != used:
            fail(f"metric {names} does not match the definition's metrics {sorted(used)}")
    return {**op, "date": [str(d) for d in op["date"]] if isinstance(op["date"], list) else str(op["date"])}


def _reading(cid: str, raw: dict[str, Any], default_id: str) -> Reading:
    if not isinstance(raw, dict):
        raise ClaimsError(f"claims.yaml: claim '{cid}': each reading must be a mapping")
    allowed = {"id", "reading", "operationalisation", "definition", "status", "reason"}
    unknown = set(raw) - allowed
    if unknown:
        raise ClaimsError(f"claims.yaml: claim '{cid}': unknown reading key(s) {', '.join(sorted(unknown))}")
    rid = str(raw.get("id", default_id))
    status = str(raw.get("status", "scored"))
    where = f"claims.yaml: claim '{cid}', reading '{rid}'"
    if status not in STATUSES:
        raise ClaimsError(f"{where}: status {status!r}; one of {', '.join(STATUSES)}")
    if not raw.get("reading"):
        raise ClaimsError(f"{where}: missing 'reading' (the claim in the model's terms, one sentence)")
    defn = raw.get("definition")
    if status == "scored":
        if defn is None:
            raise ClaimsError(f"{where}: a scored reading needs a 'definition' (or status: not-scored with a reason)")
        _check_definition(f"{cid}' reading '{rid}", defn)
    else:
        if not raw.get("reason"):
            raise ClaimsError(f"{where}: status not-scored needs a 'reason' (the term the model lacks)")
        defn = None
    op = _check_operationalisation(f"{cid}' reading '{rid}", raw.get("operationalisation"), defn)
    return Reading(id=rid, reading=str(raw["reading"]), operationalisation=op, definition=defn, status=status,
                   reason=str(raw["reason"]) if raw.get("reason") else None)


def parse_claims(text: str) -> tuple[Claim, ...]:
    """Claims from the text of a claims.yaml, validated (ClaimsError naming the claim id otherwise).

    A claim gives its first reading inline (reading, operationalisation, definition[, status, reason]) and any
    further readings under `readings:` (each with an `id`), or all of them under `readings:`.
    """
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ClaimsError("claims.yaml: expected a top-level 'claims:' list")
    out, seen = [], set()
    for i, c in enumerate(data["claims"]):
        cid = str(c.get("id", f"#{i + 1}")) if isinstance(c, dict) else f"#{i + 1}"
        if not isinstance(c, dict) or not c.get("id"):
            raise ClaimsError(f"claims.yaml: claim {cid}: missing 'id'")
        if cid in seen:
            raise ClaimsError(f"claims.yaml: claim '{cid}': duplicate id")
        seen.add(cid)
        for k in ("claim", "quote"):
            if not c.get(k):
                raise ClaimsError(f"claims.yaml: claim '{cid}': missing '{k}'")
        inline_keys = {"reading_id", "reading", "operationalisation", "definition", "status", "reason"}
        unknown = set(c) - inline_keys - {"id", "claim", "quote", "source", "readings"}
        if unknown:
            raise ClaimsError(f"claims.yaml: claim '{cid}': unknown key(s) {', '.join(sorted(unknown))}")
        readings = []
        if any(k in c for k in inline_keys - {"reading_id"}):
            inline = {k: c[k] for k in inline_keys if k in c}
            inline["id"] = inline.pop("reading_id", "as-stated")
            readings.append(_reading(cid, inline, "as-stated"))
        for j, r in enumerate(c.get("readings") or []):
            readings.append(_reading(cid, r, f"reading-{j + 2}"))
        if not readings:
            raise ClaimsError(f"claims.yaml: claim '{cid}': no reading (give reading/operationalisation/definition)")
        ids = [r.id for r in readings]
        if len(set(ids)) != len(ids):
            raise ClaimsError(f"claims.yaml: claim '{cid}': duplicate reading ids {ids}")
        out.append(Claim(id=cid, claim=str(c["claim"]), quote=str(c["quote"]),
                         source=str(c["source"]) if c.get("source") else None, readings=tuple(readings)))
    return tuple(out)


@lru_cache(maxsize=1)
def load_claims() -> tuple[Claim, ...]:
    """The claims of data/claims.yaml, validated."""
    return parse_claims(resources.files("computerace").joinpath("data", "claims.yaml").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------- per-sample values
def _date(x: Any) -> str:
    return str(x)


def _month_years(ds: Any) -> np.ndarray:
    m = ds["month"].values.astype("datetime64[M]").astype(int)
    return 1970 + m / 12.0


def _month_index(ds: Any, date: str) -> int:
    months = ds["month"].values.astype("datetime64[M]")
    m = np.datetime64(date, "M")
    if not months[0] <= m <= months[-1]:
        raise ValueError(f"date {date} is outside the horizon {months[0]} .. {months[-1]}")
    return int((m - months[0]).astype(int))


def _model_die_area(ds: Any) -> float:
    man = json.loads(ds.attrs.get("manifest", "{}")) if isinstance(ds.attrs.get("manifest"), str) else {}
    entry = ((man.get("resolved_scenario") or {}).get("supply") or {}).get("china_die_area_mm2")
    v = entry.get("value") if isinstance(entry, dict) else entry
    if not isinstance(v, int | float):
        raise ValueError("china_die_yield with area_mm2 needs a fixed supply.china_die_area_mm2 in the run's manifest")
    return float(v)


def claim_values(ds: Any, metric: str, key: str = "China", date: str = "2030-12", **opts: Any) -> np.ndarray:
    """Per-sample values [sample] of a metric at a date: `metrics.sample_values`, plus

    - china_die_yield (date YYYY): good dies / gross dies of China's domestic chain over the year
      (`china_supply_chain`); NaN in samples drawn with the growth form of domestic supply (no wafers, no yield).
      With `area_mm2` the yield is rescaled to a die of that area by the Poisson model the chain uses
      (Y_A = Y^(A / A_model), A_model = supply.china_die_area_mm2; exact month by month, approximate for a
      year's average).
    - china_effective_spend_share (date YYYY, option `since` YYYY): China's spend on accelerators over its AI capex,
      summed over the years since..date: the share of the pipe that is not leaked (finance.compute_share x
      finance.china_compute_share_ratio, less what supply or power left unbought).
    - leading_lab_h100e (key US or China, date YYYY-MM): the largest single run's compute as AI 2027 counts a
      leading lab's: installed stock x its largest-run share, in units of the US's share
      (capability.cluster_share, constant within a sample, so it cancels in growth factors and ratios): the US's
      stock, and China's stock x china_cluster_share_ratio (x china_centralised_share_ratio, when larger, once
      China centralises at china_centralise_year).
    """
    if metric == "china_die_yield":
        y = int(str(date)[:4])
        chain = ds["china_supply_chain"].sel(year=y)
        gross = chain.sel(step="gross_dies").values.astype(np.float64)
        good = chain.sel(step="good_dies").values.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            yld = np.where(gross > 0, good / np.where(gross > 0, gross, 1.0), np.nan)
        if opts.get("area_mm2"):
            yld = yld ** (float(opts["area_mm2"]) / _model_die_area(ds))
        return yld
    if metric == "china_effective_spend_share":  # what China's accelerators cost over its AI capex, since..date
        y1, y0 = int(str(date)[:4]), int(opts.get("since", str(date)[:4]))
        years = [y for y in ds["year"].values.tolist() if y0 <= y <= y1]
        spend = ds["spend_usd"].sel(actor="China", year=years).values.astype(np.float64).sum(axis=1)
        capex = ds["capex_usd"].sel(actor="China", year=years).values.astype(np.float64).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(capex > 0, spend / np.where(capex > 0, capex, 1.0), np.nan)
    if metric == "leading_lab_h100e":
        i = _month_index(ds, str(date))
        stock = ds["stock_h100e"].isel(month=i).sel(actor=key).values.astype(np.float64)
        if key == "US":
            return stock
        if key != "China":
            raise ValueError("leading_lab_h100e is defined for US and China")
        ratio = ds["china_cluster_share_ratio"].values.astype(np.float64)
        if "china_centralise_year" in ds and "china_centralised_share_ratio" in ds:
            after = _month_years(ds)[i] >= ds["china_centralise_year"].values
            ratio = np.where(after, np.maximum(ratio, ds["china_centralised_share_ratio"].values), ratio)
        return stock * ratio
    return metrics.sample_values(ds, metric, key, str(date))


def first_overtaking_year(ds: Any, stock: str = "installed") -> np.ndarray:
    """Fractional year of the first month China's installed (or operational) stock exceeds the US's (inf: never)."""
    var = "stock_h100e" if stock == "installed" else "operational_h100e"
    ahead = ds[var].sel(actor="China").values > ds[var].sel(actor="US").values
    first = np.where(ahead.any(axis=1), ahead.argmax(axis=1), -1)
    t = _month_years(ds)
    return np.where(first >= 0, t[np.maximum(first, 0)], np.inf)


@dataclass
class Leaf:
    """One thresholded condition: low (<)= values (<)= high, at every date when values is [sample, date];
    or a fixed per-sample outcome (`hit`) with no threshold (which limit binds)."""
    metric: str
    values: np.ndarray | None
    low: float | None = None
    high: float | None = None
    low_strict: bool = False
    high_strict: bool = False
    hit: np.ndarray | None = None
    scale: str = "ratio"          # how to sweep: ratio (multiplicative), linear (additive) or year (additive, years)
    sweep_bound: str | None = None  # "high": sweep only the upper bound of a two-sided condition

    def holds(self, low: float | None = None, high: float | None = None) -> np.ndarray:
        if self.values is None:
            return np.asarray(self.hit, bool)
        v = self.values
        with np.errstate(invalid="ignore"):
            ok = ~np.isnan(v)
            if low is not None:
                ok &= (v > low) if self.low_strict else (v >= low)
            if high is not None:
                ok &= (v < high) if self.high_strict else (v <= high)
        return ok.all(axis=1) if ok.ndim == 2 else ok

    def at_claim(self) -> np.ndarray:
        return self.holds(self.low, self.high)

    def defined(self) -> np.ndarray:
        if self.values is None:
            return np.ones(len(self.hit), bool)
        d = ~np.isnan(self.values)
        return d.all(axis=1) if d.ndim == 2 else d


def _opt(x: Any) -> float | None:
    return None if x is None else float(x)


def leaves(defn: dict[str, Any], ds: Any, counterfactual: Any = None) -> list[Leaf]:
    """The conditions of a definition ('all' is their conjunction), each with its per-sample values."""
    if "all" in defn:
        return [leaf for d in defn["all"] for leaf in leaves(d, ds, counterfactual)]
    kind = defn["kind"]
    metric = _leaf_metric(defn)
    if kind == "between":
        key = defn.get("key", "China")
        opts = {k: defn[k] for k in ("area_mm2", "since") if k in defn}
        if "dates" in defn:
            v = np.stack([claim_values(ds, defn["metric"], key, _date(d), **opts) for d in defn["dates"]], axis=1)
        else:
            v = claim_values(ds, defn["metric"], key, _date(defn["date"]), **opts)
        scale = "linear" if str(defn["metric"]).startswith("years_behind_") else "ratio"
        strict = bool(defn.get("strict", False))  # low < value < high rather than <=
        return [Leaf(metric, v, _opt(defn.get("low")), _opt(defn.get("high")), low_strict=strict, high_strict=strict,
                     scale=scale)]
    if kind == "growth":
        a = claim_values(ds, defn["metric"], defn["key"], _date(defn["from"]))
        b = claim_values(ds, defn["metric"], defn["key"], _date(defn["to"]))
        with np.errstate(invalid="ignore", divide="ignore"):
            g = b / a
        return [Leaf(f"{metric}:{defn['key']}", g, float(defn["low"]), float(defn["high"]))]
    if kind == "overtake":
        first = first_overtaking_year(ds, defn.get("stock", "installed"))
        return [Leaf(metric, first, float(defn["after"]), float(defn["by"]), low_strict=True, scale="year",
                     sweep_bound="high")]
    if kind == "binding":  # the limit that bound an actor's acquisitions in most months of a year
        names = [str(c) for c in ds["constraint"].values]
        wanted = defn["constraint"] if isinstance(defn["constraint"], list) else [defn["constraint"]]
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise ValueError(f"unknown constraint {unknown}; choose from {names}")
        codes = ds["binding_constraint"].sel(actor=defn["actor"], year=int(defn["year"])).values
        return [Leaf(metric, None, hit=np.isin(codes, [names.index(w) for w in wanted]))]
    if kind == "event_before":
        return [Leaf(metric, ds[defn["event"]].values.astype(np.float64), None, float(defn["before"]),
                     high_strict=True, scale="year")]
    if kind == "counterfactual":
        if counterfactual is None:
            raise ValueError("a counterfactual claim needs the counterfactual run")
        a = claim_values(ds, defn["metric"], defn.get("key", "China"), _date(defn["date"]))
        b = claim_values(counterfactual, defn["metric"], defn.get("key", "China"), _date(defn["date"]))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = a / b  # with controls / without: the claim is r > 1 (higher) or r < 1 (lower)
        label = f"{metric} ratio (this run / {defn['preset']})"
        if defn.get("direction", "higher") == "higher":
            return [Leaf(label, r, 1.0, None, low_strict=True)]
        return [Leaf(label, r, None, 1.0, high_strict=True)]
    raise ValueError(f"unknown claim kind {kind!r}")


def outcome(defn: dict[str, Any], ds: Any, counterfactual: Any = None) -> np.ndarray:
    """Per-sample boolean: does the definition hold in each sample of `ds`? (False where its metric is undefined.)"""
    return np.logical_and.reduce([leaf.at_claim() for leaf in leaves(defn, ds, counterfactual)])


def defined(defn: dict[str, Any], ds: Any, counterfactual: Any = None) -> np.ndarray:
    """Per-sample boolean: is every metric of the definition defined (not NaN) in the sample?"""
    return np.logical_and.reduce([leaf.defined() for leaf in leaves(defn, ds, counterfactual)])


# --------------------------------------------------------------------------------------------- sweeps
RATIO_STEPS = (0.5, 2 / 3, 0.8, 1.0, 1.25, 1.5, 2.0)
WINDOW_SHIFTS = (-1.0, -2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3, 1.0)
YEAR_STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


def _grid(t: float, scale: str) -> list[float]:
    if scale == "year":
        return [t + s for s in YEAR_STEPS]
    if scale == "ratio" and t > 0:
        return [t * s for s in RATIO_STEPS]
    step = max(abs(t), 1.0) / 2
    return [t + step * s for s in (-3, -2, -1, 0, 1, 2, 3)]


def _share(hit: np.ndarray, mask: np.ndarray) -> float:
    n = int(mask.sum())
    return float(hit[mask].mean()) if n else float("nan")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def sweeps(ls: list[Leaf], mask: np.ndarray, explicit: list[float] | None = None
           ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """(sweep, cdf, note): the reading's probability with its threshold moved around the claim's own.

    One thresholded condition:
      - `at_most` (an upper bound only, or an event window whose start is fixed): (k, P(metric <= k));
      - `at_least` (a lower bound only): (k, P(metric >= k));
      - `window` (low <= metric <= high): (low', P(low' <= metric <= low' + width)) for windows of the claim's width
        shifted by -1 .. +1 widths; `cdf` then gives (k, P(metric <= k)) from low - width to high + width.
    Windows of ratios, shares and growth factors are scaled rather than shifted (low x f, high x f, f = 1/2 .. 2).
    Several conditions (`joint_window`): every window moved together by x (a ratio window scaled by 2^x, another
    shifted by x widths, a one-sided bound by x times half its value), (x, P). Conditions without a threshold (which limit binds) are held as stated.
    """
    fixed = np.logical_and.reduce([leaf.at_claim() for leaf in ls if leaf.values is None] or [np.ones(len(mask), bool)])
    thr = [leaf for leaf in ls if leaf.values is not None]
    if not thr:
        return None, None, "a categorical outcome (which limit binds): no threshold to sweep"

    def p(hit: np.ndarray) -> float:
        return _share(hit & fixed, mask)

    if len(thr) == 1:
        leaf = thr[0]
        lo, hi = leaf.low, leaf.high
        if lo is not None and hi is not None and leaf.sweep_bound is None:
            width = hi - lo
            if leaf.scale == "ratio" and lo > 0:  # ratios, shares, growth factors: windows scaled, not shifted
                factors = [lo0 / lo for lo0 in explicit] if explicit else list(RATIO_STEPS)
                windows = [(lo * f, hi * f) for f in factors]
                how = "windows of the claim's high/low ratio, scaled by 1/2 .. 2"
            else:
                starts = explicit or [lo + s * width for s in WINDOW_SHIFTS]
                windows = [(s0, s0 + width) for s0 in starts]
                how = "windows of the claim's width, shifted by -1 .. +1 widths"
            sweep = {"kind": "window", "metric": leaf.metric, "claim_x": lo,
                     "label": f"P(low' <= {leaf.metric} <= high') for {how}; x = low'",
                     "windows": [[float(a), float(b)] for a, b in windows],
                     "points": [[float(a), p(leaf.holds(a, b))] for a, b in windows]}
            ks = [lo - width + i * (hi - lo + 2 * width) / 6 for i in range(7)]
            if leaf.scale == "ratio" and lo > 0:
                ks = [lo * RATIO_STEPS[0] * (hi / RATIO_STEPS[0] * RATIO_STEPS[-1] / lo) ** (i / 6) for i in range(7)]
            cdf = {"kind": "at_most", "metric": leaf.metric, "claim_x": hi, "label": f"P({leaf.metric} <= k)",
                   "points": [[float(k), p(leaf.holds(None, k))] for k in ks]}
            return sweep, cdf, None
        if hi is not None:
            ks = explicit or _grid(hi, leaf.scale)
            fixed_low = lo if leaf.sweep_bound == "high" else None
            label = (f"P({_fmt(lo)} < {leaf.metric} <= k)" if fixed_low is not None
                     else f"P({leaf.metric} {'<' if leaf.high_strict else '<='} k)")
            return ({"kind": "at_most", "metric": leaf.metric, "claim_x": hi, "label": label,
                     "points": [[float(k), p(leaf.holds(fixed_low, k))] for k in ks]}, None, None)
        ks = explicit or _grid(lo, leaf.scale)
        dates = " at every date" if leaf.values.ndim == 2 else ""
        return ({"kind": "at_least", "metric": leaf.metric, "claim_x": lo,
                 "label": f"P({leaf.metric} {'>' if leaf.low_strict else '>='} k{dates})",
                 "points": [[float(k), p(leaf.holds(k, None))] for k in ks]}, None, None)

    xs = explicit or list(WINDOW_SHIFTS)
    points = []
    for x in xs:
        hit = np.ones(len(mask), bool)
        for leaf in thr:
            if leaf.low is not None and leaf.high is not None and leaf.scale == "ratio" and leaf.low > 0:
                hit &= leaf.holds(leaf.low * 2.0 ** x, leaf.high * 2.0 ** x)
            elif leaf.low is not None and leaf.high is not None:
                d = x * (leaf.high - leaf.low)
                hit &= leaf.holds(leaf.low + d, leaf.high + d)
            elif leaf.high is not None:
                hit &= leaf.holds(None, leaf.high + x * abs(leaf.high) / 2)
            else:
                hit &= leaf.holds(leaf.low + x * abs(leaf.low) / 2, None)
        points.append([float(x), p(hit)])
    return ({"kind": "joint_window", "metric": " & ".join(leaf.metric for leaf in thr), "claim_x": 0.0,
             "label": "every condition moved together by x: a ratio window scaled by 2^x, other windows shifted by x "
                      "widths, a one-sided bound by x times half its value", "points": points}, None, None)


# -------------------------------------------------------------------------------------------- drivers
def driver_inputs(ds: Any) -> dict[str, np.ndarray]:
    """{name: [sample] values}: each parameter's sampled quantile and the per-sample event variables present."""
    out: dict[str, np.ndarray] = {}
    if "parameter_quantile" in ds:
        u = np.asarray(ds["parameter_quantile"].values, dtype=np.float64)
        for j, name in enumerate(str(p) for p in ds["parameter"].values):
            out[name] = u[:, j]
    for ev in EVENT_INPUTS:
        if ev in ds and ds[ev].dims == ("sample",):
            out[ev] = np.asarray(ds[ev].values, dtype=np.float64)
    return out


def decile_drivers(inputs: dict[str, np.ndarray], hit: np.ndarray, mask: np.ndarray | None = None,
                   top: int = TOP_DRIVERS, decile: float = DECILE) -> list[dict[str, Any]]:
    """The inputs that move a claim most: for each input x,

        delta = P(claim | x in its top decile) - P(claim | x in its bottom decile)

    over the samples in `mask` (default all); the top decile is x >= its 90th percentile and the bottom x <= its
    10th (an input with ties, as a discrete event variable, may put more than 10% of the samples in each). Inputs
    constant over the samples, or with NaN, are skipped. Returns the `top` largest |delta|, each
    {"input", "delta", "p_top", "p_bottom", "n_top", "n_bottom"}; [] when the claim holds in all or none of the
    samples (it does not vary in this run).
    """
    hit = np.asarray(hit, bool)
    mask = np.ones(hit.shape, bool) if mask is None else np.asarray(mask, bool)
    h = hit[mask]
    if h.size == 0 or h.all() or not h.any():
        return []
    rows = []
    for name, x in inputs.items():
        x = np.asarray(x, dtype=np.float64)[mask]
        if np.isnan(x).any() or x.min() == x.max():
            continue
        lo_cut = np.quantile(x, decile, method="lower")
        hi_cut = np.quantile(x, 1 - decile, method="higher")
        top_m, bot_m = x >= hi_cut, x <= lo_cut
        if not top_m.any() or not bot_m.any() or (top_m == bot_m).all():
            continue
        p_top, p_bot = float(h[top_m].mean()), float(h[bot_m].mean())
        rows.append({"input": name, "delta": p_top - p_bot, "p_top": p_top, "p_bottom": p_bot,
                     "n_top": int(top_m.sum()), "n_bottom": int(bot_m.sum())})
    rows.sort(key=lambda r: (-abs(r["delta"]), r["input"]))
    return rows[:top]


def driver_text(drivers: list[dict[str, Any]], probability: float | None) -> str:
    """'events.x +0.42, capability.y -0.21, ...' (P in the top decile minus P in the bottom), or why there are none."""
    if probability is None:
        return ""
    if not drivers:
        return NO_VARIATION
    return "; ".join(f"{d['input']} {d['delta']:+.2f} ({d['p_bottom']:.0%} in its bottom decile -> {d['p_top']:.0%} "
                     "in its top)" for d in drivers)


def extremes_statement(ls: list[Leaf], mask: np.ndarray, p: float) -> str:
    """Why a claim is never (or always) true in a run: the range each condition's metric takes over the samples
    against the claim's window, and what scenario discovery can say (no sample to separate, so no region of the
    inputs within the scenario's ranges changes the outcome at this sample size)."""
    parts = []
    for leaf in ls:
        if leaf.values is None:
            continue
        v = np.asarray(leaf.values, dtype=np.float64)[mask]
        v = v[np.isfinite(v)]
        if v.size:
            window = (f"{'>' if leaf.low_strict else '>='} {leaf.low:g}" if leaf.high is None else
                      f"{'<' if leaf.high_strict else '<='} {leaf.high:g}" if leaf.low is None else
                      f"{leaf.low:g} to {leaf.high:g}")
            parts.append(f"{leaf.metric} spans {v.min():.3g} to {v.max():.3g} over the samples (the claim: {window})")
    n = int(mask.sum())
    rule = (f"scenario discovery finds no region of the inputs, within the scenario's ranges, where it "
            f"{'happens' if p == 0.0 else 'fails'}: no sample of {n:,} does (at 95% confidence its probability is "
            f"{'below' if p == 0.0 else 'above'} {3 / n if p == 0.0 else 1 - 3 / n:.2%})")
    return "; ".join(parts + [rule])


def probability_note(p: float | None) -> str | None:
    """The statement a probability of exactly 0 or 1 needs (None otherwise)."""
    if p is None or not np.isfinite(p):
        return None
    if p == 0.0:
        return NEVER
    if p == 1.0:
        return ALWAYS
    return None


# --------------------------------------------------------------------------------------------- scoring
def score_reading(r: Reading, ds: Any, counterfactual: Any = None, inputs: dict[str, np.ndarray] | None = None
                  ) -> dict[str, Any]:
    """One reading scored on a dataset: probability, samples scored, note, sweep (and cdf), drivers."""
    base = {"id": r.id, "reading": r.reading, "status": r.status, "operationalisation": r.operationalisation}
    if r.status != "scored" or r.definition is None:
        return base | {"reason": r.reason, "probability": None, "samples_scored": 0, "note": f"not scored: {r.reason}",
                       "sweep": None, "cdf": None, "sweep_note": None, "drivers": [],
                       "driver": f"not scored: {r.reason}"}
    ls = leaves(r.definition, ds, counterfactual)
    hit = np.logical_and.reduce([leaf.at_claim() for leaf in ls])
    mask = np.logical_and.reduce([leaf.defined() for leaf in ls])
    n = int(mask.sum())
    if n == 0:  # e.g. die yield in a run drawn only with the growth form of domestic supply
        reason = f"no sample of this run defines {r.operationalisation['metric']} (the metric is undefined here)"
        return base | {"status": "not-scored", "reason": reason, "probability": None, "samples_scored": 0,
                       "note": f"not scored: {reason}", "sweep": None, "cdf": None, "sweep_note": None,
                       "drivers": [], "driver": f"not scored: {reason}"}
    p = _share(hit, mask)
    sweep, cdf, sweep_note = sweeps(ls, mask, r.operationalisation.get("sweep"))
    parts = r.definition.get("all", [r.definition])
    if sweep is None and all(d.get("kind") == "binding" for d in parts):  # categories: sweep the year instead
        y0 = int(parts[0]["year"])
        years = [y for y in range(y0 - 3, y0 + 4) if y in ds["year"].values.tolist()]

        def at(y: int) -> dict[str, Any]:
            moved = [{**d, "year": int(d["year"]) + y - y0} for d in parts]
            return moved[0] if len(moved) == 1 else {"all": moved}

        sweep = {"kind": "year", "metric": "binding_constraint", "claim_x": y0,
                 "label": "P(the claimed limits bind in year k)",
                 "points": [[y, _share(outcome(at(y), ds), mask)] for y in years]}
        sweep_note = "the claim names limits (categories), so its year is swept instead of a threshold"
    drivers = decile_drivers(driver_inputs(ds) if inputs is None else inputs, hit, mask)
    note = probability_note(p)
    if note is not None:  # 0 or 1: say why, from the samples, which cover the scenario's whole ranges
        note = f"{note}: {extremes_statement(ls, mask, p)}"
    if n < len(mask):
        scope = f"scored on the {n:,} of {len(mask):,} samples where the metric is defined"
        note = scope if note is None else f"{note}; {scope}"
    return base | {"reason": None, "probability": p, "samples_scored": n, "note": note, "sweep": sweep, "cdf": cdf,
                   "sweep_note": sweep_note, "drivers": drivers, "driver": driver_text(drivers, p)}


def score(scenario: Any, samples: int = 4000, seed: int = 0, claim_ids: list[str] | None = None,
          run: Any = None) -> list[dict[str, Any]]:
    """Every claim under `scenario` (a Scenario, preset name or path): one dict per claim with its readings.

    Top-level fields repeat the first (primary) reading's: probability (None when not scored), note, sweep, cdf,
    drivers, driver (text). `readings` lists every reading the same way. Pass an existing `run` to score its
    samples (its seed and sample count are then used). The CLI, the report and the dashboard all call this.
    """
    import computerace as cr

    from ..catalog import sources

    claims = load_claims()
    if claim_ids:
        known = {c.id for c in claims}
        for cid in claim_ids:
            if cid not in known:
                from ..errors import did_you_mean

                hint = did_you_mean(cid, known)
                raise UserError(f"unknown claim '{cid}'" + (f"; {hint}" if hint else "")
                                + " (run 'computerace claims' to list them)")
        claims = tuple(c for c in claims if c.id in claim_ids)
    if run is None:
        run = cr.run(scenario, samples=samples, seed=seed)
    samples, seed = run.manifest["samples"], run.manifest["seed"]
    ds = run.dataset
    inputs = driver_inputs(ds)
    cf_runs: dict[str, Any] = {}
    src = sources()
    out = []
    for c in claims:
        scored = []
        for r in c.readings:
            cf = None
            if r.definition is not None and any(leaf.get("kind") == "counterfactual" for leaf in _leaves_of(r.definition)):
                name = next(leaf["preset"] for leaf in _leaves_of(r.definition) if leaf.get("kind") == "counterfactual")
                if name not in cf_runs:
                    cf_ds = cr.run(name, samples=samples, seed=seed).dataset
                    if "prior_sample" in ds:  # a posterior: pair each sample with the prior draw it copies
                        cf_ds = cf_ds.isel(sample=ds["prior_sample"].values)
                    cf_runs[name] = cf_ds
                cf = cf_runs[name]
            scored.append(score_reading(r, ds, cf, inputs))
        first = scored[0]
        s = src.get(c.source) if c.source else None
        out.append({"id": c.id, "claim": c.claim, "quote": c.quote, "source": c.source,
                    "source_title": s.title if s else None, "source_url": s.url if s else None,
                    "status": "scored" if any(x["probability"] is not None for x in scored) else "not-scored",
                    **{k: first[k] for k in ("reading", "reason", "probability", "samples_scored", "note",
                                             "operationalisation", "sweep", "cdf", "sweep_note", "drivers", "driver")},
                    "readings": scored, "samples": samples, "seed": seed,
                    "scenario": run.manifest["scenario"], "scenario_hash": run.manifest["scenario_hash"]})
    return out


def sparkline_text(points: list[list[float]] | None) -> str:
    """The swept probabilities as a line of block characters (0 -> '▁', 1 -> '█'), for terminals."""
    if not points:
        return ""
    blocks = "▁▂▃▄▅▆▇█"
    return "".join(blocks[min(7, int(round(pp * 7)))] for _, pp in points if np.isfinite(pp))
