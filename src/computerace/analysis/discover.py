"""Scenario discovery: in which worlds does an outcome happen? PRIM boxes over the run's inputs, said in words.

`discover(run, outcome)` marks each sample where the outcome happens (a claim id from data/claims.yaml, a built-in
outcome such as `overtake-by-2040`, or an expression such as `stock_h100e/China/2030-12 > 5e7`; `outcome_names()`
lists them) and runs PRIM (the Patient Rule Induction Method; the EMA Workbench's implementation,
`ema_workbench.analysis.prim`) over the inputs that drive the samples:

- each uncertain parameter of the scenario, as its sampled quantile u in [0, 1] (`parameter_quantile`). A box limit
  on a scalar parameter is turned back into the parameter's units with the scenario's distribution
  (`ppf(u)`); a time series (`Series`) is drawn at one quantile for its whole path, so its limit is said as a
  quantile of the path ("US capex path in its top 30%");
- the per-sample events (`taiwan_event_year`, `euv_year`, `controls_shift_year`, `controls_regime`,
  `capex_bust_year`, `china_centralise_year` and the rest of `api.PER_SAMPLE_EVENTS`) in their own units. An
  event date after the horizon ("none") is set to the horizon's end, so "after x" reads "after x or none".

Inputs that do not vary are dropped (point parameters, the export-control schedule whose quantile is unused, an
event that never changes), and so is a parameter whose quantile only re-states an event column (the event, in
years or codes, is kept): e.g. `events.euv_year` is the event `euv_year`.

The box reported from a peeling trajectory (the rule, `choose_box`): among the boxes whose coverage is at least
`min_coverage` (0.5), the densest; a box restricting fewer dimensions is preferred when its density is within
`density_tolerance` (0.02) of that, then the one with more coverage. Restrictions whose quasi-p-value (a one-sided
binomial test of the box against the box without that restriction, Bryant and Lempert 2010) exceeds `max_qp`
(0.05) are then dropped one at a time, worst first, with ema-workbench's `drop_restriction`, and the box's
statistics are those after the drops; if the drops would take the box below the threshold, the chosen box is
reported as it was, flagged as weak in its words. A box is reported only when its density reaches `threshold` (default: the
base rate plus half the way to 1, capped at 0.5, and never below the base rate plus 0.05) and exceeds the
base rate; then PRIM looks for a further box among the samples outside it, up to `max_boxes`.

An outcome that happens in no sample (or in all) has no box: `Result.boxes` is empty and `Result.statement` says
what was searched (`no_box_statement`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError, did_you_mean

#: Per-sample event variables used as inputs beside the parameters (those present in the dataset).
EVENTS = ("taiwan_event_year", "euv_year", "controls_shift_year", "controls_regime", "capex_bust_year",
          "china_centralise_year", "taiwan_capacity_lost", "china_centralised_share_ratio", "western_model",
          "domestic_model")

#: Event variables that hold codes (whole numbers naming a state); their names come from the description.
CODE_EVENTS = ("controls_regime", "western_model", "domestic_model")

#: Built-in outcomes, as patterns: `overtake-by-YYYY`, `operational-overtake-by-YYYY`, `years-behind-below-K-in-YYYY`.
BUILTIN_EXAMPLES = ("overtake-by-2030", "overtake-by-2035", "overtake-by-2040", "operational-overtake-by-2040",
                    "years-behind-below-2-in-2030", "years-behind-below-5-in-2035")

EXPRESSION_HELP = ("an expression METRIC[/KEY]/DATE OP NUMBER, e.g. 'stock_h100e/China/2030-12 > 5e7', "
                   "'years_behind_stock/China/2030-12 < 2', 'china_share/2035-12 >= 0.2' (OP one of < <= > >=; "
                   "metrics as in analysis.metrics.sample_values; prefix 'not ' to negate any outcome)")

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater}


# ------------------------------------------------------------------------------------------------ results
@dataclass
class Dimension:
    """One restricted input of a box: limits in the input's units (and as quantiles for parameters)."""

    name: str
    kind: str  # "parameter" (a scalar), "series" (a time path drawn at one quantile) or "event"
    description: str
    unit: str
    lower: float | None  # None: not restricted below
    upper: float | None  # None: not restricted above
    q_lower: float | None  # the limits as quantiles of the parameter's distribution (parameters and series)
    q_upper: float | None
    qp_lower: float | None  # quasi-p-value of each restricted side (None: that side is not restricted)
    qp_upper: float | None
    words: str

    @property
    def qp(self) -> float:
        vals = [v for v in (self.qp_lower, self.qp_upper) if v is not None]
        return min(vals) if vals else math.nan


