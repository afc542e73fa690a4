"""Tails and structural uncertainty (issue 15): paths that reverse, regime events both ways, coupled leaps,
model-form mixtures. Closed forms for each mechanism, then checks on the baseline with common random numbers."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from scipy import stats

import computerace as cr
from computerace.draws import BLOCK, ar1_knots, draw
from computerace.errors import ScenarioError
from computerace.model import events
from engine_cases import BIG, run_with

N = 3000  # baseline samples for the distribution checks (Monte Carlo noise stated where it matters)


def write(tmp_path, text: str):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(p)


def year_index(ds, year: int) -> int:
    return list(ds["year"].values).index(year)


@pytest.fixture(scope="module")
def base_run():
    return cr.run("baseline", samples=N, seed=3)


# ----------------------------------------------------------------------------------------- 1. paths
def test_ar1_knots_closed_form():
    """corr(e_i, e_j) = rho^|t_i - t_j| for irregular knot times; each e_k standard normal."""
    rng = np.random.default_rng(0)
    times = np.array([2022.5, 2023.5, 2026.5, 2030.5, 2040.5])
    e = ar1_knots(times, 0.6, rng.standard_normal((40_000, len(times))))
    c = np.corrcoef(e.T)
    for i in range(len(times)):
        assert abs(e[:, i].std() - 1) < 0.02
        for j in range(i):
            # se of a correlation at n = 40k is < 0.005: 0.02 is 4 se
            assert abs(c[i, j] - 0.6 ** (times[i] - times[j])) < 0.02, (i, j)


PATHS = """
    extends: baseline
    paths: {{deviation_share: {s}, rho_per_year: 0.5, assumption: A test of the path deviations' share.}}
"""


def test_deviation_share_zero_gives_comonotonic_knots_and_keeps_marginals(tmp_path):
    key = "finance.us_capex_usd_per_year"
    flat = draw(cr.load_scenario(write(tmp_path, PATHS.format(s=0))), 2000, seed=1)
    dev = draw(cr.load_scenario("baseline"), 20_000, seed=1)
    assert key not in flat.knot_quantiles  # every knot at the series' quantile
    kn = dev.knot_quantiles[key]
    # knots keep their marginal distribution (uniform quantiles) but are no longer comonotonic
    for j in range(kn.shape[1]):
        assert stats.kstest(kn[:, j], "uniform").pvalue > 1e-4
    assert not np.array_equal(kn[:, -2], kn[:, -1])
    # with s = 1/2 and rho = 1/2 knots 10 years apart correlate ~ (1 - s) + s rho^10 in z: rank corr near 0.5
    z = stats.norm.ppf(kn)
    times = np.asarray(cr.load_scenario("baseline").parameters[key].value.times)
    i, j = len(times) - 2, len(times) - 1
    want = 0.5 + 0.5 * 0.5 ** (times[j] - times[i])
    assert abs(np.corrcoef(z[:, i], z[:, j])[0, 1] - want) < 0.03


def test_path_deviations_are_chunk_invariant():
    sc = cr.load_scenario("baseline")
    whole = draw(sc, 2 * BLOCK + 100, seed=4)
    part = draw(sc, 37, seed=4, start=BLOCK - 10)
    for k, v in part.knot_quantiles.items():
        np.testing.assert_array_equal(v, whole.knot_quantiles[k][BLOCK - 10:BLOCK + 27], err_msg=k)


def test_paths_need_a_reason_and_a_valid_share(tmp_path):
    with pytest.raises(ScenarioError, match="source.*assumption"):
        cr.load_scenario(write(tmp_path, "extends: baseline\npaths: {deviation_share: 0.3}\n"))
    with pytest.raises(ScenarioError, match="deviation_share"):
        cr.load_scenario(write(tmp_path, "extends: baseline\npaths: {deviation_share: 1.5, assumption: too large}\n"))


def test_baseline_capex_can_fall_then_recover(base_run):
    """P(US AI capex in 2028 < 0.8 x 2026) is at least a few percent; some paths fall and then recover."""
    ds = base_run.dataset
    us = ds["capex_usd"].sel(actor="US").values.astype(float)
    y = {k: year_index(ds, k) for k in (2026, 2028, 2032, 2035)}
    p = float(np.mean(us[:, y[2028]] < 0.8 * us[:, y[2026]]))
    assert p >= 0.02, p
    yearly = us[:, y[2026]:]
    fell = np.any(yearly[:, 1:] < 0.8 * yearly[:, :-1], axis=1)
    recovered = fell & (us[:, y[2035]] > us[:, y[2026]])
    assert recovered.sum() >= 0.01 * N


# ----------------------------------------------------------------------------------------- 2. capex bust
def test_capex_bust_cuts_us_and_part_of_rows_capex_then_returns():
    over = {"events.capex_bust_start": 2030.0, "events.capex_bust_depth": 0.4,
            "events.capex_bust_duration_months": 24.0, "events.capex_bust_row_share": 0.5,
            "finance.us_capex_usd_per_year": 1e12, "finance.row_capex_usd_per_year": 1e11,
            "finance.china_capex_usd_per_year": 1e11}
    base = run_with(**over)
    bust = run_with(**over, events__capex_bust_hazard_per_year=0.999999)
    tau = bust.dataset["capex_bust_year"].values
    assert np.all((tau >= 2030) & (tau < 2030.3))
    b, e = (r.dataset["capex_usd"] for r in (base, bust))
    for yr in (2029, 2034):  # before the bust, and after it has ended: the path
        np.testing.assert_array_equal(b.sel(year=yr).values, e.sel(year=yr).values)
    # 2031 lies wholly inside the 24-month window: US x 0.6, RoW x (1 - 0.4 x 0.5), China untouched
    np.testing.assert_allclose(e.sel(year=2031, actor="US").values, 0.6 * 1e12, rtol=1e-6)
    np.testing.assert_allclose(e.sel(year=2031, actor="RoW").values, 0.8 * 1e11, rtol=1e-6)
    np.testing.assert_allclose(e.sel(year=2031, actor="China").values, 1e11, rtol=1e-6)


# ----------------------------------------------------------------------------------------- 3. controls
def test_controls_regime_from_level():
    np.testing.assert_array_equal(events.controls_regime(np.array([0.0, 0.3, 0.999, 1.0])),
                                  [events.TIGHTEN, events.PARTIAL, events.PARTIAL, events.LIFT])


def test_baseline_controls_can_lift_and_tighten(base_run):
    ds = base_run.dataset
    shifted = ds["controls_shift_year"].values <= 2040.99
    regimes = ds["controls_regime"].values[shifted]
    frac = {r: float(np.mean(regimes == r)) for r in (events.TIGHTEN, events.PARTIAL, events.LIFT)}
    assert shifted.mean() > 0.1
    assert all(v > 0.05 for v in frac.values()), frac


CN_CH = {"channels.domestic_model": 0.0, "channels.domestic_2022_h100e_per_month": 1e5,
         "smuggling.route_capacity_chips_per_year": 1e6, "imports.h200_chips_per_month": 5e4,
         "imports.h200_rule_cap_chips_per_month": 1e9,
         "channels.legal_import_allowed": "controls", "channels.conditional_licence_share": 1.0,
         "finance.china_capex_usd_per_year": BIG, "supply.western_production_2022_h100e_per_month": 1e8,
         "events.controls_shift_start": 2030.0, "events.controls_tighten_enforcement": 0.5,
         "events.controls_tighten_wafer_cut": 0.2, "smuggling.enforcement": 0.0}


def test_tightening_closes_licensed_parts_cuts_routes_and_domestic_output():
    base = run_with(**CN_CH)
    tight = run_with(**CN_CH, events__controls_shift_hazard_per_year=0.999999, events__controls_shift_allowed=0.0)
    assert np.all(tight.dataset["controls_regime"].values == events.TIGHTEN)
    imp_b = base.dataset["china_imports_chips"].sel(part="h200")
    imp_t = tight.dataset["china_imports_chips"].sel(part="h200")
    assert np.all(imp_b.sel(year=2033).values > 0) and np.all(imp_t.sel(year=2033).values == 0)
    np.testing.assert_array_equal(imp_b.sel(year=2028).values, imp_t.sel(year=2028).values)
    add = {k: r.dataset["china_additions_h100e"].sel(year=2035) for k, r in (("b", base), ("t", tight))}
    # smuggled chips: the route offer x (1 - 0.5) when it is bought whole (China's budget never binds here)
    np.testing.assert_allclose(add["t"].sel(channel="smuggled").values, 0.5 * add["b"].sel(channel="smuggled").values,
                               rtol=1e-5)
    # domestic output x (1 - 0.2) once the tool controls are fully in force (two years after the shift)
    np.testing.assert_allclose(add["t"].sel(channel="domestic").values, 0.8 * add["b"].sel(channel="domestic").values,
                               rtol=1e-5)


def test_full_lift_ends_the_hbm_ban():
    over = {"channels.domestic_model": 1.0, "supply.china_hbm_stockpile_stacks": 0.0,
            "supply.china_domestic_hbm_stacks_per_year": 0.0, "events.hbm_ban_year": 2025.0,
            "events.controls_shift_start": 2030.0, "supply.smic_advanced_wafers_per_month": 1000.0,
            "supply.china_ai_wafer_share": 1.0}
    ban = run_with(**over)
    lift = run_with(**over, events__controls_shift_hazard_per_year=0.999999, events__controls_shift_allowed=1.0)
    hb, hl = (r.dataset["china_supply_chain"].sel(step="hbm_packages") for r in (ban, lift))
    assert np.all(hb.sel(year=2032).values == 0)  # banned, nothing stockpiled or made: HBM binds at zero
    assert np.all(np.isinf(hl.sel(year=2032).values))  # the ban ended: no HBM cap
    assert np.all(lift.dataset["china_additions_h100e"].sel(channel="domestic", year=2032).values > 0)


# ----------------------------------------------------------------------------------------- 4. Taiwan
def test_taiwan_output_factor_closed_form():
    t = np.array([2029.5, 2030.0, 2030.5, 2031.0, 2032.0, 2034.0, 2036.0])
    f = events.taiwan_output_factor(t, np.array([2030.0]), np.array([12.0]), np.array([0.9]), np.array([0.5]),
                                    np.array([4.0]))[0]
    # window [2030, 2031): 1 - 0.9; then 1 - 0.5 x (1 - (t - 2030) / 4) until rebuilt in 2034
    np.testing.assert_allclose(f, [1.0, 0.1, 0.1, 1 - 0.5 * 0.75, 1 - 0.5 * 0.5, 1.0, 1.0], atol=1e-12)
    blockade = events.taiwan_output_factor(t, np.array([2030.0]), np.array([12.0]), np.array([0.9]),
                                           np.array([0.0]), np.array([4.0]))
    np.testing.assert_array_equal(blockade, events.disruption_factor(t, np.array([2030.0]), np.array([12.0]),
                                                                     np.array([0.9])))


@pytest.fixture(scope="module")
def taiwan_pair():
    """The baseline and the same samples with no Taiwan event (common random numbers)."""
    return cr.run("baseline", samples=N, seed=3), cr.run(cr.load_scenario("baseline", {
        "events.taiwan_hazard_per_year": 0.0}), samples=N, seed=3)


def test_taiwan_conflict_lowers_the_us_stock_in_2035_and_hits_chinas_channels(taiwan_pair):
    ev, none = (r.dataset for r in taiwan_pair)
    tau, lost = ev["taiwan_event_year"].values, ev["taiwan_capacity_lost"].values
    conflict = (tau < 2029) & (lost > 0)  # a conflict: some capacity lost for good (a blockade loses none)
    assert conflict.sum() >= 30, conflict.sum()
    us = {k: d["stock_h100e"].sel(actor="US", month="2035-12").values[conflict] for k, d in (("ev", ev), ("no", none))}
    assert np.median(us["ev"] / us["no"]) < 0.97
    assert np.mean(us["ev"] < us["no"]) > 0.75
    # China's channels: legal imports and smuggled chips in 2029-2030 fall given the event (sanctions)
    for ch in ("legal_import", "smuggled"):
        a = {k: d["china_additions_h100e"].sel(channel=ch, year=slice(2029, 2030)).values.sum(axis=1)[conflict]
             for k, d in (("ev", ev), ("no", none))}
        hit = a["no"] > 0
        assert hit.sum() > 10, ch
        assert np.mean(a["ev"][hit] < a["no"][hit]) > 0.9, ch


def test_taiwan_sanctions_cut_proxy_dies_legal_imports_and_routes_in_proportion():
    """Closed form: a Taiwan event with no output cut but sanctions s scales proxy-fab dies, licensed parts and
    the smuggling routes by (1 - s) from its date (China's budget never binds; domestic growth form)."""
    over = {"channels.domestic_model": 0.0, "channels.proxy_die_bank_dies": 2e7, "channels.proxy_drawdown_start": 2024.0,
            "channels.proxy_drawdown_months": 240.0, "smuggling.route_capacity_chips_per_year": 1e6,
            "imports.h200_chips_per_month": 5e4, "channels.legal_import_allowed": "controls",
            "channels.conditional_licence_share": 1.0, "supply.western_production_2022_h100e_per_month": 1e8,
            "imports.h200_rule_cap_chips_per_month": 1e9, "events.hazard_start": 2030.0,
            "events.taiwan_severity": 0.0, "events.taiwan_sanctions": 0.4}
    base = run_with(**over)
    ev = run_with(**over, events__taiwan_hazard_per_year=0.999999)
    assert np.all(ev.dataset["taiwan_event_year"].values < 2030.3)
    a, b = (r.dataset["china_additions_h100e"].sel(year=2033) for r in (ev, base))
    for ch in ("proxy_fab", "smuggled"):
        assert np.all(b.sel(channel=ch).values > 0), ch
        np.testing.assert_allclose(a.sel(channel=ch).values, 0.6 * b.sel(channel=ch).values, rtol=1e-5, err_msg=ch)
    h = {k: r.dataset["china_imports_chips"].sel(part="h200", year=2033).values for k, r in (("ev", ev), ("b", base))}
    np.testing.assert_allclose(h["ev"], 0.6 * h["b"], rtol=1e-5)


def test_taiwan_sanctions_cut_the_hbm_leak():
    """Closed form: after the HBM ban with no stockpile and no domestic HBM, China's HBM is the leak L; sanctions s
    leave (1 - s) L, so the year's HBM cap on packages is (1 - s) L / stacks per package."""
    over = {"channels.domestic_model": 1.0, "supply.china_hbm_stockpile_stacks": 0.0,
            "supply.china_domestic_hbm_stacks_per_year": 0.0, "events.hbm_ban_year": 2025.0,
            "supply.china_hbm_leak_stacks_per_year": 8e5, "supply.china_hbm_stacks_per_package": 8.0,
            "supply.smic_advanced_wafers_per_month": 1e5, "supply.china_ai_wafer_share": 1.0,
            "events.hazard_start": 2030.0, "events.taiwan_severity": 0.0, "events.taiwan_sanctions": 0.4}
    base = run_with(**over)
    ev = run_with(**over, events__taiwan_hazard_per_year=0.999999)
    hb, he = (r.dataset["china_supply_chain"].sel(step="hbm_packages", year=2033).values for r in (base, ev))
    np.testing.assert_allclose(hb, 8e5 / 8.0, rtol=1e-6)
    np.testing.assert_allclose(he, 0.6 * 8e5 / 8.0, rtol=1e-6)


# ----------------------------------------------------------------------------------------- 5. coupled leaps
def test_euv_couplings_closed_form():
    f = np.array([1.0, 4.0])
    h, p, c = events.euv_couplings(f, np.array(0.5), np.array(0.25), np.array(1.0))
    np.testing.assert_allclose(h, [1.0, 2.0])
    np.testing.assert_allclose(p, [1.0, math.sqrt(2.0)])
    np.testing.assert_allclose(c, [1.0, 0.25])


def test_lithography_breakthrough_raises_chinas_hbm_and_packaging_caps(base_run):
    """Mechanism check: samples with EUV before 2030 have higher HBM and packaging caps in 2032 than those
    without (the couplings and the lever block both push this way)."""
    ds = base_run.dataset
    early = ds["euv_year"].values < 2030
    phys = ds["domestic_model"].values == 1
    assert (early & phys).sum() >= 20
    chain = ds["china_supply_chain"].sel(year=2032)
    for step in ("hbm_packages", "packaging_packages"):
        v = chain.sel(step=step).values
        assert np.median(v[early & phys]) > np.median(v[~early & phys]), step


def test_couplings_alone_raise_the_caps_with_common_random_numbers():
    sc = cr.load_scenario("baseline")
    off = cr.load_scenario("baseline", {"events.euv_hbm_exponent": 0.0, "events.euv_packaging_exponent": 0.0})
    a, b = cr.run(sc, samples=600, seed=5).dataset, cr.run(off, samples=600, seed=5).dataset
    early = (a["euv_year"].values < 2030) & (a["domestic_model"].values == 1)
    assert early.sum() >= 5
    for step in ("hbm_packages", "packaging_packages"):
        x = a["china_supply_chain"].sel(step=step, year=2032).values[early]
        y = b["china_supply_chain"].sel(step=step, year=2032).values[early]
        assert np.all(x >= y) and np.any(x > y), step


# ----------------------------------------------------------------------------------------- 6. China centralises
def test_centralised_share_ratio_closed_form():
    t = np.array([2027.0, 2028.0, 2029.0])
    r = events.centralised_share_ratio(t, np.array([0.8, 2.5]), np.array([2028.0, 2028.0]), np.array([2.0, 2.0]))
    np.testing.assert_array_equal(r, [[0.8, 2.0, 2.0], [2.5, 2.5, 2.5]])


def test_centralising_narrows_the_largest_run_gap():
    from computerace.analysis.metrics import years_behind

    sc = cr.load_scenario("baseline", {"events.china_centralise_hazard_per_year": 0.0})
    cdz = cr.load_scenario("baseline", {"events.china_centralise_hazard_per_year": 0.999999,
                                        "events.hazard_start": 2027.0})
    a, b = cr.run(sc, samples=300, seed=2).dataset, cr.run(cdz, samples=300, seed=2).dataset
    i = [list(a["month"].values.astype("datetime64[M]").astype(str)).index("2030-12")]
    ya, _ = years_behind(a, "largest_training_run", i)
    yb, _ = years_behind(b, "largest_training_run", i)
    assert np.all(yb.values <= ya.values + 1e-9) and np.median(ya.values - yb.values) > 0.3


# ----------------------------------------------------------------------------------------- 7. model form
def test_switch_accepts_a_mixture_of_forms_and_rejects_other_values(tmp_path):
    ok = """
        extends: baseline
        supply:
          western_model:
            value: {mixture: [{weight: 0.5, value: 1}, {weight: 0.5, value: 0}]}
            unit: switch
            assumption: Half the samples in each form, for a test.
    """
    d = draw(cr.load_scenario(write(tmp_path, ok)), 4000, seed=0)
    v = d.scalars["supply.western_model"]
    assert set(np.unique(v)) == {0.0, 1.0}
    assert abs(v.mean() - 0.5) < 0.04  # binomial se 0.008
    bad = ok.replace("value: 0}", "value: 0.5}")
    with pytest.raises(ScenarioError, match="switch"):
        cr.load_scenario(write(tmp_path, bad))


def test_baseline_samples_both_forms_at_the_stated_weights(base_run):
    ds = base_run.dataset
    for k in ("western_model", "domestic_model"):
        share = float(ds[k].values.mean())
        assert abs(share - 0.75) < 0.03, (k, share)  # binomial se at n = 3000: 0.008


def test_baseline_interval_contains_the_form_and_policy_presets_medians():
    """The baseline's 90% interval of years behind (stock) in 2030 contains the medians of the growth-forms and
    export-controls-lifted-2026 presets (issue 15): model form and policy are inside the baseline's uncertainty."""
    s = {n: cr.run(n, samples=2000, seed=0).summary()["metrics"]["years_behind_stock"]["China"]["2030-12"]
         for n in ("baseline", "growth-forms", "export-controls-lifted-2026")}
    for n in ("growth-forms", "export-controls-lifted-2026"):
        assert s["baseline"]["p5"] < s[n]["p50"] < s["baseline"]["p95"], (n, s)


def test_paths_and_events_are_identical_for_chunk_1_and_chunk_5000():
    """Every output, capex paths and event draws included, is bit-identical whatever the chunk size."""
    a = cr.run("baseline", samples=7, seed=9, chunk=1).dataset
    b = cr.run("baseline", samples=7, seed=9, chunk=5000).dataset
    for k in ("capex_usd", "stock_h100e", "capex_bust_year", "controls_regime", "taiwan_capacity_lost",
              "western_model", "china_centralise_year"):
        np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)
