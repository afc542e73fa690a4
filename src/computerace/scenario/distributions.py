"""Distributions of the scenario language, each defined by its quantile function.

Every distribution maps a uniform quantile u in (0, 1) to a value through `ppf(u)`. Sampling by
inverse transform makes the Gaussian copula (rank correlations) and comonotonic time series one
mechanism: draw correlated normals z, set u = Phi(z), value = ppf(u).

Accepted forms (YAML):
    3.5                         point value
    "5 to 10"                   90% CI (level set by `ci:`), lognormal when a > 0, else normal
    {normal: {mean, sd}}
    {lognormal: {median, sigma}}  or {lognormal: {mu, sigma}}
    {beta: {a, b}}              optional low/high rescale the (0, 1) support
    {uniform: {low, high}}
    {quantiles: {p10, p50, p90}}  split normal through the three quantiles (exact at each)
    {mixture: [{weight: w, value: <any form>}, ...]}
Number suffixes k, M, B, T (1e3, 1e6, 1e9, 1e12) are accepted in strings ("10M to 20M").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats

_SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_NUM = r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[kKMBGT]?"
_RANGE = re.compile(rf"^\s*({_NUM})\s+to\s+({_NUM})\s*$")


class DistError(ValueError):
    """A malformed distribution; the message says what was expected. Located by the caller."""


def parse_number(x: Any) -> float:
    """A float from a YAML number or a string like '1.5e3', '10k', '2.5M'."""
    if isinstance(x, bool):
        raise DistError(f"a number, not a boolean ({x!r})")
    v: float | None = None
    if isinstance(x, int | float):
        try:
            v = float(x)
        except OverflowError:
            raise DistError("a number within float range (about 1.8e308)") from None
    elif isinstance(x, str) and len(x) <= 200:
        s = x.strip().replace("_", "")
        if s and s[-1] in _SUFFIX and re.fullmatch(_NUM, s):
            v = float(s[:-1]) * _SUFFIX[s[-1]]
        else:
            try:
                v = float(s)
            except ValueError:
                v = None
    if v is None:
        raise DistError(f"a number (e.g. 12, 1.5e3, 10k, 2.5M), found {x!r}")
    if not math.isfinite(v):
        raise DistError(f"a finite number, found {x!r}")
    return v


#: Interval levels a scenario may state: narrower than 1% or wider than 99.9% says nothing an interval can carry.
CI_RANGE = (1.0, 99.9)


def z_of_ci(ci: float) -> float:
    """The standard-normal quantile bounding a central `ci` percent interval (90 -> 1.645)."""
    if not CI_RANGE[0] <= ci <= CI_RANGE[1]:
        raise DistError(f"ci must be a percentage from {CI_RANGE[0]:g} to {CI_RANGE[1]:g} (90 means 'a to b' is a 90% "
                        f"interval), found {ci}")
    return float(special.ndtri(0.5 + ci / 200.0))


@dataclass(frozen=True)
class Dist:
    """Base class: subclasses implement ppf (vectorised) and cdf; `text` describes the spec."""

    text: str = field(default="", compare=False)

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def cdf(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def median(self) -> float:
        return float(self.ppf(np.array([0.5]))[0])

    @property
    def is_point(self) -> bool:
        return False

    def bounds(self) -> tuple[float, float]:
        """The 0.1% and 99.9% quantiles: used to check a distribution against a key's valid range."""
        lo, hi = self.ppf(np.array([0.001, 0.999]))
        return float(lo), float(hi)


@dataclass(frozen=True)
class Point(Dist):
    value: float = 0.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value, dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) >= self.value).astype(float)

    @property
    def is_point(self) -> bool:
        return True


@dataclass(frozen=True)
class Normal(Dist):
    mean: float = 0.0
    sd: float = 1.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.mean + self.sd * special.ndtri(u)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return special.ndtr((np.asarray(x) - self.mean) / self.sd)


@dataclass(frozen=True)
class LogNormal(Dist):
    mu: float = 0.0
    sigma: float = 1.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self.mu + self.sigma * special.ndtri(u))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(x > 0, special.ndtr((np.log(np.maximum(x, 1e-300)) - self.mu) / self.sigma), 0.0)


@dataclass(frozen=True)
class Beta(Dist):
    a: float = 1.0
    b: float = 1.0
    low: float = 0.0
    high: float = 1.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * special.betaincinv(self.a, self.b, u)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        y = np.clip((np.asarray(x, dtype=float) - self.low) / (self.high - self.low), 0.0, 1.0)
        return special.betainc(self.a, self.b, y)


@dataclass(frozen=True)
class Uniform(Dist):
    low: float = 0.0
    high: float = 1.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(x, dtype=float) - self.low) / (self.high - self.low), 0.0, 1.0)


_Z90 = float(special.ndtri(0.9))


