"""What the dashboard computes: validated states, cached runs, the series the page draws, downloads.

Every input goes through the CLI's own code: `--set` pairs through `cli.common.parse_sets`, values
through `scenario.parse_override_value`, scenarios through `load_scenario` (the pydantic schema), so a
bad input raises the same `UserError` with the same message the CLI prints. Only preset names are
accepted, never paths. Results are cached by (scenario hash, seed, samples); one simulation runs at a
time (requests for the same state wait for it and then read the cache).

numpy, xarray and the model are imported inside functions: this module loads in milliseconds.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError, did_you_mean
from ..results import finite  # strict JSON for browsers (NaN and infinities as null)
from . import (
    DEFAULT_SAMPLES,
    MAX_HORIZON_END,
    MAX_OVERRIDE_CHARS,
    MAX_OVERRIDES,
    MAX_SAMPLE_MONTHS,
    MAX_SAMPLES,
)

SEED_MAX = 2**32 - 1
MAX_KEY_CHARS = 200
PIN_PERCENTILES = tuple(range(5, 100, 5))


@dataclass(frozen=True)
class State:
    """One view of the dashboard: a preset, overrides (key, value as given, parsed value), seed, samples."""

    scenario: str
    overrides: tuple[tuple[str, str, Any], ...]
    seed: int
    samples: int

    @property
    def request_key(self) -> tuple[Any, ...]:
        return (self.scenario, tuple((k, t) for k, t, _ in self.overrides), self.seed, self.samples)

    def override_dict(self) -> dict[str, Any]:
        return {k: v for k, _, v in self.overrides}


def _plain(x: Any) -> Any:
    """numpy values in a Plotly figure, as JSON numbers and lists."""
    import numpy as np

    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON: {type(x).__name__}")


@dataclass
class Entry:
    """A cached result: the summary and series as JSON text, and (while recent) the Run itself."""

    scenario_hash: str
    name: str
    seed: int
    samples: int
    body: str  # '"summary":{...},"series":{...}' (spliced into responses without re-serialising)
    summary: dict[str, Any]
    timings_ms: dict[str, float]
    summary_text: str | None = None  # exactly what `computerace run` writes to summary.json
    csv: str | None = None
    claims: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def _node_count(obj: Any, budget: int) -> int:
    """Nodes in a parsed YAML value, counting shared (aliased) nodes each time; stops past `budget`."""
    n, stack = 0, [obj]
    while stack and n <= budget:
        x = stack.pop()
        n += 1
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list | tuple):
            stack.extend(x)
    return n


def number_text(v: float) -> str:
    """Four significant digits ('0.03422', '2030', '2.213e+10'): what the sliders' pins write."""
    return f"{v:.4g}"


