"""Reasoning-serving capacity in the race (analysis/reasoning.py): closed-form cases of each step."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from computerace.analysis import reasoning as rs


def _row(actor, cls, year, share, system="sys-a"):
    return rs.ClassRow(actor, cls, year, share, system, "src", "assumption")


def _patch(monkeypatch, rows, rates, floors=None):
    monkeypatch.setattr(rs, "class_rows", lambda: tuple(rows))

    def rate(system):
        r = rates[system]
        f = (floors or {}).get(system, (30.0, 20.0, 10.0))
        return {"per_h100e": dict(zip(("low", "central", "high"), r, strict=True)),
                "floor_band_ms": dict(zip(("low", "central", "high"), f, strict=True))}
    monkeypatch.setattr(rs, "system_rate", rate)


def test_log_interp_passes_through_the_band():
    u = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    v = rs._log_interp(np.float64(1.0), np.float64(4.0), np.float64(16.0), u)
    np.testing.assert_allclose(v, [1.0, 2.0, 4.0, 8.0, 16.0])  # log-linear on each half
    assert np.all(rs._log_interp(np.float64(0.0), np.float64(0.0), np.float64(0.0), u) == 0.0)


def test_triangular_quantiles_and_mean():
    u = (np.arange(200_000) + 0.5) / 200_000
    v = rs._triangular(np.float64(0.1), np.float64(0.2), np.float64(0.6), u)
    assert v[0] == pytest.approx(0.1, abs=1e-3) and v[-1] == pytest.approx(0.6, abs=1e-3)
    assert v.mean() == pytest.approx((0.1 + 0.2 + 0.6) / 3, rel=1e-4)  # the triangular mean
    assert np.all(rs._triangular(np.float64(0.3), np.float64(0.3), np.float64(0.3), u) == 0.3)


def test_uniforms_do_not_depend_on_the_sample_count():
    a, b = rs.uniforms(7, 5000, 3), rs.uniforms(7, 1200, 3)
    np.testing.assert_array_equal(a[:1200], b)
    assert 0.0 < a.min() and a.max() < 1.0 and abs(a.mean() - 0.5) < 0.02


def test_capacity_is_stock_times_share_times_rate(monkeypatch):
    rows = [_row(a, "hgx8", 2024, (1.0, 1.0, 1.0), "fixed") for a in ("US", "China", "RoW")]
    _patch(monkeypatch, rows, {"fixed": (3.0, 3.0, 3.0)})
    op = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3) + 1.0
    cap = rs.capacity(op, np.array([2024, 2025]), ["US", "China", "RoW"], seed=0)
    np.testing.assert_allclose(cap.tokens_per_s, op * 3.0)  # 2025 keeps 2024's shares (the file's last year)


def test_without_supernodes_moves_their_share_to_npu_servers(monkeypatch):
    rows = [_row("China", "supernode", 2027, (0.5, 0.5, 0.5), "cm"),
            _row("China", "npu_server", 2027, (0.5, 0.5, 0.5), "srv")]
    _patch(monkeypatch, rows, {"cm": (10.0, 10.0, 10.0), "srv": (2.0, 2.0, 2.0)},
           floors={"srv": (40.0, 40.0, 40.0), "cm": (5.0, 5.0, 5.0)})
    op = np.full((4, 1, 1), 100.0)
    cap = rs.capacity(op, np.array([2027]), ["China"], seed=1)
    np.testing.assert_allclose(cap.tokens_per_s[:, 0, 0], 100 * (0.5 * 10 + 0.5 * 2))
    np.testing.assert_allclose(cap.china_no_supernode[:, 0], 100 * 2.0)
    np.testing.assert_allclose(cap.china_floor_ms[:, 0], 40.0)  # the supernode's floor does not count


def test_shares_are_renormalised_per_sample(monkeypatch):
    rows = [_row("US", "hgx8", 2026, (0.2, 0.5, 0.8), "a"), _row("US", "nvl72", 2026, (0.2, 0.5, 0.8), "b")]
    _patch(monkeypatch, rows, {"a": (1.0, 1.0, 1.0), "b": (1.0, 1.0, 1.0)})
    cap = rs.capacity(np.ones((3000, 1, 1)), np.array([2026]), ["US"], seed=2)
    np.testing.assert_allclose(cap.tokens_per_s, 1.0)  # equal rates: any split serves the same


def test_years_behind_on_the_capacity_axis():
    years = np.arange(2024, 2031)
    us = 2.0 ** np.arange(len(years), dtype=float)
    cn = us / 4.0  # a quarter of the US: two doublings, two years, behind
    cap = np.stack([us, cn, us], axis=1)[None]
    ds = xr.Dataset({"reasoning_serving_tokens_per_s": (("sample", "year", "actor"), cap)},
                    coords={"year": years, "actor": ["US", "China", "RoW"]})
    yb, cens = rs.years_behind(ds)
    np.testing.assert_allclose(yb[0, 2:], 2.0)
    assert cens[0, :2].all() and not cens[0, 2:].any()  # below the US's first year: a lower bound


# --- wired into runs --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_run():
    import computerace as cr

    return cr.run("baseline", samples=400, seed=3)


def test_rates_file_matches_the_estimator():
    """data/reasoning_rates.json caches the serving estimator's answers; stale after an estimator change."""
    import json
    from importlib import resources

    cached = json.loads(resources.files("computerace.data").joinpath(rs.RATES_FILE).read_text())
    fresh = json.loads(json.dumps(rs.rate_table()))
    assert cached == fresh, ("data/reasoning_rates.json is stale: python -m computerace.analysis.reasoning > "
                             "src/computerace/data/reasoning_rates.json")


