"""Years behind on every axis, on hand-built runs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from computerace.analysis.metrics import AXES, years_behind

T = 120  # 2022-01 .. 2031-12


def synthetic(us_stock, cn_stock, us_chip=None, cn_chip=None, node_year=2018.25, run=1.0, ratio=1.0,
              algo=1.0, lag=0.0) -> xr.Dataset:
    S = us_stock.shape[0]
    months = (np.datetime64("2022-01") + np.arange(T)).astype("datetime64[ns]")
    stock = np.stack([us_stock, cn_stock, np.ones_like(us_stock)], axis=2)
    chip = np.stack([us_chip if us_chip is not None else us_stock, cn_chip if cn_chip is not None else cn_stock],
                    axis=2)
    full = np.full(S, 1.0)
    return xr.Dataset(
        {"stock_h100e": (("sample", "month", "actor"), stock), "operational_h100e": (("sample", "month", "actor"), stock),
         "best_chip_h100e": (("sample", "month", "rival"), chip),
         "tsmc_node_year": (("sample", "node"), np.tile([node_year, 2020.25, 2022.9, 2025.9, 2027.0, 2028.8], (S, 1))),
         "smic_node_year": (("sample", "node"), np.tile([2021.5, 2100.0, 2101.0, 2102.0, 2103.0, 2104.0], (S, 1))),
         "run_flop_per_h100e": ("sample", full * run), "china_cluster_share_ratio": ("sample", full * ratio),
         "algorithmic_progress_per_year": ("sample", full * algo), "china_algorithmic_lag_years": ("sample", full * lag)},
        coords={"sample": np.arange(S), "month": months, "actor": ["US", "China", "RoW"], "rival": ["US", "China"],
                "node": ["N7", "N5", "N3", "N2", "A16", "A14"]})


t = np.arange(T)
US = (1e3 * 2.0 ** (t / 12))[None]  # doubles every year
CN = (1e3 * 2.0 ** ((t - 24) / 12))[None]  # the same path two years later


def test_stock_axis_recovers_a_two_year_lag():
    yb, cens = years_behind(synthetic(US, CN), "stock")
    np.testing.assert_allclose(yb.values[0, 24:], 2.0, atol=1e-9)
    assert cens.values[0, :24].all()


def test_chip_axis_reads_the_us_chip_as_a_trend_between_releases():
    us_chip = np.where(t >= 9, 1.0, 0.315)[None].astype(float)  # H100 from Oct 2022, no growth after it
    cn_chip = np.where(t >= 35, 0.79, 0.38)[None].astype(float)  # 910B, then 910C from Dec 2024
    yb, cens = years_behind(synthetic(US, CN, us_chip, cn_chip), "chip")
    # Dec 2025 (month 47): 38 months since the H100's release, plus the trend's years from 0.79 to 1.0 at the
    # default per-chip growth (1.6x a year: the path shows none of its own)
    assert yb.values[0, 47] == pytest.approx((47 - 9) / 12 + np.log(1 / 0.79) / np.log(1.6), abs=1e-9)
    assert not cens.values.any()


def test_process_node_axis_is_months_since_tsmc_reached_smics_node():
    yb, cens = years_behind(synthetic(US, CN, node_year=2018.25), "process_node")
    assert yb.values[0, 0] == pytest.approx(2022.0 - 2018.25)
    assert yb.values[0, 36] == pytest.approx(2025.0 - 2018.25)
    assert not cens.values.any()


def test_largest_run_axis_scales_with_chinas_cluster_share():
    # China's largest run is half the US-share of its stock: one more year of doubling behind.
    yb, _ = years_behind(synthetic(US, CN, ratio=0.5), "largest_training_run")
    np.testing.assert_allclose(yb.values[0, 40:], 3.0, atol=1e-9)


def test_frontier_capability_is_calibrated_to_the_observed_lag():
    # Algorithms improve 2x a year for both; China's compute trails by two years, but the observed total lag of
    # its models is one year: calibrated at 2025-12, the capability lag is one year there and stays one year while
    # both sides' effective compute grows alike (4x a year).
    yb, _ = years_behind(synthetic(US, CN, algo=2.0, lag=1.0), "frontier_capability")
    np.testing.assert_allclose(yb.values[0, 47:], 1.0, atol=1e-9)


def test_china_ahead_gives_negative_years_on_every_axis():
    for axis in AXES:
        if axis in ("process_node", "same_node", "frontier_capability"):
            continue  # node dates are not paths; capability is calibrated to an observed lag (zero here)
        yb, _ = years_behind(synthetic(CN, US), axis)
        assert (yb.values[0, 40:] < 0).all(), axis


def test_headline_reuses_summarys_years_behind_and_matches_a_fresh_computation():
    """summary() passes its stock years behind to the headline block; the block computed on its own is identical."""
    import json

    import computerace as cr
    from computerace.analysis import headline

    r = cr.run("baseline", samples=300, seed=2)
    s = r.summary()
    fresh = headline.headline_block(r.dataset, s["metrics"])
    assert json.dumps(s["headline"], sort_keys=True) == json.dumps(fresh["headline"], sort_keys=True)
