"""Global sensitivity: Sobol first- and total-order indices of a metric over every uncertain input.

Method (docs/sensitivity.md): Saltelli's cross-sampling of a scrambled Sobol sequence, first- and
total-order estimators of Saltelli et al. (2010) and bootstrap confidence intervals, all from SALib's
`sobol.analyze`. Inputs are the quantiles u in (0, 1) of the scenario's uncertain parameters (one u
per time series: its knots are comonotonic) and the event uniforms (`events.<name>_time_u`).

Correlated parameters are grouped. The Sobol decomposition needs independent inputs; the scenario's
rank correlations are a Gaussian copula, so every connected set of correlated uncertain parameters
becomes one SALib group whose members SALib draws as independent uniforms and swaps together; the
copula (the Cholesky factor of the set's correlation matrix, as in `draw`) turns them into correlated
quantiles. The groups are independent of each other, so their indices are exact Sobol indices of the
scenario's true joint distribution; a group's index is the pair's joint effect and is not split between
its members.

The model is evaluated only up to December of the metric's year: the month loop is causal, so the
values at that month are the same as with the full horizon (tested), at a fraction of the cost.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats

from ..draws import EVENT_STREAMS, from_quantiles
from ..errors import UserError, did_you_mean
from ..scenario.schema import Scenario, correlation_matrix, param_specs

DEFAULT_SAMPLES = 2048  # base samples N; evaluations N * (groups + 2)
CONF_LEVEL = 0.95
NUM_RESAMPLES = 200
CHUNK = 8192
U_EPS = 1e-12  # the same clip of quantiles as `draw`


# ------------------------------------------------------------------------------ generic Sobol
def saltelli_matrix(base: np.ndarray, groups: list[str]) -> np.ndarray:
    """SALib's Saltelli cross-sampling without second order, vectorised.

    base: [N, 2D] points of the unit hypercube (A = first D columns, B = last D). Returns
    [N * (G + 2), D]: for each base row, A, then A with group g's columns taken from B (g in order of
    first appearance), then B. Identical to `SALib.sample.sobol.sample(..., calc_second_order=False)`
    for the same base sequence (tested).
    """
    n, d2 = base.shape
    d = d2 // 2
    a, b = base[:, :d], base[:, d:]
    names = list(dict.fromkeys(groups))
    member = np.array([[gj == g for gj in groups] for g in names])  # [G, D]
    out = np.empty((n, len(names) + 2, d))
    out[:, 0] = a
    out[:, 1:-1] = np.where(member[None], b[:, None, :], a[:, None, :])
    out[:, -1] = b
    return out.reshape(n * (len(names) + 2), d)


def sobol_indices(func: Callable[[np.ndarray], np.ndarray], names: list[str], groups: list[str] | None,
                  n_base: int, seed: int = 0) -> dict[str, Any]:
    """Sobol S1 and ST of `func` (unit-hypercube points [n, D] -> outputs [n]) with SALib.

    Returns {"names": group names, "S1", "S1_conf", "ST", "ST_conf": arrays [G], "X": inputs,
    "Y": outputs}; *_conf is the half-width of the CONF_LEVEL bootstrap interval.
    """
    from SALib.analyze import sobol as sobol_analyze
    from scipy.stats import qmc

    if n_base < 2 or n_base & (n_base - 1):
        raise UserError(f"--samples must be a power of 2 (Sobol sequences balance only then), got {n_base}; "
                        f"try {1 << max(1, round(math.log2(max(n_base, 2))))}")
    groups = list(groups) if groups is not None else list(names)
    d = len(names)
    base = qmc.Sobol(d=2 * d, scramble=True, seed=seed).random(n_base)
    x = saltelli_matrix(base, groups)
    y = np.asarray(func(x), dtype=np.float64)
    if not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise UserError(f"the metric is not finite in {bad} of {len(y)} model evaluations; "
                        "Sobol indices need finite values (try another metric or key)")
    if np.ptp(y) == 0:
        raise UserError(f"the metric does not vary: it is {y[0]:.6g} in all {len(y)} model evaluations, "
                        "so there is no variance to attribute (is any parameter it depends on uncertain?)")
    problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d, "groups": groups}
    # SALib seeds its bootstrap only for a truthy seed (0 would fall back to the global RNG).
    si = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=NUM_RESAMPLES,
                               conf_level=CONF_LEVEL, seed=seed + 1)
    return {"names": list(dict.fromkeys(groups)), "S1": np.asarray(si["S1"]), "S1_conf": np.asarray(si["S1_conf"]),
            "ST": np.asarray(si["ST"]), "ST_conf": np.asarray(si["ST_conf"]), "X": x, "Y": y}


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami-Homma function on [-pi, pi]^3: sin x1 + a sin^2 x2 + b x3^4 sin x1 (Ishigami & Homma 1990)."""
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


