"""Benchmarks: `python benchmarks/bench.py` prints speed and peak memory against budgets, with verdicts.

Each case runs in a fresh subprocess so its peak resident memory is its own, `--runs` times (median, with min-max).
Budgets (issue 19, 2-core machine): 100,000 samples x 228 months, run() + summary() < 2 s, within 20x of the floor
(the time to copy the run's output arrays at memory bandwidth, measured in the same process) and < 2 GiB; the CLI
run (10,000 samples, report included) < 3 s end to end; the report at 100,000 samples < 5 s; `computerace
sensitivity` at its defaults < 10 s; `computerace --help` < 0.3 s. Each figure is printed with its budget and a
verdict. `--quick` skips the 100k cases.

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
# the floor: copying every output array once at memory bandwidth (the least any run must do to produce them)
t = time.perf_counter()
for v in r.dataset.data_vars.values():
    v.values.copy()
floor = time.perf_counter() - t
report = None
if len(sys.argv) > 3 and sys.argv[3] == "report":
    t = time.perf_counter()
    r.report_html()
    report = time.perf_counter() - t
months = r.dataset.sizes["month"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
print(json.dumps({"samples": n, "chunk": chunk, "seconds": dt, "summary_seconds": ds_time, "floor_seconds": floor,
                  "report_seconds": report, "sample_months_per_s": n * months / (dt + ds_time),
                  "peak_rss_mib": peak}))
"""


def case(n: int, chunk: int = 0, src: Path | None = None, report: bool = False) -> dict:
    env = None
    if src is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(src)}
    p = subprocess.run([sys.executable, "-c", CASE, str(n), str(chunk), "report" if report else "-"],
                       capture_output=True, text=True, check=True, env=env,
                       cwd=str(src.parent) if src is not None else None)
    return json.loads(p.stdout.strip().splitlines()[-1])


def runs(fn, k: int) -> tuple[float, float, float]:
    """(median, min, max) of k calls of fn() -> seconds."""
    xs = sorted(fn() for _ in range(k))
    return xs[len(xs) // 2], xs[0], xs[-1]


def cli_seconds(*args: str) -> float:
    """Wall time of one `computerace ARGS` in a fresh process (outputs into a temporary directory)."""
    exe = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([exe, *args], capture_output=True, check=True, cwd=tmp)
        return time.perf_counter() - t


def show(label: str, stat: tuple[float, float, float], budget: float, unit: str = "s") -> None:
    med, lo, hi = stat
    print(f"  {label} < {budget:g} {unit}: {med:.2f} {unit} [{lo:.2f}-{hi:.2f}] -> {verdict(med < budget)}")


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
    ap.add_argument("--runs", type=int, default=3, help="runs of each case (median, min-max)")
    ap.add_argument("--quick", action="store_true", help="skip the 100k-sample cases")
    a = ap.parse_args()
    sizes = [(10_000, 0), (10_000, 2_500)] + ([] if a.quick else [(100_000, 0)])
    print(f"{'samples':>8} {'chunk':>6} {'run s':>17} {'summary s':>17} {'floor s':>8} {'x floor':>8} "
          f"{'sample-months/s':>16} {'peak MiB':>9}")
    results = {}
    for n, chunk in sizes:
        rs = [case(n, chunk) for _ in range(a.runs)]
        results[(n, chunk)] = rs

        def med(key: str, rs: list = rs) -> tuple[float, float, float]:
            xs = sorted(r[key] for r in rs)
            return xs[len(xs) // 2], xs[0], xs[-1]

        run_s, sum_s, floor = med("seconds"), med("summary_seconds"), med("floor_seconds")[0]
        print(f"{n:>8} {str(chunk or 'auto'):>6} {run_s[0]:>6.2f} [{run_s[1]:.2f}-{run_s[2]:.2f}] "
              f"{sum_s[0]:>6.2f} [{sum_s[1]:.2f}-{sum_s[2]:.2f}] {floor:>8.3f} "
              f"{(run_s[0] + sum_s[0]) / floor:>8.0f} {med('sample_months_per_s')[0]:>16,.0f} "
              f"{med('peak_rss_mib')[0]:>9.0f}")
    h = help_time()
    print(f"computerace --help: {h:.3f} s (best of 5)")
    print("budgets (median of runs [min-max]):")
    if not a.quick:
        big = results[(100_000, 0)]
        xs = sorted(r["seconds"] + r["summary_seconds"] for r in big)
        show("100k run() + summary()", (xs[len(xs) // 2], xs[0], xs[-1]), 2.0)
        x = sorted((r["seconds"] + r["summary_seconds"]) / r["floor_seconds"] for r in big)
        print(f"  100k run + summary within 20x of the floor: {x[len(x) // 2]:.0f}x -> {verdict(x[len(x) // 2] <= 20)}")
        peak = sorted(r["peak_rss_mib"] for r in big)[len(big) // 2]
        print(f"  100k peak < 2048 MiB: {peak:.0f} MiB -> {verdict(peak < 2048)}")
        rep = case(100_000, report=True)
        print(f"  report at 100k < 5 s: {rep['report_seconds']:.2f} s (peak {rep['peak_rss_mib']:.0f} MiB) -> "
              f"{verdict(rep['report_seconds'] < 5 and rep['peak_rss_mib'] < 2048)}")
    show("computerace run (10k, report)", runs(lambda: cli_seconds("run", "--quiet"), a.runs), 3.0)
    show("computerace sensitivity (defaults)", runs(lambda: cli_seconds("sensitivity", "--json"), 1), 10.0)
    print(f"  --help < 0.3 s: {h:.3f} s -> {verdict(h < 0.3)}")
    if a.against:
        res = against(a.against, a.repeats)
        if res is not None:
            ratio = res[0] / res[1]
            print(f"  10k run vs {a.against} <= {RATIO_BUDGET}x: {ratio:.2f}x -> {verdict(ratio <= RATIO_BUDGET)}")


if __name__ == "__main__":
    main()