@dataclass
class Box:
    """A PRIM box: where the outcome happens more often than elsewhere."""

    number: int  # 1, 2, ...: the order PRIM found them in
    trajectory_index: int  # the step of the peeling trajectory the box rule chose (before insignificant
    # restrictions were dropped: the statistics here are those after the drops)
    coverage: float  # share of the samples where the outcome happens that lie in the box
    density: float  # share of the samples in the box where the outcome happens
    mass: float  # share of all samples that lie in the box
    samples: int  # samples in the box
    hits: int  # samples in the box where the outcome happens
    dimensions: list[Dimension]
    dropped_restrictions: list[str]  # dropped for a quasi-p-value above max_qp
    words: str
    trajectory: list[dict[str, float]] = field(default_factory=list)  # this box's peeling trajectory


@dataclass
class Result:
    outcome: str
    label: str  # the outcome in words
    basis: str  # "prior", "posterior" or "dataset": which samples were searched
    scenario: str | None
    samples: int
    hits: int
    base_rate: float
    inputs: list[str]  # the inputs PRIM searched
    dropped_inputs: dict[str, str]  # input -> why it was left out
    settings: dict[str, Any]
    boxes: list[Box]
    statement: str  # the whole result in words
    no_box_reason: str | None = None  # why no box is reported (None when one is)
    feature_scores: dict[str, float] = field(default_factory=dict)  # extra-trees score of each input, highest first

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        from ..results import finite

        return finite(d)

    @property
    def trajectory(self) -> list[dict[str, float]]:
        """The first box's peeling trajectory (coverage, density, mass, restricted dims per step)."""
        return self.boxes[0].trajectory if self.boxes else []


# ------------------------------------------------------------------------------------------------ outcomes
def outcome_names() -> list[str]:
    """The built-in outcome names (examples of the patterns) and every claim id."""
    from .claims import load_claims

    return list(BUILTIN_EXAMPLES) + [c.id for c in load_claims()]


def _bad_outcome(outcome: str, why: str = "") -> UserError:
    hint = did_you_mean(outcome, outcome_names())
    return UserError(
        f"unknown outcome '{outcome}'" + (f" ({why})" if why else "") + (f"; {hint}" if hint else "") + ".\n"
        "  An outcome is one of: a built-in name (overtake-by-YYYY, operational-overtake-by-YYYY, "
        "years-behind-below-K-in-YYYY; e.g. " + ", ".join(BUILTIN_EXAMPLES) + "),\n"
        "  a claim id (" + ", ".join(n for n in outcome_names() if n not in BUILTIN_EXAMPLES) + "),\n"
        "  or " + EXPRESSION_HELP + ".")


def _month_bounds(ds: Any) -> tuple[str, str]:
    months = ds["month"].values.astype("datetime64[M]")
    return str(months[0]), str(months[-1])


_BUILTIN = (r"(operational-)?overtake-by-(\d{4})", r"years-behind-below-(\d+(?:\.\d+)?)-in-(\d{4})")
_EXPRESSION = r"([a-z_0-9]+(?:/[A-Za-z_/]+)?)/(\d{4}(?:-\d{2})?)\s*(<=|>=|<|>)\s*(\S+)"


def check_outcome(outcome: str) -> str:
    """The outcome string, normalised, if it has one of the valid forms (before any run); else a UserError that
    lists them. Whether an expression's metric and date exist is checked on the run's dataset."""
    from .claims import load_claims

    text = " ".join(str(outcome).split())
    body = text[4:] if text.lower().startswith("not ") else text
    if not body:
        raise _bad_outcome(outcome, "empty")
    if (any(re.fullmatch(p, body) for p in _BUILTIN) or body in {c.id for c in load_claims()}
            or re.fullmatch(_EXPRESSION, body)):
        return text
    raise _bad_outcome(body)