# ------------------------------------------------------------------------- scenario as inputs
@dataclass(frozen=True)
class Inputs:
    """The uncertain inputs of a scenario as SALib sees them.

    names: input names (uncertain parameter keys in params.csv order, then `events.<name>_time_u`);
    groups: the SALib group of each input (a correlated set shares one, labelled 'a & b');
    blocks: (input column indices, Cholesky factor) of each correlated set.
    """

    names: list[str]
    groups: list[str]
    blocks: list[tuple[list[int], np.ndarray]] = field(default_factory=list)

    @property
    def group_names(self) -> list[str]:
        return list(dict.fromkeys(self.groups))

    def members(self, group: str) -> list[str]:
        return [n for n, g in zip(self.names, self.groups, strict=True) if g == group]


def event_input(name: str) -> str:
    return f"events.{name}_time_u"


def point_mode(scenario: Scenario) -> bool:
    """`mode: point`: every distribution at its median and event times at u = 0.5, as `draw` does."""
    return scenario.resolved.get("mode") == "point"


def scenario_inputs(scenario: Scenario) -> Inputs:
    """Uncertain parameters and event uniforms of `scenario`, with correlated sets grouped.

    Not inputs: point values; `channels.legal_import_allowed: controls` (the rules engine derives it
    from other sampled keys); event uniforms in `mode: point` (fixed at 0.5, as `draw` fixes them).

    A correlation with a point-valued parameter changes no value, so it is dropped; the rest of the
    copula is the submatrix of the scenario's correlation matrix, whose connected sets form the groups.
    """
    from ..scenario.distributions import ControlsSchedule

    # `value: controls` is derived from other sampled keys (the rules engine), not from its own u.
    keys = [k for k in param_specs() if scenario.parameters[k].uncertain
            and not isinstance(scenario.parameters[k].value, ControlsSchedule)]
    names = keys + ([] if point_mode(scenario) else [event_input(e) for e in EVENT_STREAMS])
    groups = list(names)
    blocks: list[tuple[list[int], np.ndarray]] = []
    if scenario.correlations:
        ckeys, m = correlation_matrix(scenario.correlations)
        keep = [i for i, k in enumerate(ckeys) if k in keys]
        ckeys, m = [ckeys[i] for i in keep], m[np.ix_(keep, keep)]
        # connected components of the correlation graph
        comp = list(range(len(ckeys)))

        def root(i: int) -> int:
            while comp[i] != i:
                i = comp[i]
            return i

        for i in range(len(ckeys)):
            for j in range(i + 1, len(ckeys)):
                if m[i, j] != 0.0:
                    comp[root(j)] = root(i)
        for r in sorted({root(i) for i in range(len(ckeys))}):
            idx = [i for i in range(len(ckeys)) if root(i) == r]
            if len(idx) < 2:
                continue
            cols = sorted(names.index(ckeys[i]) for i in idx)
            label = " & ".join(names[c] for c in cols)
            for c in cols:
                groups[c] = label
            order = [ckeys.index(names[c]) for c in cols]
            blocks.append((cols, np.linalg.cholesky(m[np.ix_(order, order)])))
    return Inputs(names, groups, blocks)


