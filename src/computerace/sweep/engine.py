"""Run a grid on Dask distributed: cells split into chunks, one NetCDF file per finished cell, resume.

Flow: every cell is validated up front; with `resume`, cells whose file already holds a result
with the same content key are read back instead of computed. The others are submitted a window at a
time (bounded memory on the workers): one task per chunk of samples and one reduction per cell that
depends on them. As each reduction finishes, the client writes the cell's file atomically
(temporary file, fsync, rename), so an interrupted sweep leaves whole files only. A worker that dies
loses its tasks and the chunks it held; the scheduler recomputes them from the same inputs, so the
numbers do not change. At the end the cells are gathered into one Dataset, `value[<axes>..., metric,
year, stat]`, written as sweep.nc beside the grid file and the report.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .cell import chunk_starts, reduce_cell, simulate_chunk, worker_version
from .grid import STATS, Cell, Grid

Progress = Callable[[str, int], None]  # ("start", chunks to run) / ("chunk", 1) / ("cell", 1)
CONNECT_TIMEOUT_S = 10.0
WORKERS_TIMEOUT_S = 60.0
# Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's adaptive mmap
# threshold: every multi-MB array of the model is then a fresh mmap and its pages faulted in anew,
# doubling a cell's CPU time (measured: sys time 0.1 -> 1.3 s per 10k-sample cell). These keep
# arrays under 64 MB on the heap and return memory above 256 MB of free heap.
WORKER_MALLOC_ENV = {"MALLOC_TRIM_THRESHOLD_": 268_435_456, "MALLOC_MMAP_THRESHOLD_": 67_108_864}


@dataclass
class SweepResult:
    """The gathered Dataset, where it was written, and how many cells were computed or reused."""

    dataset: Any
    computed: int
    reused: int
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------- cluster
@contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A Dask client: on the scheduler at `scheduler` (tcp://HOST:PORT), or on a new LocalCluster of
    `workers` single-threaded worker processes (default: one per core), closed on exit."""
    from distributed import Client, LocalCluster

    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            raise UserError(
                f"cannot reach the Dask scheduler at {scheduler}: {e}\n"
                "  fix: check the address (tcp://HOST:PORT, port 8786 by default), that `dask scheduler` is "
                "running there and that the port is open to this machine; or leave out --scheduler to run "
                "on a local cluster") from None
        try:
            try:
                client.wait_for_workers(workers or 1, timeout=WORKERS_TIMEOUT_S)
            except TimeoutError:
                have = len(client.scheduler_info(n_workers=-1).get("workers", {}))
                raise UserError(f"the scheduler at {scheduler} has {have} worker(s); waited "
                                f"{WORKERS_TIMEOUT_S:.0f} s for {workers or 1}\n  fix: start workers with "
                                f"`dask worker {scheduler}`") from None
            yield client
        finally:
            client.close()
        return
    import dask

    n = workers or os.cpu_count() or 1
    env = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_MALLOC_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        # loopback only: the scheduler, the workers and Dask's own dashboard listen on 127.0.0.1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


def check_workers(client: Any) -> None:
    """Every worker must import the same computerace version as this client (same model, same numbers)."""
    from .. import __version__

    try:
        versions = client.run(worker_version)
    except ModuleNotFoundError as e:
        raise UserError(f"a Dask worker cannot import computerace ({e})\n  fix: install computerace "
                        f"{__version__} in the workers' environment") from None
    bad = {w: v for w, v in versions.items() if v != __version__}
    if bad:
        raise UserError(f"workers run computerace {sorted(set(bad.values()))}, this client {__version__}: "
                        f"results would differ\n  fix: install computerace {__version__} on every worker")


