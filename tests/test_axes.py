"""The years-behind axes the debate argues about (issue 17): the chip lag on the US per-chip trend, the process-node
ladder past N2, the same-node lag, the capability axis calibrated to the observed model lag, and the chip lag on
BF16, 8-bit and HBM bandwidth."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

import computerace as cr
from computerace.analysis import chip_axes
from computerace.analysis import metrics as M


@pytest.fixture(scope="module")
def base():
    return cr.run("baseline", samples=3000, seed=0)


def _month(ds, label):
    return list(ds["month"].values.astype("datetime64[M]").astype(str)).index(label)


def test_chip_lag_closed_form_on_the_us_trend():
    """US chip 1.0 from 2022-01, 2.0 from 2024-01 (a release), growing 1.5x a year from 2025-01 (after the last
    release); China 0.5 throughout. In June 2024 the lag is the months since the 2.0 release plus
    ln(2 / 0.5) / ln(1.5) years of trend; after the last release it is ln(US / 0.5) / ln(1.5)."""
    months = np.arange(np.datetime64("2022-01"), np.datetime64("2027-01"))
    t = M._month_years(xr.Dataset(coords={"month": months.astype("datetime64[ns]")}))
    us = np.where(t < 2024, 1.0, 2.0)
    us = np.where(t >= 2025, 2.0 * 1.5 ** (t - 2025 + 1 / 12), us)
    chips = np.stack([us, np.full_like(us, 0.5)], axis=1)[None].repeat(2, axis=0)
    ds = xr.Dataset({"best_chip_h100e": (("sample", "month", "rival"), chips)},
                    coords={"month": months.astype("datetime64[ns]"), "rival": ["US", "China"], "sample": [0, 1]})
    i = _month(ds, "2024-06")
    lag = M.chip_years_behind(ds, np.array([i, len(months) - 1]))
    assert lag[0, 0] == pytest.approx((t[i] - 2024.0) + math.log(4) / math.log(1.5), abs=1e-9)
    assert lag[0, 1] == pytest.approx(math.log(us[-1] / 0.5) / math.log(1.5), rel=1e-6)


def test_chip_lag_at_the_end_of_2026_takes_many_values(base):
    """Not a step function of the releases: no single value holds more than half the samples."""
    v = M.years_behind(base.dataset, "chip", [_month(base.dataset, "2026-12")])[0].values[:, 0]
    _, counts = np.unique(np.round(v, 3), return_counts=True)
    assert counts.max() / len(v) < 0.5
    assert 2 < np.median(v) < 7  # the 910C's 0.79 H100e against Rubin and a 1.3-1.7x per-chip trend


def test_process_node_ladder_runs_past_n2(base):
    """With A16 and A14 on the ladder, the node axis can fall below t - 2025.9 (TSMC's N2 date) once SMIC passes
    N2 with EUV; without them it never could."""
    ds = base.dataset
    assert list(ds["node"].values) == ["N7", "N5", "N3", "N2", "A16", "A14"]
    at = [_month(ds, "2035-12"), _month(ds, "2040-12")]
    yb = M.years_behind(ds, "process_node", at)[0].values
    t = M._month_years(ds)[at]
    assert (yb < (t - 2025.9)[None, :] - 0.5).any()


def test_same_node_lag_closed_form():
    tsmc = np.array([[2018.25, 2020.25, 2022.9, 2025.9, 2027.0, 2028.8]])
    smic = np.array([[2021.5, 2029.0, 2031.0, 2033.0, 2035.0, 2037.0]])
    lag = M.same_node_lag(np.array([2021.0, 2026.0, 2030.0, 2032.0]), tsmc, smic)
    np.testing.assert_allclose(lag[0, 1:], [3.25, 2029.0 - 2020.25, 2031.0 - 2022.9])
    assert np.isnan(lag[0, 0])  # before SMIC's first 7nm-class node


def test_capability_lag_in_december_2025_matches_the_observed_model_lag(base):
    """Validation: Chinese frontier models trailed US ones by ~7 months (4-14) in 2025 (Grunewald 2026,
    grunewald-china-2026; Epoch, epoch-china-llm-2025: 8 months for the largest model). The capability axis is
    calibrated to that total lag (compute and algorithms together): its median must lie in 4-14 months, and in
    each sample it equals the sampled observed lag to within a month."""
    ds = base.dataset
    v = M.years_behind(ds, "frontier_capability", [_month(ds, "2025-12")])[0].values[:, 0]
    assert 4 / 12 <= np.median(v) <= 14 / 12
    np.testing.assert_allclose(v, ds["china_algorithmic_lag_years"].values, atol=1 / 12)


def test_spec_lags_closed_form_and_fp8_before_the_950():
    """HBM bandwidth in December 2025: the 910C's 3.2 TB/s lies between the A100 (2.039, volume mid-2020) and the
    H100 (3.35, volume late 2022) on the US trend."""
    got = chip_axes.spec_lag("hbm", 2025 + 11.5 / 12)
    a, h, c = 2.039 / 3.35, 1.0, 3.2 / 3.35
    t_us = 2020.5 + math.log(c / a) / math.log(h / a) * (2022.8 - 2020.5)
    assert got["china_part"] == "ascend-910c" and got["years"] == pytest.approx(2025 + 11.5 / 12 - t_us, abs=1e-6)
    assert chip_axes.spec_lag("8bit", 2025.9)["years"] is None  # no FP8 or INT8 part in volume before the 950
    assert chip_axes.spec_lag("8bit", 2026.9)["china_part"] == "ascend-950pr"
    with pytest.raises(ValueError, match="stop at 2026"):
        chip_axes.spec_lags((2030,))


def test_summary_reports_the_new_axes(base):
    s = base.summary()
    for axis in ("chip", "process_node", "same_node", "frontier_capability"):
        assert "2026-12" in s["metrics"][f"years_behind_{axis}"]["China"]
    assert set(s["chip_lag_by_spec"]) == {"bf16", "8bit", "hbm"}


def test_the_950_follows_the_models_own_bf16_rule():
    """BF16 = FP8 / 2 for the Ascend roadmap: the 950's 1 PFLOP/s FP8 gives ~0.51 H100e, below the 910C's 0.79, so
    China's best BF16 chip stays the 910C until the 960."""
    sc = cr.load_scenario("baseline")
    series = sc.parameters["capability.china_best_chip_h100e"].value
    at_2026 = [d for t, d in zip(series.times, series.dists, strict=True) if 2026 <= t < 2027]
    assert at_2026 == []  # no 2026 step: the 910C (0.79 from 2025-03) holds
    from computerace import catalog

    assert catalog.chip("ascend-950dt").fp8_dense_tflops / 2 / 989.4 < catalog.chip("ascend-910c").h100e("bf16")
