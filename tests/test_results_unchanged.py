"""Results unchanged by performance work: fixed-seed runs against a stored reference (issue 19).

The reference (snapshots/results_unchanged.npz) holds every output array of small fixed-seed runs of presets that
between them take every branch of the month loop (both model forms of Western and Chinese supply, Taiwan events,
regime shifts, frontier parts, EUV), and the baseline's summary metrics and probabilities. It was generated from
the code before the compiled kernels (issue 19) and is regenerated only on purpose:
COMPUTERACE_UPDATE_SNAPSHOTS=1 pytest tests/test_results_unchanged.py.

Tolerance: 0. The compiled kernels keep float64 arithmetic in the same order of operations as the numpy code they
replaced (stock cumulative sums, differences and the initial stock's linear retirement), and outputs are rounded to
float32 once, at the end, exactly as before; so every array is bit-identical. Were a kernel ever to compute in
float32, RTOL below would become 1e-5 (float32's epsilon is 1.2e-7; a chain of ~228 monthly additions accumulates
at most ~228 x 1.2e-7 ~ 3e-5 relative in the worst case, ~1e-6 typically) and that change must say so here and in
docs/architecture.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import computerace as cr

REFERENCE = Path(__file__).parent / "snapshots" / "results_unchanged.npz"
UPDATE = os.environ.get("COMPUTERACE_UPDATE_SNAPSHOTS") == "1"
RTOL = 0.0  # bit-identical (see the module docstring)
#: (preset, samples): together they exercise every branch of the month loop.
CASES = (("baseline", 16), ("growth-forms", 5), ("taiwan-2y-30pct", 5), ("export-controls-lifted-2026", 5),
         ("china-euv-2030", 5), ("no-export-controls", 5))  # small: the reference file is committed
SEED = 0


def _arrays(name: str, n: int) -> dict[str, np.ndarray]:
    ds = cr.run(name, samples=n, seed=SEED).dataset
    return {f"{name}/{k}": ds[k].values for k in ds.data_vars}


def _summary() -> str:
    s = cr.run("baseline", samples=64, seed=SEED).summary()
    return json.dumps({k: s[k] for k in ("metrics", "probabilities")}, sort_keys=True)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    if UPDATE:
        arrays = {k: v for name, n in CASES for k, v in _arrays(name, n).items()}
        np.savez_compressed(REFERENCE, summary=np.array(_summary()), **arrays)
    if not REFERENCE.exists():
        pytest.fail(f"no reference at {REFERENCE}: run with COMPUTERACE_UPDATE_SNAPSHOTS=1 to create it")
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize(("name", "n"), CASES)
def test_every_output_array_equals_the_reference(reference, name, n):
    now = _arrays(name, n)
    stored = {k for k in reference if k.startswith(f"{name}/")}
    assert stored <= set(now), f"outputs missing now: {sorted(stored - set(now))}"
    for k in sorted(stored):
        a, b = now[k], reference[k]
        assert a.dtype == b.dtype and a.shape == b.shape, k
        if RTOL == 0.0 or a.dtype.kind != "f":
            np.testing.assert_array_equal(a, b, err_msg=k)
        else:
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=0.0, err_msg=k)


def test_summary_metrics_and_probabilities_equal_the_reference(reference):
    now, ref = json.loads(_summary()), json.loads(str(reference["summary"]))

    from computerace.analysis.reasoning import (
        METRICS as ADDED,  # metrics added since the reference (issue 18)
    )

    def walk(a, b, path=""):
        if isinstance(b, dict):
            extra = set(a) - set(b)
            assert set(b) <= set(a) and (not extra or (path == ".metrics" and extra <= set(ADDED))), path
            for k in b:
                walk(a[k], b[k], f"{path}.{k}")
        elif isinstance(b, float):
            assert a == pytest.approx(b, rel=max(RTOL, 1e-12), abs=1e-12), path
        else:
            assert a == b, path

    walk(now, ref)


@pytest.mark.parametrize(("chunk", "workers"), [(1, 1), (5, 2), (16, 1)])
def test_results_are_identical_across_chunk_sizes_and_worker_counts(reference, chunk, workers, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: workers)
    ds = cr.run("baseline", samples=dict(CASES)["baseline"], seed=SEED, chunk=chunk).dataset
    stored = [k for k in ds.data_vars if f"baseline/{k}" in reference]  # outputs added since are checked apart
    assert len(stored) >= 30
    for k in stored:
        np.testing.assert_array_equal(ds[k].values, reference[f"baseline/{k}"], err_msg=f"{k} chunk={chunk}")
