"""One cell of a sweep: chunks of samples simulated anywhere, then reduced to the metrics kept.

These functions run on Dask workers (or in-process). A chunk is `draw(scenario, n, seed, start)`
followed by `simulate`: draws come from fixed 1,000-sample blocks, so the chunks of a cell, wherever
and in whatever order they run, concatenate to exactly the samples `computerace.run` simulates. The
reduction builds the cell's Dataset (the model's outputs, laid out as `computerace.run` lays them
out) and takes its metrics from `analysis.metrics.summary`, the function behind summary.json: a
cell's numbers are those of `computerace run` with the same scenario, seed and samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grid import STATS, Metric

# The layout of a Run's Dataset (dims, dtypes, coords) per horizon, taken from a 1-sample
# `computerace.run` in this process: the cell's Dataset then follows `computerace.run` whatever outputs
# the model gains, without a second copy of the layout to keep in step.
_LAYOUTS: dict[tuple[str, str], Any] = {}


def run_layout(scenario: Any) -> Any:
    """An empty (0-sample) Dataset with the variables, dims, dtypes and coords of `computerace.run`."""
    key = (scenario.horizon.start, scenario.horizon.end)
    if key not in _LAYOUTS:
        from ..api import run

        _LAYOUTS[key] = run(scenario, samples=1, seed=0).dataset.isel(sample=slice(0, 0))
    return _LAYOUTS[key]


def simulate_chunk(scenario: Any, seed: int, start: int, n: int) -> dict[str, Any]:
    """Samples [start, start + n) of `scenario` with `seed`: the model's output arrays, plus the
    count of truncated draws per parameter under "truncated"."""
    from ..draws import draw
    from ..model.simulate import simulate

    d = draw(scenario, n, seed, start)
    out: dict[str, Any] = simulate(d.inputs())
    out["truncated"] = dict(d.truncated)
    return out


def chunk_starts(samples: int, chunk: int) -> list[tuple[int, int]]:
    """(start, n) of each chunk of a cell."""
    return [(s, min(chunk, samples - s)) for s in range(0, samples, chunk)]


def cell_dataset(scenario: Any, parts: list[dict[str, Any]]) -> Any:
    """Concatenate chunk outputs (in sample order) into the cell's Dataset, laid out as `computerace.run`
    lays out its own (the variables the model outputs; not parameter_quantile, which no metric reads)."""
    import xarray as xr

    layout = run_layout(scenario)
    data = {}
    for k in parts[0]:
        if k not in layout.data_vars:
            continue
        arr = np.concatenate([p[k] for p in parts], axis=0).astype(layout[k].dtype, copy=False)
        data[k] = (layout[k].dims, arr, layout[k].attrs)
    samples = sum(len(p[next(iter(data))]) for p in parts)
    coords = {c: layout.coords[c].values for c in layout.coords if c != "sample"}
    coords["sample"] = np.arange(samples)
    return xr.Dataset(data, coords=coords)


def cell_summary(scenario: Any, seed: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """summary.json of the cell, computed by analysis.metrics.summary as `computerace run` does."""
    from .. import __version__
    from ..analysis.metrics import summary
    from ..catalog import catalog_version

    ds = cell_dataset(scenario, parts)
    manifest = {"scenario": scenario.name, "seed": seed, "samples": ds.sizes["sample"], "version": __version__,
                "scenario_hash": scenario.hash, "catalog_version": catalog_version()}
    return summary(ds, manifest)


def extract(summary: dict[str, Any], metrics: list[Metric], years: list[int]) -> np.ndarray:
    """[metric, year, stat] from a summary: the year-end (December) value, or the calendar year for
    yearly flows; a probability fills `mean` only. NaN where the summary has no value."""
    out = np.full((len(metrics), len(years), len(STATS)), np.nan)
    for i, m in enumerate(metrics):
        if m.key is None:
            probs = summary["probabilities"].get(m.name, {})
            for j, y in enumerate(years):
                if str(y) in probs:
                    out[i, j, STATS.index("mean")] = probs[str(y)]
            continue
        series = summary["metrics"][m.name][m.key]
        for j, y in enumerate(years):
            q = series.get(f"{y}-12") or series.get(str(y))
            if q is not None:
                out[i, j] = [q[s] for s in STATS]
    return out


def reduce_cell(scenario: Any, seed: int, metrics: list[Metric], years: list[int], *parts: dict[str, Any]
                ) -> dict[str, Any]:
    """The cell's kept numbers [metric, year, stat] and its truncation counts, from its chunks."""
    truncated: dict[str, int] = {}
    for p in parts:
        for k, c in p["truncated"].items():
            truncated[k] = truncated.get(k, 0) + int(c)
    values = extract(cell_summary(scenario, seed, list(parts)), metrics, years)
    return {"values": values, "truncated": dict(sorted(truncated.items()))}


def compute_cell(scenario: Any, seed: int, samples: int, metrics: list[Metric], years: list[int],
                 chunk: int) -> dict[str, Any]:
    """A cell in this process, chunk by chunk (what the workers do, without Dask)."""
    parts = [simulate_chunk(scenario, seed, s, n) for s, n in chunk_starts(samples, chunk)]
    return reduce_cell(scenario, seed, metrics, years, *parts)


def worker_version() -> str:
    """The computerace version a worker imports (checked against the client's before a sweep)."""
    from .. import __version__

    return __version__