def quantiles_of(inputs: Inputs, scenario: Scenario, x: np.ndarray) -> tuple[dict[str, np.ndarray],
                                                                              dict[str, np.ndarray]]:
    """Independent unit-hypercube points x [n, D] -> (parameter quantiles, event uniforms) for `from_quantiles`.

    Correlated sets go through the Gaussian copula: z = Phi^-1(x), u = Phi(L z). Point-valued
    parameters get u = 0.5 (their value does not depend on u).
    """
    x = np.clip(np.asarray(x, dtype=np.float64), U_EPS, 1 - U_EPS)
    u = x.copy()
    for cols, chol in inputs.blocks:
        z = special.ndtri(x[:, cols])
        u[:, cols] = np.clip(special.ndtr(z @ chol.T), U_EPS, 1 - U_EPS)
    col = {n: i for i, n in enumerate(inputs.names)}
    quantiles = {k: (u[:, col[k]] if k in col else np.full(len(u), 0.5)) for k in param_specs()}
    events = {e: (u[:, col[event_input(e)]] if event_input(e) in col else np.full(len(u), 0.5))
              for e in EVENT_STREAMS}
    return quantiles, events


# ------------------------------------------------------------------------------------ metrics
ACTOR_KEYS = ("US", "China", "RoW", "World")


def _channel_keys() -> tuple[str, ...]:
    from ..model.channels import CHANNELS

    return tuple(f"China/{c}" for c in CHANNELS)


def metric_table() -> dict[str, tuple[str, tuple[str, ...] | None, str]]:
    """Metrics `sensitivity` accepts: name -> (unit, keys or None when the metric has one key, default key).

    Values come from `analysis.metrics.sample_values`, the one place per-sample metrics are defined.
    """
    from .metrics import AXES

    by_channel = (*ACTOR_KEYS, *_channel_keys())
    table: dict[str, tuple[str, tuple[str, ...] | None, str]] = {
        f"years_behind_{axis}": ("years", None, "China") for axis in AXES}
    table |= {
        "china_share": ("fraction", None, "China"),
        "china_share_with_remote": ("fraction", None, "China"),
        "us_to_china_ratio": ("ratio", None, "US:China"),
        "stock_h100e": ("H100e", by_channel, "China"),
        "additions_h100e": ("H100e/year", by_channel, "China"),
        "operational_h100e": ("H100e", ACTOR_KEYS, "China"),
        "power_gw": ("GW", ACTOR_KEYS, "China"),
        "spend_usd": ("USD/year", ACTOR_KEYS, "China"),
        "price_usd_per_h100e": ("USD/H100e", ACTOR_KEYS[:3], "China"),
        "us_to_china_additions_ratio": ("ratio", None, "US:China"),
        "us_to_china_spend_ratio": ("ratio", None, "US:China"),
        "china_to_us_price_ratio": ("ratio", None, "China:US"),
    }
    return table


def check_metric(metric: str, key: str | None) -> str:
    """The key to use for `metric` (its default when None); a UserError with a hint when unknown."""
    table = metric_table()
    if metric not in table:
        hint = did_you_mean(metric, table)
        raise UserError(f"unknown metric '{metric}'" + (f"; {hint}" if hint else ".")
                        + f" Metrics: {', '.join(table)}")
    _, keys, default = table[metric]
    if key is None or (keys is None and key == default):
        return default
    if keys is None:
        raise UserError(f"{metric} has no --key (it is reported as '{default}')")
    if key not in keys:
        hint = did_you_mean(key, keys)
        raise UserError(f"unknown key '{key}' for {metric}" + (f"; {hint}" if hint else ".")
                        + f" Keys: {', '.join(keys)}")
    return key