@dataclass(frozen=True)
class Quantiles(Dist):
    """Split normal through (p10, p50, p90): sd below the median from p10, above from p90."""

    p10: float = 0.0
    p50: float = 0.0
    p90: float = 0.0

    def ppf(self, u: np.ndarray) -> np.ndarray:
        z = special.ndtri(u)
        lo, hi = (self.p50 - self.p10) / _Z90, (self.p90 - self.p50) / _Z90
        return self.p50 + z * np.where(z < 0, lo, hi)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        lo, hi = (self.p50 - self.p10) / _Z90, (self.p90 - self.p50) / _Z90
        return special.ndtr(np.where(x < self.p50, (x - self.p50) / lo, (x - self.p50) / hi))


@dataclass(frozen=True)
class Mixture(Dist):
    weights: tuple[float, ...] = ()
    components: tuple[Dist, ...] = ()

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return sum(w * c.cdf(x) for w, c in zip(self.weights, self.components, strict=True))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        if all(isinstance(c, Point) for c in self.components):  # discrete: exact, by cumulative weight
            vals = np.array([c.value for c in self.components])  # type: ignore[attr-defined]
            order = np.argsort(vals, kind="stable")
            cum = np.cumsum(np.asarray(self.weights)[order])
            i = np.minimum(np.searchsorted(cum / cum[-1], u, side="left"), len(vals) - 1)
            return vals[order][i]
        # The mixture's u-quantile lies between its components' u-quantiles: bisect there.
        qs = np.stack([c.ppf(u) for c in self.components])
        lo, hi = qs.min(axis=0), qs.max(axis=0)
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < u
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        out = 0.5 * (lo + hi)
        # an atom (a point component) holds exactly: u in (F(v-), F(v)] maps to v itself, not to a bisection
        # value a rounding error away from it (a mixture with 'value: 0' gives exactly 0)
        for c in self.components:
            if isinstance(c, Point):
                v = np.array([c.value])
                left = float(sum(w * (d.cdf(v)[0] if not isinstance(d, Point) else float(d.value < c.value))
                                 for w, d in zip(self.weights, self.components, strict=True)))
                mass = float(sum(w for w, d in zip(self.weights, self.components, strict=True)
                                 if isinstance(d, Point) and d.value == c.value))
                out = np.where((u > left) & (u <= left + mass), c.value, out)
        return out


@dataclass(frozen=True)
class ControlsSchedule(Dist):
    """`value: controls` for channels.legal_import_allowed: the fraction allowed in each month comes from
    the export-control rules (model/controls.py), not from numbers in the scenario. `freeze_after`
    ('YYYY-MM') holds the regime of that month afterwards (as-of backtests)."""

    freeze_after: str | None = None

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.ones(np.shape(u))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) >= 1.0).astype(float)

    @property
    def is_point(self) -> bool:
        return False  # derived from the sampled shipped share (channels.conditional_licence_share)

    def bounds(self) -> tuple[float, float]:
        return 0.0, 1.0


