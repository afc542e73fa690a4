"""Answer modules the dashboard uses when they exist: claims and the sensitivity ranking.

Both are feature-detected (`importlib.util.find_spec`, nothing imported until needed), so the dashboard
works without them and picks them up, with no change here, once they are installed:

- claims: `computerace.analysis.claims.score(scenario, samples=, seed=)`, a list of dicts with `id`,
  `claim`, `probability`, `reading`, `quote`, `source`, `source_url`, `driver`, `drivers` (decile deltas),
  `sweep` and `readings`; claims the model cannot score yet are listed apart under `not_scored`.
- sensitivity: `computerace sensitivity PRESET --metric years_behind_stock --year 2030 --json`, run once
  per preset in a background process at low priority; its output lists parameters with an index
  (`ST`, `total`, `S1` ...). Until it finishes, or when it is absent, inputs follow INFLUENTIAL.
  One ranking runs at a time (each takes about a minute of both cores and ~200 MB); the other presets
  wait in a queue (status "queued"). The ranking process ends with the server, however the server
  ends: it is in a session of its own (stopped as a group at shutdown), asks Linux to kill it when its
  parent dies (PR_SET_PDEATHSIG), and checks twice a second that its parent is alive (if not, it kills
  its whole process group), which covers SIGKILL of the server and systems without prctl.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Any

INFLUENTIAL = (
    "power.us_growth_per_year",
    "smuggling.route_capacity_chips_per_year",
    "power.watts_decline_per_year",
    "supply.western_h100e_per_package",
    "power.china_growth_per_year",
    "smuggling.enforcement",
    "channels.legal_import_allowed",
    "finance.china_capex_usd_per_year",
    "capability.frontier_chip_growth_per_year",
    "supply.china_domestic_hbm_stacks_per_year",
    "power.us_available_2022_gw",
    "imports.domestic_preference",
    "events.taiwan_hazard_per_year",
    "events.euv_year",
    "supply.china_ai_wafer_share",
    "events.controls_shift_allowed",
    "channels.proxy_die_bank_dies",
)
"""The parameters shown first, most influential first, until a sensitivity ranking exists.

Chosen by |Spearman rank correlation| of each parameter's sampled quantile with log(US/China owned
stock) in December 2030 and 2035 (baseline, 5,000 samples, seed 1), with the policy levers users ask about
(enforcement against smuggling, the export-control schedule `channels.legal_import_allowed`, the domestic
preference and the event parameters) kept. docs/dashboard.md records the table; unknown keys are skipped.
"""

FIXED = "fixed list of influential parameters (docs/dashboard.md)"
SENSITIVITY = ("Sobol total-order index for years behind in owned compute, December 2030 "
               "(computerace sensitivity --metric years_behind_stock --year 2030)")

_lock = threading.Lock()
_rankings: dict[str, list[str]] = {}
_status: dict[str, str] = {}  # preset -> "queued" | "running" | "done" | "failed: ..."
_procs: list[subprocess.Popen[str]] = []
_queue: queue.Queue[str] = queue.Queue()
_worker: threading.Thread | None = None
_stopping = threading.Event()
background_ranking = True  # the CLI leaves it on; tests turn it off
RANK_TIMEOUT_S = 600

CHILD = """\
import os, signal, sys, threading, time
parent = int(os.environ.get("COMPUTERACE_PARENT_PID", "0"))
def _orphaned():
    return os.getppid() != parent
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
def _watch():
    while not _orphaned():
        time.sleep(0.5)
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL) if os.getpgid(0) == os.getpid() else None
    finally:
        os._exit(1)
if _orphaned():
    sys.exit(1)
threading.Thread(target=_watch, daemon=True).start()
try:
    os.nice(10)
except OSError:
    pass
from computerace.cli.main import entry
entry()
"""
"""The ranking process's program: dies with its parent (see the module docstring), then runs the CLI."""


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(f"computerace.analysis.{module}") is not None
    except (ImportError, ValueError):
        return False


def features() -> dict[str, bool]:
    return {"claims": available("claims"), "sensitivity": available("sensitivity")}


# --------------------------------------------------------------------------------- sensitivity
def parameter_order(preset: str) -> tuple[list[str], str]:
    """Parameter keys, most influential first, and how that order was made."""
    with _lock:
        ranked = _rankings.get(preset)
        if ranked:
            return ranked, SENSITIVITY
        start = (background_ranking and preset not in _status and not _stopping.is_set()
                 and available("sensitivity"))
        if start:
            _status[preset] = "queued"
            _queue.put(preset)
            _start_worker()
    return list(INFLUENTIAL), FIXED


def _start_worker() -> None:
    """The one thread that runs rankings, one preset at a time (called with _lock held). It lives as long as
    the server: Linux's parent-death signal follows the thread that started the child."""
    global _worker
    if _worker is None or not _worker.is_alive():
        _worker = threading.Thread(target=_work, daemon=True, name="computerace-ranking")
        _worker.start()


