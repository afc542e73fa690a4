"""Draws: every random number of a run, sampled up front from the seed.

Reproducibility by construction (STYLE.md section 8): samples are grouped in fixed blocks of
BLOCK samples; block b draws from `SeedSequence(seed, spawn_key=(b,))`, which is the b-th child of
`SeedSequence(seed).spawn(...)`. A chunk of samples [start, stop) regenerates exactly the blocks it
covers, so results never depend on chunk size or worker count.

Common random numbers: each block draws one standard normal per parameter of the *schema*
(params.csv order), whether or not the scenario makes it uncertain, plus event uniforms. Two
scenarios run with the same seed therefore share every random number, and their difference is the
effect of the assumptions, not of sampling noise.

Uncertainty enters through a Gaussian copula: z (correlated through the Cholesky factor of the
scenario's correlation matrix) -> u = Phi(z) -> value = ppf(u). A time series draws its knots around
that common z: knot k uses z_k = sqrt(1 - s) z + sqrt(s) e_k, where e is an AR(1) process over the knot
times (correlation rho^|t_i - t_j|, the scenario's `paths:`), so a path can rise then fall while each knot
keeps its distribution. Each series' deviations come from a stream of its own (block b, key i:
`SeedSequence(seed, spawn_key=(b, 1 + i))`), so they too are the same for any chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from .model.inputs import Inputs
from .model.inputs import interpolate as _interpolate
from .scenario.schema import Scenario, Series, correlation_matrix, param_specs

BLOCK = 1000
EVENT_STREAMS = ("taiwan", "controls", "bust", "cdz")


@dataclass
class Draws:
    """Sampled inputs of `n` samples starting at sample index `start`.

    scalars: {key: [sample]}; knots: {key: [sample, knot]} for time series, with their Series and
    interpolation weights; quantiles: {key: [sample]} (the u of each parameter, for sensitivity
    analysis); events: {name: [sample]} uniforms for event timing.
    Monthly values come from `path(key)` ([sample, month]); the model reads them through `inputs()`.
    """

    start: int
    n: int
    months: np.ndarray  # datetime64[M], [month]
    t_years: np.ndarray  # fractional year at each month start, [month]
    scalars: dict[str, np.ndarray]
    knots: dict[str, tuple[Series, np.ndarray]]
    quantiles: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    truncated: dict[str, int] = field(default_factory=dict)
    # {licensed part: (open [month], licence-conditional [month])}: the rules engine's access, the same for all samples
    access: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # {key: [sample, knot]}: each uncertain series' knot quantiles (common level + AR(1) deviations); absent keys
    # have every knot at the series' quantile
    knot_quantiles: dict[str, np.ndarray] = field(default_factory=dict)

    def inputs(self) -> Inputs:
        """The arrays the model reads (model/inputs.Inputs); licensed-part access rides along as events."""
        return Inputs(self.n, self.t_years, self.scalars, self.knots, self.events, self.access)

    def take(self, order: np.ndarray) -> Draws:
        """The same draws with samples reordered by `order` (a permutation of range(n))."""
        return Draws(self.start, self.n, self.months, self.t_years,
                     {k: v[order] for k, v in self.scalars.items()},
                     {k: (s, v[order]) for k, (s, v) in self.knots.items()},
                     {k: v[order] for k, v in self.quantiles.items()},
                     {k: v[order] for k, v in self.events.items()}, dict(self.truncated), dict(self.access),
                     {k: v[order] for k, v in self.knot_quantiles.items()})

    def get(self, key: str) -> np.ndarray:
        """[sample] for a scalar parameter, [sample, month] for a time series."""
        return self.scalars[key] if key in self.scalars else self.path(key)

    def path(self, key: str) -> np.ndarray:
        """Monthly values [sample, month] of a parameter (constant in time for a scalar)."""
        if key in self.scalars:
            return np.repeat(self.scalars[key][:, None], len(self.t_years), axis=1)
        series, values = self.knots[key]
        return interpolate(series, values, self.t_years)


def month_years(months: np.ndarray) -> np.ndarray:
    """Fractional year at the start of each month: 2024-07 -> 2024.5."""
    m = months.astype("datetime64[M]").astype(int)  # months since 1970-01
    return 1970 + m / 12.0


def _normals(seed: int, start: int, n: int, width: int, stream: tuple[int, ...] = ()) -> np.ndarray:
    """Standard normals [n, width] for samples [start, start + n), block by block (spawn key (b, *stream))."""
    out = np.empty((n, width))
    b0, b1 = start // BLOCK, (start + n - 1) // BLOCK
    for b in range(b0, b1 + 1):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b, *stream)))
        block = rng.standard_normal((BLOCK, width))
        lo, hi = max(start, b * BLOCK), min(start + n, (b + 1) * BLOCK)
        out[lo - start:hi - start] = block[lo - b * BLOCK:hi - b * BLOCK]
    return out


def _controls_schedule(scenario: Scenario, months: np.ndarray, t: np.ndarray, scalars: dict[str, np.ndarray],
                       knots: dict[str, tuple[Series, np.ndarray]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """China's access to each licensed part per month from the export-control engine, as {part: (open [month],
    licence-conditional [month])} 0/1 arrays (the same for every sample: access = open + conditional x the sampled
    shipped share), and, for `legal_import_allowed: controls`, the frontier access a(t) (written into `knots`)."""
    from .model.controls import access_schedule, allowed_path
    from .model.imports import PARTS
    from .scenario.distributions import ControlsSchedule

    key = "channels.legal_import_allowed"
    v = scenario.parameters[key].value
    labels = tuple(str(m) for m in months.astype("datetime64[M]"))
    freeze = labels.index(v.freeze_after) if isinstance(v, ControlsSchedule) and v.freeze_after in labels else None
    as_of = str(scenario.resolved.get("as_of") or "")  # a vintage run: the rules in force at its date hold
    if freeze is None and len(as_of) == 10:
        # the engine reads each month's rules on its 15th: a date before the 15th is still in the previous month
        m = np.datetime64(as_of[:7], "M") - (1 if int(as_of[8:10]) < 15 else 0)
        if str(m) in labels:
            freeze = labels.index(str(m))
    idx = np.arange(len(labels)) if freeze is None else np.minimum(np.arange(len(labels)), freeze)
    sched = access_schedule(labels, PARTS)
    access = {k: (np.asarray(sched[k][0])[idx], np.asarray(sched[k][1])[idx]) for k in PARTS}
    if isinstance(v, ControlsSchedule):
        a = allowed_path(labels, scalars["channels.conditional_licence_share"], freeze, parts=PARTS)
        scalars.pop(key, None)
        knots[key] = (Series(tuple(float(x) for x in t), tuple(v for _ in t), "step"), a)
    return access


def interpolate(series: Series, values: np.ndarray, t_years: np.ndarray) -> np.ndarray:
    """Knot values [sample, knot] -> monthly values [sample, month] (model/inputs.interpolate)."""
    return _interpolate(series, values, t_years)


def draw(scenario: Scenario, n: int, seed: int, start: int = 0) -> Draws:
    """Sample parameters and event uniforms for samples [start, start + n) of `scenario`."""
    keys = list(param_specs())
    z = _normals(seed, start, n, len(keys) + len(EVENT_STREAMS))
    col = {k: i for i, k in enumerate(keys)}
    if scenario.correlations:
        ckeys, m = correlation_matrix(scenario.correlations)
        chol = np.linalg.cholesky(m)
        idx = [col[k] for k in ckeys]
        # Explicit sums (not a BLAS product, whose rounding can depend on the number of rows), so
        # each sample's correlated normals are the same whatever the chunk size.
        zc = z[:, idx].copy()
        for i, ci in enumerate(idx):
            acc = chol[i, 0] * zc[:, 0]
            for j in range(1, i + 1):
                acc = acc + chol[i, j] * zc[:, j]
            z[:, ci] = acc
    knot_u = _knot_quantiles(scenario, z, col, seed, start, n)
    u = special.ndtr(z)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    quantiles = {k: u[:, col[k]] for k in keys}
    events = {name: u[:, len(keys) + i] for i, name in enumerate(EVENT_STREAMS)}
    if scenario.resolved.get("mode") == "point":  # point mode: event times at their medians too
        events = {name: np.full(n, 0.5) for name in EVENT_STREAMS}
    return from_quantiles(scenario, quantiles, events, start, knot_quantiles=knot_u)


def ar1_knots(times: np.ndarray, rho_per_year: float, eps: np.ndarray) -> np.ndarray:
    """An AR(1) process over (irregular) knot times from independent normals eps [sample, knot].

    e_0 = eps_0; e_k = r e_(k-1) + sqrt(1 - r^2) eps_k with r = rho^(t_k - t_(k-1)), so each e_k is standard
    normal and corr(e_i, e_j) = rho^|t_i - t_j|.
    """
    e = np.empty_like(eps)
    e[:, 0] = eps[:, 0]
    for k in range(1, eps.shape[1]):
        r = rho_per_year ** (times[k] - times[k - 1])
        e[:, k] = r * e[:, k - 1] + np.sqrt(1.0 - r * r) * eps[:, k]
    return e


def _knot_quantiles(scenario: Scenario, z: np.ndarray, col: dict[str, int], seed: int, start: int, n: int
                    ) -> dict[str, np.ndarray]:
    """{key: [sample, knot]} quantiles of each uncertain time series' knots: common level plus AR(1) deviations."""
    s = scenario.paths.deviation_share
    if s <= 0 or scenario.resolved.get("mode") == "point":
        return {}
    out = {}
    for k, i in col.items():
        v = scenario.parameters[k].value
        if not isinstance(v, Series) or len(v.times) < 2 or all(d.is_point for d in v.dists):
            continue
        times = np.asarray(v.times, dtype=float)
        e = ar1_knots(times, scenario.paths.rho_per_year, _normals(seed, start, n, len(times), (1 + i,)))
        zk = np.sqrt(1.0 - s) * z[:, i:i + 1] + np.sqrt(s) * e
        out[k] = np.clip(special.ndtr(zk), 1e-12, 1 - 1e-12)
    return out