# ----------------------------------------------------------------------------------- cell files
def write_nc(ds: Any, path: Path) -> None:
    """Write a Dataset as NetCDF atomically: a temporary file beside `path`, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="netcdf4")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cell_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / f"{cell.key}.nc"


def write_cell(out: Path, grid: Grid, cell: Cell, result: dict[str, Any]) -> Path:
    import json

    import xarray as xr

    from .grid import label

    ds = xr.Dataset({"value": (("metric", "year", "stat"), result["values"])},
                    coords={"metric": [m.label for m in grid.metrics], "year": list(grid.years or []),
                            "stat": list(STATS)},
                    attrs={"cell_key": cell.key, "grid": grid.name, "scenario_hash": cell.scenario.hash,
                           "seed": cell.seed, "samples": cell.samples,
                           "coords": json.dumps({k: label(v) for k, v in cell.coords.items()}),
                           "truncated_samples": json.dumps(result["truncated"])})
    path = cell_path(out, cell)
    write_nc(ds, path)
    return path


def read_cell(out: Path, grid: Grid, cell: Cell) -> dict[str, Any] | None:
    """A finished cell's numbers, or None when its file is missing, unreadable or for other inputs."""
    import json

    import xarray as xr

    path = cell_path(out, cell)
    if not path.exists():
        return None
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            ok = (ds.attrs.get("cell_key") == cell.key
                  and [str(m) for m in ds["metric"].values] == [m.label for m in grid.metrics]
                  and [int(y) for y in ds["year"].values] == list(grid.years or []))
            if not ok:
                return None
            return {"values": ds["value"].values.copy(), "truncated": json.loads(ds.attrs["truncated_samples"])}
    except Exception:  # a damaged file is recomputed, never trusted
        return None


def remove_temporaries(out: Path) -> None:
    """Temporary files of a sweep that was killed mid-write (never read as results)."""
    for d in (out, out / "cells"):
        if d.is_dir():
            for p in d.glob(".*.tmp"):
                p.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------- the sweep
def run_sweep(grid: Grid, out: str | Path | None = None, *, client: Any = None, scheduler: str | None = None,
              workers: int | None = None, resume: bool = False, chunk: int | None = None,
              progress: Progress | None = None, report: bool = True,
              connect_timeout_s: float = CONNECT_TIMEOUT_S) -> SweepResult:
    """Compute every cell of `grid` on Dask and gather them (see the module docstring).

    `client`: an existing distributed.Client (else one is opened from `scheduler` / `workers`).
    `out`: directory for cells/, sweep.nc, grid.yaml and report.html (None: nothing is written).
    `resume`: reuse the cells already in `out`. `chunk` overrides the grid's samples per task.
    """
    chunk = chunk or grid.chunk
    if chunk < 1:
        raise UserError(f"chunk must be at least 1, got {chunk}")
    cells = grid.cells()  # validates every scenario before any work starts
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise UserError(f"--out {out_dir} exists and is not a directory; give a directory path")
        (out_dir / "cells").mkdir(parents=True, exist_ok=True)
        remove_temporaries(out_dir)
    results: dict[tuple[int, ...], dict[str, Any]] = {}
    if resume and out_dir is not None:
        for c in cells:
            r = read_cell(out_dir, grid, c)
            if r is not None:
                results[c.index] = r
    reused = len(results)
    todo = [c for c in cells if c.index not in results]
    notes: list[str] = []
    if todo:
        if client is not None:
            _compute(client, grid, todo, chunk, out_dir, results, progress)
        else:
            with open_client(scheduler, workers, connect_timeout_s) as cl:
                _compute(cl, grid, todo, chunk, out_dir, results, progress)
    elif progress is not None:
        progress("start", 0)
    ds = gather(grid, cells, results)
    truncated = sum(sum(r["truncated"].values()) for r in results.values())
    if truncated:
        notes.append(f"{truncated} parameter draws were clipped to their valid range (see the cells' "
                     "truncated_samples)")
    files: dict[str, Path] = {}
    if out_dir is not None:
        from ..results import atomic_write

        files["grid.yaml"] = out_dir / "grid.yaml"
        atomic_write(files["grid.yaml"], grid.text)
        files["sweep.nc"] = out_dir / "sweep.nc"
        write_nc(ds, files["sweep.nc"])
        if report:
            from .report import render_sweep_report

            files["report.html"] = out_dir / "report.html"
            atomic_write(files["report.html"], render_sweep_report(ds, grid))
    return SweepResult(ds, computed=len(todo), reused=reused, files=files, notes=notes)