def start_background(enabled: bool) -> None:
    """Allow (or not) rankings for a new app; forgets the presets a stopped server had queued."""
    global background_ranking
    background_ranking = enabled
    _stopping.clear()
    with _lock:
        for k, v in list(_status.items()):
            if v.startswith("stopped"):
                del _status[k]


def _work() -> None:
    while not _stopping.is_set():
        preset = _queue.get()
        if _stopping.is_set():
            break
        if not preset:
            continue
        with _lock:
            _status[preset] = "running"
        _rank(preset)


def ranking_status() -> dict[str, str]:
    with _lock:
        return dict(_status)


def _rank(preset: str) -> None:
    cmd = [sys.executable, "-c", CHILD, "sensitivity", preset, "--metric", "years_behind_stock", "--year", "2030",
           "--json"]
    env = {**os.environ, "COMPUTERACE_PARENT_PID": str(os.getpid())}
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True, env=env, start_new_session=True)
        with _lock:
            _procs.append(proc)
        try:
            out, err = proc.communicate(timeout=RANK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _kill(proc, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"took longer than {RANK_TIMEOUT_S} s; stopped") from None
        finally:
            with _lock:
                _procs.remove(proc)
        if proc.returncode != 0:
            raise RuntimeError((err.strip().splitlines() or [f"exit {proc.returncode}"])[-1])
        keys = parse_ranking(json.loads(out))
        if not keys:
            raise RuntimeError("no parameter ranking found in the JSON output")
        with _lock:
            _rankings[preset], _status[preset] = keys, "done"
    except Exception as e:  # noqa: BLE001 - the fixed order stays; the reason is reported by /api/info
        with _lock:
            _status[preset] = f"failed: {type(e).__name__}: {e}"[:300]


def parse_ranking(data: Any) -> list[str]:
    """Parameter keys ordered by importance from `computerace sensitivity --json` output.

    Reads `indices` (or the first list of records found): each record names its parameters in `members`
    (a correlated group lists several), `input`, `parameter`, `key` or `name`, and is ranked by `ST`
    (else `total`, `S1`; else the order given). Keys that are not parameters (event inputs) are skipped.
    """
    from ..scenario import param_specs

    specs = param_specs()
    if isinstance(data, dict):
        data = data.get("indices") or next(
            (v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)), [])
    rows = []
    for i, r in enumerate(data if isinstance(data, list) else []):
        if not isinstance(r, dict):
            continue
        names = r.get("members") if isinstance(r.get("members"), list) else [
            next((r[k] for k in ("input", "parameter", "key", "name") if isinstance(r.get(k), str)), None)]
        score = next((r[k] for k in ("ST", "total", "total_order", "S1", "first_order")
                      if isinstance(r.get(k), int | float)), None)
        for j, key in enumerate(names):
            if key in specs:
                rows.append((-score if score is not None else 0.0, i, j, key))
    out: list[str] = []
    for *_, key in sorted(rows):
        if key not in out:
            out.append(key)
    return out


def running_processes() -> list[int]:
    """Process ids of the ranking processes now running (at most one)."""
    with _lock:
        return [p.pid for p in _procs if p.poll() is None]


def _kill(p: subprocess.Popen[str], sig: int) -> None:
    try:
        os.killpg(p.pid, sig)  # the child leads its own process group (start_new_session)
    except (ProcessLookupError, PermissionError, AttributeError):
        if p.poll() is None:
            p.send_signal(sig)


def stop_background() -> None:
    """Stop the ranking process still running and drop the queue (server shutdown)."""
    _stopping.set()
    _queue.put("")  # wakes the worker so that it ends
    with _lock:
        procs = list(_procs)
        for k, v in list(_status.items()):
            if v == "queued":
                _status[k] = "stopped: the server stopped"
    for p in procs:
        if p.poll() is None:
            _kill(p, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            _kill(p, signal.SIGKILL)


# -------------------------------------------------------------------------------------- claims
def claims_for(scenario: Any, samples: int, seed: int) -> dict[str, Any]:
    """{"available": bool, "claims": [...], "reason": str}: `claims.score` of the view's scenario, seed
    and samples (it simulates the same draws again, and a counterfactual preset for counterfactual claims)."""
    if not available("claims"):
        return {"available": False, "claims": [],
                "reason": "computerace.analysis.claims is not part of this version yet"}
    mod = importlib.import_module("computerace.analysis.claims")
    if not callable(getattr(mod, "score", None)):
        return {"available": False, "claims": [], "reason": "computerace.analysis.claims has no score()"}
    rows, not_scored = [], []
    keys = ("id", "claim", "reading", "quote", "source", "source_title", "source_url", "driver", "drivers", "note",
            "status", "reason", "samples_scored", "operationalisation", "sweep", "cdf", "sweep_note", "readings")
    for r in mod.score(scenario, samples=samples, seed=seed):
        p = r.get("probability")
        row = {k: r.get(k) for k in keys} | {"probability": float(p) if isinstance(p, int | float) else None}
        # the drivers are claims.decile_drivers' rows as `computerace claims --json` prints them, unchanged
        (rows if row["probability"] is not None else not_scored).append(row)
    return {"available": True, "claims": rows, "not_scored": not_scored, "reason": ""}