def resolve_outcome(outcome: str, ds: Any, run: Any = None) -> tuple[str, np.ndarray]:
    """(the outcome in words, per-sample boolean) for an outcome string; a UserError names the valid forms."""
    from . import metrics

    text = " ".join(str(outcome).split())
    if not text:
        raise _bad_outcome(outcome, "empty")
    if text.lower().startswith("not "):
        label, hit = resolve_outcome(text[4:], ds, run)
        return f"not ({label})", ~hit
    first, last = _month_bounds(ds)
    m = re.fullmatch(_BUILTIN[0], text)
    if m:
        year = int(m.group(2))
        if not int(first[:4]) <= year <= int(last[:4]):
            raise _bad_outcome(text, f"the year must lie in the horizon {first[:4]}-{last[:4]}")
        var = "operational_h100e" if m.group(1) else "stock_h100e"
        ahead = ds[var].sel(actor="China").values > ds[var].sel(actor="US").values
        months = ds["month"].values.astype("datetime64[M]")
        upto = months <= np.datetime64(f"{year}-12", "M")
        hit = ahead[:, upto].any(axis=1)
        what = "operational stock (what its power runs)" if m.group(1) else "installed stock"
        return f"China's {what} overtakes the US's by {year}-12", hit
    m = re.fullmatch(_BUILTIN[1], text)
    if m:
        k, year = float(m.group(1)), int(m.group(2))
        try:
            v = metrics.sample_values(ds, "years_behind_stock", "China", f"{year}-12")
        except ValueError as e:
            raise _bad_outcome(text, str(e)) from None
        return f"China's installed stock is less than {m.group(1)} years behind the US's in {year}-12", v < k
    from .claims import load_claims
    from .claims import outcome as claim_outcome

    claims = {c.id: c for c in load_claims()}
    if text in claims:
        c = claims[text]
        cf = None
        if c.definition.get("kind") == "counterfactual":
            cf = _counterfactual(c.definition["preset"], ds, run, text)
        return c.reading.rstrip("."), np.asarray(claim_outcome(c.definition, ds, cf), dtype=bool)
    m = re.fullmatch(_EXPRESSION, text)
    if m:
        path, date, op, num = m.groups()
        metric, _, key = path.partition("/")
        try:
            value = float(num)
        except ValueError:
            raise _bad_outcome(text, f"'{num}' is not a number") from None
        try:
            v = metrics.sample_values(ds, metric, key or "China", date)
        except (ValueError, KeyError, IndexError) as e:
            raise _bad_outcome(text, str(e).strip("'\"")) from None
        with np.errstate(invalid="ignore"):
            hit = _OPS[op](v, value) & np.isfinite(v)
        return f"{metric}{'/' + key if key else ''} at {date} {op} {num}", hit
    raise _bad_outcome(text)


def _counterfactual(preset: str, ds: Any, run: Any, outcome: str) -> Any:
    """The counterfactual preset's samples paired with `ds` (same seed and samples; a posterior's prior indices)."""
    import computerace as cr

    manifest = getattr(run, "manifest", None)
    if not manifest:
        raise UserError(f"claim '{outcome}' compares with the preset '{preset}' run with the same seed: "
                        "pass a Run, not a bare Dataset")
    cf = cr.run(preset, samples=int(manifest["samples"]), seed=int(manifest["seed"])).dataset
    if "prior_sample" in ds:
        cf = cf.isel(sample=ds["prior_sample"].values)
    return cf


# ------------------------------------------------------------------------------------------------ inputs
@dataclass
class _Input:
    name: str
    kind: str  # parameter | series | event | quantile (a parameter with no scenario to convert it)
    values: np.ndarray
    description: str
    unit: str
    dist: Any = None
    codes: dict[int, str] | None = None
    horizon_end: float | None = None  # events in years: the value standing for "none within the horizon"


def _horizon_end(ds: Any) -> float:
    last = ds["month"].values.astype("datetime64[M]")[-1]
    y, mo = int(str(last)[:4]), int(str(last)[5:7])
    return y + mo / 12.0


def _codes(description: str) -> dict[int, str]:
    return {int(n): s.strip() for n, s in re.findall(r"(\d+)\s+([A-Za-z][A-Za-z \-]*?)\s*(?=,|$|\))", description)}


