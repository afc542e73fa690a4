"""The public Python API: resolve a scenario, draw, simulate in chunks, assemble a Run."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import UserError
from .scenario import Scenario, load_scenario

#: At most this many samples per chunk; two chunks run at once. Measured (baseline, 100,000 samples, 2 workers, on the
#: 2-core machines): chunk 2,000 28.2 s, 5,000 21.3 s, 10,000 19.1 s (+0.6 GB peak), 20,000 20.8 s (+1.5 GB peak).
#: Smaller chunks pay the month loop's per-operation overhead more often; larger ones fall out of cache and hold
#: more working memory (WORK_BYTES_PER_SAMPLE_MONTH each): 5,000 is the knee.
DEFAULT_CHUNK = 5000
#: Working memory of simulate per sample and month of a chunk: the month loop's float64 [month, ., sample] buffers
#: and [sample, month] paths. Measured with tracemalloc at 5,000 samples: 266 bytes (33 float64); 36 leaves margin.
WORK_BYTES_PER_SAMPLE_MONTH = 8 * 36


def resolve(scenario: Scenario | str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    if isinstance(scenario, Scenario):
        if overrides:
            raise UserError("overrides apply when loading: use load_scenario(name, overrides=...)")
        return scenario
    return load_scenario(str(scenario), overrides)


#: Per-sample draws of the regime events and model forms stored in the Run: {name: (unit, description)}.
PER_SAMPLE_EVENTS = {'taiwan_capacity_lost': ('fraction', 'share of Western output capacity a Taiwan event loses for good (0: a blockade that ends)'),
    'capex_bust_year': ('year', 'start of the first AI-capex bust (inf: none)'),
    'controls_shift_year': ('year', 'date of the unscheduled export-control shift (inf: none)'),
    'controls_regime': ('code', 'the regime that shift moves to: 0 tighten, 1 partial loosening, 2 lift'),
    'china_centralise_year': ('year', 'when China centralises compute for its largest run (inf: never)'),
    'china_centralised_share_ratio': ('1', "China's largest-run share relative to the US's once it centralises"),
    'western_model': ('switch', 'model form of Western output in this sample: 1 physics, 0 growth form'),
    'domestic_model': ('switch', "model form of China's domestic output in this sample: 1 physics, 0 growth form")}

#: Peak memory of a run, report included, per byte of its output arrays (measured: a 10,000-sample baseline run
#: with its conditioning and report peaks at ~2.1 GB for ~0.8 GB of outputs; 3 leaves room for the summary).
PEAK_PER_OUTPUT_BYTE = 3.0


def default_chunk(samples: int) -> int:
    """Samples simulated at once when none is given: two chunks per 2 x DEFAULT_CHUNK samples, in whole 1,000-sample
    blocks (per-operation overhead in the month loop falls with larger chunks; results do not depend on it)."""
    return max(1000, min(DEFAULT_CHUNK, -(-samples // 2000) * 1000))


def memory_budget() -> int:
    """Bytes a run may plan to use: COMPUTERACE_MEMORY_GIB if set, else 80% of the machine's physical memory."""
    env = os.environ.get("COMPUTERACE_MEMORY_GIB")
    if env:
        try:
            gib = float(env)
        except ValueError:
            raise UserError(f"COMPUTERACE_MEMORY_GIB must be a number of GiB, got {env!r}") from None
        if not math.isfinite(gib) or gib <= 0:
            raise UserError(f"COMPUTERACE_MEMORY_GIB must be a positive number of GiB, got {env!r}")
        return int(gib * 2**30)
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def estimate_bytes(scenario: Scenario, samples: int, chunk: int | None = None) -> int:
    """Peak memory a run of `samples` will need: its output arrays (samples x months x outputs, from the shapes
    run() allocates) times PEAK_PER_OUTPUT_BYTE, plus the month loop's working buffers for one chunk."""
    from .scenario.schema import param_specs

    T = len(scenario.months())
    Y = len(np.unique(scenario.months().astype("datetime64[Y]")))
    per_sample = 4 * (T * 17 + Y * 60) + 8 * (len(param_specs()) + 40)
    chunk = int(chunk or default_chunk(samples))
    work = 2 * WORK_BYTES_PER_SAMPLE_MONTH * T * min(chunk, samples)  # two chunks at once
    return int(PEAK_PER_OUTPUT_BYTE * per_sample * samples + work + 2**29)  # + the interpreter and libraries


