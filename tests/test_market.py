"""Supply meets demand: the market's rationing rule, China's choice, licensed parts, smuggling and power.

Closed forms for each mechanism, first on the pure functions (model/market.py, model/choice.py,
model/smuggling.py, model/imports.py), then through the full model with every other mechanism off.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computerace.model import choice, imports, market, smuggling
from engine_cases import run_with


def clear(w, demand, weight):
    bought, unsold = market.clear(np.array([w], float), {k: np.array([v], float) for k, v in demand.items()},
                                  {k: np.array([v], float) for k, v in weight.items()})
    return {k: float(v[0]) for k, v in bought.items()}, float(unsold[0])


# ----------------------------------------------------------------------------------- the rationing rule
def test_supply_bound_every_buyer_gets_its_weighted_share():
    got, unsold = clear(100.0, {"US": 200.0, "RoW": 100.0}, {"US": 0.8, "RoW": 0.2})
    assert got == pytest.approx({"US": 80.0, "RoW": 20.0}) and unsold == 0.0


def test_one_budget_bound_buyer_leaves_its_share_to_the_others():
    # the US wants only 50 of its 80: RoW is offered the 30 left over and takes 50 in all
    got, unsold = clear(100.0, {"US": 50.0, "RoW": 100.0}, {"US": 0.8, "RoW": 0.2})
    assert got == pytest.approx({"US": 50.0, "RoW": 50.0}) and unsold == 0.0


def test_all_budget_bound_buyers_get_their_demand_and_the_rest_is_unsold():
    got, unsold = clear(100.0, {"US": 30.0, "RoW": 20.0, "China": 10.0}, {"US": 0.7, "RoW": 0.2, "China": 0.1})
    assert got == pytest.approx({"US": 30.0, "RoW": 20.0, "China": 10.0}) and unsold == pytest.approx(40.0)


def test_a_buyer_excluded_by_controls_gets_nothing_and_its_share_goes_to_the_others():
    got, unsold = clear(100.0, {"US": 200.0, "RoW": 200.0, "China": 500.0}, {"US": 0.6, "RoW": 0.4, "China": 0.0})
    assert got == pytest.approx({"US": 60.0, "RoW": 40.0, "China": 0.0}) and unsold == 0.0


# allocation weights: zero (excluded from the weighted round) or a normal number (the model's are >= ~1e-4)
WEIGHT = st.one_of(st.just(0.0), st.floats(1e-6, 1.0))


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1e6), st.lists(st.tuples(st.floats(0, 1e6), st.floats(0.01, 10)), min_size=1, max_size=6))
def test_fill_is_the_water_filling_solution(total, options):
    caps = np.array([[c] for c, _ in options])
    w = np.array([[x] for _, x in options])
    x = market.fill(np.array([total]), caps, w)[:, 0]
    # closed form: x_k = min(cap_k, lam w_k) with sum = min(total, sum caps); lam found by bisection
    target = min(total, caps.sum())
    lo, hi = 0.0, (caps[:, 0] / w[:, 0]).max() + 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(caps[:, 0], mid * w[:, 0]).sum() < target else (lo, mid)
    expected = np.minimum(caps[:, 0], hi * w[:, 0])
    np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-6 * max(1.0, total))
    assert x.sum() == pytest.approx(target, rel=1e-9, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6), WEIGHT, WEIGHT)
def test_two_buyer_closed_form_is_the_general_rule(w, d_a, d_b, w_a, w_b):
    x_a, x_b = market.two_buyers(*(np.array([v]) for v in (w, d_a, d_b, w_a, w_b)))
    caps, wt = np.array([[d_a], [d_b]]), np.array([[w_a], [w_b]])
    x = market.fill(np.array([w]), caps, wt)  # weighted, then leftovers to zero-weight buyers
    x += market.fill(np.maximum(w - x.sum(axis=0), 0.0), caps - x, np.where(wt > 0, 0.0, 1.0))
    np.testing.assert_allclose([x_a[0], x_b[0]], x[:, 0], rtol=1e-9, atol=1e-6)


# -------------------------------------------------------------------------------------- China chooses
def split(budget, offer, price, pref=None, beta=1.0):
    pref = pref or {}
    w = {k: choice.logit_weight(np.array([p]), np.array([beta]), pref.get(k, 1.0)) for k, p in price.items()}
    out = choice.split_budget(np.array([budget]), {k: np.array([v]) for k, v in offer.items()},
                              {k: np.array([v]) for k, v in price.items()}, w)
    return {k: float(v[0]) for k, v in out.items()}


def test_choice_splits_quantities_by_the_logit_weights_when_no_offer_binds():
    # w = p^-beta x pref: domestic (p 2, pref 3) vs import (p 1): (2^-2 x 3) : 1 = 0.75 : 1 in H100e; the
    # budget 2 x 0.75 q + 1 x q = 1000 gives q = 400 imports and 300 domestic
    x = split(1000.0, {"domestic": 1e9, "import": 1e9}, {"domestic": 2.0, "import": 1.0}, {"domestic": 3.0}, beta=2.0)
    assert x["import"] == pytest.approx(400.0) and x["domestic"] == pytest.approx(300.0)


def test_choice_spends_what_a_capped_offer_cannot_absorb_on_the_others():
    x = split(1000.0, {"domestic": 1e9, "import": 100.0}, {"domestic": 2.0, "import": 1.0})
    assert x["import"] == pytest.approx(100.0) and x["domestic"] == pytest.approx(450.0)


def test_choice_takes_every_offer_when_the_budget_exceeds_their_cost():
    x = split(1e9, {"domestic": 10.0, "import": 20.0}, {"domestic": 2.0, "import": 1.0})
    assert x == pytest.approx({"domestic": 10.0, "import": 20.0})


def test_logit_weight_needs_no_common_reference():
    # (p / p_ref)^-beta: the ratio of two options' weights is the same whatever reference price is used
    a, b = choice.logit_weight(np.array([2.0 / 3.0]), np.array([1.7])), choice.logit_weight(np.array([1.0 / 3.0]), 1.7)
    assert a[0] / b[0] == pytest.approx(2.0 ** -1.7)


def test_price_blind_buyers_split_by_preference_alone():
    x = split(300.0, {"a": 1e9, "b": 1e9}, {"a": 1.0, "b": 1.0}, {"a": 2.0}, beta=0.0)
    assert x == pytest.approx({"a": 200.0, "b": 100.0})


# ------------------------------------------------------------------------------- parts and smuggling
def test_licensed_part_offer_is_its_production_times_access_capped_by_the_rule_and_gone_without_controls():
    q = imports.offered_chips(np.array([1000.0, 1000.0, 1000.0]), np.array([1.0, 0.2, 1.0]), 500.0,
                              np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(q, [500.0, 200.0, 0.0])


def test_part_h100e_per_chip_comes_from_the_catalog():
    spec = imports.part_specs()
    assert spec["h20"][0] == pytest.approx(148 / 989.4, rel=1e-3)  # 148 dense BF16 TFLOP/s
    assert spec["h800"][0] == pytest.approx(989 / 989.4, rel=1e-3)
    assert spec["h20"][1] == pytest.approx((400 / (148 / 989.4)) / 700, rel=1e-3)  # W per H100e vs an H100


def test_model_smuggling_and_parts_never_exceed_western_output():
    # routes that could move 10x the Western output deliver at most that output
    r = run_with(**PRICE, **{"channels__legal_import_allowed": 0.0, "smuggling__route_capacity_chips_per_year": 1e7,
                             "supply__western_production_2022_h100e_per_month": 1e4})
    np.testing.assert_allclose(yearly(r, "china_additions_h100e", channel="smuggled", year=2030), 12 * 1e4, rtol=1e-6)
    assert (yearly(r, "additions_h100e", actor="US", year=2030) == 0).all()


def test_smuggling_route_offer_closed_form():
    q = smuggling.route_offer_h100e(np.array([120_000.0]), np.array([0.25]), np.array([0.5]), np.array([0.2]),
                                    np.array([2.27]))
    assert q[0] == pytest.approx(120_000 / 12 * 0.75 * 0.5 * 0.8 * 2.27)


# ------------------------------------------------------------------------------ through the full model
PRICE = {"finance__price_2024_usd_per_h100e": 20_000.0, "finance__price_decline_per_year": 1.0,
         "finance__compute_share": 1.0}


def yearly(r, var, **sel):
    return r.dataset[var].sel(**sel).values.astype(np.float64)


def test_model_market_budget_bound_us_leaves_output_to_row_and_all_bound_leaves_unsold():
    w = 1e5  # H100e/month at $20k
    us_budget = 12 * 20_000.0 * 30_000  # buys 30k H100e a month
    r = run_with(**PRICE, **{"supply__western_production_2022_h100e_per_month": w,
                             "finance__us_capex_usd_per_year": us_budget, "finance__row_capex_usd_per_year": 1e13})
    # RoW's money would buy far more than the output: supply is short and shared by money, so the US gets
    # x = lambda b_US with lambda = W / (b_US + b_RoW), and pays the clearing price b / x
    b_us, b_row = us_budget / 12, 1e13 / 12
    us = yearly(r, "additions_h100e", actor="US", year=2023)
    np.testing.assert_allclose(us, 12 * w * b_us / (b_us + b_row), rtol=1e-6)
    np.testing.assert_allclose(us + yearly(r, "additions_h100e", actor="RoW", year=2023), 12 * w, rtol=1e-6)
    np.testing.assert_allclose(yearly(r, "spend_usd", actor="US", year=2023), us_budget, rtol=1e-6)
    # RoW with money for only 10k a month: both get what they pay for at the list price, the rest is unsold
    r = run_with(**PRICE, **{"supply__western_production_2022_h100e_per_month": w,
                             "finance__us_capex_usd_per_year": us_budget,
                             "finance__row_capex_usd_per_year": 12 * 20_000.0 * 10_000})
    np.testing.assert_allclose(yearly(r, "additions_h100e", actor="US", year=2023), 12 * 30_000, rtol=1e-6)
    np.testing.assert_allclose(yearly(r, "unsold_h100e", supplier="Western", year=2023), 12 * 60_000, rtol=1e-6)


def test_model_ten_times_the_money_buys_ten_times_the_share_when_supply_is_short():
    w = 1e5
    common = {"supply__western_production_2022_h100e_per_month": w, "channels__legal_import_allowed": 1.0,
              "finance__us_capex_usd_per_year": 1e12}
    one = run_with(**PRICE, **common, finance__china_capex_usd_per_year=1e11)
    ten = run_with(**PRICE, **common, finance__china_capex_usd_per_year=1e12)
    cn1 = yearly(one, "china_additions_h100e", channel="legal_import", year=2023)
    cn10 = yearly(ten, "china_additions_h100e", channel="legal_import", year=2023)
    np.testing.assert_allclose(cn1, 12 * w * 0.1 / 1.1, rtol=1e-6)  # China's share of the money: 1 / 11
    np.testing.assert_allclose(cn10, 12 * w * 0.5, rtol=1e-6)  # equal money, half the output
    closed = run_with(**PRICE, **{**common, "channels__legal_import_allowed": 0.0}, finance__china_capex_usd_per_year=1e12)
    assert (yearly(closed, "china_additions_h100e", channel="legal_import", year=2023) == 0).all()


def test_model_licensed_part_volume_and_its_own_h100e_per_chip():
    # 1,000 H20s a month offered (the rules engine opens the H20 to China for all of 2024); China buys them all
    r = run_with(**PRICE, **{"channels__legal_import_allowed": 0.0, "imports__h20_chips_per_month": 1000.0,
                             "supply__western_production_2022_h100e_per_month": 1e6,  # parts come out of it
                             "channels__conditional_licence_share": 0.0, "imports__h20_price_usd": 12_500.0})
    chips = yearly(r, "china_imports_chips", part="h20", year=2024)
    h = yearly(r, "china_imports_h100e", part="h20", year=2024)
    np.testing.assert_allclose(chips, 12_000, rtol=1e-6)
    np.testing.assert_allclose(h / chips, imports.part_specs()["h20"][0], rtol=1e-6)  # the H20's, not the frontier's
    np.testing.assert_allclose(yearly(r, "china_additions_h100e", channel="legal_import", year=2024), h, rtol=1e-6)
    assert (yearly(r, "china_imports_chips", part="h20", year=2026) == 0).all()  # closed, licences ship nothing
    # what China paid for them: chips x the part's price (the sellers' China revenue, an observation of issue 16)
    np.testing.assert_allclose(yearly(r, "china_imports_usd", part="h20", year=2024), chips * 12_500.0, rtol=1e-5)


def test_model_smuggled_flow_is_route_capacity_times_the_frontier_chip():
    r = run_with(**PRICE, **{"channels__legal_import_allowed": 0.0, "smuggling__route_capacity_chips_per_year": 12_000.0,
                             "supply__western_production_2022_h100e_per_month": 1e6,  # diverted from it
                             "smuggling__enforcement": 0.0})
    chip = r.dataset["best_chip_h100e"].sel(rival="US").values.astype(np.float64)  # [sample, month]
    months = r.dataset["month"].values.astype("datetime64[Y]").astype(int) + 1970
    expected = 1000.0 * chip[:, months == 2024].sum(axis=1)
    np.testing.assert_allclose(yearly(r, "china_additions_h100e", channel="smuggled", year=2024), expected, rtol=1e-5)


# 10k H100e a month offered; constant 1 kW per H100e and 0.05 GW of US power: the US can power 50k H100e
POWER_50K = {**PRICE, "supply__western_production_2022_h100e_per_month": 1e4, "power__watts_per_h100e_2024": 1000.0,
             "power__watts_decline_per_year": 1.0, "power__us_available_2022_gw": 0.05}


def test_model_power_limits_purchases_and_reports_what_it_could_not_take():
    r = run_with(**POWER_50K)
    us = r.dataset["stock_h100e"].sel(actor="US").values.astype(np.float64)
    np.testing.assert_allclose(us[:, 10:], 50_000, rtol=1e-5)  # 10k a month for 5 months, then capped
    np.testing.assert_allclose(r.dataset["operational_h100e"].sel(actor="US").values, us, rtol=1e-6)
    assert (yearly(r, "unpowered_h100e", actor="US", year=2025) > 0).all()
    np.testing.assert_allclose(yearly(r, "unsold_h100e", supplier="Western", year=2025), 12 * 1e4, rtol=1e-6)


def test_model_us_places_chips_abroad_where_power_is():
    r = run_with(**POWER_50K, power__us_abroad_share=1.0)
    us = r.dataset["stock_h100e"].sel(actor="US").values.astype(np.float64)
    abroad = r.dataset["us_abroad_h100e"].values.astype(np.float64)
    t = np.arange(us.shape[1])
    np.testing.assert_allclose(us, np.broadcast_to(1e4 * (t + 1), us.shape), rtol=1e-6)  # RoW's power takes the rest
    np.testing.assert_allclose(abroad, np.broadcast_to(np.maximum(1e4 * (t + 1) - 50_000, 0), us.shape), rtol=1e-6,
                               atol=1e-3)
    gw = r.dataset["power_gw"]
    np.testing.assert_allclose(gw.sel(actor="US").values[:, -1], 0.05, rtol=1e-6)  # US sites full
    np.testing.assert_allclose(gw.sel(actor="RoW").values[:, -1], abroad[:, -1] * 1e-6, rtol=1e-5)



def test_market_results_do_not_depend_on_chunk_size_when_china_buys_frontier_parts():
    # the two-buyer closed form or the general kernel is chosen per sample, never per chunk
    import xarray as xr

    import computerace as cr

    a = cr.run("no-export-controls", samples=60, seed=3)
    b = cr.run("no-export-controls", samples=60, seed=3, chunk=7)
    xr.testing.assert_equal(a.dataset, b.dataset)


def test_model_power_freed_by_retirement_is_bought_again():
    # 0.05 GW at 1 kW per H100e powers 50,000 H100e; chips live 12 months. The US fills its power in the first
    # five months, then buys exactly what retires: 50,000 H100e a year, and the stock stays at 50,000.
    r = run_with(**POWER_50K, stock__useful_life_years=1.0)
    us = r.dataset["stock_h100e"].sel(actor="US").values.astype(np.float64)
    np.testing.assert_allclose(us[:, 4:], 50_000, rtol=1e-5)
    adds = r.dataset["additions_h100e"].sel(actor="US").values.astype(np.float64)
    np.testing.assert_allclose(adds, 50_000, rtol=1e-5)


def test_a_scenario_can_allow_a_b30a_class_part_that_the_enacted_rules_keep_closed():
    # the rules engine keeps the B30A closed; imports.b30a_allowed_from opens it from that date on
    common = {**PRICE, "channels__legal_import_allowed": 0.0, "imports__b30a_chips_per_month": 1000.0,
              "supply__western_production_2022_h100e_per_month": 1e6}
    closed = run_with(**common)
    opened = run_with(**common, imports__b30a_allowed_from=2027.0)
    assert (yearly(closed, "china_imports_chips", part="b30a", year=2028) == 0).all()
    np.testing.assert_allclose(yearly(opened, "china_imports_chips", part="b30a", year=2026), 0)
    np.testing.assert_allclose(yearly(opened, "china_imports_chips", part="b30a", year=2028), 12_000, rtol=1e-6)
    h = yearly(opened, "china_imports_h100e", part="b30a", year=2028)
    np.testing.assert_allclose(h / 12_000, 1125 / 989.4, rtol=1e-6)  # half a B300's dense BF16


def test_power_headroom_closed_form():
    from computerace.model import power

    # 10 GW available, 6 GW of cohorts in service, 2 GW of initial stock with L = 4 months, month 1: half retired
    r = power.headroom_gw(np.array([10.0]), np.array([6.0]), np.array([2.0]), 1, np.array([4]))
    assert r[0] == pytest.approx(10 - 6 - 2 * 0.5)
    assert power.headroom_gw(np.array([5.0]), np.array([6.0]), np.array([0.0]), 0, np.array([4]))[0] == 0.0
    assert power.in_service_next(np.array([6.0]), np.array([1.0]), np.array([0.5]))[0] == pytest.approx(6.5)


def test_capex_is_recorded_beside_what_was_spent_on_accelerators():
    # a constant $1.2B a year of capex; the accelerator budget is compute_share (1 in PRICE) of it
    r = run_with(**PRICE, **{"supply__western_production_2022_h100e_per_month": 1e6,
                             "finance__us_capex_usd_per_year": 1.2e9,
                             "stock__initial_world_h100e": 1e6})  # China holds some stock: finite US:China ratios
    capex = yearly(r, "capex_usd", actor="US", year=2024)
    np.testing.assert_allclose(capex, 1.2e9, rtol=1e-6)
    np.testing.assert_allclose(yearly(r, "spend_usd", actor="US", year=2024), 1.2e9, rtol=1e-6)  # budget-bound
    assert r.summary()["metrics"]["capex_usd"]["US"]["2024"]["p50"] == pytest.approx(1.2e9, rel=1e-6)


def test_china_powers_what_it_buys_outright_first_then_its_frontier_orders():
    # 0.05 GW at 1 kW per H100e: room for 50k H100e. Month 0: the 1,000 domestic H100e on offer are bought and
    # powered; the frontier orders (any part of a large budget) get the power left, 49k. Nothing fits afterwards.
    r = run_with(**PRICE, **{"supply__western_production_2022_h100e_per_month": 1e5,
                             "channels__legal_import_allowed": 1.0, "finance__us_capex_usd_per_year": 0.0,
                             "channels__domestic_2022_h100e_per_month": 1000.0,
                             "power__domestic_watts_multiplier": 1.0, "power__watts_per_h100e_2024": 1000.0,
                             "power__watts_decline_per_year": 1.0, "power__china_available_2022_gw": 0.05})
    cs = r.dataset["china_stock_h100e"]
    np.testing.assert_allclose(cs.sel(channel="domestic").values[:, -1], 1000.0, rtol=1e-6)
    np.testing.assert_allclose(cs.sel(channel="legal_import").values[:, -1], 49_000.0, rtol=1e-6)
    assert (yearly(r, "unpowered_h100e", actor="China", year=2030) > 0).all()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6),
                          st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6), WEIGHT, WEIGHT, WEIGHT),
                min_size=1, max_size=5))
def test_the_compiled_market_pass_is_clear_and_clearing_price(rows):
    w, da, db, dc = (np.array([r[i] for r in rows]) for i in range(4))
    ba, bb, bc = (np.array([r[i] * 1e3 for r in rows]) for i in (7, 8, 9))
    p = np.array([r[4] + 1.0 for r in rows])
    demand, bid = {"a": da, "b": db, "c": dc}, {"a": ba, "b": bb, "c": bc}
    got, unsold = market.clear(w, demand, bid)
    ref_p = market.clearing_price(p, got, demand, bid)
    got2, unsold2, p2 = market.clear_priced(w, demand, bid, p)
    for k in demand:
        np.testing.assert_allclose(got2[k], got[k], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(unsold2, unsold, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(p2, ref_p, rtol=1e-6)


@settings(max_examples=150, deadline=None)
@given(st.floats(0, 1e9), st.lists(st.tuples(st.floats(0, 1e6), st.floats(1.0, 1e5), WEIGHT), min_size=1, max_size=6))
def test_the_compiled_split_is_the_numpy_split(budget, options):
    offer = {f"o{i}": np.array([q]) for i, (q, _, _) in enumerate(options)}
    price = {f"o{i}": np.array([p]) for i, (_, p, _) in enumerate(options)}
    weight = {f"o{i}": np.array([w]) for i, (_, _, w) in enumerate(options)}
    a = choice.split_budget(np.array([budget]), offer, price, weight)
    b = choice.split_budget_reference(np.array([budget]), offer, price, weight)
    for k in offer:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-6)
