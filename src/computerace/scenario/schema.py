"""The scenario schema: which keys exist (params.csv), their units and ranges, and validation.

The parameter table is data (params.csv: key, unit, kind, min, max, description); docs, error hints
and validation all come from it. A scenario entry looks like::

    supply:
      chip_efficiency_growth_per_year:
        value: 1.25 to 1.45          # or a number, a distribution mapping, by_year or schedule
        unit: x/year
        source: ai2027-compute        # an id in data/sources.csv ...
        # assumption: "why this value"  # ... or the reasoning, when no source exists
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..errors import ScenarioError, did_you_mean
from . import distributions as D
from .yamlio import Lines

TOP_KEYS = ("name", "description", "extends", "horizon", "ci", "mode", "correlations", "paths")
ENTRY_KEYS = ("value", "unit", "source", "assumption", "note", "ci", "interpolate")


@dataclass(frozen=True)
class ParamSpec:
    key: str
    unit: str
    kind: Literal["scalar", "series"]
    min: float
    max: float
    description: str

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]


@lru_cache(maxsize=1)
def param_specs() -> dict[str, ParamSpec]:
    text = resources.files("computerace.scenario").joinpath("params.csv").read_text(encoding="utf-8")
    out = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["key"]] = ParamSpec(row["key"], row["unit"], row["kind"], float(row["min"]),  # type: ignore[arg-type]
                                    float(row["max"]), row["description"])
    return out


def sections() -> list[str]:
    return sorted({s.section for s in param_specs().values()})


# --------------------------------------------------------------------------------------- models
class Entry(BaseModel):
    """One parameter as written in YAML (before the value is parsed into distributions)."""

    model_config = ConfigDict(extra="forbid")
    value: Any
    unit: str
    source: str | list[str] | None = None
    assumption: str | None = None
    note: str | None = None
    ci: float | None = None
    interpolate: Literal["log", "linear"] | None = None

    @field_validator("assumption")
    @classmethod
    def _reasoned(cls, v: str | None) -> str | None:
        if v is not None and len(v.strip()) < 10:
            raise ValueError("an assumption states its reasoning in a sentence (at least 10 characters)")
        return v


#: A distribution whose draws fall outside a key's valid range less often than this is clipped to the range;
#: more often, and it is refused (the value or its unit is wrong). CLIP_GRID quantiles measure the share.
CLIP_SHARE = 0.01
CLIP_GRID = 2000

#: Years a horizon may span: the catalog starts in 2020; the sources reach 2040, and 20 years past them every path
#: is already extrapolation of extrapolation (a longer horizon would also multiply the run time for nothing).
HORIZON_YEARS = (2020, 2060)


class Horizon(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = "2022-01"
    end: str = "2040-12"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _month(cls, v: Any) -> str:
        s = str(v)
        if not re.fullmatch(r"\d{4}-\d{2}", s) or not 1 <= int(s[5:]) <= 12:
            raise ValueError(f"a month as YYYY-MM (quote it in YAML), found {v!r}")
        return s


class Paths(BaseModel):
    """How a time path's knots vary together: a common level plus per-knot deviations (AR(1) in time).

    The normal behind knot k is z_k = sqrt(1 - s) z + sqrt(s) e_k, with z the parameter's common (copula) normal,
    s = deviation_share and e an AR(1) process over the knot times, corr(e_i, e_j) = rho_per_year^|t_i - t_j|.
    Each knot keeps its distribution; knots i, j correlate (1 - s) + s rho^|t_i - t_j|, so a path can rise then
    fall. s = 0: every knot at one quantile (comonotonic).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    deviation_share: float = 0.0
    rho_per_year: float = 0.5
    source: str | None = None
    assumption: str | None = None

    @field_validator("deviation_share")
    @classmethod
    def _share(cls, v: float) -> float:
        if not 0 <= v <= 1:
            raise ValueError("deviation_share is a fraction of each knot's variance, in [0, 1]")
        return v

    @field_validator("rho_per_year")
    @classmethod
    def _rho(cls, v: float) -> float:
        if not 0 <= v < 1:
            raise ValueError("rho_per_year is a year-to-year correlation in [0, 1)")
        return v