def check_resources(scenario: Scenario | str | Path, samples: int, chunk: int | None = None) -> None:
    """Refuse, before any work, a run whose estimated peak memory exceeds the budget (memory_budget())."""
    sc = resolve(scenario)
    need, budget = estimate_bytes(sc, samples, chunk), memory_budget()
    if need > budget:
        lo, hi = 0, samples  # the largest sample count whose estimate fits (the estimate grows with samples)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if estimate_bytes(sc, mid, chunk) <= budget else (lo, mid - 1)
        advice = (f"Use --samples {lo:,} or fewer (or a shorter horizon)" if lo >= 1 else
                  "Not even one sample fits")
        raise UserError(f"{samples:,} samples over {len(sc.months())} months need about {need / 2**30:.1f} GiB; "
                        f"the budget is {budget / 2**30:.1f} GiB. {advice}, or raise the budget with "
                        "COMPUTERACE_MEMORY_GIB if the machine has the memory")


def _check_draws(sc: Scenario, d: Any, start: int) -> None:
    """Refuse draws no world can have (before simulating them): initial US and China shares above the whole."""
    both = d.get("stock.initial_us_share") + d.get("stock.initial_china_share")
    bad = np.flatnonzero(both > 1.0 + 1e-12)
    if bad.size:
        p = sc.parameters["stock.initial_us_share"]
        raise UserError(f"stock.initial_us_share + stock.initial_china_share reach {both[bad[0]]:.3g} in sample "
                        f"{start + int(bad[0])} ({bad.size} samples of this chunk): the two shares of the initial stock "
                        f"must sum to at most 1 (the rest is RoW's). Fix the values ({p.file}"
                        + (f", line {p.line}" if p.line else "") + ") or narrow their distributions")


def check_outputs(ds: Any, sc: Scenario) -> None:
    """After a run: every model quantity finite, and stocks, flows, power and money never negative. A violation
    is a UserError naming the variable, the sample and month, and the scenario (a CLI run with --set carries its
    overrides in its name)."""
    import xarray as xr

    nonneg = ("stock_h100e", "operational_h100e", "power_gw", "china_stock_h100e", "china_remote_h100e",
              "additions_h100e", "china_additions_h100e", "spend_usd", "us_abroad_h100e", "capex_usd",
              "unsold_h100e", "unpowered_h100e", "china_imports_h100e", "china_imports_chips", "china_imports_usd",
              "stock_by_generation_h100e", "power_by_generation_gw")
    for name, var in ds.data_vars.items():
        a = var.values
        if a.dtype.kind != "f" or name in ("taiwan_event_year", "euv_year", "capex_bust_year", "controls_shift_year",
                                           "china_centralise_year", "china_supply_chain", "smic_node_year",
                                           "tsmc_node_year"):
            continue  # event years are +inf when nothing happens; the chain holds +inf for "no cap"
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)  # NaN propagates; two fast passes
        if math.isfinite(lo) and math.isfinite(hi) and (name not in nonneg or lo >= -1e-6 * max(abs(hi), 1.0)):
            continue
        bad, why = ~np.isfinite(a), "not finite"
        if not bad.any():
            bad, why = a < -1e-6 * max(abs(hi), 1.0), "negative"
        if bad.any():
            idx = np.unravel_index(int(np.flatnonzero(bad)[0]), a.shape)
            where = ", ".join(f"{dim} {xr.DataArray(ds[dim]).values[i] if dim in ds.coords else i}"
                              for dim, i in zip(var.dims, idx, strict=True))
            raise UserError(f"the run of scenario '{sc.name}' produced {why} values of {name} ({int(bad.sum())} "
                            f"entries; first at {where}). Its inputs allow a world the model cannot represent: check "
                            "the values you changed and their units (docs/parameters.md)")