def _monotone(u: np.ndarray, v: np.ndarray) -> bool:
    """Is v a monotone function of u (so the column v re-states u)?"""
    order = np.argsort(u, kind="stable")
    d = np.diff(v[order])
    return bool((d >= 0).all() or (d <= 0).all())


def build_inputs(ds: Any, scenario: Any = None) -> tuple[list[_Input], dict[str, str]]:
    """The inputs PRIM searches (see the module docstring) and {input: why it was left out}."""
    from ..api import PER_SAMPLE_EVENTS
    from ..scenario.distributions import ControlsSchedule
    from ..scenario.schema import Series, param_specs

    specs = param_specs()
    dropped: dict[str, str] = {}
    params: list[_Input] = []
    if "parameter_quantile" in ds:
        u = np.asarray(ds["parameter_quantile"].values, dtype=np.float64)
        for j, name in enumerate(str(p) for p in ds["parameter"].values):
            col = u[:, j]
            spec = specs.get(name)
            desc = spec.description if spec else name
            unit = spec.unit if spec else "quantile"
            p = scenario.parameters.get(name) if scenario is not None else None
            if scenario is not None and p is None:
                dropped[name] = "not in the scenario"
                continue
            if p is not None and isinstance(p.value, ControlsSchedule):
                dropped[name] = "set by the export-control rules; its quantile is unused"
                continue
            if p is not None and not p.uncertain:
                dropped[name] = "a point value: does not vary"
                continue
            if np.ptp(col) == 0:
                dropped[name] = "does not vary"
                continue
            if p is None:
                params.append(_Input(name, "quantile", col, desc, unit))
            elif isinstance(p.value, Series):
                params.append(_Input(name, "series", col, desc, unit))
            else:
                params.append(_Input(name, "parameter", col, desc, unit, dist=p.value))
    events: list[_Input] = []
    end = _horizon_end(ds) if "month" in ds.coords else None
    for name in EVENTS:
        if name not in ds or ds[name].dims != ("sample",):
            continue
        v = np.asarray(ds[name].values, dtype=np.float64)
        unit = str(ds[name].attrs.get("units", PER_SAMPLE_EVENTS.get(name, ("", ""))[0]))
        desc = str(ds[name].attrs.get("description", PER_SAMPLE_EVENTS.get(name, ("", name))[1]))
        inp = _Input(name, "event", v, desc, unit)
        if unit == "year" and end is not None:
            inp.values = np.minimum(np.where(np.isnan(v), np.inf, v), end)
            inp.horizon_end = end
        if name in CODE_EVENTS:
            inp.values = np.round(inp.values)
            inp.codes = _codes(desc)
        if not np.isfinite(inp.values).all():
            dropped[name] = "has values that are not numbers"
            continue
        if np.ptp(inp.values) == 0:
            dropped[name] = "does not vary" + (" within the horizon" if inp.horizon_end is not None else "")
            continue
        events.append(inp)
    for ev in events:  # a parameter whose quantile the event only re-states: keep the event (in its own units)
        for p in list(params):
            if _monotone(p.values, ev.values):
                params.remove(p)
                dropped[p.name] = f"re-stated by the event '{ev.name}'"
    return params + events, dropped


# ------------------------------------------------------------------------------------------------ words
def _num(x: float) -> str:
    a = abs(x)
    if a >= 1e3:
        from ..formatting import si

        return si(x)
    if a == 0:
        return "0"
    return f"{x:.3g}" if a >= 1e-3 else f"{x:.2e}"


def year_month(x: float) -> str:
    """A fractional year as YYYY-MM (2029.25 -> 2029-04)."""
    y = math.floor(x + 1e-9)
    mo = min(12, int(math.floor((x - y) * 12 + 1e-6)) + 1)
    return f"{y}-{mo:02d}"


def _pct(q: float) -> str:
    return f"{100 * q:.0f}%"


def _quantile_words(q_lo: float | None, q_hi: float | None) -> str:
    if q_lo is not None and q_hi is not None:
        return f"between its {100 * q_lo:.0f}th and {100 * q_hi:.0f}th percentiles"
    if q_hi is not None:
        return f"in its lowest {_pct(q_hi)}"
    if q_lo is not None:
        return f"in its top {_pct(1 - q_lo)}"
    return "unrestricted"


