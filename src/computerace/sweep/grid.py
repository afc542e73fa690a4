"""Grid files: a base scenario, axes over parameters, scenarios and seeds, and the metrics to keep.

A grid file is YAML (examples/smuggling_x_taiwan.yaml)::

    name: smuggling_x_taiwan          # names the output directory and the report
    description: ...                  # optional, shown in the report
    base: baseline                    # preset name or scenario file (relative to the grid file)
    set: {events.taiwan_severity: 0.6}  # optional overrides applied to every cell
    samples: 10000                    # Monte Carlo samples per cell
    seed: 0                           # seed of every cell (unless a `seed` axis varies it)
    chunk: 2000                       # samples per task (memory and load balance; results do not depend on it)
    axes:                             # the cells are the Cartesian product of the axes, in this order
      smuggling.enforcement: [0, 0.01, 0.03, 0.1]          # a parameter: a list of values ...
      events.taiwan_hazard_per_year: {from: 0, to: 0.1, steps: 5}   # ... or a range (also `step:`, `log: true`)
      # scenario: [baseline, my_scenario.yaml]               # whole scenarios (replace `base`)
      # seed: [0, 1, 2]                                      # seeds
    metrics:                          # <metric>/<key> as in summary.json; the key may be left out
      - china_share                   #   when the metric has one key
      - stock_h100e/China
      - china_overtakes_us_stock_by   # a probability (summary.json "probabilities"): stat "mean"
    years: [2025, 2030, 2035, 2040]   # optional; default every year end of the horizon
    report: {metric: china_share, year: 2030, stat: p50}   # optional; what the report maps

A parameter value may be anything `--set` accepts: a number, "a to b" (a 90% interval) or a
distribution mapping. Every cell is validated before any work is sent to the cluster.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ScenarioError, UserError, did_you_mean

GRID_KEYS = ("name", "description", "base", "set", "samples", "seed", "chunk", "axes", "metrics", "years", "report")
STATS = ("p5", "p50", "p95", "mean")
SPECIAL_AXES = ("scenario", "seed")
MAX_CELLS = 100_000
DEFAULT_CHUNK = 2000
UNITS = {"stock_h100e": "H100e", "additions_h100e": "H100e/year", "operational_h100e": "H100e",
         "power_gw": "GW", "remote_h100e": "H100e", "china_share": "fraction", "us_to_china_ratio": "ratio",
         "years_behind_stock": "years"}


@dataclass(frozen=True)
class Axis:
    """One grid axis: `name` is a parameter key (section.parameter), `scenario` or `seed`."""

    name: str
    values: tuple[Any, ...]

    def coord(self) -> np.ndarray:
        """Coordinate values for the Dataset: numbers when every value is a number, else text labels."""
        if self.name == "seed":
            return np.asarray(self.values, dtype=np.int64)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values):
            return np.asarray(self.values, dtype=np.float64)
        return np.asarray([label(v) for v in self.values], dtype=str)


def label(v: Any) -> str:
    """A short text form of an axis value (YAML flow style for mappings)."""
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict | list) else str(v)


@dataclass(frozen=True)
class Metric:
    """A metric to keep: `name` and `key` as in summary.json; `label` is what the user wrote."""

    label: str
    name: str
    key: str | None  # None for a probability
    unit: str


@dataclass
class Cell:
    """One point of the grid: where it sits on the axes and what it runs."""

    index: tuple[int, ...]
    coords: dict[str, Any]
    scenario: Any  # a validated Scenario
    seed: int
    samples: int
    key: str = ""  # content hash: names the cell's file, so --resume only reuses a matching result


@dataclass
class Grid:
    """A parsed, validated grid file. `cells()` loads the scenario of every cell."""

    name: str
    description: str
    base: str
    overrides: dict[str, Any]
    samples: int
    seed: int
    chunk: int
    axes: list[Axis]
    metric_labels: list[str]
    years: list[int] | None
    report: dict[str, Any]
    text: str
    path: Path | None
    where: str = "<grid>"  # how errors name the grid file
    metrics: list[Metric] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def n_cells(self) -> int:
        return math.prod(self.shape)

    def _scenario_ref(self, ref: str) -> str:
        """A scenario file named in the grid is looked up next to the grid file first."""
        if self.path is not None and not Path(ref).is_absolute():
            rel = self.path.parent / ref
            if rel.exists():
                return str(rel)
        return ref

    def cells(self) -> list[Cell]:
        """Every cell in row-major order of the axes, its scenario loaded and validated."""
        from .. import __version__, load_scenario

        where = self.where
        cache: dict[str, Any] = {}
        out: list[Cell] = []
        for index in itertools.product(*(range(len(a.values)) for a in self.axes)):
            coords = {a.name: a.values[i] for a, i in zip(self.axes, index, strict=True)}
            base = str(coords.get("scenario", self.base))
            seed = int(coords.get("seed", self.seed))
            overrides = dict(self.overrides)
            overrides.update({k: v for k, v in coords.items() if k not in SPECIAL_AXES})
            ck = json.dumps([base, overrides], sort_keys=True, default=str)
            if ck not in cache:
                try:
                    cache[ck] = load_scenario(self._scenario_ref(base), overrides or None)
                except UserError as e:
                    at = ", ".join(f"{k}={label(v)}" for k, v in coords.items()) or "the base scenario"
                    raise UserError(f"{where}: the cell {at} is not a valid scenario:\n{e}") from None
            out.append(Cell(index, coords, cache[ck], seed, self.samples))
        if not self.metrics:
            self.resolve_metrics(out[0].scenario)
        for cell in out:
            cell.key = cell_key(cell.scenario.hash, cell.seed, self.samples, [m.label for m in self.metrics],
                                self.years or [], __version__)
        return out

    def resolve_metrics(self, scenario: Any) -> None:
        """Check the metric names and years against the summary of a tiny run of `scenario`."""
        import computerace as cr

        where = self.where
        s = cr.run(scenario, samples=2, seed=0).summary()
        known = {f"{m}/{k}": (m, k) for m, keys in s["metrics"].items() for k in keys}
        single = {m: (m, next(iter(keys))) for m, keys in s["metrics"].items() if len(keys) == 1}
        probs = set(s["probabilities"])
        self.metrics = []
        for lab in self.metric_labels:
            if lab in probs:
                self.metrics.append(Metric(lab, lab, None, "probability"))
                continue
            hit = known.get(lab) or single.get(lab)
            if hit is None:
                options = sorted(known) + sorted(single) + sorted(probs)
                hint = did_you_mean(lab, options)
                raise ScenarioError(f"unknown metric '{lab}'", file=where, key="metrics",
                                    expected="<metric>/<key> as in summary.json, e.g. stock_h100e/China, "
                                             "china_share, china_overtakes_us_stock_by",
                                    fix=(hint + " " if hint else "") + "choose from: " + ", ".join(options))
            self.metrics.append(Metric(lab, hit[0], hit[1], UNITS.get(hit[0], "")))
        horizon = sorted({int(d[:4]) for d in s["metrics"]["stock_h100e"]["World"] if d.endswith("-12")})
        if self.years is None:
            self.years = horizon
        bad = [y for y in self.years if y not in horizon]
        if bad:
            raise ScenarioError(f"years {bad} have no year end in the base scenario's horizon", file=where,
                                key="years", expected=f"years from {horizon[0]} to {horizon[-1]}",
                                fix="drop them or extend horizon.end in `set:`")
        rep = self.report
        names = [m.label for m in self.metrics]
        rep.setdefault("metric", names[0])
        rep.setdefault("year", 2030 if 2030 in self.years else self.years[-1])
        if rep["metric"] not in names:
            raise ScenarioError("the report metric is not among `metrics`", file=where, key="report.metric",
                                found=str(rep["metric"]), fix="choose one of: " + ", ".join(names))
        rep.setdefault("stat", "mean" if self.metrics[names.index(rep["metric"])].key is None else "p50")
        if rep["year"] not in self.years:
            raise ScenarioError("the report year is not among `years`", file=where, key="report.year",
                                found=str(rep["year"]), fix=f"choose one of: {self.years}")
        if rep["stat"] not in STATS:
            raise ScenarioError("unknown report statistic", file=where, key="report.stat",
                                found=str(rep["stat"]), expected=", ".join(STATS))


def cell_key(scenario_hash: str, seed: int, samples: int, metrics: list[str], years: list[int],
             version: str) -> str:
    """Everything that determines a cell's numbers (not the chunk size, nor the worker count)."""
    blob = json.dumps({"scenario_hash": scenario_hash, "seed": seed, "samples": samples, "metrics": metrics,
                       "years": list(years), "version": version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _int(raw: dict[str, Any], key: str, default: int, lo: int, where: str, lines: dict) -> int:
    v = raw.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        f, ln = lines.get((key,), (where, None))
        raise ScenarioError(f"`{key}` must be an integer >= {lo}", file=f, line=ln, key=key, found=repr(v))
    return v


def _axis_values(name: str, spec: Any, where: str, line: int | None) -> tuple[Any, ...]:
    def bad(problem: str, found: Any = None) -> ScenarioError:
        return ScenarioError(problem, file=where, line=line, key=f"axes.{name}", found=None if found is None
                             else repr(found), expected="a list of values, or {from: a, to: b, steps: n} "
                             "(also step: s, log: true)", fix="e.g. [0.0, 0.02, 0.05] or {from: 0, to: 0.1, steps: 5}")

    if isinstance(spec, list):
        values = tuple(spec)
    elif isinstance(spec, dict):
        extra = set(spec) - {"from", "to", "steps", "step", "log"}
        if extra or "from" not in spec or "to" not in spec or ("steps" in spec) == ("step" in spec):
            raise bad("a range needs `from`, `to` and one of `steps` or `step`", spec)
        a, b = spec["from"], spec["to"]
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b)):
            raise bad("`from` and `to` must be numbers", spec)
        if "steps" in spec:
            n = spec["steps"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise bad("`steps` must be a positive integer", n)
            if spec.get("log"):
                if a <= 0 or b <= 0:
                    raise bad("a log range needs positive `from` and `to`", spec)
                arr = np.geomspace(a, b, n)
            else:
                arr = np.linspace(a, b, n)
        else:
            s = spec["step"]
            if isinstance(s, bool) or not isinstance(s, int | float) or s == 0 or (b - a) / s < 0:
                raise bad("`step` must be a non-zero number going from `from` towards `to`", s)
            n = int(math.floor((b - a) / s + 1e-9)) + 1
            arr = a + s * np.arange(n)
        values = tuple(float(round(x, 12)) for x in arr)
    else:
        raise bad("axis values must be a list or a range", spec)
    if not values:
        raise bad("an axis needs at least one value", spec)
    if name == "seed" and not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise bad("seeds must be integers >= 0", spec)
    if name == "scenario" and not all(isinstance(v, str) for v in values):
        raise bad("scenarios are preset names or scenario file paths", spec)
    labels = [label(v) for v in values]
    if len(set(labels)) != len(labels):
        raise bad("axis values repeat", spec)
    return values


def load_grid(path: str | Path) -> Grid:
    """Parse and check a grid file (the scenarios of its cells are loaded later, by Grid.cells())."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"grid file not found: {p}\n  fix: check the path; examples/smuggling_x_taiwan.yaml "
                        "is an example") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read grid file {p}: {e.__class__.__name__}") from None
    return parse_grid(text, str(p), p)


def parse_grid(text: str, where: str = "<grid>", path: Path | None = None) -> Grid:
    from ..scenario.yamlio import load_yaml

    raw, lines = load_yaml(text, where)
    if not isinstance(raw, dict):
        raise ScenarioError("a grid file is a mapping with base, axes and metrics", file=where,
                            fix="see examples/smuggling_x_taiwan.yaml")
    for k in raw:
        if k not in GRID_KEYS:
            f, ln = lines.get((k,), (where, None))
            hint = did_you_mean(k, GRID_KEYS)
            raise ScenarioError("unknown grid key", file=f, line=ln, key=k,
                                fix=(hint + " " if hint else "") + "keys: " + ", ".join(GRID_KEYS))
    name = str(raw.get("name") or (path.stem if path else "sweep"))
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ScenarioError("`name` names the output directory: letters, digits, _, - and . only",
                            file=where, key="name", found=repr(name))
    samples = _int(raw, "samples", 1000, 1, where, lines)
    seed = _int(raw, "seed", 0, 0, where, lines)
    chunk = _int(raw, "chunk", min(DEFAULT_CHUNK, samples), 1, where, lines)
    base = raw.get("base", "baseline")
    if not isinstance(base, str):
        raise ScenarioError("`base` is a preset name or a scenario file", file=where, key="base", found=repr(base))
    overrides = raw.get("set") or {}
    if not isinstance(overrides, dict):
        raise ScenarioError("`set` maps parameter keys to values", file=where, key="set", found=repr(overrides),
                            fix="set: {events.taiwan_severity: 0.6}")
    axes_raw = raw.get("axes") or {}
    if not isinstance(axes_raw, dict):
        raise ScenarioError("`axes` maps a parameter key (or scenario, seed) to its values", file=where,
                            key="axes", found=repr(axes_raw))
    axes = []
    for k, spec in axes_raw.items():
        f, ln = lines.get(("axes", k), (where, None))
        if k in overrides:
            raise ScenarioError("a key cannot be both in `set` and an axis", file=f, line=ln, key=f"axes.{k}")
        axes.append(Axis(k, _axis_values(k, spec, f, ln)))
    cells = math.prod(len(a.values) for a in axes)
    if cells > MAX_CELLS:
        raise ScenarioError(f"{cells:,} cells is more than {MAX_CELLS:,}", file=where, key="axes",
                            fix="split the sweep into several grid files")
    metrics = raw.get("metrics")
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise ScenarioError("`metrics` lists the metrics to keep", file=where, key="metrics", found=repr(metrics),
                            fix="metrics: [china_share, stock_h100e/China, years_behind_stock]")
    if len(set(metrics)) != len(metrics):
        raise ScenarioError("a metric is listed twice", file=where, key="metrics")
    years = raw.get("years")
    if years is not None and (not isinstance(years, list) or not years
                              or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)):
        raise ScenarioError("`years` lists calendar years", file=where, key="years", found=repr(years),
                            fix="years: [2025, 2030, 2035, 2040]")
    report = raw.get("report") or {}
    if not isinstance(report, dict) or set(report) - {"metric", "year", "stat"}:
        raise ScenarioError("`report` takes metric, year and stat", file=where, key="report", found=repr(report))
    return Grid(name=name, description=str(raw.get("description") or ""), base=base, overrides=dict(overrides),
                samples=samples, seed=seed, chunk=chunk, axes=axes, metric_labels=list(metrics),
                years=sorted(set(years)) if years else None, report=dict(report), text=text, path=path, where=where)