_PLAIN = re.compile(r"[A-Za-z0-9_.+-][A-Za-z0-9_. +-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def value_text(value: Any) -> str:
    """A scenario value as one line of flow YAML, the form `--set key=VALUE` and the page's text boxes take.

    Exact: numbers keep every digit (shortest form), so `parse_override_value` gives the value back.
    """
    if isinstance(value, dict):
        return "{" + ", ".join(f"{value_text(k)}: {value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        s = f"{value:.15g}"
        return s if float(s) == value else repr(value)
    s = str(value)
    if _PLAIN.fullmatch(s) and s.strip() == s and s.lower() not in _YAML_WORDS:
        return s
    return json.dumps(s)


class Service:
    """The dashboard's state: caches and the lock that serialises simulations."""

    def __init__(self, default_samples: int = DEFAULT_SAMPLES, max_entries: int = 48, max_runs: int = 3) -> None:
        if not 1 <= default_samples <= MAX_SAMPLES:
            raise UserError(f"--samples must be between 1 and {MAX_SAMPLES:,} for the dashboard, got {default_samples}")
        self.default_samples = default_samples
        self._max_entries, self._max_runs = max_entries, max_runs
        self._compute = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="computerace-series")
        self._meta = threading.Lock()
        self._claims_lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int, int], Entry] = OrderedDict()
        self._requests: OrderedDict[tuple[Any, ...], tuple[str, int, int]] = OrderedDict()
        self._scenarios: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._runs: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
        self._parameters: dict[str, dict[str, Any]] = {}
        self.stats = {"runs": 0, "hits": 0}

    def _count(self, what: str) -> None:
        with self._meta:
            self.stats[what] += 1

    # ---------------------------------------------------------------------------------- inputs
    def presets(self) -> list[str]:
        from ..scenario import presets

        return presets()

    def check_preset(self, name: str) -> str:
        names = self.presets()
        if name in names:
            return name
        hint = did_you_mean(name, names)
        raise UserError(f"'{name[:80]}' is not a preset: the dashboard runs built-in presets only, never file "
                        f"paths ({', '.join(names)}). " + (hint + " " if hint else "")
                        + "Run a scenario file with 'computerace run FILE'.")

    def state(self, scenario: str, sets: list[str] | None = None, overrides: dict[str, Any] | None = None,
              seed: int = 0, samples: int | None = None) -> State:
        """Validate a request into a State: `sets` are CLI `--set key=value` strings, `overrides` a mapping."""
        from ..cli.common import parse_sets
        from ..scenario import parse_override_value

        name = self.check_preset(scenario)
        samples = self.default_samples if samples is None else samples
        if isinstance(samples, bool) or not 1 <= samples <= MAX_SAMPLES:
            raise UserError(f"samples must be between 1 and {MAX_SAMPLES:,} in the dashboard, got {samples}; "
                            "run larger ones with 'computerace run --samples N'")
        if isinstance(seed, bool) or not 0 <= seed <= SEED_MAX:
            raise UserError(f"seed must be an integer between 0 and {SEED_MAX}, got {seed}")
        items: list[tuple[str, str, Any]] = []
        pairs = list(sets or [])
        if len(pairs) + len(overrides or {}) > MAX_OVERRIDES:
            raise UserError(f"at most {MAX_OVERRIDES} overrides per request")
        try:
            for s in pairs:
                if len(s) > MAX_OVERRIDE_CHARS:
                    raise UserError(f"--set {s[:40]}...: longer than {MAX_OVERRIDE_CHARS} characters")
                ((k, v),) = parse_sets([s]).items()
                items.append((k, s.split("=", 1)[1].strip(), v))
            for k, raw in (overrides or {}).items():
                if len(k) > MAX_KEY_CHARS or (isinstance(raw, str) and len(raw) > MAX_OVERRIDE_CHARS):
                    raise UserError(f"--set {k[:40]}: key or value too long")
                if isinstance(raw, str):
                    items.append((k.strip(), raw.strip(), parse_override_value(raw.strip())))
                elif isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
                    items.append((k.strip(), json.dumps(raw), raw))
                else:
                    raise UserError(f"--set {k}: a value is a number or text in the scenario language, got {raw!r}")
        except RecursionError:
            raise UserError("--set: a value nested too deeply") from None
        for k, _, v in items:
            if len(k) > MAX_KEY_CHARS:
                raise UserError(f"--set {k[:40]}...: key longer than {MAX_KEY_CHARS} characters")
            if _node_count(v, 500) > 500:
                raise UserError(f"--set {k}: the value is too large (more than 500 YAML nodes)")
        return State(name, tuple(items), int(seed), int(samples))

    def scenario(self, st: State) -> Any:
        """The validated Scenario of a state (cached); raises the CLI's UserError/ScenarioError."""
        from .. import load_scenario

        key = (st.scenario, tuple((k, t) for k, t, _ in st.overrides))
        with self._meta:
            sc = self._scenarios.get(key)
            if sc is not None:
                self._scenarios.move_to_end(key)
                return sc
        sc = load_scenario(st.scenario, st.override_dict() or None)
        if sc.horizon.end > MAX_HORIZON_END:
            raise UserError(f"horizon.end {sc.horizon.end} is past {MAX_HORIZON_END}, the last month the dashboard "
                            f"runs; set an earlier end (e.g. horizon.end={MAX_HORIZON_END}), or run longer horizons "
                            "with 'computerace run'")
        months = len(sc.months())
        if months * st.samples > MAX_SAMPLE_MONTHS:
            raise UserError(f"samples x months = {st.samples:,} x {months} exceeds the dashboard's limit of "
                            f"{MAX_SAMPLE_MONTHS:,} sample-months; use fewer samples or a shorter horizon, "
                            "or 'computerace run'")
        with self._meta:
            self._scenarios[key] = sc
            while len(self._scenarios) > 64:
                self._scenarios.popitem(last=False)
        return sc

    # ----------------------------------------------------------------------------------- runs
    def _lookup(self, key: tuple[str, int, int]) -> Entry | None:
        with self._meta:
            e = self._entries.get(key)
            if e is not None:
                self._entries.move_to_end(key)
            return e

    def result(self, st: State) -> tuple[Entry, bool]:
        """The cached Entry of a state, computing it if needed; returns (entry, was_cached)."""
        with self._meta:
            hk = self._requests.get(st.request_key)
        if hk is not None and (e := self._lookup(hk)) is not None:
            self._count("hits")
            return e, True
        t0 = time.perf_counter()
        sc = self.scenario(st)
        key = (sc.hash, st.seed, st.samples)
        load_ms = (time.perf_counter() - t0) * 1e3
        with self._compute:  # one simulation at a time; a waiting twin finds the cache filled
            e = self._lookup(key)
            cached = e is not None
            if e is None:
                e = self._compute_entry(sc, st, load_ms)
        with self._meta:
            self._requests[st.request_key] = key
            while len(self._requests) > 512:
                self._requests.popitem(last=False)
        if cached:
            self._count("hits")
        return e, cached

    def _compute_entry(self, sc: Any, st: State, load_ms: float) -> Entry:
        import computerace as cr

        t = [time.perf_counter()]
        run = cr.run(sc, samples=st.samples, seed=st.seed).conditioned()  # what `computerace run` shows
        t.append(time.perf_counter())
        series_job = self._pool.submit(fan_series, run.dataset)  # numpy's sort releases the GIL: overlaps
        summary = run.summary()
        series = series_job.result()
        t.append(time.perf_counter())
        body = json.dumps({"summary": finite(page_summary(summary)), "series": series}, separators=(",", ":"),
                          allow_nan=False)
        t.append(time.perf_counter())
        names = ("run", "summary", "json")
        timings = {"load": load_ms} | {n: (t[i + 1] - t[i]) * 1e3 for i, n in enumerate(names)}
        e = Entry(sc.hash, sc.name, st.seed, st.samples, body[1:-1], summary, timings)
        key = (sc.hash, st.seed, st.samples)
        with self._meta:
            self._entries[key] = e
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
            self._runs[key] = run
            while len(self._runs) > self._max_runs:
                self._runs.popitem(last=False)
        self._count("runs")
        return e

    def run_object(self, st: State) -> Any:
        """The Run of a state: kept for the few most recent states, recomputed (identically) otherwise."""
        import computerace as cr

        e, _ = self.result(st)
        key = (e.scenario_hash, e.seed, e.samples)
        with self._meta:
            run = self._runs.get(key)
        if run is None:
            with self._compute:
                sc = self.scenario(st)
                run = cr.run(sc, samples=st.samples, seed=st.seed).conditioned()  # what `computerace run` shows
            with self._meta:
                self._runs[key] = run
                while len(self._runs) > self._max_runs:
                    self._runs.popitem(last=False)
        return run

    def run_json(self, st: State) -> tuple[str, dict[str, float]]:
        """The /api/run response body and its timings (ms)."""
        t0 = time.perf_counter()
        e, cached = self.result(st)
        query = query_string(st)
        meta = {
            "scenario": st.scenario, "name": e.name, "scenario_hash": e.scenario_hash, "seed": st.seed,
            "samples": st.samples, "overrides": {k: t for k, t, _ in st.overrides},
            "cached": cached,
            "reproduce": f"computerace run {yaml_filename(e)} --seed {st.seed} --samples {st.samples}",
            "downloads": {"summary.json": f"/api/download/summary.json?{query}",
                          "quantiles.csv": f"/api/download/quantiles.csv?{query}",
                          "scenario.yaml": f"/api/download/scenario.yaml?{query}"},
        }
        timings = {} if cached else dict(e.timings_ms)
        timings["total"] = (time.perf_counter() - t0) * 1e3
        meta["server_ms"] = round(timings["total"], 2)
        head = json.dumps(meta, separators=(",", ":"))
        return head[:-1] + "," + e.body + "}", timings

    def claims(self, st: State) -> dict[str, Any]:
        """The debate's claims scored under a state (cached with its entry; one scoring at a time)."""
        from . import optional

        e, _ = self.result(st)
        with self._claims_lock:
            if e.claims is None:
                e.claims = optional.claims_for(self.scenario(st), st.samples, st.seed)
        return e.claims | {"scenario_hash": e.scenario_hash, "seed": e.seed, "samples": e.samples}

    def discover(self, st: State, outcome: str) -> dict[str, Any]:
        """Scenario discovery (analysis/discover.py) on the view's prior samples, cached with its entry: the result
        as `computerace discover --json` prints it, plus the peeling trajectory as a Plotly figure."""
        import computerace as cr

        from ..analysis.discover import check_outcome, discover
        from ..report.discover_section import trajectory_figure

        check_outcome(outcome)  # a UserError (422) before any work
        e, _ = self.result(st)
        key = "discover:" + outcome
        with self._claims_lock:  # one discovery (or claims scoring) at a time
            if key not in e.extras:
                with self._compute:
                    prior = cr.run(self.scenario(st), samples=st.samples, seed=st.seed)
                result = discover(prior, outcome)
                e.extras[key] = result.to_dict() | {"figure": json.loads(json.dumps(
                    trajectory_figure(result).to_plotly_json(), default=_plain))}
        return e.extras[key] | {"scenario_hash": e.scenario_hash, "seed": e.seed, "samples": e.samples}

    # ------------------------------------------------------------------------------ downloads
    def summary_text(self, st: State) -> tuple[str, Entry]:
        """summary.json as `Run.save` writes it (same serialisation), byte for byte."""
        from ..results import _json_default

        e, _ = self.result(st)
        if e.summary_text is None:
            e.summary_text = json.dumps(e.summary, indent=1, default=_json_default) + "\n"
        return e.summary_text, e

    def quantiles_csv(self, st: State) -> tuple[str, Entry]:
        e, _ = self.result(st)
        if e.csv is None:
            e.csv = self.run_object(st).quantiles_csv()
        return e.csv, e

    def scenario_yaml(self, st: State) -> tuple[str, Any]:
        """The resolved scenario as a file that `computerace run FILE --seed S --samples N` reproduces."""
        import yaml

        from .. import __version__

        sc = self.scenario(st)
        sets = " ".join(f"--set '{k}={t}'" for k, t, _ in st.overrides)
        head = (f"# computerace {__version__} scenario exported by the dashboard (scenario hash {sc.hash}).\n"
                f"# Preset '{st.scenario}'" + (f" with {sets}" if sets else "") + ", resolved (no 'extends').\n"
                f"# Reproduce the dashboard's numbers exactly:\n"
                f"#   computerace run {yaml_filename(sc)} --seed {st.seed} --samples {st.samples}\n")
        return head + yaml.safe_dump(sc.resolved, sort_keys=False, allow_unicode=True, width=100), sc

    # ----------------------------------------------------------------------------- parameters
    def parameters(self, preset: str) -> dict[str, Any]:
        """Every parameter of a preset with unit, value, source and pins for the page's sliders."""
        from ..catalog import sources
        from . import optional

        name = self.check_preset(preset)
        order, ordering = optional.parameter_order(name)
        status = {"ranking": optional.ranking_status().get(name, "off")}
        cached = self._parameters.get(name)
        if cached is not None and cached["ordering"] == ordering:
            return cached | status
        sc = self.scenario(State(name, (), 0, 1))
        srcs = sources()
        keys = [k for k in order if k in sc.parameters] + [k for k in sc.parameters if k not in order]
        rows = []
        for rank, key in enumerate(keys):
            p = sc.parameters[key]
            sec, pname = key.split(".", 1)
            value = sc.resolved[sec][pname]["value"]
            rows.append({
                "key": key, "section": sec, "name": pname, "unit": p.spec.unit, "kind": p.spec.kind,
                "description": p.spec.description, "min": p.spec.min, "max": p.spec.max,
                "value_text": value_text(value), "uncertain": p.uncertain,
                "distribution": _describe(p.value, value), "pins": _pins(p, value),
                "summary": ("uncertain at each date" if p.uncertain else "fixed at each date")
                if hasattr(p.value, "dists") else _dist_text(p.value, value),
                "sources": [_source_row(srcs, s) for s in p.source],
                "assumption": p.assumption, "note": p.note, "rank": rank, "influential": key in order[:10],
            })
        out = {"scenario": name, "scenario_hash": sc.hash, "description": " ".join(sc.description.split()),
               "ordering": ordering, "parameters": rows}
        self._parameters[name] = out
        return out | status

    def warm_up(self) -> None:
        """Import the model and fill the cache for the default view (run in a thread at start-up)."""
        time.sleep(0.25)  # let the server bind and answer its first requests before the heavy imports
        try:
            st = self.state("baseline", samples=self.default_samples)
            self.result(st)
            self.parameters("baseline")
        except Exception:  # noqa: BLE001 - a failed warm-up only costs the first request its speed
            pass


