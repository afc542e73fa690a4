"""Closed-form cases for each mechanism of the engine, run through the full model.

Each case sets the scenario's parameters to point values that switch off everything but one
mechanism, so the model's output can be compared with an analytic formula.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine_cases import run_with  # shared with test_physics_engine.py


def us_stock(r) -> np.ndarray:
    return r.dataset["stock_h100e"].sel(actor="US").values.astype(np.float64)


def test_constant_additions_at_steady_state_keep_stock_constant():
    # Zero growth: a/month added, each cohort lives L months, and an initial stock a*L of uniform
    # ages retiring linearly: stock(t) = a*min(t+1, L) + a*L*max(0, 1-(t+1)/L) = a*L for every t.
    a, years = 1000.0, 5.0
    r = run_with(**{"supply__western_production_2022_h100e_per_month": a, "stock__useful_life_years": years,
                    "stock__initial_world_h100e": a * years * 12, "stock__initial_us_share": 1.0,
                    "stock__initial_china_share": 0.0})
    np.testing.assert_allclose(us_stock(r), a * years * 12, rtol=1e-6)  # float32 storage


def test_exponential_production_matches_the_analytic_cumulative_sum():
    p0, g_area, g_eff = 1000.0, 1.5, 1.2
    r = run_with(**{"supply__western_production_2022_h100e_per_month": p0,
                    "supply__western_area_growth_per_year": g_area,
                    "supply__chip_efficiency_growth_per_year": g_eff,
                    "finance__price_2024_usd_per_h100e": 1000.0, "finance__price_decline_per_year": 1.0})
    q = (g_area * g_eff) ** (1 / 12)
    t = np.arange(r.dataset.sizes["month"])
    expected = p0 * (q ** (t + 1) - 1) / (q - 1)  # sum_{k<=t} p0 q^k, no retirement
    np.testing.assert_allclose(us_stock(r)[0], expected, rtol=1e-5)
    adds_2023 = r.dataset["additions_h100e"].sel(actor="US", year=2023).values[0]
    np.testing.assert_allclose(adds_2023, p0 * q ** 12 * (q ** 12 - 1) / (q - 1), rtol=1e-5)


def test_retirement_follows_the_analytic_survival():
    a, years = 500.0, 4.0
    L = int(years * 12)
    r = run_with(**{"supply__western_production_2022_h100e_per_month": a, "stock__useful_life_years": years,
                    "stock__initial_world_h100e": 1e6, "stock__initial_us_share": 1.0,
                    "stock__initial_china_share": 0.0})
    t = np.arange(r.dataset.sizes["month"])
    expected = a * np.minimum(t + 1, L) + 1e6 * np.clip(1 - (t + 1) / L, 0, 1)
    np.testing.assert_allclose(us_stock(r)[0], expected, rtol=1e-6)
    assert us_stock(r)[0, L + 5] == pytest.approx(a * L, rel=1e-6)  # initial stock fully retired


def test_binding_power_cap_holds_exactly():
    # 1000 H100e/month at 1 kW each (no efficiency gain) would need 1 GW after 1000 months; the US has 0.05 GW.
    # Power limits purchases: the US buys until its installed chips need 0.05 GW (50,000 H100e), then buys
    # nothing more (nothing retires within the horizon), so installed = operational and power drawn = 0.05 GW.
    r = run_with(**{"supply__western_production_2022_h100e_per_month": 1000.0,
                    "power__watts_per_h100e_2024": 1000.0, "power__watts_decline_per_year": 1.0,
                    "power__us_available_2022_gw": 0.05})
    inst = us_stock(r)[0]
    t = np.arange(len(inst))
    np.testing.assert_allclose(inst, np.minimum(1000.0 * (t + 1), 50_000.0), rtol=1e-6)
    gw = r.dataset["power_gw"].sel(actor="US").values[0]
    np.testing.assert_allclose(gw, np.minimum(1000.0 * (t + 1), 50_000.0) * 1e-6, rtol=1e-5)
    np.testing.assert_allclose(r.dataset["operational_h100e"].sel(actor="US").values[0], inst, rtol=1e-6)


def test_budget_cap_buys_budget_over_price():
    # Offer 1e6 H100e/month at a constant $20k with $1.2B/yr * 0.5 to spend: 2500 H100e per month.
    r = run_with(**{"supply__western_production_2022_h100e_per_month": 1e6,
                    "finance__us_capex_usd_per_year": 1.2e9, "finance__compute_share": 0.5,
                    "finance__price_2024_usd_per_h100e": 20000.0, "finance__price_decline_per_year": 1.0})
    adds = r.dataset["additions_h100e"].sel(actor="US").values[0]
    np.testing.assert_allclose(adds, 2500 * 12, rtol=1e-6)


def test_china_channels_follow_their_equations():
    # Proxy-fab dies arrive at a constant rate over their drawdown window; with frontier parts open (a = 1) and
    # supply short, China and the US share Western output by money: equal budgets, equal halves.
    w = 1e5
    r = run_with(**{"supply__western_production_2022_h100e_per_month": w, "channels__legal_import_allowed": 1.0,
                    "finance__us_capex_usd_per_year": 1e12, "finance__china_capex_usd_per_year": 1e12,
                    "channels__proxy_die_bank_dies": 1.2e6, "channels__proxy_drawdown_start": 2024.5,
                    "channels__proxy_drawdown_months": 24.0})
    add = r.dataset["china_additions_h100e"].sel(year=2023).values[0] / 12  # per month
    ch = list(r.dataset["channel"].values)
    us = r.dataset["additions_h100e"].sel(actor="US", year=2023).values[0] / 12
    assert add[ch.index("legal_import")] == pytest.approx(w / 2, rel=1e-6) and us == pytest.approx(w / 2, rel=1e-6)
    assert add[ch.index("smuggled")] == 0.0  # no routes in OFF
    proxy = r.dataset["china_additions_h100e"].sel(channel="proxy_fab").values[0]
    per_die = (780 / 989.4) / 2  # two TSMC dies per 910C package (growth form: no HBM cap)
    assert proxy.sum() == pytest.approx(1.2e6 * per_die, rel=1e-6)  # the whole bank, no more
    years = list(r.dataset["year"].values)
    assert proxy[years.index(2024)] == pytest.approx(1.2e6 * per_die / 24 * 6, rel=1e-6)  # Jul-Dec 2024


def test_taiwan_disruption_cuts_output_by_its_severity_for_its_duration():
    r = run_with(**{"supply__western_production_2022_h100e_per_month": 1000.0,
                    "events__taiwan_hazard_per_year": 0.999999, "events__hazard_start": 2030.0,
                    "events__taiwan_severity": 0.6, "events__taiwan_duration_months": 12.0})
    ds = r.dataset
    t_event = ds["taiwan_event_year"].values
    # With h ~ 1 the rate is -ln(1e-6) = 13.8/yr: every event falls within the first year.
    assert np.all((t_event >= 2030.0) & (t_event < 2031.0))
    total = ds["additions_h100e"].sel(actor="US").sum("year").values
    np.testing.assert_allclose(total, 1000.0 * 228 - 0.6 * 1000.0 * 12, rtol=1e-6)  # 12 months at 40%


def test_euv_multiplies_domestic_output_after_its_ramp():
    r = run_with(**{"channels__domestic_2022_h100e_per_month": 100.0, "events__euv_year": 2030.0,
                    "events__euv_output_multiplier": 3.0, "events__euv_ramp_years": 2.0})
    dom = r.dataset["china_additions_h100e"].sel(channel="domestic")
    assert dom.sel(year=2028).values[0] == pytest.approx(1200.0, rel=1e-6)
    assert dom.sel(year=2033).values[0] == pytest.approx(3600.0, rel=1e-6)
    assert 1200.0 < dom.sel(year=2031).values[0] < 3600.0


def test_first_event_time_has_the_stated_annual_probability():
    from computerace.model.events import first_event_time

    u = (np.arange(200_000) + 0.5) / 200_000
    t = first_event_time(u, np.full_like(u, 0.1), np.full_like(u, 2027.0))
    assert np.mean(t < 2028.0) == pytest.approx(0.1, abs=1e-4)
    assert np.mean(t < 2029.0) == pytest.approx(1 - 0.9 ** 2, abs=1e-4)


def test_domestic_supply_physics_matches_wafers_times_yield_and_the_hbm_cap():
    # Constant 1000 wafers/month, 78 gross dies, Poisson yield exp(-A*D0) with D0 fixed at 0.2/cm2 on
    # 665.61 mm2, 2 dies per package, 0.8 H100e per package; a huge HBM stockpile: no cap.
    y = np.exp(-6.6561 * 0.2)
    common = {"channels__domestic_model": 1.0, "supply__smic_advanced_wafers_per_month": 1000.0, "supply__china_ai_wafer_share": 1.0,
              "supply__china_die_area_mm2": 665.61, "supply__china_gross_dies_per_wafer": 78.0,
              "supply__china_defects_per_cm2_2025": 0.2, "supply__china_defect_floor_per_cm2": 0.2,
              "supply__china_dies_per_package": 2.0, "supply__china_h100e_per_package": 0.8,
              "supply__china_hbm_stacks_per_package": 8.0, "supply__china_domestic_hbm_stacks_per_year": 0.0}
    r = run_with(**common, supply__china_hbm_stockpile_stacks=1e9)
    dom = r.dataset["china_additions_h100e"].sel(channel="domestic", year=2024).values[0]
    assert dom == pytest.approx(12 * 1000 * 78 * y / 2 * 0.8, rel=1e-6)  # float32 storage
    # HBM banned from the start, a stockpile of 100k stacks and no new HBM: 12,500 packages in all, then nothing.
    r = run_with(**common, supply__china_hbm_stockpile_stacks=1e5, events__hbm_ban_year=2022.0)
    total = r.dataset["china_additions_h100e"].sel(channel="domestic").values[0].sum()
    assert total == pytest.approx(1e5 / 8 * 0.8, rel=1e-6)


def test_more_worse_chips_draw_more_power_per_h100e():
    # Western output 1000 H100e/month to the US, China's domestic ramp 500 H100e/month, constant 1 kW per H100e
    # and a domestic multiplier of 2.5, no initial stock: China's stock needs 2.5 kW per H100e, the US's 1 kW
    # (summary.json watts_per_h100e; stock_by_generation and power_by_generation at each year's end).
    r = run_with(**{"supply__western_production_2022_h100e_per_month": 1000.0,
                    "channels__domestic_2022_h100e_per_month": 500.0,
                    "power__watts_per_h100e_2024": 1000.0, "power__watts_decline_per_year": 1.0,
                    "power__domestic_watts_multiplier": 2.5})
    w = r.summary()["metrics"]["watts_per_h100e"]
    for date in ("2023-12", "2030-12", "2040-12"):
        assert w["US"][date]["p50"] == pytest.approx(1000.0, rel=1e-5)
        assert w["China"][date]["p50"] == pytest.approx(2500.0, rel=1e-5)
    gw = r.dataset["power_by_generation_gw"].sel(actor="China", year=2025).values[0]
    assert gw.sum() == pytest.approx(500 * 48 * 2500 / 1e9, rel=1e-5)  # 48 months of 500 H100e at 2.5 kW


# ------------------------------------------------- the stock equations (compiled; the functions the model calls)

def test_cohort_stock_closed_form_with_retirement_and_initial_stock():
    # a per month for T months, life L, initial stock I retiring linearly: S(t) = a min(t + 1, L) + I max(0, 1 - (t+1)/L)
    from computerace.model.stock import cohort_stock

    T, a, init = 60, 3.0, 120.0
    life = np.array([1, 12, 40, 100])
    adds = np.full((T, 1, life.size), a)
    got = cohort_stock(adds, life, np.full((1, life.size), init))[:, 0]
    t = np.arange(T)[:, None]
    expected = a * np.minimum(t + 1, life) + init * np.maximum(0.0, 1.0 - (t + 1) / life)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # a single cohort counts in exactly L months
    one = np.zeros((T, 1, 1))
    one[5] = 7.0
    s = cohort_stock(one, np.array([12]), np.zeros((1, 1)))[:, 0, 0]
    assert np.flatnonzero(s).tolist() == list(range(5, 17)) and np.all(s[5:17] == 7.0)


def test_generations_split_the_cohort_stock_exactly():
    from computerace.model.stock import GENERATIONS, cohort_stock, generation_stock

    rng = np.random.default_rng(3)
    T, S = 228, 40
    t_years = 2022 + np.arange(T) / 12
    adds, life, init = rng.lognormal(0, 1, (T, 2, S)), rng.integers(1, 120, S), rng.lognormal(0, 1, (2, S))
    at = np.arange(11, T, 12)
    gen = generation_stock(adds, life, init, t_years, at)
    assert gen.shape == (len(at), 2, len(GENERATIONS), S)
    np.testing.assert_allclose(gen.sum(axis=2), cohort_stock(adds, life, init)[at], rtol=1e-12)
    # at the end of 2024 nothing is in the 2025-2026 generation or later
    assert np.all(gen[2, :, 2:] == 0.0) and np.all(gen[2, :, 1] > 0.0)


def test_yearly_totals_match_numpy_reduceat_bit_for_bit():
    from computerace.model.tally import year_total

    x = np.random.default_rng(4).lognormal(0, 3, (40, 1))
    for n in (1, 2, 7, 8, 9, 12, 17, 25):
        assert year_total(x[:n, 0], n) == np.add.reduceat(x[:n], [0], axis=0)[0, 0]


def test_power_drawn_and_running_share():
    from computerace.model.power import drawn_and_running

    assert drawn_and_running(2.0, 1.0) == (1.0, 0.5)
    assert drawn_and_running(1.0, 3.0) == (1.0, 1.0)
    assert drawn_and_running(0.0, 3.0) == (0.0, 1.0)
