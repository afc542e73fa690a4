"""Sweep benchmarks: `python benchmarks/bench_sweep.py [--quick]` (figures go in docs/scale.md).

1. The same grid (8 cells x 10k samples) on a LocalCluster of 1 worker and of 2 workers: wall time,
   speed-up, and that both give identical Datasets.
2. A 100-cell x 10k-sample sweep on 2 workers (skipped with --quick).
3. One 100k-sample cell in one process: seconds and peak memory, what a worker needs for such cells.
4. The extrapolation to 1,000 cells x 100k samples from the measured core-seconds per sample.

Timings exclude cluster start-up and the workers' first import (reported apart). Wall times depend on
what else the machine runs; the workers' CPU seconds do not, and the extrapolation uses them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

GRID = """
name: bench
base: baseline
samples: {samples}
chunk: 2500
axes:
  smuggling.enforcement: {{from: 0.0, to: 0.1, steps: {a}}}
  events.taiwan_hazard_per_year: {{from: 0.0, to: 0.2, steps: {b}}}
metrics: [china_share, stock_h100e/China, us_to_china_ratio, years_behind_stock, china_overtakes_us_stock_by]
years: [2026, 2030, 2035, 2040]
"""

BIG_CELL = r"""
import json, resource, sys, time
from computerace.sweep import parse_grid
from computerace.sweep.cell import compute_cell, simulate_chunk
g = parse_grid("metrics: [china_share, stock_h100e/China, years_behind_stock]\nyears: [2030, 2040]")
c = g.cells()[0]
n, chunk = int(sys.argv[1]), int(sys.argv[2])
t = time.perf_counter()
compute_cell(c.scenario, 0, n, g.metrics, g.years, chunk)
dt = time.perf_counter() - t
part = simulate_chunk(c.scenario, 0, 0, 1000)
per_sample = sum(v.nbytes for v in part.values() if hasattr(v, "nbytes")) / 1000
print(json.dumps({"samples": n, "chunk": chunk, "seconds": dt, "bytes_per_sample": per_sample,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _cpu_s() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def timed_sweep(workers: int, a: int, b: int, samples: int) -> tuple[float, float, list[float], object]:
    """(start-up s, sweep wall s, CPU s of each worker, Dataset) on a fresh LocalCluster of `workers`
    single-threaded workers. CPU seconds do not depend on what else the machine runs; wall time does."""
    from computerace.sweep import open_client, parse_grid, run_sweep

    t0 = time.perf_counter()
    with open_client(workers=workers) as client:  # the LocalCluster `computerace sweep` starts
        client.run(lambda: __import__("computerace.sweep.cell").sweep.cell.simulate_chunk)  # import on workers
        grid = parse_grid(GRID.format(samples=samples, a=a, b=b))
        grid.cells()  # scenario loading and validation happen before the cluster is used
        startup = time.perf_counter() - t0
        cpu0 = client.run(_cpu_s)
        t = time.perf_counter()
        res = run_sweep(grid, client=client, report=False)
        wall = time.perf_counter() - t
        cpu1 = client.run(_cpu_s)
        return startup, wall, sorted((cpu1[w] - cpu0[w] for w in cpu0), reverse=True), res.dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the 100-cell sweep")
    args = ap.parse_args()
    months = 228
    rows = []
    results = {}
    for w in (1, 2):
        startup, dt, cpu, ds = timed_sweep(w, 4, 2, 10_000)
        results[w] = ds
        rows.append((f"8 cells x 10k, {w} worker(s)", 8, 10_000, startup, dt, cpu))
    identical = results[1].identical(results[2])
    if not args.quick:
        startup, dt, cpu, _ = timed_sweep(2, 10, 10, 10_000)
        rows.append(("100 cells x 10k, 2 workers", 100, 10_000, startup, dt, cpu))
    print(f"load average (1 min) now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'case':30} {'start s':>7} {'wall s':>7} {'worker CPU s':>14} {'busiest':>8} "
          f"{'core-ms/1k smp':>15} {'sample-months/s':>16}")
    for name, cells, n, startup, dt, cpu in rows:
        per_1k = 1000 * sum(cpu) / (cells * n / 1000)
        print(f"{name:30} {startup:7.1f} {dt:7.1f} {sum(cpu):14.1f} {cpu[0]:8.1f} {per_1k:15.0f} "
              f"{cells * n * months / dt:16,.0f}")
    print(f"1 -> 2 workers: wall-time speed-up {rows[0][4] / rows[1][4]:.2f}x; idle-machine speed-up (busiest "
          f"worker's CPU time) {rows[0][5][0] / rows[1][5][0]:.2f}x; identical Datasets: {identical}")

    p = subprocess.run([sys.executable, "-c", BIG_CELL, "100000", "5000"], capture_output=True, text=True,
                       check=True)
    big = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"one 100k-sample cell in one process (chunks of 5000): {big['seconds']:.1f} s, "
          f"peak {big['peak_rss_mib']:.0f} MiB; model output {big['bytes_per_sample'] / 1e3:.1f} kB per sample")

    # Extrapolation from CPU time (independent of other load on the machine), times 1e8 samples.
    name, cells, n, _, dt, cpu = rows[-1]
    core_s_per_sample = sum(cpu) / (cells * n)
    total = 1000 * 100_000 * core_s_per_sample
    print(f"measured {core_s_per_sample * 1e6:.0f} core-µs per sample ({name}); 1,000 cells x 100k samples "
          f"= {total / 3600:.1f} core-hours: {total / 3600 / 2:.1f} h on 2 idle cores, "
          f"{total / 64 / 60:.0f} min on 64 cores")


if __name__ == "__main__":
    main()
