"""Presets: every one runs; `ai2027` reproduces the AI 2027 compute forecast within stated tolerances.

Targets and tolerances: shared/reference/published_forecasts.md, "Validation targets" 1-3, 8-10, 16, 17.
Source: Romeo Dean, "Compute Forecast - AI 2027", https://ai-2027.com/research/compute-forecast (Apr 2025),
and AI 2027 footnote 35 (https://ai-2027.com/, 3 Apr 2025). AI 2027 gives point estimates, so the targets
apply to the point mode (every distribution at its median); the uncertain mode's median is checked too.
"""

from __future__ import annotations

import numpy as np
import pytest

import computerace as cr
from computerace.scenario import load_scenario, presets

EXPECTED = {"baseline", "ai2027", "no-export-controls", "export-controls-lifted-2026", "taiwan-2y-30pct",
            "us-power-wall", "china-euv-2030", "china-5x-per-year"}


def test_every_listed_preset_exists_and_runs():
    assert EXPECTED <= set(presets())
    for name in presets():
        sc = load_scenario(name)
        assert sc.description.strip(), name
        r = cr.run(sc, samples=50, seed=0)
        assert np.isfinite(r.dataset["stock_h100e"].values).all(), name


@pytest.fixture(scope="module")
def ai2027_point():
    return cr.run(load_scenario("ai2027", {"mode": "point"}), samples=2, seed=0)


def at(ds, var, month):
    return ds[var].sel(month=f"{month}-01").values.astype(np.float64)[0]


@pytest.mark.parametrize("month, target", [("2024-12", 8.5e6), ("2025-12", 18e6), ("2026-12", 40e6),
                                           ("2027-12", 100e6)])
def test_ai2027_world_stock_path(ai2027_point, month, target):
    # "Cumulative H100e available 4M 8.5M 18M 40M 100M" (end of 2023-2027); target 2: +-15% each.
    world = at(ai2027_point.dataset, "stock_h100e", month).sum()
    assert world == pytest.approx(target, rel=0.15)


def test_ai2027_growth_rate_2025_2027(ai2027_point):
    # "grow 2.25x per year over the next three years"; target 3: +-0.15x.
    ds = ai2027_point.dataset
    g = np.sqrt(at(ds, "stock_h100e", "2027-12").sum() / at(ds, "stock_h100e", "2025-12").sum())
    assert g == pytest.approx(2.25, abs=0.15)


def test_ai2027_china_share_about_12_percent(ai2027_point):
    # "China to maintain a roughly constant share of global compute (around 12%)" - a usage share that
    # counts rented compute; target 8: 12% +- 3 pp in every year 2025-2027.
    s = ai2027_point.summary()["metrics"]["china_share_with_remote"]["China"]
    for month in ("2025-12", "2026-12", "2027-12"):
        assert s[month]["p50"] == pytest.approx(0.12, abs=0.03), month


def test_ai2027_china_stock_and_channel_split(ai2027_point):
    # Footnote 35: China 1.5M (mid-2025) -> 3M H100e (mid-2026); additions 450K smuggled, 800K domestic,
    # 250K legal (30/53/17%). Targets 9 and 10: stock +-30%, shares +-10 pp.
    ds = ai2027_point.dataset
    assert at(ds, "stock_h100e", "2025-06")[1] == pytest.approx(1.5e6, rel=0.30)
    assert at(ds, "stock_h100e", "2026-06")[1] == pytest.approx(3.0e6, rel=0.30)
    cs = ds["china_stock_h100e"]
    gained = (cs.sel(month="2026-06-01") - cs.sel(month="2025-06-01")).values[0].astype(np.float64)
    share = dict(zip(cs["channel"].values, gained / gained.sum(), strict=True))
    assert share["smuggled"] == pytest.approx(0.30, abs=0.10)
    assert share["domestic"] == pytest.approx(0.53, abs=0.10)
    assert share["legal_import"] == pytest.approx(0.17, abs=0.10)


@pytest.mark.parametrize("month, gw", [("2024-12", 9), ("2025-12", 15), ("2026-12", 29), ("2027-12", 62)])
def test_ai2027_power_path(ai2027_point, month, gw):
    # "Total AI datacenter power requirement 5GW 9GW 15GW 29GW 62GW" (2023-2027); target 16: +-25%.
    assert at(ai2027_point.dataset, "power_gw", month).sum() == pytest.approx(gw * 1e9 / 1e9, rel=0.25)


def test_ai2027_uncertain_mode_median_near_point_mode(ai2027_point):
    # The uncertain mode spreads modestly around AI 2027's numbers: its median world stock at the end of
    # 2027 stays within the same +-15% of 100M.
    r = cr.run("ai2027", samples=600, seed=3)
    world = r.dataset["stock_h100e"].sel(month="2027-12-01").values.astype(np.float64).sum(axis=1)
    assert np.median(world) == pytest.approx(100e6, rel=0.15)


def test_controls_counterfactual_uses_common_random_numbers():
    # Same seed: the two presets share every random number, so the paired difference is the effect of
    # the controls alone. Before the August 2022 licence letters the two worlds are identical.
    a = cr.run("baseline", samples=200, seed=5).dataset
    b = cr.run("no-export-controls", samples=200, seed=5).dataset
    early = a["stock_h100e"].sel(month="2022-08-01").values
    np.testing.assert_array_equal(early, b["stock_h100e"].sel(month="2022-08-01").values)
    cn_a = a["stock_h100e"].sel(month="2030-12-01", actor="China").values
    cn_b = b["stock_h100e"].sel(month="2030-12-01", actor="China").values
    assert np.median(cn_b / cn_a) > 1.2  # without controls China owns more compute in the baseline's world