def _dist_text(d: Any, raw: Any) -> str:
    """A distribution in words: its own text ('5 to 10 (90% CI, lognormal)'), or for a mapping written in
    the scenario (uniform, beta, mixture ...) `describe`'s words, never a Python dict repr."""
    from ..scenario.distributions import describe

    return describe(raw) if isinstance(raw, dict | list | tuple) else str(d.text)


def _describe(v: Any, raw: Any) -> str:
    if hasattr(v, "dists"):
        knots = list(next(iter(raw.values())).values()) if isinstance(raw, dict) and len(raw) == 1 else []
        if len(knots) != len(v.dists) or not all(isinstance(k, dict) for k in raw.values()):
            knots = [None] * len(v.dists)
        return "; ".join(f"{_knot(t, v.mode)}: {_dist_text(d, k)}"
                         for t, d, k in zip(v.times, v.dists, knots, strict=True))
    return _dist_text(v, raw)


def _knot(t: float, mode: str) -> str:
    if mode == "step":
        y, m = divmod(round(t * 12), 12)
        return f"{y}-{m + 1:02d}"
    return str(int(t))


def _pins(p: Any, value: Any) -> list[dict[str, Any]]:
    """Override texts that pin a parameter at each 5th percentile of its own distribution."""
    import numpy as np

    if not p.uncertain:
        return []
    out = []
    for q in PIN_PERCENTILES:
        u = np.array([q / 100])
        if hasattr(p.value, "dists"):
            kind, knots = next(iter(value.items()))
            pinned = {kind: {k: number_text(float(d.ppf(u)[0])) for k, d in zip(knots, p.value.dists, strict=True)}}
            out.append({"percentile": q, "text": value_text(pinned)})
        else:
            out.append({"percentile": q, "text": number_text(float(p.value.ppf(u)[0]))})
    # A value derived elsewhere (`controls`: the export-control engine) has no spread to pin.
    return out if len({x["text"] for x in out}) > 1 else []