def metric_months(scenario: Scenario, year: int) -> np.ndarray:
    """The horizon's months up to December of `year` (the metric's month is the last one)."""
    months = scenario.months()
    dec = np.datetime64(f"{int(year):04d}-12", "M")
    if not months[0] <= dec <= months[-1]:
        first = int(str(months[0])[:4])
        last = int(str(months[-1])[:4]) - (0 if str(months[-1]).endswith("-12") else 1)
        raise UserError(f"--year {year}: December {year} is outside the scenario's horizon "
                        f"({months[0]} .. {months[-1]}); give a year from {first} to {last}")
    return months[months <= dec]


Layout = tuple[dict[str, tuple[tuple[str, ...], Any]], dict[str, Any]]


def _layout(scenario: Scenario) -> Layout:
    """Dims and dtype of every variable of a Run's Dataset and its non-time coords (from a 1-sample
    run), so the model's outputs are laid out and rounded exactly as `run` stores them."""
    from ..api import run

    ds = run(scenario, samples=1, seed=0).dataset
    variables = {str(k): (tuple(str(d) for d in v.dims), v.dtype) for k, v in ds.data_vars.items()}
    coords = {str(c): ds.coords[c].values for c in ds.coords if c not in ("sample", "month", "year", "parameter")}
    return variables, coords


def _dataset(out: dict[str, np.ndarray], months: np.ndarray, layout: Layout) -> Any:
    import xarray as xr

    variables, coords = layout
    n = len(out["stock_h100e"])
    data = {k: (variables[k][0], np.asarray(v).astype(variables[k][1], copy=False))
            for k, v in out.items() if k in variables}
    return xr.Dataset(data, coords={**coords, "sample": np.arange(n), "month": months.astype("datetime64[ns]"),
                                    "year": np.asarray(out["year"]).astype(int)})


