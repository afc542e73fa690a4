"""Benchmarks: `python benchmarks/bench.py` prints speed and peak memory (DESIGN.md budget).

Each case runs in a fresh subprocess so its peak resident memory is its own. Budget (2-core machine):
10k samples < 0.5 s; 100k samples < 5 s and < 2 GiB; `computerace --help` < 0.3 s. Timings are noisy on
shared machines: compare ratios within one run, and repeat.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

CASE = r"""
import json, resource, sys, time
import computerace as cr
n, chunk = int(sys.argv[1]), (int(sys.argv[2]) or None)
sc = cr.load_scenario("baseline")
cr.run(sc, samples=200, seed=0)  # warm up imports and caches
t = time.perf_counter()
r = cr.run(sc, samples=n, seed=0, chunk=chunk)
dt = time.perf_counter() - t
t = time.perf_counter()
r.summary()
ds_time = time.perf_counter() - t
months = r.dataset.sizes["month"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
print(json.dumps({"samples": n, "chunk": chunk, "seconds": dt, "summary_seconds": ds_time,
                  "sample_months_per_s": n * months / dt, "peak_rss_mib": peak}))
"""


def case(n: int, chunk: int = 0) -> dict:
    p = subprocess.run([sys.executable, "-c", CASE, str(n), str(chunk)], capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def help_time(repeats: int = 5) -> float:
    from pathlib import Path

    exe = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    rows = [case(10_000), case(10_000, 2_500), case(100_000)]
    print(f"{'samples':>8} {'chunk':>6} {'run s':>7} {'summary s':>9} {'sample-months/s':>16} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['samples']:>8} {str(r['chunk'] or 'auto'):>6} {r['seconds']:>7.2f} {r['summary_seconds']:>9.2f} "
              f"{r['sample_months_per_s']:>16,.0f} {r['peak_rss_mib']:>9.0f}")
    print(f"computerace --help: {help_time():.3f} s (best of 5)")
    print("budget: 10k < 0.5 s; 100k < 5 s and < 2048 MiB; --help < 0.3 s")


if __name__ == "__main__":
    main()
