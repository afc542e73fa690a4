"""Benchmarks: `python benchmarks/bench.py` prints speed and peak memory against budgets, with verdicts.

Each case runs in a fresh subprocess so its peak resident memory is its own. Budgets (DESIGN, 2-core machine):
10k samples < 0.5 s (aspirational); 100k samples < 5 s and < 2 GiB; `computerace --help` < 0.3 s.

`--against REF` (default: the revision before the supply-meets-demand change) also times REF's 10k-sample run in
the same invocation: both versions run alternately in fresh subprocesses, `--repeats` times each, and the ratio
of the best times is compared with its budget (1.3x). REF is checked out with `git worktree` into a temporary
directory and imported from there, so this needs the repository's git history. Machines here are noisy: compare
the ratio, not the absolute seconds, and rerun when a verdict is close.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The last revision before acquisitions came from supply meeting demand (the 1.3x budget's reference).
BEFORE_MARKET = "3e66e43"
RATIO_BUDGET = 1.3

CASE = r"""
import json, resource, sys, time
import computerace as cr
n, chunk = int(sys.argv[1]), (int(sys.argv[2]) or None)
sc = cr.load_scenario("baseline")
cr.run(sc, samples=200, seed=0)  # warm up imports, caches and compiled kernels
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


def case(n: int, chunk: int = 0, src: Path | None = None) -> dict:
    env = None
    if src is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(src)}
    p = subprocess.run([sys.executable, "-c", CASE, str(n), str(chunk)], capture_output=True, text=True, check=True,
                       env=env, cwd=str(src.parent) if src is not None else None)
    return json.loads(p.stdout.strip().splitlines()[-1])


def help_time(repeats: int = 5) -> float:
    exe = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER BUDGET"


def against(ref: str, repeats: int) -> tuple[float, float] | None:
    """Best 10k-sample run time of this version and of git revision `ref`, alternating fresh subprocesses."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        print(f"--against {ref}: no git repository here; skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "ref"
        p = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print(f"--against {ref}: cannot check out ({p.stderr.strip()[:200]}); skipped")
            return None
        try:
            new, old = [], []
            for _ in range(repeats):
                old.append(case(10_000, src=tree / "src")["seconds"])
                new.append(case(10_000)["seconds"])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    print(f"10k-sample run, best of {repeats} alternating: this version {min(new):.2f} s {sorted(round(x, 2) for x in new)}, "
          f"{ref} {min(old):.2f} s {sorted(round(x, 2) for x in old)}")
    return min(new), min(old)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", default=BEFORE_MARKET, help="git revision to compare the 10k run with ('' to skip)")
    ap.add_argument("--repeats", type=int, default=5, help="alternating repeats for --against")
    ap.add_argument("--quick", action="store_true", help="skip the 100k-sample case")
    a = ap.parse_args()
    rows = [case(10_000), case(10_000, 2_500)] + ([] if a.quick else [case(100_000)])
    print(f"{'samples':>8} {'chunk':>6} {'run s':>7} {'summary s':>9} {'sample-months/s':>16} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['samples']:>8} {str(r['chunk'] or 'auto'):>6} {r['seconds']:>7.2f} {r['summary_seconds']:>9.2f} "
              f"{r['sample_months_per_s']:>16,.0f} {r['peak_rss_mib']:>9.0f}")
    h = help_time()
    print(f"computerace --help: {h:.3f} s (best of 5)")
    print("budgets:")
    print(f"  10k run < 0.5 s: {rows[0]['seconds']:.2f} s -> {verdict(rows[0]['seconds'] < 0.5)}")
    if not a.quick:
        big = rows[-1]
        print(f"  100k run < 5 s: {big['seconds']:.2f} s -> {verdict(big['seconds'] < 5)}")
        print(f"  100k peak < 2048 MiB: {big['peak_rss_mib']:.0f} MiB -> {verdict(big['peak_rss_mib'] < 2048)}")
    print(f"  --help < 0.3 s: {h:.3f} s -> {verdict(h < 0.3)}")
    if a.against:
        res = against(a.against, a.repeats)
        if res is not None:
            ratio = res[0] / res[1]
            print(f"  10k run vs {a.against} <= {RATIO_BUDGET}x: {ratio:.2f}x -> {verdict(ratio <= RATIO_BUDGET)}")


if __name__ == "__main__":
    main()