def evaluate(scenario: Scenario, quantiles: dict[str, np.ndarray], events: dict[str, np.ndarray],
             metric: str, year: int, key: str | None = None, log: bool = False,
             progress: Callable[[int], None] | None = None, chunk: int = CHUNK,
             knot_quantiles: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """The metric in December of `year` for draws given by their quantiles; ([sample], truncation counts).

    Sobol analysis attributes variance to each time series' common level: without `knot_quantiles` every knot of
    a series sits at the series' quantile (the per-year path deviations of docs/scenarios.md are held at zero,
    so the model is a deterministic function of the analysed inputs). `knot_quantiles` ({key: [sample, knot]},
    as `Draws.knot_quantiles`) reproduces a run's draws exactly.

    Samples are simulated in chunks, two at a time (numpy releases the GIL), over the horizon up to
    that December only; the model's outputs are laid out as a Run's Dataset and read with
    `analysis.metrics.sample_values`.
    """
    from ..model.simulate import simulate
    from .metrics import sample_values

    key = check_metric(metric, key)
    months = metric_months(scenario, year)
    layout = _layout(scenario)
    n = len(next(iter(quantiles.values())))
    y = np.empty(n)
    truncated: dict[str, int] = {}
    date = f"{int(year):04d}-12"

    def one(start: int) -> dict[str, int]:
        sl = slice(start, min(n, start + chunk))
        d = from_quantiles(scenario, {k: v[sl] for k, v in quantiles.items()},
                           {k: v[sl] for k, v in events.items()}, start, months,
                           knot_quantiles={k: v[sl] for k, v in (knot_quantiles or {}).items()})
        ds = _dataset(simulate(d.inputs()), months, layout)
        y[sl] = sample_values(ds, metric, key, date)
        if progress is not None:
            progress(sl.stop - sl.start)
        return d.truncated

    starts = list(range(0, n, chunk))
    with ThreadPoolExecutor(max_workers=max(1, min(len(starts), os.cpu_count() or 1, 2))) as pool:
        for t in pool.map(one, starts):
            for k, c in t.items():
                truncated[k] = truncated.get(k, 0) + c
    if log:
        if (y <= 0).any():
            raise UserError(f"--log needs a positive metric; {metric} is <= 0 in {int((y <= 0).sum())} "
                            "evaluations")
        y = np.log10(y)
    return y, truncated


# ----------------------------------------------------------------------------------- the analysis
def sobol(scenario: Scenario, metric: str = "years_behind_stock", year: int = 2030, key: str | None = None,
          samples: int = DEFAULT_SAMPLES, seed: int = 0, log: bool = False,
          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Sobol indices of `metric` (December of `year`, `key`) over every uncertain input of `scenario`.

    Returns a JSON-ready dict (layout in docs/sensitivity.md) with `indices` sorted by total order.
    """
    t0 = time.perf_counter()
    key = check_metric(metric, key)
    metric_months(scenario, year)
    inputs = scenario_inputs(scenario)
    if not inputs.names:
        raise UserError(f"scenario '{scenario.name}' has no uncertain inputs (mode: point runs every "
                        "distribution at its median), so there is no variance to attribute; use a scenario "
                        "with distributions, e.g. extends: baseline")
    truncated: dict[str, int] = {}

    def func(x: np.ndarray) -> np.ndarray:
        q, ev = quantiles_of(inputs, scenario, x)
        y, tr = evaluate(scenario, q, ev, metric, year, key, log, progress)
        truncated.update(tr)
        return y

    r = sobol_indices(func, inputs.names, inputs.groups, samples, seed)
    # Direction of each effect: Spearman rank correlation of each parameter's quantile with the output
    # over the base sample A (independent rows; within a correlated set it includes the partner's effect).
    g = len(r["names"]) + 2
    xa, ya = r["X"][::g], r["Y"][::g]
    q, ev = quantiles_of(inputs, scenario, xa)
    q |= {event_input(e): v for e, v in ev.items()}
    rho = {n: _spearman(q[n], ya) for n in inputs.names}

    rows = []
    for i, name in enumerate(r["names"]):
        s1, s1c, st, stc = (float(r[k][i]) for k in ("S1", "S1_conf", "ST", "ST_conf"))
        members = inputs.members(name)
        rows.append({"input": name, "members": members, "S1": s1, "S1_conf": s1c, "S1_ci": [s1 - s1c, s1 + s1c],
                     "ST": st, "ST_conf": stc, "ST_ci": [st - stc, st + stc],
                     "rank_correlation": {m: rho[m] for m in members}})
    rows.sort(key=lambda row: -row["ST"])
    y = r["Y"]
    return {
        "scenario": scenario.name, "scenario_hash": scenario.hash, "metric": metric, "key": key,
        "year": int(year), "month": f"{int(year):04d}-12", "unit": ("log10 " if log else "") + metric_table()[metric][0],
        "log10": log, "seed": seed, "samples": samples, "evaluations": int(len(y)),
        "inputs": len(inputs.names), "groups": len(r["names"]),
        "correlated_groups": [{"group": gname, "members": inputs.members(gname)}
                              for gname in r["names"] if len(inputs.members(gname)) > 1],
        "method": "Sobol first- and total-order indices (Saltelli et al. 2010 estimators, SALib "
                  "sobol.analyze) on Saltelli cross-samples of a scrambled Sobol sequence; correlated "
                  "parameters grouped (their joint index); bootstrap confidence intervals",
        "conf_level": CONF_LEVEL,
        "output": {"mean": float(y.mean()), "sd": float(y.std()),
                   **{p: float(v) for p, v in zip(("p5", "p50", "p95"), np.quantile(y, [0.05, 0.5, 0.95]),
                                                  strict=True)}},
        "sum_S1": float(r["S1"].sum()),
        "truncated_evaluations": dict(sorted(truncated.items())),
        "seconds": round(time.perf_counter() - t0, 2),
        "indices": rows,
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(stats.spearmanr(a, b).statistic)
