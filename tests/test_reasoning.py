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
