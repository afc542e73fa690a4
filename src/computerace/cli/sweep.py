"""`computerace sweep GRID.yaml`: a grid of scenarios on Dask distributed, resumable, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import print_json, user_errors
from .tables import col, make_table, print_table


def _table(result: Any, grid: Any) -> Any:
    """The report metric at the report year, one row per cell (median [90% interval]); a FitTable for
    cli.tables.print_table. Axis values that are distributions are shown in words (distributions.describe)."""
    import itertools

    from rich.markup import escape

    from ..scenario.distributions import describe
    from ..sweep.grid import label
    from ..sweep.report import interval

    def shown(v: Any) -> str:
        return escape(describe(v) if isinstance(v, dict | list) else label(v))

    rep = grid.report
    unit = next(m.unit for m in grid.metrics if m.label == rep["metric"])
    t = make_table(f"computerace sweep · {grid.name} · {grid.n_cells} cells × {grid.samples:,} samples",
                   [col(a.name) for a in grid.axes] + [col(f"{rep['metric']} ({unit})", "num")],
                   caption=f"{rep['metric']} in {rep['year']}: median [90% interval]. "
                           "Forecasts conditional on each cell's scenario.")
    da = result.dataset["value"].sel(metric=rep["metric"], year=rep["year"])
    for ix in itertools.product(*(range(len(a.values)) for a in grid.axes)):
        v = da.isel({a.name: i for a, i in zip(grid.axes, ix, strict=True)}).values
        t.add_row(*(shown(a.values[i]) for a, i in zip(grid.axes, ix, strict=True)), interval(v, unit))
    return t


@user_errors
def sweep(
    grid_file: Path = typer.Argument(..., metavar="GRID.yaml", help="Grid file: base scenario, axes, metrics "
                                     "(see examples/smuggling_x_taiwan.yaml)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler, "
                                  "tcp://HOST:PORT (default: a local cluster on this machine)."),
    workers: int = typer.Option(None, "--workers", "-w", min=1, help="Local cluster: worker processes (one "
                                "thread each) (default: one per core). With --scheduler: wait for this many."),
    out: Path = typer.Option(None, "--out", "-o", help="Output directory (default: computerace-out/sweep-<name>)."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the finished cells already in --out; compute "
                                "only the rest."),
    chunk: int = typer.Option(None, "--chunk", min=1, help="Samples per task (overrides the grid's `chunk`); "
                              "results do not depend on it."),
    connect_timeout: float = typer.Option(10.0, "--connect-timeout", min=0.1, help="Seconds to wait for "
                                          "--scheduler to answer."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no table."),
    json_: bool = typer.Option(False, "--json", help="Print what was done (cells, files) as JSON."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
) -> None:
    """Run every cell of a scenario grid on Dask and write sweep.nc (grid axes x metrics x years x
    p5/p50/p95/mean), one file per finished cell under cells/, grid.yaml and report.html."""
    from ..sweep import load_grid, run_sweep

    grid = load_grid(grid_file)
    out_dir = out or Path("computerace-out") / f"sweep-{grid.name}"
    kwargs: dict[str, Any] = dict(scheduler=scheduler, workers=workers, resume=resume, chunk=chunk,
                                  report=not no_report, connect_timeout_s=connect_timeout)
    try:
        if quiet or json_:
            result = run_sweep(grid, out_dir, **kwargs)
        else:
            result = _with_bar(grid, out_dir, kwargs)
    except KeyboardInterrupt:
        done = len(list((out_dir / "cells").glob("*.nc"))) if (out_dir / "cells").is_dir() else 0
        typer.echo(f"interrupted: finished cells are saved in {out_dir / 'cells'} ({done} files); run the same "
                   "command with --resume to continue", err=True)
        raise typer.Exit(130) from None
    info = {"grid": grid.name, "cells": grid.n_cells, "computed": result.computed, "reused": result.reused,
            "samples_per_cell": grid.samples, "out": str(out_dir),
            "files": {k: str(v) for k, v in result.files.items()}, "notes": result.notes}
    if json_:
        print_json(info)
        return
    if quiet:
        return
    from rich.console import Console

    con = Console()
    if grid.n_cells <= 60:
        print_table(con, _table(result, grid))
    con.print(f"{result.computed} cells computed, {result.reused} reused. Files in {out_dir}/: "
              + ", ".join(sorted(result.files)) + f", cells/ ({grid.n_cells} files)")
    for n in result.notes:
        con.print(f"note: {n}")


def _with_bar(grid: Any, out_dir: Path, kwargs: dict[str, Any]) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..sweep import run_sweep

    with Progress(TextColumn("[bold]sweep[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("chunks"), TimeElapsedColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(f"{grid.name}: checking cells, starting the cluster", total=None)
        cells = [0]

        def progress(kind: str, n: int) -> None:
            if kind == "start":
                bar.update(task, total=n, description=f"{grid.name}: 0 cells done")
            elif kind == "chunk":
                bar.advance(task, n)
            elif kind == "cell":
                cells[0] += n
                bar.update(task, description=f"{grid.name}: {cells[0]} cells done")

        return run_sweep(grid, out_dir, progress=progress, **kwargs)