def _with_unit(x: float, unit: str) -> str:
    if unit in ("1", "fraction", "code", "switch", "quantile", ""):
        return _num(x)
    return f"{_num(x)} {unit}"


def _year_span(n: str, v_lo: float | None, v_hi: float | None) -> str:
    """A box's limits on a year-valued input in words: between two months, by one, or after one."""
    if v_lo is not None and v_hi is not None:
        return f"{n} between {year_month(v_lo)} and {year_month(v_hi)}"
    if v_hi is not None:
        return f"{n} by {year_month(v_hi)}"
    return f"{n} after {year_month(v_lo)}"  # type: ignore[arg-type]


def _dimension(inp: _Input, lo: float, hi: float, init_lo: float, init_hi: float,
               qp: list[float] | None) -> Dimension:
    r_lo, r_hi = lo > init_lo, hi < init_hi
    qpl = float(qp[0]) if qp is not None and r_lo and qp[0] >= 0 else None
    qph = float(qp[1]) if qp is not None and r_hi and qp[1] >= 0 else None
    n = inp.name
    if inp.kind in ("parameter", "series", "quantile"):
        q_lo, q_hi = (float(lo) if r_lo else None), (float(hi) if r_hi else None)
        if inp.kind == "parameter":
            v_lo = float(inp.dist.ppf(np.array([lo]))[0]) if r_lo else None
            v_hi = float(inp.dist.ppf(np.array([hi]))[0]) if r_hi else None
            qw = _quantile_words(q_lo, q_hi)
            if v_lo is not None and v_hi is not None and v_lo == v_hi:
                words = f"{n} = {_with_unit(v_lo, inp.unit)}"
            elif inp.unit == "year":
                words = f"{_year_span(n, v_lo, v_hi)} ({qw})"
            elif v_lo is not None and v_hi is not None:
                words = f"{_num(v_lo)} < {n} < {_with_unit(v_hi, inp.unit)} ({qw})"
            elif v_hi is not None:
                words = f"{n} < {_with_unit(v_hi, inp.unit)} ({qw})"
            else:
                words = f"{n} > {_with_unit(v_lo, inp.unit)} ({qw})"  # type: ignore[arg-type]
            return Dimension(n, "parameter", inp.description, inp.unit, v_lo, v_hi, q_lo, q_hi, qpl, qph, words)
        what = f"{n} path" if inp.kind == "series" else f"{n} (as a quantile)"
        words = f"{what} {_quantile_words(q_lo, q_hi)}"
        return Dimension(n, inp.kind, inp.description, "quantile", q_lo, q_hi, q_lo, q_hi, qpl, qph, words)
    v_lo, v_hi = (float(lo) if r_lo else None), (float(hi) if r_hi else None)
    if inp.codes is not None:
        vals = np.unique(inp.values)
        inside = [int(v) for v in vals if lo <= v <= hi]
        names = [inp.codes.get(v, str(v)) for v in inside]
        words = f"{n} = {names[0]}" if len(names) == 1 else f"{n} in {{{', '.join(names)}}}"
    elif inp.horizon_end is not None:
        end = year_month(inp.horizon_end - 1 / 24)
        if v_lo is not None and v_lo >= inp.horizon_end - 1e-9:
            words = f"{n}: none by {end}"
        else:
            words = _year_span(n, v_lo, v_hi) + (f" (or none by {end})" if v_hi is None else "")
    elif v_lo is not None and v_hi is not None:
        words = f"{_num(v_lo)} <= {n} <= {_with_unit(v_hi, inp.unit)}"
    elif v_hi is not None:
        words = f"{n} <= {_with_unit(v_hi, inp.unit)}"
    else:
        words = f"{n} >= {_with_unit(v_lo, inp.unit)}"  # type: ignore[arg-type]
    return Dimension(n, "event", inp.description, inp.unit, v_lo, v_hi, None, None, qpl, qph, words)


