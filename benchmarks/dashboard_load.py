"""A bounded load test of `computerace dashboard`: p50/p95 latency of /api/run with several concurrent
clients, for views already cached and for new ones, and the server's peak resident memory.

    python benchmarks/dashboard_load.py [--clients 8] [--requests 40] [--samples 500]

Starts its own server on a free loopback port (`--no-rank`, so no background ranking competes), sends
a fixed number of requests per phase (bounded in count and time: every request has a timeout and the
whole run stops after --budget seconds), stops the server, prints a table. Only 127.0.0.1 is contacted.

- cached: every client asks for views computed once beforehand (the cache serves them);
- uncached: every request asks for a view nobody asked for yet (a new seed), so the server simulates it;
  one simulation runs at a time, so this measures queueing behind the compute lock.

Peak RSS is the server process's VmHWM (Linux's high-water mark of resident memory) read at the end.
Not a test: wall times depend on the machine and its load (see docs/dashboard.md, "Load").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from computerace.web.launch import running_dashboard

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20  # the current RSS where /proc has no VmHWM


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def phase(base: str, clients: int, queries: list[dict], deadline: float) -> tuple[list[float], int, float]:
    """Send `queries` from `clients` threads; (latencies in ms, errors, wall seconds)."""
    def one(q: dict) -> float | None:
        if time.monotonic() > deadline:
            return None
        t = time.perf_counter()
        try:
            r = httpx.get(base + "/api/run", params=q, timeout=max(1.0, deadline - time.monotonic()))
        except httpx.HTTPError:
            return None
        return (time.perf_counter() - t) * 1e3 if r.status_code == 200 else None

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        res = list(pool.map(one, queries))
    lat = [x for x in res if x is not None]
    return lat, len(res) - len(lat), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (6-8 is the brief)")
    ap.add_argument("--requests", type=int, default=40, help="requests per phase")
    ap.add_argument("--samples", type=int, default=500, help="samples per view (the dashboard's default)")
    ap.add_argument("--budget", type=float, default=600, help="stop after this many seconds in all")
    a = ap.parse_args()
    if not 1 <= a.clients <= 32 or not 1 <= a.requests <= 1000:
        ap.error("--clients 1..32 and --requests 1..1000 keep the load bounded")
    deadline = time.monotonic() + a.budget
    with contextlib.ExitStack() as stack:
        try:
            base, proc = stack.enter_context(running_dashboard("--samples", str(a.samples), "--no-rank",
                                                               start_timeout=a.budget))
        except RuntimeError as e:  # it exited or never answered: its stderr is in the message
            print(e, file=sys.stderr)
            return 1
        rss_start = peak_rss_mb(proc.pid)
        warm = [{"seed": s, "samples": a.samples} for s in range(4)]
        for q in warm:  # compute the cached views once
            httpx.get(base + "/api/run", params=q, timeout=300).raise_for_status()
        cached = [warm[i % len(warm)] for i in range(a.requests)]
        uncached = [{"seed": 1000 + i, "samples": a.samples} for i in range(a.requests)]
        rows = []
        for name, qs in (("cached", cached), ("uncached", uncached)):
            lat, errors, wall = phase(base, a.clients, qs, deadline)
            rows.append((name, len(lat), errors, pct(lat, 0.5), pct(lat, 0.95), max(lat, default=float("nan")),
                         len(lat) / wall if wall else float("nan")))
        peak = peak_rss_mb(proc.pid)
    print(f"computerace dashboard, /api/run at {a.samples} samples, {a.clients} concurrent clients, "
          f"{a.requests} requests per phase, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'phase':<10}{'ok':>5}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'req/s':>8}")
    for name, ok, err, p50, p95, mx, rps in rows:
        print(f"{name:<10}{ok:>5}{err:>8}{p50:>10.1f}{p95:>10.1f}{mx:>10.1f}{rps:>8.1f}")
    print(f"server RSS: {rss_start:.0f} MB after start-up, peak {peak:.0f} MB (VmHWM)")
    return 0 if all(r[2] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
