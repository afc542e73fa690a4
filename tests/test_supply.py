"""The physical supply chain (model/supply.py): closed forms, caps that bind, and published numbers.

Source ids refer to src/computerace/data/sources.csv; the inputs are tabulated in docs/supply_inputs.md.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computerace.model import supply as s
from computerace.model import yields as y

A_910B = 665.61  # mm², Ascend 910B die [toms-910b-dieshot]
NONNEG = st.floats(0.0, 1e7)


# ----------------------------------------------------------------------------------------------- closed forms

def test_good_dies_is_wafers_times_gross_dies_times_yield():
    w = np.array([7000.0, 12000.0])
    d0 = np.array([0.18, 0.12])
    expected = w * y.dies_per_wafer(A_910B) * np.exp(-A_910B / 100 * d0)
    np.testing.assert_allclose(s.good_dies_per_month(w, A_910B, d0), expected, rtol=1e-14)
    np.testing.assert_allclose(s.good_dies_per_month(w, A_910B, d0, gross_dies_per_wafer=78.0),
                               w * 78.0 * np.exp(-A_910B / 100 * d0), rtol=1e-14)
    assert s.good_dies_per_month(1.0, 100.0, 0.1, model="seeds") == pytest.approx(
        y.dies_per_wafer(100.0) / 1.1, rel=1e-14)
    assert s.good_dies_per_month(1.0, 100.0, 0.1, model="negative_binomial", alpha=2.0,
                                 edge_exclusion_mm=3.0) == pytest.approx(
        y.dies_per_wafer(100.0, 300, 3.0) * 1.05**-2, rel=1e-14)


def test_a_d0_backed_out_of_a_yield_reproduces_that_yield_under_any_model():
    for model in ("poisson", "murphy", "seeds"):
        d0 = y.defect_density_from_yield(0.3, A_910B, model)
        assert s.good_dies_per_month(1000.0, A_910B, d0, model, gross_dies_per_wafer=78.0) == pytest.approx(
            1000 * 78 * 0.3, rel=1e-12)


def test_packages_from_dies_morgan_stanley_78_910b_or_39_910c_per_wafer():
    # morgan-stanley-smic-2025: "78 chipów 910B lub 39 chipów 910C" per 12-inch wafer (910C = two dies)
    assert s.packages_from_dies(78.0, 1) == 78.0
    assert s.packages_from_dies(78.0, 2) == 39.0
    assert s.packages_from_dies(100.0, 2, assembly_yield=0.9) == pytest.approx(45.0)


def test_h100e_from_packages():
    # Ascend 910C 780 TFLOP/s dense BF16 (chips.csv) / 989.4
    assert s.h100e_from_packages(1e6, 780 / 989.4) == pytest.approx(788_356, rel=1e-5)


def test_caps_are_minima():
    p = np.array([10.0, 100.0, 1000.0])
    np.testing.assert_array_equal(s.packaging_capped(p, 100.0), [10.0, 100.0, 100.0])
    np.testing.assert_array_equal(s.packaging_capped(p, np.inf), p)
    np.testing.assert_array_equal(s.hbm_capped_packages(p, 800.0, 8), [10.0, 100.0, 100.0])


# ----------------------------------------------------------------------------------------------- HBM

def test_semianalysis_13m_stacks_are_enough_for_1_6m_910c_packages():
    # semianalysis-ascend-2025: ~13 million stacks of HBM in China, "enough for 1.6M Ascend 910C packages";
    # at 8 stacks per 910C (128 GB of 16 GB HBM2E stacks) that is 1.625M: within 3%.
    assert s.hbm_capped_packages(np.inf, 13e6, 8) == pytest.approx(1.6e6, rel=0.03)
    # ko.com.ua summary of the same report [semianalysis-cxmt-hbm-2025]: CXMT's ~2M stacks in 2025 are
    # "enough for 250-300k processors"; 8 stacks each gives the low end.
    assert 250e3 <= s.hbm_capped_packages(np.inf, 2e6, 8) <= 300e3


def test_hbm_cap_binds_only_when_stacks_are_short():
    packages = np.full(3, 100_000.0)
    stacks = np.array([0.0, 400_000.0, 10e6])
    np.testing.assert_allclose(s.hbm_capped_packages(packages, stacks, 8), [0.0, 50_000.0, 100_000.0])


def test_hbm_drawdown_conserves_stacks_and_runs_the_stockpile_down():
    stock = np.array([13e6, 13e6, 0.0])
    new = np.array([0.0, 2e6 / 12, 2e6 / 12])
    want = np.array([1e6, 20e6, 1e6])
    used, left = s.hbm_drawdown(stock, new, want)
    np.testing.assert_allclose(used + left, stock + new)
    np.testing.assert_allclose(used, [1e6, 13e6 + 2e6 / 12, 2e6 / 12])
    assert np.all(left >= 0) and np.all(used <= want)
    # month by month: a 13M stockpile serving 1M stacks a month lasts 13 months
    stockpile, months = np.array(13e6), 0
    while True:
        used, stockpile = s.hbm_drawdown(stockpile, 0.0, 1e6)
        if used < 1e6:
            break
        months += 1
    assert months == 13


@settings(max_examples=200, deadline=None)
@given(stock=NONNEG, new=NONNEG, want=NONNEG)
def test_hbm_drawdown_properties(stock, new, want):
    used, left = s.hbm_drawdown(stock, new, want)
    assert 0 <= used <= want and left >= 0
    assert used + left == pytest.approx(stock + new, rel=1e-12, abs=1e-6)


def test_domestic_hbm_ramp():
    t = np.array([2024.0, 2025.0, 2026.0, 2027.0, 2030.0])
    out = s.domestic_hbm_stacks_per_month(t, 2025.0, 2e6, 1.5, max_stacks_per_year=6e6)
    np.testing.assert_allclose(out * 12, [0.0, 2e6, 3e6, 4.5e6, 6e6])


# ----------------------------------------------------------------------------------------------- learning curve

def test_defect_density_learning_curve_closed_form():
    d = s.defect_density(np.array([2024.0, 2025.0, 2026.5, 2028.0, 2100.0]), 0.24, 0.03, 1.5, 2025.0)
    np.testing.assert_allclose(d, [0.24, 0.24, 0.03 + 0.21 / 2, 0.03 + 0.21 / 4, 0.03], rtol=1e-12)


def test_halving_time_through_two_observed_yields():
    # Morgan Stanley [morgan-stanley-smic-2025]: 910B yield 30% by end-2025, 70% by 2027 (read as end-2027)
    d_a, d_b = y.poisson_defect_density(0.3, A_910B), y.poisson_defect_density(0.7, A_910B)
    half = s.halving_years_between(d_a, 2026.0, d_b, 2028.0)
    assert half == pytest.approx(2 / math.log2(d_a / d_b), rel=1e-12)
    assert s.defect_density(2028.0, d_a, 0.0, half, 2026.0) == pytest.approx(d_b, rel=1e-12)
    assert y.poisson(A_910B, s.defect_density(2028.0, d_a, 0.0, half, 2026.0)) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="year_a < year_b"):
        s.halving_years_between(0.1, 2026.0, 0.2, 2028.0)


@settings(max_examples=200, deadline=None)
@given(t1=st.floats(2020, 2040), t2=st.floats(2020, 2040), d0=st.floats(0.01, 1.0),
       frac=st.floats(0.0, 1.0), half=st.floats(0.2, 10.0))
def test_defect_density_falls_toward_its_floor(t1, t2, d0, frac, half):
    floor = d0 * frac
    lo, hi = sorted((t1, t2))
    a, b = s.defect_density(lo, d0, floor, half, 2022.0), s.defect_density(hi, d0, floor, half, 2022.0)
    assert floor - 1e-15 <= b <= a <= d0 + 1e-15


# ----------------------------------------------------------------------------------------------- Western, proxy

def test_western_from_cowos_closed_form_and_hbm_cap():
    # trendforce-cowos-2025: 75-80k CoWoS wafers/month end-2025; redplanx-cowos-b200: 16 B200 per wafer;
    # B200 2250 TFLOP/s dense BF16 / 989.4 (chips.csv)
    h = 2250 / 989.4
    assert s.western_from_cowos(80_000, 16, h) == pytest.approx(80_000 * 16 * h, rel=1e-14)
    assert s.western_from_cowos(80_000, 16, h, hbm_cap=1e6) == pytest.approx(1e6 * h, rel=1e-14)
    assert s.western_from_cowos(80_000, 16, h, hbm_cap=2e6) == pytest.approx(80_000 * 16 * h, rel=1e-14)


def test_ai2027_area_growth_option():
    # ai2027-compute: raw capacity 2x/year / difficulty 1.2x/year ~ "about 1.65x per year"
    assert s.ai2027_area_growth(2.0, 1.2) == pytest.approx(1.65, rel=0.02)


def test_proxy_die_bank_becomes_packages_under_the_same_hbm_cap():
    # semianalysis-ascend-2025: "more than 2.9M Ascend die" -> 1.45M 910C packages; 13M stacks would cover them
    assert s.proxy_packages(2.9e6, 2, 13e6, 8) == pytest.approx(1.45e6)
    # with the stockpile half gone, HBM binds: 6.5M / 8 = 812.5k packages
    assert s.proxy_packages(2.9e6, 2, 6.5e6, 8) == pytest.approx(812_500)
    assert s.proxy_packages(2.9e6, 2, 13e6, 8, packaging_capacity=100_000) == 100_000


def test_roadmap_value_steps_with_slips():
    launch = [2023.0, 2025.0, 2026.25, 2027.75]  # 910B, 910C, 950PR (Q1 2026), 960 (Q4 2027) [36kr-ascend-roadmap]
    values = [0.38, 0.79, 1.0, 2.0]
    t = np.array([2022.0, 2024.0, 2025.5, 2026.5, 2028.0])
    np.testing.assert_array_equal(s.roadmap_value(t, launch, values), [0.38, 0.38, 0.79, 1.0, 2.0])
    np.testing.assert_array_equal(s.roadmap_value(2026.5, launch, values, slip_years=np.array([0.0, 0.5, 2.0])),
                                  [1.0, 0.79, 0.38])
    per_sample = np.array([values, [v * 2 for v in values]])
    np.testing.assert_array_equal(s.roadmap_value(np.array([2026.5, 2026.5]), launch, per_sample), [1.0, 2.0])


# ----------------------------------------------------------------------------------------------- published range

def _huawei_2025_910c(yield_2025):
    """China's SMIC-made Ascend output in 2025 from Morgan Stanley's wafers and gross dies."""
    wafers = 7000.0 * 12  # morgan-stanley-smic-2025: ~7,000 wafers/month in 2025, mostly for the 910B
    d0 = y.poisson_defect_density(yield_2025, A_910B)
    dies = s.good_dies_per_month(wafers, A_910B, d0, gross_dies_per_wafer=78.0)
    packages = s.packages_from_dies(dies, 2)
    return s.hbm_capped_packages(packages, 13e6 + 2e6, 8)  # HBM: stockpile + CXMT 2025, not binding


def test_huawei_2025_output_from_sourced_inputs_against_the_published_range():
    # Published 2025 range: US Commerce <= 200k Ascend chips [bis-kessler-2025]; Bloomberg ~300k 910C
    # [bloomberg-huawei-2025]; SemiAnalysis ~805k Ascend units incl. TSMC die-bank dies [semianalysis-ascend-2025].
    # At CSIS's ~20% yield [csis-smic-yield-2025] the physics gives 655k 910C: inside the range, near its top.
    low = _huawei_2025_910c(0.20)
    assert 200e3 <= low <= 805e3
    assert low == pytest.approx(7000 * 12 * 78 * 0.2 / 2, rel=1e-12)
    # At Morgan Stanley's own end-2025 yield (30%) the same wafers give 983k, 22% above SemiAnalysis: MS's
    # 7,000 wpm reads as capacity rather than starts, or part of it made 910B (one die a package) and other
    # SMIC products. docs/supply_inputs.md carries this tension into the priors on the AI wafer share.
    high = _huawei_2025_910c(0.30)
    assert 805e3 < high < 1.25 * 805e3


# ----------------------------------------------------------------------------------------------- user errors

@pytest.mark.parametrize("call, message", [
    (lambda: s.good_dies_per_month(-1.0, 100.0, 0.1), "wafers_per_month must be >= 0"),
    (lambda: s.packages_from_dies(10.0, 0), "compute_dies_per_package must be > 0"),
    (lambda: s.packages_from_dies(10.0, 2, assembly_yield=95), "Write 95% as 0.95"),
    (lambda: s.hbm_capped_packages(10.0, -1.0, 8), "hbm_stacks_available must be >= 0"),
    (lambda: s.defect_density(2025.0, 0.2, 0.03, 0.0, 2025.0), "halving_years must be > 0"),
    (lambda: s.western_from_cowos(1000.0, 0.0, 1.0), "packages_per_wafer must be > 0"),
    (lambda: s.roadmap_value(2025.0, [2026.0, 2025.0], [1.0, 2.0]), "non-decreasing"),
    (lambda: s.roadmap_value(2025.0, [2025.0, 2026.0], [1.0]), "generations"),
])
def test_out_of_range_inputs_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_western_production_next_is_unchanged():
    p = np.array([1000.0])
    np.testing.assert_allclose(s.western_production_next(p, np.array([2.0 ** (1 / 12)]), np.array([1.0])),
                               1000.0 * 2.0 ** (1 / 12))


def test_roadmap_slip_delays_only_the_steps_after_the_forecast_date():
    # Monthly grid from 2026.0; a step path 1 until 2027.75, then 2 (the Ascend 960 step); slip 0.5 y from 2026.9.
    t = 2026.0 + np.arange(48) / 12
    path = np.where(t < 2027.75, 1.0, 2.0)[None, :].repeat(2, axis=0)
    t_eff = s.roadmap_time(t, np.array([0.0, 0.5]), np.array([2026.9, 2026.9]))
    np.testing.assert_array_equal(t_eff[0], t)  # no slip: the roadmap's own times
    assert np.all(t_eff[1][t < 2026.9] == t[t < 2026.9])  # history untouched
    np.testing.assert_allclose(t_eff[1][t >= 2027.4], t[t >= 2027.4] - 0.5)  # later: shifted by the slip
    assert np.all(t_eff[1][(t >= 2026.9) & (t < 2027.4)] == 2026.9)  # held at the forecast date meanwhile
    v = s.path_at(path, t, t_eff)
    assert t[np.argmax(v[0] == 2.0)] == pytest.approx(2027.75)  # step in October 2027 without a slip
    assert t[np.argmax(v[1] == 2.0)] == pytest.approx(2028.25)  # ... and six months later with one