def box_words(label: str, box: Box) -> str:
    where = " and ".join(d.words for d in box.dimensions) or "anywhere (no restriction)"
    among = "" if box.number == 1 else f" (among the samples outside box{'es 1-' if box.number > 2 else ' '}{box.number - 1})"
    return (f"Box {box.number}{among}: {_pct(box.coverage)} of the samples where it happens lie in this box (coverage), "
            f"and within it it happens in {_pct(box.density)} of samples (density; the box holds {_pct(box.mass)} "
            f"of all samples): {where}.")


def no_box_statement(label: str, hits: int, samples: int, inputs: list[_Input], basis: str,
                     scenario: str | None) -> str:
    """What was searched when an outcome never (or always) happens, so no box can separate it."""
    never = hits == 0
    kinds = {"parameter": 0, "series": 0, "event": 0, "quantile": 0}
    for i in inputs:
        kinds[i.kind] += 1
    searched = (f"{kinds['parameter'] + kinds['quantile']} parameters over their whole distributions, "
                f"{kinds['series']} time paths over all their quantiles and {kinds['event']} per-sample events "
                f"over every value they took")
    where = f"the ranges of the scenario '{scenario}'" if scenario else "the dataset's ranges"
    bound = f"below about 1/{samples:,}" if never else f"above about 1 - 1/{samples:,}"
    return (f"{label}: {'never' if never else 'always'} - in {hits:,} of {samples:,} {basis} samples. No box: "
            f"no parameter region within {where} changes the outcome in these samples. Searched {searched} "
            f"({len(inputs)} inputs). With {samples:,} samples a probability {bound} cannot be ruled out.")