def run(scenario: Scenario | str | Path, samples: int = 10_000, seed: int = 0, chunk: int | None = None,
        progress: Callable[[int], None] | None = None) -> Any:
    """Simulate `samples` draws of `scenario` (a Scenario, preset name or path) with `seed`.

    Results are bit-identical for any `chunk` (samples simulated at once). `progress(k)` is called
    with the number of sample-months completed since the last call.
    """
    import xarray as xr

    from .catalog import catalog_version
    from .draws import draw
    from .model.capability import NODES
    from .model.channels import CHANNELS
    from .model.simulate import ACTORS, CHAIN_STEPS, IMPORT_PARTS, SUPPLIERS, simulate
    from .model.stock import GENERATIONS
    from .model.supply import BINDING
    from .results import Run
    from .scenario.schema import param_specs

    for name, v, lo in (("samples", samples, 1), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise UserError(f"{name} must be an integer >= {lo}, got {v!r}")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1):
        raise UserError(f"chunk must be a positive integer or None, got {chunk!r}")
    sc = resolve(scenario)
    samples, seed = int(samples), int(seed)
    check_resources(sc, samples, chunk)
    chunk = int(chunk or default_chunk(samples))
    months = sc.months()
    T = len(months)
    years = months.astype("datetime64[Y]").astype(int) + 1970
    uyears = np.unique(years)
    keys = list(param_specs())

    res: dict[str, np.ndarray] = {
        "stock_h100e": np.empty((samples, T, 3), np.float32),
        "operational_h100e": np.empty((samples, T, 3), np.float32),
        "power_gw": np.empty((samples, T, 3), np.float32),
        "china_stock_h100e": np.empty((samples, T, 4), np.float32),
        "china_remote_h100e": np.empty((samples, T), np.float32),
        "additions_h100e": np.empty((samples, len(uyears), 3), np.float32),
        "china_additions_h100e": np.empty((samples, len(uyears), 4), np.float32),
        "spend_usd": np.empty((samples, len(uyears), 3), np.float32),
        "us_abroad_h100e": np.empty((samples, T), np.float32),
        "capex_usd": np.empty((samples, len(uyears), 3), np.float32),
        "unsold_h100e": np.empty((samples, len(uyears), len(SUPPLIERS)), np.float32),
        "unpowered_h100e": np.empty((samples, len(uyears), 3), np.float32),
        "china_imports_h100e": np.empty((samples, len(uyears), len(IMPORT_PARTS)), np.float32),
        "china_imports_chips": np.empty((samples, len(uyears), len(IMPORT_PARTS)), np.float32),
        "china_imports_usd": np.empty((samples, len(uyears), len(IMPORT_PARTS)), np.float32),
        "binding_constraint": np.empty((samples, len(uyears), 3), np.int8),
        "china_supply_chain": np.empty((samples, len(uyears), len(CHAIN_STEPS)), np.float32),
        "stock_by_generation_h100e": np.empty((samples, len(uyears), 3, len(GENERATIONS)), np.float32),
        "power_by_generation_gw": np.empty((samples, len(uyears), 3, len(GENERATIONS)), np.float32),
        "parameter_quantile": np.empty((samples, len(keys))),
        "taiwan_event_year": np.empty(samples),
        "euv_year": np.empty(samples),
        "best_chip_h100e": np.empty((samples, T, 2), np.float32),
        "tsmc_node_year": np.empty((samples, len(NODES))),
        "smic_node_year": np.empty((samples, len(NODES))),
        "run_flop_per_h100e": np.empty(samples),
        "algorithmic_progress_per_year": np.empty(samples),
        "china_algorithmic_lag_years": np.empty(samples),
        "china_cluster_share_ratio": np.empty(samples),
        **{k: np.empty(samples) for k in PER_SAMPLE_EVENTS},
    }
    truncated: dict[str, int] = {}

    direct = ("stock_h100e", "operational_h100e", "power_gw", "china_stock_h100e", "china_remote_h100e",
              "taiwan_event_year", "euv_year", "additions_h100e", "china_additions_h100e", "spend_usd", "best_chip_h100e",
              "us_abroad_h100e", "capex_usd", "unsold_h100e", "unpowered_h100e", "china_imports_h100e", "china_imports_chips",
              "china_imports_usd",
              "binding_constraint", "china_supply_chain", "stock_by_generation_h100e", "power_by_generation_gw",
              "tsmc_node_year", "smic_node_year", "run_flop_per_h100e", "algorithmic_progress_per_year", "china_algorithmic_lag_years",
              "china_cluster_share_ratio", *PER_SAMPLE_EVENTS)

    def one(start: int) -> tuple[int, Any]:
        n = min(chunk, samples - start)
        d = draw(sc, n, seed, start)
        _check_draws(sc, d, start)
        cb = (lambda m, n=n: progress(n)) if progress is not None else None
        simulate(d.inputs(), cb, out={k: res[k][start:start + n] for k in direct})  # writes into the result arrays
        return n, d

    # Chunks are independent (their own random streams): two at a time use both cores, since numpy
    # releases the GIL in array operations. Results land in fixed slices, so order does not matter.
    starts = list(range(0, samples, chunk))
    workers = max(1, min(len(starts), os.cpu_count() or 1, 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start, (n, d) in zip(starts, pool.map(one, starts), strict=True):
            for k, c in d.truncated.items():
                truncated[k] = truncated.get(k, 0) + c
            res["parameter_quantile"][start:start + n] = np.stack([d.quantiles[k] for k in keys], axis=1)
            del d

    dims3 = ("sample", "month", "actor")
    units = {"stock_h100e": "H100e", "operational_h100e": "H100e", "power_gw": "GW",
             "china_stock_h100e": "H100e", "china_remote_h100e": "H100e", "additions_h100e": "H100e/year",
             "china_additions_h100e": "H100e/year", "spend_usd": "USD/year", "us_abroad_h100e": "H100e",
             "capex_usd": "USD/year",
             "unsold_h100e": "H100e/year", "unpowered_h100e": "H100e/year", "china_imports_h100e": "H100e/year",
             "china_imports_chips": "chips/year", "china_imports_usd": "USD/year",
             "binding_constraint": "code", "china_supply_chain": "per year (wafers, dies, packages, H100e)",
             "stock_by_generation_h100e": "H100e", "power_by_generation_gw": "GW", "parameter_quantile": "1", "taiwan_event_year": "year",
             "euv_year": "year", "best_chip_h100e": "H100e/package", "tsmc_node_year": "year", "smic_node_year": "year",
             "run_flop_per_h100e": "FLOP/H100e", "algorithmic_progress_per_year": "x/year",
             "china_algorithmic_lag_years": "years", "china_cluster_share_ratio": "1",
             **{k: u for k, (u, _) in PER_SAMPLE_EVENTS.items()}}
    desc = {
        "stock_h100e": "installed AI compute owned, end of month (dense BF16 H100-equivalents)",
        "operational_h100e": "installed compute that available power can run (US-owned chips abroad run on RoW's power)",
        "power_gw": "power drawn by operational compute, by site (US-owned chips abroad draw RoW's power)",
        "us_abroad_h100e": "US-owned compute installed at sites in the rest of the world (included in the US stock)",
        "capex_usd": "each actor's AI-relevant capital expenditure in each calendar year (compute_share of it buys "
                     "accelerators: spend_usd)",
        "unsold_h100e": "output nobody bought in each calendar year: Western accelerators after the market, China's "
                        "domestic packages its buyers did not take",
        "unpowered_h100e": "compute each actor could pay for but had no power for in the month it was offered",
        "china_imports_h100e": "China's legal imports by part in each calendar year (licensed parts, then frontier "
                               "parts bought on the market)",
        "china_imports_chips": "the same in chips (frontier: H100e / the frontier chip's H100e per chip)",
        "china_imports_usd": "what China paid for them (licensed parts at their prices, frontier parts at the clearing "
                             "price): the sellers' revenue from China",
        "china_stock_h100e": "China's installed compute by acquisition channel",
        "china_remote_h100e": "compute rented abroad by Chinese firms (not owned; not in stock_h100e)",
        "additions_h100e": "compute acquired in each calendar year",
        "china_additions_h100e": "China's acquisitions by channel in each calendar year",
        "spend_usd": "money spent on accelerators in each calendar year (price x channel multiplier)",
        "binding_constraint": "the limit that bound each actor's acquisitions in most months of the year: "
                              + ", ".join(f"{i} {b}" for i, b in enumerate(BINDING)),
        "china_supply_chain": "China's domestic chain per calendar year: AI wafer starts, gross dies, good dies, "
                              "packages the dies allow, packages the year's HBM (stockpile at its start + new stacks) and "
                              "packaging capacity allow after proxy-fab dies, packages made, H100e (zero under the "
                              "growth form; HBM infinite in years before the ban)",
        "stock_by_generation_h100e": "installed compute at each year's last month by chip generation (acquisition date)",
        "power_by_generation_gw": "power that stock needs (before any power cap), by chip generation",
        "parameter_quantile": "the sampled quantile u of each parameter (Gaussian copula)",
        "taiwan_event_year": "start of the first Taiwan disruption (inf: none)",
        "euv_year": "date of China's EUV breakthrough",
        "best_chip_h100e": "H100e per package of the US frontier chip and of China's best chip in volume",
        "tsmc_node_year": "TSMC's volume-production date of each node class",
        "smic_node_year": "SMIC's date for each node class (5nm-class usable for AI dies; 3, 2, A16, A14 after EUV)",
        "run_flop_per_h100e": "FLOP of the largest training run per H100e of operational stock",
        "algorithmic_progress_per_year": "yearly algorithmic efficiency gain (effective compute)",
        "china_algorithmic_lag_years": "years China's algorithms trail the frontier",
        "china_cluster_share_ratio": "China's largest-cluster share relative to the US's",
        **{k: d for k, (_, d) in PER_SAMPLE_EVENTS.items()},
    }
    dims = {"stock_h100e": dims3, "operational_h100e": dims3, "power_gw": dims3,
            "china_stock_h100e": ("sample", "month", "channel"), "china_remote_h100e": ("sample", "month"),
            "additions_h100e": ("sample", "year", "actor"), "china_additions_h100e": ("sample", "year", "channel"),
            "spend_usd": ("sample", "year", "actor"), "binding_constraint": ("sample", "year", "actor"),
            "us_abroad_h100e": ("sample", "month"), "unsold_h100e": ("sample", "year", "supplier"),
            "capex_usd": ("sample", "year", "actor"),
            "unpowered_h100e": ("sample", "year", "actor"), "china_imports_h100e": ("sample", "year", "part"),
            "china_imports_chips": ("sample", "year", "part"), "china_imports_usd": ("sample", "year", "part"),
            "china_supply_chain": ("sample", "year", "step"),
            "stock_by_generation_h100e": ("sample", "year", "actor", "generation"),
            "power_by_generation_gw": ("sample", "year", "actor", "generation"),
            "parameter_quantile": ("sample", "parameter"), "taiwan_event_year": ("sample",),
            "euv_year": ("sample",), "best_chip_h100e": ("sample", "month", "rival"),
            "tsmc_node_year": ("sample", "node"), "smic_node_year": ("sample", "node"),
            "run_flop_per_h100e": ("sample",),
            "algorithmic_progress_per_year": ("sample",), "china_algorithmic_lag_years": ("sample",),
            "china_cluster_share_ratio": ("sample",), **{k: ("sample",) for k in PER_SAMPLE_EVENTS}}
    ds = xr.Dataset(
        {k: (dims[k], v, {"units": units[k], "description": desc[k]}) for k, v in res.items()},
        coords={"sample": np.arange(samples), "month": months.astype("datetime64[ns]"),
                "actor": list(ACTORS), "channel": list(CHANNELS), "year": uyears.astype(int),
                "rival": ["US", "China"], "step": list(CHAIN_STEPS), "generation": list(GENERATIONS),
                "constraint": list(BINDING), "node": list(NODES),
                "supplier": list(SUPPLIERS), "part": list(IMPORT_PARTS),
                "parameter": keys},
    )
    manifest = {
        "scenario": sc.name, "origin": sc.origin, "description": sc.description, "scenario_hash": sc.hash,
        "seed": seed, "samples": samples, "version": __version__, "catalog_version": catalog_version(),
        "horizon": {"start": sc.horizon.start, "end": sc.horizon.end}, "ci": sc.ci,
        "h100e_basis": "dense BF16 FLOP/s relative to H100 SXM (989.4 TFLOP/s)",
        "conditional": "A forecast conditional on the scenario's assumptions, not an unconditional prediction.",
        "sources": sorted(sc.sources_used()),
        "truncated_samples": dict(sorted(truncated.items())),
        "truncated_note": "samples whose draw of a parameter fell outside its valid range (params.csv) "
                          "and was clipped to it",
        "resolved_scenario": sc.resolved,
    }
    from .analysis.reasoning import attach  # reasoning-serving capacity by actor (docs/reasoning-serving.md)

    attach(ds, seed)
    check_outputs(ds, sc)
    return Run(ds, manifest, sc)