def test_run_carries_capacity_and_summary_has_its_quantiles(small_run):
    ds, s = small_run.dataset, small_run.summary()
    cap = ds["reasoning_serving_tokens_per_s"]
    assert cap.dims == ("sample", "year", "actor") and float(cap.min()) >= 0.0
    b = s["reasoning_serving"]
    assert b["tokens_per_s_per_user"] == pytest.approx(1000.0 / rs.REFERENCE["tpot_ms"])
    assert set(b["metrics"]) <= set(s["metrics"])
    for actor in ("US", "China", "RoW", "World"):
        for y in ("2026-12", "2030-12", "2040-12"):
            q = s["metrics"]["reasoning_serving_tokens_per_s"][actor][y]
            assert 0.0 <= q["p5"] <= q["p50"] <= q["p95"]
    world = s["metrics"]["reasoning_serving_tokens_per_s"]["World"]["2030-12"]["mean"]
    parts = sum(s["metrics"]["reasoning_serving_tokens_per_s"][a]["2030-12"]["mean"] for a in ("US", "China", "RoW"))
    assert world == pytest.approx(parts, rel=1e-9)  # means add up
    # the US's capacity is its operational stock times a share-weighted rate between the classes' extremes
    op = ds["operational_h100e"].sel(actor="US").isel(month=-1).values.astype(float)
    per = cap.sel(actor="US").isel(year=-1).values.astype(float) / op
    bands = [rs.class_rate(sid)["per_h100e"] for sid in
             {r.system for r in rs.class_rows() if r.actor == "US" and r.system}]
    assert per.min() >= 0.0 and per.max() <= max(b_["high"] for b_ in bands) * (1 + 1e-5)


def test_capacity_is_the_same_for_any_chunk_size():
    import computerace as cr

    a = cr.run("baseline", samples=300, seed=5, chunk=300).dataset
    b = cr.run("baseline", samples=300, seed=5, chunk=70).dataset
    for v in rs.VARIABLES:
        np.testing.assert_array_equal(a[v].values, b[v].values)


def test_without_supernodes_never_gains(small_run):
    """One efficiency quantile per software family: the same chips in 8/16-NPU servers never serve more than in
    supernodes at the same quantile (their band is below the supernode's at every point)."""
    from computerace.analysis import metrics

    for y in ("2026", "2028", "2030"):
        ratio = metrics.sample_values(small_run.dataset, "reasoning_serving_without_supernodes_ratio", "China", y)
        assert np.all(ratio <= 1.0 + 1e-6) and np.all(ratio > 0.0)


def test_years_behind_metric_matches_the_summary(small_run):
    from computerace.analysis import metrics

    v = metrics.sample_values(small_run.dataset, "years_behind_reasoning_serving", "China", "2030")
    assert np.median(v) == pytest.approx(small_run.summary()["metrics"]["years_behind_reasoning_serving"]["China"]["2030-12"]["p50"])


def test_the_claim_is_scored(small_run):
    from computerace.analysis.claims import score

    out = score(None, run=small_run)
    items = out if isinstance(out, list) else out["claims"]
    c = next(c for c in items if c["id"] == "cloudmatrix-needed-for-fast-reasoning")
    assert [r["id"] for r in c["readings"]] == ["capacity", "floor"]
    assert all(0.0 <= r["probability"] <= 1.0 for r in c["readings"])