# ------------------------------------------------------------------------------------------------ PRIM
@contextlib.contextmanager
def _ema_import() -> Any:
    """Import ema-workbench quietly and cheaply. It warns that optional parallel back-ends are missing; and its
    `method_logger` decorator, applied at class definition, calls `inspect.getouterframes` with one line of source
    context, which reads the source file of every frame on the stack: from deep inside a report (CLI -> save ->
    report -> discover) that cost ~2.7 s of ~4.5 s of import here. It uses only the caller's name, which
    context=0 gives without reading any file, so the import runs with context 0 (restored afterwards)."""
    import inspect

    original = inspect.getouterframes
    inspect.getouterframes = lambda frame, context=1: original(frame, 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        inspect.getouterframes = original


def _prim_module() -> Any:
    with _ema_import():
        from ema_workbench.analysis import prim
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return prim


def _trajectory(box: Any) -> list[dict[str, float]]:
    pt = box.peeling_trajectory
    return [{"coverage": float(r.coverage), "density": float(r.density), "mass": float(r.mass),
             "restricted_dims": int(r.res_dim)} for r in pt.itertuples()]


def choose_box(trajectory: list[dict[str, float]], min_coverage: float = 0.5,
               density_tolerance: float = 0.02) -> int:
    """The index of the box to report on a peeling trajectory (see the module docstring for the rule)."""
    ok = [i for i, t in enumerate(trajectory) if t["coverage"] >= min_coverage - 1e-12]
    if not ok:
        return 0
    best = max(trajectory[i]["density"] for i in ok)
    near = [i for i in ok if trajectory[i]["density"] >= best - density_tolerance]
    return min(near, key=lambda i: (trajectory[i]["restricted_dims"], -trajectory[i]["coverage"],
                                    -trajectory[i]["density"], i))


def default_threshold(base_rate: float) -> float:
    """The density a box must reach to be reported: 1.25 x the base rate (the outcome a quarter more likely inside
    than overall), at most half-way from the base rate to 1."""
    return float(min(1.25 * base_rate, base_rate + (1 - base_rate) / 2))


def feature_scores(x: Any, hit: np.ndarray, seed: int = 0) -> dict[str, float]:
    """{input: extra-trees feature score} (ema-workbench's `get_ex_feature_scores`, a fixed random state), highest
    first: how much each input helps tell the samples where the outcome happens from the rest."""
    with _ema_import():
        from ema_workbench.analysis import feature_scoring

        scores, _ = feature_scoring.get_ex_feature_scores(x, hit.astype(np.int64), nr_trees=100,
                                                          random_state=seed)
    col = scores.columns[0]
    return {str(k): float(v) for k, v in scores[col].items()}


def discover(run_or_dataset: Any, outcome: str, *, scenario: Any = None, threshold: float | None = None,
             peel_alpha: float = 0.05, paste_alpha: float = 0.05, min_mass: float = 0.05,
             min_coverage: float = 0.5, density_tolerance: float = 0.02, max_qp: float | None = 0.05,
             max_inputs: int | None = 10, max_boxes: int = 2, basis: str | None = None) -> Result:
    """Scenario discovery for `outcome` over the samples of a Run (or an xarray Dataset; pass `scenario` to
    turn its parameter limits into units). See the module docstring for the steps and the box rule.

    threshold: the density a box must reach to be reported (default `default_threshold(base rate)`);
    peel_alpha / paste_alpha / min_mass: PRIM's (the share peeled per step, pasted per step, the smallest box);
    min_coverage, density_tolerance: the box rule (`choose_box`); max_qp: drop restrictions whose quasi-p-value
    exceeds it (None keeps them all); max_inputs: PRIM searches the inputs with the highest feature scores (None:
    all); max_boxes: boxes to look for. Deterministic: the same samples give the same boxes.
    """
    ds = getattr(run_or_dataset, "dataset", run_or_dataset)
    run = run_or_dataset if hasattr(run_or_dataset, "dataset") else None
    sc = scenario if scenario is not None else getattr(run, "scenario", None)
    if basis is None:
        basis = ("posterior" if "prior_sample" in ds else "prior") if run is not None else "dataset"
    for name, v, lo, hi in (("peel_alpha", peel_alpha, 0, 0.5), ("paste_alpha", paste_alpha, 0, 0.5),
                            ("min_mass", min_mass, 0, 1), ("min_coverage", min_coverage, 0, 1)):
        if not lo < v < hi:
            raise UserError(f"{name} must lie in ({lo}, {hi}), got {v}")
    if threshold is not None and not 0 < threshold <= 1:
        raise UserError(f"threshold (the density a box must reach) must lie in (0, 1], got {threshold}")
    if max_inputs is not None and max_inputs < 1:
        raise UserError(f"max_inputs must be at least 1, got {max_inputs}")
    label, hit = resolve_outcome(outcome, ds, run)
    n, k = int(hit.size), int(hit.sum())
    base = k / n if n else math.nan
    inputs, dropped = build_inputs(ds, sc)
    sc_name = getattr(sc, "name", None)
    thr = default_threshold(base) if threshold is None else float(threshold)
    settings = {"threshold": thr, "peel_alpha": peel_alpha, "paste_alpha": paste_alpha, "min_mass": min_mass,
                "min_coverage": min_coverage, "density_tolerance": density_tolerance, "max_qp": max_qp,
                "max_inputs": max_inputs, "max_boxes": max_boxes, "library": _library_version()}
    head = f"{label} in {_pct(base)} of the {n:,} {basis} samples ({k:,})."

    def result(boxes: list[Box], statement: str, reason: str | None, searched: list[_Input],
               scores: dict[str, float] | None = None) -> Result:
        return Result(outcome, label, basis, sc_name, n, k, base, [i.name for i in searched], dropped, settings,
                      boxes, statement, reason, scores or {})

    if k == 0 or k == n:
        s = no_box_statement(label, k, n, inputs, basis, sc_name)
        return result([], s, s, inputs)
    if not inputs:
        s = f"{head} No box: no input varies across the samples."
        return result([], s, s, inputs)

    import pandas as pd

    # every column as float: ema-workbench pastes fractional limits into integer columns, which pandas 3 refuses
    x = pd.DataFrame({i.name: i.values.astype(np.float64) for i in inputs})
    scores = feature_scores(x, hit)
    if max_inputs is not None and len(inputs) > max_inputs:
        keep = list(scores)[:max_inputs]
        for name in list(scores)[max_inputs:]:
            dropped[name] = (f"not among the {max_inputs} inputs with the highest feature scores "
                             f"(score {scores[name]:.3g})")
        inputs = [i for i in inputs if i.name in keep]
        x = x[[i.name for i in inputs]]
    by_name = {i.name: i for i in inputs}
    prim = _prim_module()
    # ema's own threshold only decides whether it keeps the last box of a trajectory: ours is applied below
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ema-workbench's own deprecation warnings from pandas
        p = prim.Prim(x, hit.astype(np.int64), threshold=1e-9, peel_alpha=peel_alpha, paste_alpha=paste_alpha,
                      mass_min=min_mass)
    boxes: list[Box] = []
    reason = None
    outside = np.ones(n, dtype=bool)  # samples in no box reported so far
    while len(boxes) < max_boxes:
        left = int(hit[outside].sum())
        if left < max(5, 0.05 * k):  # too few cases left to look for another box
            break
        pbox = _quiet(p.find_box)
        if pbox is None:
            break
        traj = _trajectory(pbox)
        i = choose_box(traj, min_coverage * left / k, density_tolerance)  # coverage counts every case
        _quiet(pbox.select, i)
        drops = _quiet(_prune, pbox, max_qp) if max_qp is not None else []
        j = pbox._cur_box  # noqa: SLF001 (the selected step: `i` or the step after the drops)
        row = pbox.peeling_trajectory.iloc[j]
        density = float(row.density)
        weak = False
        if drops and (density < thr - 1e-12 or density <= base or int(row.res_dim) == 0):
            # dropping the insignificant limits loses the box: report the chosen box as it was, flagged as weak
            _quiet(pbox.select, i)
            drops, weak = [], True
            j = pbox._cur_box  # noqa: SLF001
            row = pbox.peeling_trajectory.iloc[j]
            density = float(row.density)
        if j == 0 or int(row.res_dim) == 0 or density < thr - 1e-12 or density <= base:
            if not boxes:
                best = max((t["density"] for t in traj if t["coverage"] >= min_coverage - 1e-12), default=base)
                reason = (f"No box: the box the rule chose on PRIM's peeling trajectory (coverage at least "
                          f"{_pct(min_coverage)}, density {_pct(best)}) keeps a density of {_pct(density)} once "
                          f"its restrictions that are not significant (quasi-p above {max_qp}) are dropped, below "
                          f"the threshold {_pct(thr)} or the base rate {_pct(base)}: the outcome is spread thinly "
                          "over the inputs.")
            break
        lims, init = pbox.box_lims[j], p.box_init
        qps = pbox.qp[j]
        dims = []
        for name in x.columns:
            lo, hi = float(lims[name].iloc[0]), float(lims[name].iloc[1])
            ilo, ihi = float(init[name].iloc[0]), float(init[name].iloc[1])
            if lo > ilo or hi < ihi:
                dims.append(_dimension(by_name[name], lo, hi, ilo, ihi, qps.get(name)))
        dims.sort(key=lambda d: (d.qp if math.isfinite(d.qp) else 2.0, d.name))
        b = Box(len(boxes) + 1, i, float(row.coverage), density, float(row.mass), int(row.n), int(row.k), dims,
                drops, "", traj)
        b.words = box_words(label, b)
        if weak:
            b.words += (" A weak box: not every limit is significant at the 5% level (quasi-p-values in the table), "
                        "and without them the box would be no denser than the threshold.")
        boxes.append(b)
        outside[np.asarray(pbox.yi)] = False
    if not boxes:
        reason = reason or "No box: PRIM found no region where the outcome is denser than elsewhere."
        return result([], f"{head} {reason}", reason, inputs, scores)
    statement = " ".join([head] + [b.words for b in boxes])
    return result(boxes, statement, None, inputs, scores)


def _quiet(fn: Callable[..., Any], *args: Any) -> Any:
    """Call an ema-workbench function without its warnings (pandas deprecations inside the library)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _prune(pbox: Any, max_qp: float) -> list[str]:
    """Drop the restrictions of the selected step whose quasi-p-value exceeds max_qp, worst first (ema's drop_restriction);
    the box ends selected at the last step added. Returns the dropped dimensions."""
    dropped: list[str] = []
    while True:
        j = pbox._cur_box  # noqa: SLF001
        qp = pbox.qp[j]
        worst = max(((max(v for v in vals if v >= 0), name) for name, vals in qp.items()
                     if any(v >= 0 for v in vals)), default=None)
        if worst is None or worst[0] <= max_qp:
            return dropped
        pbox.drop_restriction(worst[1], j)
        dropped.append(worst[1])


def _library_version() -> str:
    try:
        from importlib.metadata import version

        return f"ema_workbench {version('ema_workbench')}"
    except Exception:  # pragma: no cover - metadata missing
        return "ema_workbench"