def _source_row(srcs: dict[str, Any], sid: str) -> dict[str, Any]:
    s = srcs.get(sid)
    if s is None:
        return {"id": sid}
    return {"id": sid, "title": s.title, "url": s.url, "publisher": s.publisher, "published": s.published}


#: summary.json metrics the page does not draw: left out of /api/run (about half its size), kept in the
#: summary.json download.
PAGE_OMITS = ("stock_by_generation_h100e", "power_by_generation_gw", "china_supply_chain")


def page_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as /api/run sends it: every key but the metrics in PAGE_OMITS."""
    return {**summary, "metrics": {k: v for k, v in summary["metrics"].items() if k not in PAGE_OMITS}}


def fan_series(ds: Any) -> dict[str, Any]:
    """Monthly 5/50/95% quantiles over samples of owned stock by actor, China by channel, and remote.

    Linear interpolation between order statistics, as numpy's default quantile; one sort of all series
    together (a full `np.quantile` per series is several times slower).
    """
    import numpy as np

    from ..analysis.metrics import QUANTILES

    arrs = [ds["stock_h100e"].values, ds["china_stock_h100e"].values, ds["china_remote_h100e"].values[:, :, None]]
    labels = ([("stock_h100e", str(a)) for a in ds["actor"].values]
              + [("china_stock_h100e", str(c)) for c in ds["channel"].values]
              + [("china_remote_h100e", "China")])
    s = np.sort(np.concatenate(arrs, axis=2), axis=0)
    n = s.shape[0]
    q = {}
    for name, p in QUANTILES.items():
        pos = p * (n - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, n - 1)
        a, b = s[lo].astype(np.float64), s[hi].astype(np.float64)
        q[name] = a + (b - a) * (pos - lo)
    out: dict[str, Any] = {"months": [str(m) for m in ds["month"].values.astype("datetime64[M]")],
                           "quantiles": list(QUANTILES)}
    for j, (var, key) in enumerate(labels):
        out.setdefault(var, {})[key] = {name: finite(q[name][:, j].tolist()) for name in QUANTILES}
    return out


def query_string(st: State) -> str:
    """The query string of a state, in the form the page's URL and the GET routes use."""
    from urllib.parse import urlencode

    pairs = [("scenario", st.scenario), ("seed", str(st.seed)), ("samples", str(st.samples))]
    pairs += [("set", f"{k}={t}") for k, t, _ in st.overrides]
    return urlencode(pairs)


def yaml_filename(obj: Any) -> str:
    h = getattr(obj, "scenario_hash", None) or obj.hash
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", getattr(obj, "name", "scenario"))[:40] or "scenario"
    return f"{name}-{h}.yaml"