def _require(spec: dict[str, Any], kind: str, names: tuple[str, ...]) -> dict[str, float]:
    missing = [n for n in names if n not in spec]
    extra = [n for n in spec if n not in names]
    if missing or extra:
        raise DistError(f"{kind} takes exactly {', '.join(names)}; "
                        + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"))
    return {n: parse_number(spec[n]) for n in names}


def parse(spec: Any, ci: float = 90.0) -> Dist:
    """A Dist from a YAML value (see module docstring). Raises DistError with what was expected."""
    text = str(spec)
    if isinstance(spec, bool) or spec is None:
        raise DistError(f"a number, 'a to b' or a distribution mapping; found {describe(spec)}")
    if isinstance(spec, int | float):
        return Point(text, parse_number(spec))
    if isinstance(spec, str):
        if len(spec) > 200:  # a value is a number, 'a to b' or a word; long strings never need the regex
            raise DistError(f"a number or 'a to b' (at most 200 characters); found {len(spec):,} characters")
        m = _RANGE.match(spec)
        if m:
            a, b = parse_number(m.group(1)), parse_number(m.group(2))
            if not a < b:
                raise DistError(f"'a to b' with a < b, found '{spec}'")
            z = z_of_ci(ci)
            if a > 0:
                return LogNormal(f"{spec} ({ci:g}% CI, lognormal)", (math.log(a) + math.log(b)) / 2,
                                 (math.log(b) - math.log(a)) / (2 * z))
            return Normal(f"{spec} ({ci:g}% CI, normal)", (a + b) / 2, (b - a) / (2 * z))
        try:
            return Point(text, parse_number(spec))
        except DistError:
            raise DistError(f"a number or 'a to b' (a 90% interval, e.g. '5 to 10'); found '{spec}'") from None
    if isinstance(spec, dict) and len(spec) == 1:
        kind, body = next(iter(spec.items()))
        if kind == "mixture":
            if not isinstance(body, list) or not body:
                raise DistError("mixture: a list of {weight: w, value: <distribution>}")
            ws, cs = [], []
            for item in body:
                if not isinstance(item, dict) or set(item) != {"weight", "value"}:
                    raise DistError("each mixture component is {weight: w, value: <distribution>}")
                ws.append(parse_number(item["weight"]))
                cs.append(parse(item["value"], ci))
            total = sum(ws)
            if any(w < 0 for w in ws) or not math.isclose(total, 1.0, rel_tol=1e-6):
                raise DistError(f"mixture weights >= 0 summing to 1, found {ws} (sum {total:g})")
            return Mixture(text, tuple(ws), tuple(cs))
        if not isinstance(body, dict):
            raise DistError(f"{kind}: a mapping of its parameters")
        if kind == "normal":
            p = _require(body, kind, ("mean", "sd"))
            if p["sd"] <= 0:
                raise DistError(f"normal sd > 0, found {p['sd']}")
            return Normal(text, p["mean"], p["sd"])
        if kind == "lognormal":
            if "median" in body:
                p = _require(body, kind, ("median", "sigma"))
                if p["median"] <= 0:
                    raise DistError(f"lognormal median > 0, found {p['median']}")
                mu = math.log(p["median"])
            else:
                p = _require(body, kind, ("mu", "sigma"))
                mu = p["mu"]
            if p["sigma"] <= 0:
                raise DistError(f"lognormal sigma > 0, found {p['sigma']}")
            return LogNormal(text, mu, p["sigma"])
        if kind == "beta":
            names = ("a", "b") + tuple(n for n in ("low", "high") if n in body)
            p = _require(body, kind, names)
            if p["a"] <= 0 or p["b"] <= 0:
                raise DistError(f"beta a > 0 and b > 0, found a={p['a']}, b={p['b']}")
            lo, hi = p.get("low", 0.0), p.get("high", 1.0)
            if not lo < hi:
                raise DistError(f"beta low < high, found low={lo}, high={hi}")
            return Beta(text, p["a"], p["b"], lo, hi)
        if kind == "uniform":
            p = _require(body, kind, ("low", "high"))
            if not p["low"] < p["high"]:
                raise DistError(f"uniform low < high, found low={p['low']}, high={p['high']}")
            return Uniform(text, p["low"], p["high"])
        if kind == "quantiles":
            p = _require(body, kind, ("p10", "p50", "p90"))
            if not p["p10"] < p["p50"] < p["p90"]:
                raise DistError(f"quantiles p10 < p50 < p90, found {p['p10']}, {p['p50']}, {p['p90']}")
            return Quantiles(text, p["p10"], p["p50"], p["p90"])
        raise DistError(f"a distribution kind (normal, lognormal, beta, uniform, quantiles, mixture); found '{kind}'")
    raise DistError(f"a number, 'a to b' or a one-key distribution mapping; found {text}")


def scipy_frozen(d: Dist) -> Any:
    """The equivalent scipy.stats distribution, where one exists (used by tests and docs)."""
    if isinstance(d, Normal):
        return stats.norm(d.mean, d.sd)
    if isinstance(d, LogNormal):
        return stats.lognorm(s=d.sigma, scale=math.exp(d.mu))
    if isinstance(d, Beta):
        return stats.beta(d.a, d.b, loc=d.low, scale=d.high - d.low)
    if isinstance(d, Uniform):
        return stats.uniform(d.low, d.high - d.low)
    return None


def describe(spec: Any) -> str:
    """A raw scenario value (as written in YAML) in words, never a Python repr: 12 -> "12"; "5 to 10" -> "5 to 10";
    {"uniform": {"low": 1, "high": 2}} -> "uniform(low 1, high 2)"; a mixture -> "mixture(0.7: 1; 0.3: 2)";
    {"by_year": {2025: ...}} -> "by year: 2025: ...; 2030: ..."."""
    def num(x: Any) -> str:
        if isinstance(x, bool) or not isinstance(x, int | float):
            return str(x)
        return f"{x:.6g}"

    if isinstance(spec, dict):
        if len(spec) == 1:
            (k, v), = spec.items()
            if k == "mixture" and isinstance(v, list):
                parts = [f"{num(e.get('weight'))}: {describe(e.get('value'))}" if isinstance(e, dict) else describe(e)
                         for e in v]
                return "mixture(" + "; ".join(parts) + ")"
            if k in ("by_year", "by_date") and isinstance(v, dict):
                return "by year: " + "; ".join(f"{kk}: {describe(vv)}" for kk, vv in v.items())
            if isinstance(v, dict):
                return f"{k}(" + ", ".join(f"{kk} {describe(vv)}" for kk, vv in v.items()) + ")"
        return ", ".join(f"{k}: {describe(v)}" for k, v in spec.items())
    if isinstance(spec, list | tuple):
        return "[" + ", ".join(describe(x) for x in spec) + "]"
    return num(spec)