def _compute(client: Any, grid: Grid, todo: list[Cell], chunk: int, out_dir: Path | None,
             results: dict[tuple[int, ...], dict[str, Any]], progress: Progress | None) -> None:
    from distributed import as_completed

    check_workers(client)
    threads = sum(client.nthreads().values()) or 1
    window = 2 * threads + 2  # cells in flight: keeps every thread busy, bounds memory on the workers
    metrics, years = list(grid.metrics), list(grid.years or [])
    if progress is not None:
        progress("start", sum(len(chunk_starts(c.samples, chunk)) for c in todo))
    queue = iter(todo)
    # Task keys are unique to this sweep, so cancelling it never touches another client's tasks on a
    # shared scheduler.
    token = uuid.uuid4().hex[:8]
    inflight: dict[str, tuple[Cell, Any]] = {}
    ac = as_completed(loop=client.loop)

    def submit_next() -> None:
        cell = next(queue, None)
        if cell is None:
            return
        at = "-".join(map(str, cell.index))  # two cells may share a content key (same scenario twice)
        parts = [client.submit(simulate_chunk, cell.scenario, cell.seed, s, n, key=f"cr-chunk-{token}-{at}-{s}")
                 for s, n in chunk_starts(cell.samples, chunk)]
        red = client.submit(reduce_cell, cell.scenario, cell.seed, metrics, years, *parts,
                            key=f"cr-cell-{token}-{at}")
        inflight[red.key] = (cell, red)
        for f in parts:
            ac.add(f)
        ac.add(red)

    try:
        for _ in range(window):
            submit_next()
        for fut in ac:
            if fut.key not in inflight:  # a chunk (its errors surface through its cell)
                if progress is not None and fut.status == "finished":
                    progress("chunk", 1)
                continue
            cell, _ = inflight.pop(fut.key)
            try:
                res = fut.result()
            except Exception as e:
                raise _task_error(e, cell) from e
            if out_dir is not None:
                write_cell(out_dir, grid, cell, res)
            results[cell.index] = res
            fut.release()
            if progress is not None:
                progress("cell", 1)
            submit_next()
    finally:
        if inflight:  # interrupted or failed: stop the rest; finished cells are already on disk
            client.cancel([f for _, f in inflight.values()], force=True)


def _task_error(e: Exception, cell: Cell) -> Exception:
    from distributed import KilledWorker

    from .grid import label

    at = ", ".join(f"{k}={label(v)}" for k, v in cell.coords.items()) or "the only cell"
    if isinstance(e, KilledWorker):
        return UserError(f"workers died repeatedly while computing the cell {at} ({e}); finished cells are "
                         "saved\n  fix: give workers more memory or use a smaller `chunk`, then run again with "
                         "--resume")
    if isinstance(e, UserError):
        return UserError(f"cell {at}: {e}")
    return e


def gather(grid: Grid, cells: list[Cell], results: dict[tuple[int, ...], dict[str, Any]]) -> Any:
    """One Dataset: value[<axes>..., metric, year, stat], scenario_hash[<axes>...], the grid in attrs."""
    import xarray as xr

    from .. import __version__

    shape = grid.shape
    m, y = len(grid.metrics), len(grid.years or [])
    values = np.full(shape + (m, y, len(STATS)), np.nan)
    hashes = np.empty(shape, dtype=object)
    for c in cells:
        values[c.index] = results[c.index]["values"]
        hashes[c.index] = c.scenario.hash
    dims = tuple(a.name for a in grid.axes)
    coords: dict[str, Any] = {a.name: a.coord() for a in grid.axes}
    coords.update(metric=[mm.label for mm in grid.metrics], year=list(grid.years or []), stat=list(STATS),
                  unit=("metric", [mm.unit for mm in grid.metrics]))
    ds = xr.Dataset(
        {"value": (dims + ("metric", "year", "stat"), values,
                   {"description": "quantiles (p5, p50, p95) and mean over the cell's samples of each metric "
                                   "at each year end (yearly flows: the calendar year); probabilities in "
                                   "`mean` only"}),
         "scenario_hash": (dims, hashes.astype(str), {"description": "hash of each cell's resolved scenario"})},
        coords=coords,
        attrs={"grid_name": grid.name, "description": grid.description, "base": grid.base,
               "samples": grid.samples, "seed": grid.seed, "version": __version__, "grid": grid.text,
               "conditional": "A forecast conditional on each cell's scenario, not an unconditional prediction."},
    )
    return ds