def from_quantiles(scenario: Scenario, quantiles: dict[str, np.ndarray], events: dict[str, np.ndarray],
                   start: int = 0, months: np.ndarray | None = None,
                   knot_quantiles: dict[str, np.ndarray] | None = None) -> Draws:
    """Draws whose parameter values are ppf(u) of given quantiles (already correlated), clipped to range.

    quantiles: {key: [sample]} for every key of params.csv; events: {name: [sample]} uniforms.
    `months` (default: the scenario's horizon) may be a prefix of the horizon. `draw` samples the u and
    calls this; sensitivity analysis calls it with the u that SALib chooses. `knot_quantiles` {key: [sample,
    knot]} gives a time series' knots quantiles of their own (AR(1) deviations); without it every knot of a
    series is at the series' quantile.
    """
    knot_quantiles = knot_quantiles or {}
    months = scenario.months() if months is None else months
    t = month_years(months)
    scalars, knots, truncated = {}, {}, {}
    specs = param_specs()
    for k in specs:
        p = scenario.parameters[k]
        uk = quantiles[k]
        if isinstance(p.value, Series):
            uks = knot_quantiles.get(k)
            v = np.stack([d.ppf(uk if uks is None else uks[:, j]) for j, d in enumerate(p.value.dists)], axis=1)
        else:
            v = p.value.ppf(uk)
        # Distribution tails beyond a key's valid range are clipped to it, counted, and reported in the
        # run's manifest: never silently dropped or redrawn (STYLE.md).
        lo, hi = specs[k].min, specs[k].max
        outside = (v < lo) | (v > hi)
        if outside.any():
            truncated[k] = int(outside.any(axis=1).sum() if v.ndim == 2 else outside.sum())
            v = np.clip(v, lo, hi)
        if isinstance(p.value, Series):
            knots[k] = (p.value, v)
        else:
            scalars[k] = v
    n = len(next(iter(quantiles.values())))
    access = _controls_schedule(scenario, months, t, scalars, knots)
    return Draws(start, n, months, t, scalars, knots, dict(quantiles), dict(events), truncated, access,
                 dict(knot_quantiles))