class Correlation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    between: tuple[str, str]
    rho: float
    source: str | None = None
    assumption: str | None = None


@dataclass(frozen=True)
class Series:
    """A time-varying value: distributions at knot times, drawn comonotonically (one quantile).

    `times` are fractional years. by_year knots sit mid-year (Y + 0.5) and are interpolated
    (log-linear for positive values unless `interpolate: linear`); schedule knots are month starts
    and hold until the next one (piecewise constant). Flat beyond the first and last knot.
    """

    times: tuple[float, ...]
    dists: tuple[D.Dist, ...]
    mode: Literal["log", "linear", "step"]


@dataclass(frozen=True)
class Parameter:
    spec: ParamSpec
    value: D.Dist | Series
    source: tuple[str, ...]
    assumption: str | None
    note: str | None
    file: str
    line: int | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def uncertain(self) -> bool:
        if isinstance(self.value, Series):
            return any(not d.is_point for d in self.value.dists)
        return not self.value.is_point


class Scenario(BaseModel):
    """A validated scenario: parameters with parsed distributions, correlations, horizon."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)
    name: str
    description: str
    origin: str
    horizon: Horizon
    ci: float
    parameters: dict[str, Parameter]
    correlations: list[Correlation]
    resolved: dict[str, Any]
    paths: Paths = Paths()

    @property
    def hash(self) -> str:
        blob = json.dumps(self.resolved, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def months(self) -> np.ndarray:
        return np.arange(np.datetime64(self.horizon.start, "M"), np.datetime64(self.horizon.end, "M") + 1)

    def sources_used(self) -> set[str]:
        ids = {s for p in self.parameters.values() for s in p.source}
        return ids | {c.source for c in self.correlations if c.source} | ({self.paths.source} if self.paths.source else set())


# ----------------------------------------------------------------------------------- validation
def _loc(lines: Lines, path: tuple[str, ...]) -> tuple[str | None, int | None]:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), (None, None))


def _pydantic_error(e: ValidationError, lines: Lines, base: tuple[str, ...],
                    allowed: tuple[str, ...] = ENTRY_KEYS) -> ScenarioError:
    err = e.errors()[0]
    path = base + tuple(str(x) for x in err["loc"])
    file, line = _loc(lines, path)
    if err["type"] == "extra_forbidden":
        hint = did_you_mean(str(err["loc"][-1]), allowed)
        return ScenarioError("unknown key", file=file, line=line, key=".".join(path),
                             expected="one of " + ", ".join(allowed),
                             fix=(hint + " " if hint else "") + "remove or rename the key")
    if err["type"] == "missing":
        return ScenarioError("required key missing", file=file, line=line, key=".".join(path),
                             fix=f"add '{err['loc'][-1]}:' here")
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    fix = {"string_type": "write text (quote it)", "float_type": "write a number", "int_type": "write a whole number",
           "float_parsing": "write a number", "int_parsing": "write a whole number", "dict_type": "write a mapping "
           "(key: value lines)", "list_type": "write a list", "bool_type": "write true or false"}.get(
        err["type"], "see docs/scenarios.md for this key")
    from .distributions import describe

    return ScenarioError(msg, file=file, line=line, key=".".join(path), found=describe(err.get("input"))[:80], fix=fix)


def _switch_values(d: D.Dist) -> bool:
    """A switch takes the values 0 and 1 only: a point, or a mixture of points (model-form weights)."""
    if isinstance(d, D.Point):
        return d.value in (0.0, 1.0)
    return isinstance(d, D.Mixture) and all(isinstance(c, D.Point) and c.value in (0.0, 1.0) for c in d.components)


def _parse_value(spec: ParamSpec, entry: Entry, ci: float, file: str | None, line: int | None
                 ) -> D.Dist | Series:
    ci = entry.ci if entry.ci is not None else ci
    v = entry.value
    if v == "controls":
        if spec.key != "channels.legal_import_allowed":
            raise ScenarioError("'controls' only sets channels.legal_import_allowed", file=file, line=line,
                                key=spec.key, fix="give a number or a distribution")
        return D.ControlsSchedule("from the export-control rules (export_controls.yaml)")

    def dist(x: Any) -> D.Dist:
        try:
            d = D.parse(x, ci)
        except D.DistError as e:
            raise ScenarioError("not a valid value", file=file, line=line, key=spec.key, expected=str(e),
                                found=D.describe(x)[:80], fix="see docs/scenarios.md for the value forms") from None
        lo, hi = d.bounds()
        if spec.unit == "switch" and not _switch_values(d):
            raise ScenarioError("a switch is 0 or 1", file=file, line=line, key=spec.key,
                                expected="0 or 1, or a mixture of the two forms with weights", found=D.describe(x)[:80],
                                fix=f"{spec.key}: 1 for the supply physics, 0 for the growth-rate form, or "
                                    "{mixture: [{weight: 0.7, value: 1}, {weight: 0.3, value: 0}]}")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < spec.min or hi > spec.max:
            # One rule (docs/scenarios.md): a tail of less than CLIP_SHARE beyond the range is clipped to it (and
            # counted in the manifest); more than that means the value or its unit is wrong, and it is refused.
            grid = (np.arange(CLIP_GRID) + 0.5) / CLIP_GRID
            v = d.ppf(grid)
            outside = float(np.mean(~np.isfinite(v) | (v < spec.min) | (v > spec.max)))
            if outside >= CLIP_SHARE or not (math.isfinite(lo) and math.isfinite(hi)):
                from .distributions import describe

                bounded = spec.unit == "fraction"
                raise ScenarioError("value outside the valid range", file=file, line=line, key=spec.key,
                                    expected=f"values in [{spec.min:g}, {spec.max:g}] {spec.unit}",
                                    found=f"{describe(x)}: {outside:.1%} of its draws fall outside "
                                          f"(0.1%-99.9% range {lo:.4g} .. {hi:.4g})",
                                    fix="check the unit and magnitude"
                                        + (f"; for a bounded quantity use {{uniform: {{low: a, high: b}}}} or "
                                           f"{{beta: {{a: 2, b: 5, low: {spec.min:g}, high: {spec.max:g}}}}}, which "
                                           "stay inside" if bounded else ", or narrow the distribution"))
        return d

    if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("by_year", "schedule"):
        kind, body = next(iter(v.items()))
        if spec.kind != "series":
            raise ScenarioError(f"'{kind}' is only for time-varying keys; this key is one value", file=file,
                                line=line, key=spec.key, fix="give a single number or distribution")
        if not isinstance(body, dict) or not body:
            raise ScenarioError(f"'{kind}' needs a mapping of times to values", file=file, line=line,
                                key=spec.key, fix=f"e.g. {kind}: {{2024: 1.5, 2030: '1.1 to 1.3'}}")
        knots = []
        for t, x in body.items():
            ts = str(t)
            if kind == "by_year" and re.fullmatch(r"\d{4}", ts):
                knots.append((int(ts) + 0.5, dist(x)))
            elif kind == "schedule" and re.fullmatch(r"\d{4}-\d{2}", ts) and 1 <= int(ts[5:]) <= 12:
                knots.append((int(ts[:4]) + (int(ts[5:]) - 1) / 12, dist(x)))
            else:
                raise ScenarioError(f"bad time '{ts}' in {kind}", file=file, line=line, key=spec.key,
                                    expected="a year YYYY" if kind == "by_year" else "a month 'YYYY-MM' (quoted)",
                                    found=ts, fix="use increasing years or months as keys")
        times = [k[0] for k in knots]
        if times != sorted(times) or len(set(times)) != len(times):
            raise ScenarioError(f"{kind} times must increase", file=file, line=line, key=spec.key,
                                found=", ".join(map(str, body)), fix="list each time once, in order")
        dists = tuple(k[1] for k in knots)
        # Log interpolation needs every knot positive over the whole range that can be drawn
        # (draws use quantiles down to 1e-12), after clipping to the key's range.
        positive = all(max(float(d.ppf(np.array([1e-12]))[0]), spec.min) > 0 for d in dists)
        if kind == "schedule":
            mode = "step"
        elif entry.interpolate == "log" and not positive:
            raise ScenarioError("log interpolation needs knots that stay above zero", file=file, line=line,
                                key=spec.key, found=", ".join(d.text for d in dists),
                                fix="use 'interpolate: linear', or distributions that stay positive")
        elif entry.interpolate:
            mode = entry.interpolate
        else:
            mode = "log" if positive else "linear"
        return Series(tuple(times), dists, mode)  # type: ignore[arg-type]
    return dist(v)


def build(raw: dict[str, Any], lines: Lines, origin: str, source_ids: set[str]) -> Scenario:
    """Validate a merged scenario tree and return a Scenario. Every problem is a ScenarioError."""
    specs = param_specs()
    secs = sections()
    file0, _ = lines.get((), (origin, None))
    if not isinstance(raw, dict):
        raise ScenarioError("a scenario is a YAML mapping of keys", file=file0, line=1,
                            fix="start from 'extends: baseline' and override keys")
    for k in raw:
        if k not in TOP_KEYS and k not in secs:
            file, line = _loc(lines, (k,))
            hint = did_you_mean(k, list(TOP_KEYS) + secs)
            raise ScenarioError("unknown top-level key", file=file, line=line, key=k,
                                expected="one of " + ", ".join(list(TOP_KEYS) + secs),
                                fix=(hint + " " if hint else "") + "remove or rename the key")
    try:
        horizon = Horizon(**(raw.get("horizon") or {}))
    except ValidationError as e:
        raise _pydantic_error(e, lines, ("horizon",), ("start", "end")) from None
    except TypeError:
        file, line = _loc(lines, ("horizon",))
        raise ScenarioError("horizon is a mapping", file=file, line=line, key="horizon",
                            fix="horizon: {start: '2022-01', end: '2040-12'}") from None
    if horizon.end < horizon.start:
        file, line = _loc(lines, ("horizon",))
        raise ScenarioError("horizon ends before it starts", file=file, line=line, key="horizon",
                            found=f"{horizon.start} .. {horizon.end}", fix="swap start and end")
    for which in ("start", "end"):
        year = int(getattr(horizon, which)[:4])
        if not HORIZON_YEARS[0] <= year <= HORIZON_YEARS[1]:
            file, line = _loc(lines, ("horizon", which))
            raise ScenarioError(f"horizon {which} outside the years the model supports", file=file, line=line,
                                key=f"horizon.{which}", found=getattr(horizon, which),
                                fix=f"a month from {HORIZON_YEARS[0]}-01 to {HORIZON_YEARS[1]}-12 (the sources and "
                                    "extrapolations reach 2040; beyond 2060 the model has nothing to say)")
    ci = raw.get("ci", 90)
    if isinstance(ci, bool) or not isinstance(ci, int | float) or not D.CI_RANGE[0] <= ci <= D.CI_RANGE[1]:
        file, line = _loc(lines, ("ci",))
        raise ScenarioError("ci is the default interval level in percent", file=file, line=line, key="ci",
                            expected=f"a number from {D.CI_RANGE[0]:g} to {D.CI_RANGE[1]:g} (90 means 'a to b' is a "
                                     "90% interval)", found=D.describe(ci), fix="ci: 90")

    params: dict[str, Parameter] = {}
    for sec in secs:
        body = raw.get(sec)
        if body is None:
            continue
        if not isinstance(body, dict):
            file, line = _loc(lines, (sec,))
            raise ScenarioError("a section is a mapping of parameters", file=file, line=line, key=sec,
                                found=D.describe(body)[:60], fix=f"indent the parameters of '{sec}' under it")
        names = [k.split(".", 1)[1] for k in specs if k.startswith(sec + ".")]
        for name, item in body.items():
            key = f"{sec}.{name}"
            file, line = _loc(lines, (sec, name))
            if key not in specs:
                hint = did_you_mean(name, names)
                raise ScenarioError("unknown parameter", file=file, line=line, key=key,
                                    expected=f"a parameter of '{sec}': " + ", ".join(sorted(names)),
                                    fix=(hint + " " if hint else "") + "see docs/parameters.md for every key")
            spec = specs[key]
            if not isinstance(item, dict):
                raise ScenarioError("a parameter is a mapping with value, unit and source or assumption",
                                    file=file, line=line, key=key, found=D.describe(item)[:60],
                                    fix=f"{name}: {{value: {D.describe(item)}, unit: {spec.unit}, assumption: '...'}}")
            try:
                entry = Entry(**item)
            except ValidationError as e:
                raise _pydantic_error(e, lines, (sec, name)) from None
            if entry.unit != spec.unit:
                raise ScenarioError("wrong unit", file=file, line=line, key=key, expected=spec.unit,
                                    found=entry.unit, fix=f"convert the value to {spec.unit} and write 'unit: {spec.unit}'")
            ids = (entry.source,) if isinstance(entry.source, str) else tuple(entry.source or ())
            if not ids and not entry.assumption:
                raise ScenarioError("every number needs a 'source' or an 'assumption'", file=file,
                                    line=line, key=key, found="neither",
                                    fix="add 'source: <id in data/sources.csv>' or 'assumption: <your reasoning>'")
            for sid in ids:
                if sid not in source_ids:
                    hint = did_you_mean(sid, source_ids)
                    file, line = _loc(lines, (sec, name, "source"))
                    raise ScenarioError("unknown source id", file=file, line=line, key=key + ".source",
                                        found=sid, fix=(hint + " " if hint else "")
                                        + "add the source to data/sources.csv or run 'computerace data sources'")
            value = _parse_value(spec, entry, float(ci), file, line)
            params[key] = Parameter(spec, value, ids, entry.assumption, entry.note, file or origin, line)
    missing = [k for k in specs if k not in params]
    if missing:
        raise ScenarioError("parameters missing", file=file0, line=1, key=missing[0],
                            expected="every parameter of the model", found=f"{len(missing)} missing: "
                            + ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else ""),
                            fix="start the file with 'extends: baseline' to inherit the rest")
    corrs = _correlations(raw.get("correlations") or [], lines, params, source_ids)
    paths = _paths(raw.get("paths"), lines, source_ids)
    mode = raw.get("mode", "uncertain")
    if mode not in ("uncertain", "point"):
        file, line = _loc(lines, ("mode",))
        raise ScenarioError("mode is 'uncertain' or 'point'", file=file, line=line, key="mode", found=repr(mode),
                            fix="mode: point runs every distribution at its median (one deterministic path)")
    if mode == "point":
        params = {k: _at_median(p) for k, p in params.items()}
        corrs = []
    name = str(raw.get("name") or origin)
    return Scenario(name=name, description=str(raw.get("description", "")), origin=origin, horizon=horizon,
                    ci=float(ci), parameters=params, correlations=corrs, resolved=raw, paths=paths)


def _paths(item: Any, lines: Lines, source_ids: set[str]) -> Paths:
    file, line = _loc(lines, ("paths",))
    if item is None:
        return Paths()
    if not isinstance(item, dict):
        raise ScenarioError("paths is a mapping", file=file, line=line, key="paths",
                            fix="paths: {deviation_share: 0.5, rho_per_year: 0.6, assumption: '...'}")
    try:
        p = Paths(**item)
    except ValidationError as e:
        raise _pydantic_error(e, lines, ("paths",), ("deviation_share", "rho_per_year", "source", "assumption")) from None
    if p.deviation_share > 0 and (bool(p.source) == bool(p.assumption) or (p.source and p.source not in source_ids)):
        raise ScenarioError("paths needs one known 'source' or an 'assumption'", file=file, line=line, key="paths",
                            fix="add 'assumption: <your reasoning>' or a source id from data/sources.csv")
    return p


def _at_median(p: Parameter) -> Parameter:
    """The parameter with every distribution replaced by a point at its median (point mode)."""
    from dataclasses import replace

    def pt(d: D.Dist) -> D.Dist:
        if d.is_point or isinstance(d, D.ControlsSchedule):  # the rules engine is not a distribution
            return d
        return D.Point(f"median of {d.text}", d.median)

    if isinstance(p.value, Series):
        return replace(p, value=Series(p.value.times, tuple(pt(d) for d in p.value.dists), p.value.mode))
    return replace(p, value=pt(p.value))


def _correlations(items: Any, lines: Lines, params: dict[str, Parameter], source_ids: set[str]
                  ) -> list[Correlation]:
    file, line = _loc(lines, ("correlations",))
    if not isinstance(items, list):
        raise ScenarioError("correlations is a list", file=file, line=line, key="correlations",
                            fix="- {between: [supply.x, finance.y], rho: 0.5, assumption: '...'}")
    out = []
    seen: dict[frozenset[str], int] = {}
    for i, item in enumerate(items):
        f, ln = _loc(lines, ("correlations", str(i)))
        try:
            c = Correlation(**item) if isinstance(item, dict) else Correlation.model_validate(item)
        except ValidationError as e:
            raise _pydantic_error(e, lines, ("correlations", str(i)), ("between", "rho", "source", "assumption")) from None
        for k in c.between:
            if k not in params:
                hint = did_you_mean(k, params)
                raise ScenarioError("correlation names an unknown parameter", file=f, line=ln,
                                    key=f"correlations[{i}]", found=k, fix=hint or "use a 'section.key' name")
        if c.between[0] == c.between[1] or not -1 < c.rho < 1:
            raise ScenarioError("a correlation links two different parameters with -1 < rho < 1", file=f,
                                line=ln, key=f"correlations[{i}]", found=f"{c.between}, rho={c.rho}")
        pair = frozenset(c.between)
        if pair in seen:
            raise ScenarioError("the same two parameters are correlated twice", file=f, line=ln,
                                key=f"correlations[{i}]", found=f"{c.between[0]} and {c.between[1]} (also entry "
                                f"{seen[pair]})", fix="keep one entry for the pair")
        seen[pair] = i
        if bool(c.source) == bool(c.assumption) or (c.source and c.source not in source_ids):
            raise ScenarioError("a correlation needs one known 'source' or an 'assumption'", file=f, line=ln,
                                key=f"correlations[{i}]", fix="add 'assumption: <your reasoning>'")
        out.append(c)
    if out:
        keys, m = correlation_matrix(out)
        eig = np.linalg.eigvalsh(m)
        if eig.min() <= 1e-10:
            raise ScenarioError("the correlations are not jointly possible (matrix not positive definite)",
                                file=file, line=line, key="correlations",
                                found=f"smallest eigenvalue {eig.min():.3g} among {', '.join(keys)}",
                                fix="weaken one of the correlations; computerace never adjusts them silently")
    return out


def correlation_matrix(corrs: list[Correlation]) -> tuple[list[str], np.ndarray]:
    """Pearson correlations of the copula's normals from Spearman rank correlations: 2 sin(pi rho / 6)."""
    keys = sorted({k for c in corrs for k in c.between})
    idx = {k: i for i, k in enumerate(keys)}
    m = np.eye(len(keys))
    for c in corrs:
        i, j = idx[c.between[0]], idx[c.between[1]]
        m[i, j] = m[j, i] = 2 * math.sin(math.pi * c.rho / 6)
    return keys, m
