"""Scenario sweeps on Dask distributed: a grid of scenarios x seeds, identical to local runs, resumable.

    from computerace.sweep import load_grid, run_sweep
    grid = load_grid("examples/smuggling_x_taiwan.yaml")
    result = run_sweep(grid, out="computerace-out/sweep", workers=2)   # LocalCluster of 2 workers
    result.dataset["value"].sel(metric="china_share", year=2030, stat="p50")

The grid-file format is described in grid.py; how cells become chunks and files in engine.py; why a
cell equals `computerace run` in cell.py; the report in report.py. Scale and clusters: docs/scale.md.
"""

from .engine import SweepResult, open_client, run_sweep
from .grid import Grid, load_grid, parse_grid

__all__ = ["Grid", "SweepResult", "load_grid", "open_client", "parse_grid", "run_sweep"]
