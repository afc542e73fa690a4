"""The supply physics (supply.western_month, supply.china_month) alone and through the full engine.

Cases follow tests/test_engine.py: OFF switches every mechanism off, run_with(**over) runs the 'baseline'
scenario with point overrides (keys use `__` or `.`), and each test compares the model's output with a
closed form computed here from the equation in the docstring of the function under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from computerace.draws import draw
from computerace.model import supply
from computerace.model.events import first_event_time
from computerace.model.stock import GENERATIONS
from engine_cases import BIG, run_with  # everything off, as in tests/test_engine.py

# Western physics: C CoWoS wafers/month x p packages/wafer x h H100e/package, HBM S stacks/year at s per package.
C_W, P_W, H_W, S_W = 1000.0, 20.0, 2.0, 8.0
WEST = {
    "supply.western_model": 1.0,
    "supply.cowos_wafers_per_month": C_W,
    "supply.western_packages_per_cowos_wafer": P_W,
    "supply.western_h100e_per_package": H_W,
    "supply.western_hbm_stacks_per_year": 1e11,  # 1e9 packages/month: never binds
    "supply.western_hbm_stacks_per_package": S_W,
}
# China's chain: W wafers/month x N gross dies, Poisson yield at a constant D0 (start = floor), n dies and
# s stacks per package, h H100e per package; a stockpile that never runs out unless a test says so.
W_C, N_C, A_C, D0_C, DPP, SPP, H_C = 1000.0, 78.0, 665.61, 0.2, 2.0, 8.0, 0.8
CHINA = {
    "channels.domestic_model": 1.0,
    "supply.smic_advanced_wafers_per_month": W_C,
    "supply.china_ai_wafer_share": 1.0,
    "supply.china_gross_dies_per_wafer": N_C,
    "supply.china_die_area_mm2": A_C,
    "supply.china_defects_per_cm2_2025": D0_C,
    "supply.china_defect_floor_per_cm2": D0_C,
    "supply.china_dies_per_package": DPP,
    "supply.china_hbm_stacks_per_package": SPP,
    "supply.china_h100e_per_package": H_C,
    "supply.china_domestic_hbm_stacks_per_year": 0.0,
    "supply.china_hbm_stockpile_stacks": 1e9,
}
PHYSICS = {**WEST, **CHINA, "finance.row_capex_usd_per_year": BIG / 4}  # RoW brings 1/5 of the money: 20%
DIE_PK = W_C * N_C * np.exp(-A_C / 100 * D0_C) / DPP  # domestic packages/month the dies allow

MONTHLY = ("stock_h100e", "china_stock_h100e", "operational_h100e", "power_gw")


def month_index(ds, year: int, month: int = 1) -> int:
    return int(np.flatnonzero(ds["month"].values == np.datetime64(f"{year}-{month:02d}-01"))[0])


def chain(ds, step: str) -> np.ndarray:
    return ds["china_supply_chain"].sel(step=step).values.astype(np.float64)


# ----------------------------------------------------------------------------------------------- 1. direct calls

def test_western_month_is_min_of_cowos_and_hbm_packages_times_h100e():
    # H = min(C p, S / s) h; binding HBM when S / s < C p, else PACKAGING (ties count as packaging).
    c = np.array([100.0, 100.0, 100.0, 0.0])
    p = np.array([2.0, 2.0, 2.0, 2.0])
    h = np.array([1.5, 1.5, 3.0, 1.5])
    stacks = np.array([1000.0, 800.0, 100.0, 100.0])
    s = np.array([4.0, 4.0, 4.0, 4.0])
    wm = supply.western_month(c, p, h, stacks, s)
    np.testing.assert_allclose(wm.cowos_packages, c * p, rtol=1e-15)
    np.testing.assert_allclose(wm.hbm_packages, stacks / s, rtol=1e-15)
    np.testing.assert_allclose(wm.h100e, np.minimum(c * p, stacks / s) * h, rtol=1e-15)
    np.testing.assert_allclose(wm.h100e, [300.0, 300.0, 75.0, 0.0], rtol=1e-15)
    assert wm.binding.dtype == np.int8
    np.testing.assert_array_equal(wm.binding, [supply.PACKAGING, supply.PACKAGING, supply.HBM, supply.PACKAGING])


def _china_expected(w, n_gross, area, d0, floor, n, s, stock, new, banned, backlog, cap):
    """The docstring of supply.china_month, written out: domestic D and proxy P share M = min(D + P, H, C)."""
    gross = w * n_gross
    good = gross * np.exp(-area / 100 * d0)
    d = good / n
    p = backlog / n
    have = np.where(banned, stock + new, np.inf)
    h = have / s
    made = np.minimum(d + p, np.minimum(h, cap))
    f = d / (d + p)  # domestic share (every case here has d + p > 0)
    packages, proxy = d * made / (d + p), p * made / (d + p)
    carried = np.where(banned, have - made * s, stock)
    return gross, good, d, h * f, cap * f, packages, proxy, carried, backlog - proxy * n


def test_china_month_follows_its_equations_binding_codes_and_conserves_stacks_and_dies():
    # 100 mm2 at D0 0.5/cm2: Y = exp(-0.5); 1000 wafers x 50 dies, 2 dies/package: D = 15,163 die packages.
    # Mature D0 0.1: 22,621 packages. Cases (one per sample):
    #   0 WAFERS   caps at 1e6 > mature;              1 YIELD  packaging 20k between D and mature packages;
    #   2 HBM      banned, 40k + 8k stacks / 4 = 12k; 3 PACKAGING 10k, ample HBM;
    #   4 6000 proxy dies (P = 3000) share 40k / 4 = 10k HBM packages pro rata: domestic 10k D / (D + P) (HBM);
    #   5 before the ban: a zero stockpile does not cap (HBM packages inf), the stockpile stays untouched;
    #   6 the same proxy dies share a packaging cap of 2000: domestic 2000 D / (D + P), PACKAGING.
    k = 7
    w = np.full(k, 1000.0)
    n_gross = np.full(k, 50.0)
    area = np.full(k, 100.0)
    d0 = np.full(k, 0.5)
    floor = np.full(k, 0.1)
    n = np.full(k, 2.0)
    s = np.full(k, 4.0)
    stock = np.array([1e9, 1e9, 40e3, 1e9, 40e3, 0.0, 1e9])
    new = np.array([0.0, 0.0, 8e3, 0.0, 0.0, 5e3, 0.0])
    banned = np.array([True, True, True, True, True, False, True])
    backlog = np.array([0.0, 0.0, 0.0, 0.0, 6000.0, 1000.0, 6000.0])
    cap = np.array([1e6, 20e3, 1e6, 10e3, 1e6, 1e6, 2000.0])
    args = (w, n_gross, area, d0, floor, n, s, stock, new, banned, backlog, cap)
    cm = supply.china_month(*args)
    exp = _china_expected(*args)
    got = (cm.gross_dies, cm.good_dies, cm.die_packages, cm.hbm_packages, cm.packaging_packages, cm.packages,
           cm.proxy_packages, cm.hbm_stockpile, cm.proxy_backlog)
    for name, g, e in zip(("gross", "good", "die_pk", "hbm_pk", "pack_pk", "packages", "proxy", "stockpile",
                           "backlog"), got, exp, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-9, err_msg=name)
    d = 1000 * 50 * np.exp(-0.5) / 2
    assert cm.die_packages[0] == pytest.approx(d, rel=1e-12)
    np.testing.assert_allclose(cm.packages, [d, d, 12e3, 10e3, 10e3 * d / (d + 3000), d, 2000 * d / (d + 3000)],
                               rtol=1e-12)
    np.testing.assert_allclose(cm.proxy_packages, [0, 0, 0, 0, 10e3 * 3000 / (d + 3000), 500,
                                                   2000 * 3000 / (d + 3000)], rtol=1e-12, atol=1e-12)
    # domestic packages = min(D, H f, C f), the three reported caps
    np.testing.assert_allclose(cm.packages, np.minimum(cm.die_packages, np.minimum(cm.hbm_packages,
                                                                                   cm.packaging_packages)),
                               rtol=1e-12)
    assert np.isinf(cm.hbm_packages[5])
    assert cm.binding.dtype == np.int8
    np.testing.assert_array_equal(cm.binding, [supply.WAFERS, supply.YIELD, supply.HBM, supply.PACKAGING,
                                               supply.HBM, supply.WAFERS, supply.PACKAGING])
    # the YIELD rule: dies bind, and mature-yield dies would exceed the next cap (20k) in case 1, not in case 0
    mature = 1000 * 50 * np.exp(-0.1) / 2
    assert d < 20e3 < mature < 1e6
    # conservation after the ban: stockpile + new = stacks used + carried; before it the stockpile is untouched
    used = (cm.packages + cm.proxy_packages) * s
    np.testing.assert_allclose((stock + new)[banned], (used + cm.hbm_stockpile)[banned], rtol=1e-12)
    assert cm.hbm_stockpile[2] == pytest.approx(0.0, abs=1e-9) and cm.hbm_stockpile[4] == pytest.approx(0.0, abs=1e-9)
    assert cm.hbm_stockpile[5] == 0.0
    # proxy dies: backlog in = packaged x n + backlog out
    np.testing.assert_allclose(backlog, cm.proxy_packages * n + cm.proxy_backlog, rtol=1e-12)
    assert cm.proxy_backlog[5] == pytest.approx(0.0, abs=1e-9)
    assert cm.proxy_backlog[6] == pytest.approx(6000 - 2 * 2000 * 3000 / (d + 3000), rel=1e-12)


# ----------------------------------------------------------------------------------------------- 2-3. Western engine

def test_western_physics_packaging_bound_additions_and_code():
    # Ample HBM: supply short, so the market shares it by money: US additions per year = 12 x C x p x h x u with
    # u = the US's share of the money (budgets BIG and BIG (1 - u) / u), RoW the rest; binding PACKAGING.
    u = 0.8
    r = run_with(**WEST, finance__row_capex_usd_per_year=BIG * (1 - u) / u)
    ds = r.dataset
    us = ds["additions_h100e"].sel(actor="US").values
    row = ds["additions_h100e"].sel(actor="RoW").values
    np.testing.assert_allclose(us, 12 * C_W * P_W * H_W * u, rtol=1e-6)
    np.testing.assert_allclose(row, 12 * C_W * P_W * H_W * (1 - u), rtol=1e-6)
    assert np.all(ds["binding_constraint"].sel(actor="US").values == supply.PACKAGING)
    assert np.all(ds["binding_constraint"].sel(actor="RoW").values == supply.PACKAGING)


def test_western_physics_hbm_bound_additions_and_code():
    # HBM short: S = 960k stacks/year at 8 per package = 10k packages/month < C p = 20k.
    # US additions per year = 12 x (S / 12) / s x h x u (u its share of the money); binding HBM.
    u, stacks = 0.8, 960e3
    r = run_with(**{**WEST, "supply.western_hbm_stacks_per_year": stacks}, finance__row_capex_usd_per_year=BIG * (1 - u) / u)
    ds = r.dataset
    assert stacks / 12 / S_W < C_W * P_W
    np.testing.assert_allclose(ds["additions_h100e"].sel(actor="US").values, 12 * (stacks / 12) / S_W * H_W * u,
                               rtol=1e-6)
    assert np.all(ds["binding_constraint"].sel(actor="US").values == supply.HBM)


def test_tiny_budget_binds_as_budget():
    # $1M a year buys far less than the supply offered: the US gets all it can pay for at the list price, and the
    # rest of the output is unsold (RoW brings no money)
    r = run_with(**WEST, finance__us_capex_usd_per_year=1e6)
    ds = r.dataset
    assert np.all(ds["binding_constraint"].sel(actor="US").values == supply.BUDGET)
    assert np.all(ds["unsold_h100e"].sel(supplier="Western").values > 0)
    assert np.all(ds["additions_h100e"].sel(actor="US").values < 12 * C_W * P_W * H_W)  # less than offered


def test_tiny_power_binds_as_power():
    # 1e-6 GW (1 kW) cannot power even one month of 20k packages: power limits what the US buys every month,
    # and RoW (its power ample) is offered the rest, so RoW is bound by the packaging supply.
    r = run_with(**WEST, power__us_available_2022_gw=1e-6, finance__row_capex_usd_per_year=BIG)
    ds = r.dataset
    assert np.all(ds["binding_constraint"].sel(actor="US").values == supply.POWER)
    assert np.all(ds["binding_constraint"].sel(actor="RoW").values == supply.PACKAGING)
    assert np.all(ds["power_gw"].sel(actor="US").values <= 1e-6 * (1 + 1e-5))
    assert np.all(ds["unpowered_h100e"].sel(actor="US").values > 0)


# ----------------------------------------------------------------------------------------------- 4. China chain

def test_china_supply_chain_steps_follow_the_chain():
    # Per calendar year: wafers = 12 W; gross = 12 W N; good = gross exp(-A D0 / 100) (A mm2, D0 per cm2);
    # die packages = good / n; packages = min(die, HBM, packaging) packages; h100e = packages x h.
    r = run_with(**CHINA)
    ds = r.dataset
    good = 12 * W_C * N_C * np.exp(-A_C / 100 * D0_C)
    np.testing.assert_allclose(chain(ds, "wafers"), 12 * W_C, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "gross_dies"), 12 * W_C * N_C, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "good_dies"), good, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "die_packages"), good / DPP, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "packaging_packages"), 12 * 1e9, rtol=1e-6)
    three = np.minimum(np.minimum(chain(ds, "die_packages"), chain(ds, "hbm_packages")),
                       chain(ds, "packaging_packages"))
    np.testing.assert_allclose(chain(ds, "packages"), three, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "h100e"), chain(ds, "packages") * H_C, rtol=1e-6)
    dom = ds["china_additions_h100e"].sel(channel="domestic").values
    np.testing.assert_allclose(dom, good / DPP * H_C, rtol=1e-6)
    assert set(np.unique(ds["binding_constraint"].sel(actor="China").values)) <= {supply.WAFERS, supply.YIELD}


def test_china_hbm_cap_binds_when_the_stockpile_is_short_after_the_ban():
    # Banned from the start, no stockpile, 480k domestic stacks/year at 8 per package: 5000 packages/month,
    # below the 10,300 the dies allow. packages = hbm_packages = 12 x 5000 per year, binding HBM.
    hbm = 12 * SPP * 5000.0
    r = run_with(**{**CHINA, "supply.china_hbm_stockpile_stacks": 0.0,
                    "supply.china_domestic_hbm_stacks_per_year": hbm}, events__hbm_ban_year=2022.0)
    ds = r.dataset
    assert hbm / 12 / SPP < DIE_PK
    np.testing.assert_allclose(chain(ds, "hbm_packages"), hbm / SPP, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "packages"), hbm / SPP, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "h100e"), hbm / SPP * H_C, rtol=1e-6)
    assert np.all(ds["binding_constraint"].sel(actor="China").values == supply.HBM)


# ----------------------------------------------------------------------------------------------- 5-6. events

def _assert_same_before_and_different_after(a, b, first_changed: np.ndarray, changed: tuple) -> None:
    """Every monthly output equal in months < first_changed[sample]; the named outputs differ from it on."""
    for k in MONTHLY:
        x, y = a.dataset[k].values, b.dataset[k].values
        for i, m in enumerate(first_changed):
            assert np.array_equal(x[i, :m], y[i, :m]), (k, i, m)
    for k, sel in changed:
        x, y = a.dataset[k].sel(**sel).values, b.dataset[k].sel(**sel).values
        for i, m in enumerate(first_changed):
            assert np.all(x[i, m:] != y[i, m:]), (k, sel, i, m)


def test_taiwan_disruption_changes_nothing_before_its_month():
    common = {**PHYSICS, "channels.legal_import_allowed": 1.0, "channels.proxy_die_bank_dies": 2e6,
              "channels.proxy_drawdown_start": 2024.0, "channels.proxy_drawdown_months": 180.0,
              "events.hazard_start": 2030.0, "events.taiwan_severity": 0.5, "events.taiwan_duration_months": 12.0}
    base = run_with(**common)
    ev = run_with(**common, events__taiwan_hazard_per_year=0.999999)
    tau = ev.dataset["taiwan_event_year"].values
    assert np.all(np.isinf(base.dataset["taiwan_event_year"].values))
    assert np.all((tau >= 2030.0) & (tau < 2031.0))
    first = np.floor((tau - 2022.0) * 12 + 1e-9).astype(int)  # the month the event falls in
    assert np.all(first >= month_index(ev.dataset, 2030))
    _assert_same_before_and_different_after(
        base, ev, first,
        changed=(("stock_h100e", {"actor": "US"}), ("stock_h100e", {"actor": "China"}),
                 ("power_gw", {"actor": "US"}), ("operational_h100e", {"actor": "RoW"}),
                 ("china_stock_h100e", {"channel": "legal_import"})))


def test_export_control_shift_changes_nothing_before_its_month():
    common = {**PHYSICS, "channels.legal_import_allowed": 1.0,
              "events.controls_shift_start": 2029.0, "events.controls_shift_allowed": 0.2}
    base = run_with(**common)
    ev = run_with(**common, events__controls_shift_hazard_per_year=0.999999)
    # the shift's date is not an output: redraw it from the same event uniforms (common random numbers)
    d = draw(ev.scenario, 4, 0)
    tau = first_event_time(d.events["controls"], d.get("events.controls_shift_hazard_per_year"),
                           d.get("events.controls_shift_start"))
    assert np.all((tau >= 2029.0) & (tau < 2030.0))
    t = d.t_years
    first = np.searchsorted(t, tau, side="left")  # a'(t) = level from the first month with t >= tau
    _assert_same_before_and_different_after(
        base, ev, first,
        changed=(("stock_h100e", {"actor": "US"}), ("power_gw", {"actor": "China"}),
                 ("china_stock_h100e", {"channel": "legal_import"})))
    # the supply-bound market shares output by money: US BIG, RoW BIG / 4, China a' x its budget (BIG, less the
    # little it spends on domestic chips). Before the shift China's share is 1 / 2.25, after it 0.2 / 1.45.
    leg_b = base.dataset["china_additions_h100e"].sel(channel="legal_import", year=2035).values
    leg_e = ev.dataset["china_additions_h100e"].sel(channel="legal_import", year=2035).values
    np.testing.assert_allclose(leg_e, leg_b * (0.2 / 1.45) * 2.25, rtol=5e-3)


def test_euv_breakthrough_changes_nothing_before_its_month():
    # f(t) = 1 + (M - 1) clip((t - 2030) / ramp, 0, 1) = 1 through January 2030: changes start in February.
    common = {**PHYSICS, "events.euv_output_multiplier": 3.0, "events.euv_ramp_years": 2.0}
    base = run_with(**common)
    ev = run_with(**common, events__euv_year=2030.0)
    first = np.full(4, month_index(ev.dataset, 2030, 2))
    _assert_same_before_and_different_after(
        base, ev, first,
        changed=(("stock_h100e", {"actor": "China"}), ("power_gw", {"actor": "China"}),
                 ("china_stock_h100e", {"channel": "domestic"})))
    assert np.array_equal(base.dataset["stock_h100e"].sel(actor="US").values,
                          ev.dataset["stock_h100e"].sel(actor="US").values)  # Western supply is untouched
    # fully ramped (2033 on): wafers x sqrt(3) and H100e/package x sqrt(3), D0 at its floor (= D0 here): x 3
    dom_b = base.dataset["china_additions_h100e"].sel(channel="domestic", year=2035).values
    dom_e = ev.dataset["china_additions_h100e"].sel(channel="domestic", year=2035).values
    np.testing.assert_allclose(dom_e, 3.0 * dom_b, rtol=1e-5)


def test_zero_severity_taiwan_event_is_bit_identical_to_no_event():
    common = {**PHYSICS, "channels.legal_import_allowed": 1.0, "smuggling.route_capacity_chips_per_year": 1e5,
              "channels.proxy_die_bank_dies": 2e6, "channels.proxy_drawdown_start": 2024.0,
              "channels.proxy_drawdown_months": 180.0, "events.hazard_start": 2030.0,
              "events.taiwan_duration_months": 24.0}
    base = run_with(**common)
    zero = run_with(**common, events__taiwan_hazard_per_year=0.999999, events__taiwan_severity=0.0)
    half = run_with(**common, events__taiwan_hazard_per_year=0.999999, events__taiwan_severity=0.5)
    assert np.all(np.isfinite(zero.dataset["taiwan_event_year"].values))
    skip = {"taiwan_event_year", "parameter_quantile"}
    names = [k for k in base.dataset.data_vars if k not in skip]
    assert "china_supply_chain" in names and "binding_constraint" in names
    for k in names:
        assert np.array_equal(base.dataset[k].values, zero.dataset[k].values), k
    # the same comparison can fail: a real disruption changes outputs
    assert not np.array_equal(base.dataset["stock_h100e"].values, half.dataset["stock_h100e"].values)


# ----------------------------------------------------------------------------------------------- 7. generations

def test_generation_stock_sums_to_the_total_stock_at_each_year_end():
    r = run_with(**PHYSICS, channels__legal_import_allowed=1.0, stock__useful_life_years=4.0,
                 stock__initial_world_h100e=1e6, channels__proxy_die_bank_dies=2e6,
                 channels__proxy_drawdown_start=2024.0, channels__proxy_drawdown_months=36.0)
    ds = r.dataset
    ends = [month_index(ds, int(y), 12) for y in ds["year"].values]
    total = ds["stock_h100e"].values[:, ends, :].astype(np.float64)  # [sample, year, actor]
    by_gen = ds["stock_by_generation_h100e"].values.astype(np.float64).sum(axis=-1)
    assert total.min() > 0
    np.testing.assert_allclose(by_gen, total, rtol=1e-5)
    # power is ample: power drawn = power needed, which the generations also split
    gw = ds["power_gw"].values[:, ends, :].astype(np.float64)
    np.testing.assert_allclose(ds["power_by_generation_gw"].values.astype(np.float64).sum(axis=-1), gw, rtol=1e-5)
    # the initial stock, in the first generation, retires linearly over 4 years: gone by the end of 2025
    first = ds["stock_by_generation_h100e"].sel(generation=GENERATIONS[0])
    assert np.all(first.sel(year=2026).values == 0.0) and np.all(first.sel(year=2022).values > 0)


def test_a_2025_cohort_sits_in_its_generation_until_it_retires():
    # Proxy dies delivered evenly over 2025 (growth form: B x 780/989.4 / n H100e in all), life 2.5 years = 30
    # months: a cohort of month c counts in months c .. c + 29. End 2025 and 2026: all of it; end 2027 (month 71):
    # the cohorts of Jul-Dec 2025 (c >= 42): half; end 2028: none. Only generation "2025-2026" ever holds it.
    bank = 1.2e6
    r = run_with(channels__proxy_die_bank_dies=bank, channels__proxy_drawdown_start=2025.0,
                 channels__proxy_drawdown_months=12.0, supply__china_dies_per_package=DPP,
                 stock__useful_life_years=2.5)
    ds = r.dataset
    h = bank * supply.PROXY_H100E_PER_PACKAGE / DPP
    g = ds["stock_by_generation_h100e"].sel(actor="China").values.astype(np.float64)  # [sample, year, gen]
    years = list(ds["year"].values)
    j = GENERATIONS.index("2025-2026")
    expected = {2024: 0.0, 2025: h, 2026: h, 2027: h / 2, 2028: 0.0, 2040: 0.0}
    for y, v in expected.items():
        np.testing.assert_allclose(g[:, years.index(y), j], v, rtol=1e-5, atol=1e-6 * h, err_msg=str(y))
    others = np.delete(g, j, axis=-1)
    np.testing.assert_allclose(others, 0.0, atol=1e-6 * h)
    total = ds["stock_h100e"].sel(actor="China").values.astype(np.float64)
    ends = [month_index(ds, int(y), 12) for y in years]
    np.testing.assert_allclose(g.sum(axis=-1), total[:, ends], rtol=1e-5, atol=1e-6 * h)


# ----------------------------------------------------------------------------------------------- 8. HBM ban

def test_hbm_ban_no_cap_before_it_and_the_stockpile_runs_down_after():
    # Ban from 2027-01. Zero stockpile: before the ban packages = die_packages (HBM packages inf), after it 0.
    over = {**CHINA, "supply.china_hbm_stockpile_stacks": 0.0, "events.hbm_ban_year": 2027.0}
    ds = run_with(**over).dataset
    years = ds["year"].values
    pre, post = years < 2027, years >= 2027
    die = chain(ds, "die_packages")
    np.testing.assert_allclose(die, 12 * DIE_PK, rtol=1e-6)
    np.testing.assert_allclose(chain(ds, "packages")[:, pre], die[:, pre], rtol=1e-7)
    assert np.all(np.isinf(chain(ds, "hbm_packages")[:, pre]))
    np.testing.assert_allclose(chain(ds, "packages")[:, post], 0.0, atol=0.0)
    assert np.all(ds["binding_constraint"].sel(actor="China").values[:, post] == supply.HBM)
    assert not np.any(ds["binding_constraint"].sel(actor="China").values[:, pre] == supply.HBM)
    # A stockpile of 18 months of packages: 2027 at 12 x P, 2028 at 6 x P, then none; in all S / s after the ban.
    stock = 18 * DIE_PK * SPP
    ds = run_with(**{**over, "supply.china_hbm_stockpile_stacks": stock}).dataset
    pk = chain(ds, "packages")
    yl = list(years)
    np.testing.assert_allclose(pk[:, yl.index(2026)], 12 * DIE_PK, rtol=1e-6)
    np.testing.assert_allclose(pk[:, yl.index(2027)], 12 * DIE_PK, rtol=1e-6)
    np.testing.assert_allclose(pk[:, yl.index(2028)], 6 * DIE_PK, rtol=1e-6)
    np.testing.assert_allclose(pk[:, yl.index(2029):], 0.0, atol=1e-6 * DIE_PK)
    np.testing.assert_allclose(pk[:, post].sum(axis=1), stock / SPP, rtol=1e-6)
    # A leak L stacks/year counts only after the ban: then packages = L / s per year (below the die cap).
    leak = 12 * SPP * 3000.0
    ds = run_with(**{**over, "supply.china_hbm_leak_stacks_per_year": leak}).dataset
    pk = chain(ds, "packages")
    np.testing.assert_allclose(pk[:, pre], 12 * DIE_PK, rtol=1e-6)
    np.testing.assert_allclose(pk[:, post], leak / SPP, rtol=1e-6)


def test_hbm_ban_ending_lifts_the_cap_again():
    # Ban from 2027-01 to 2031-01 with no stockpile: packages = die packages before 2027 and from 2031 on, 0 between.
    over = {**CHINA, "supply.china_hbm_stockpile_stacks": 0.0, "events.hbm_ban_year": 2027.0,
            "events.hbm_ban_end_year": 2031.0}
    ds = run_with(**over).dataset
    years = ds["year"].values
    during = (years >= 2027) & (years < 2031)
    pk = chain(ds, "packages")
    np.testing.assert_allclose(pk[:, ~during], 12 * DIE_PK, rtol=1e-6)
    np.testing.assert_allclose(pk[:, during], 0.0, atol=0.0)
    assert np.all(np.isinf(chain(ds, "hbm_packages")[:, ~during]))
