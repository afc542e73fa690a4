"""Dies per wafer and die-yield models against their closed forms, published counts and each other.

References are keyed to docs/references.md; source ids to src/computerace/data/sources.csv.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from computerace.model import yields as y

AREA = st.floats(1.0, 900.0)  # mm², 1 mm² to past the 858 mm² reticle limit
D0 = st.floats(0.0, 2.0)  # defects per cm²
ALPHA = st.floats(0.1, 50.0)
FORWARD = {"poisson": y.poisson, "murphy": y.murphy, "seeds": y.seeds,
           "negative_binomial": lambda a, d: y.negative_binomial(a, d, 2.0)}


# ----------------------------------------------------------------------------------------------- closed forms

def test_poisson_of_one_square_centimetre_at_d0_01_is_exp_minus_01():
    assert y.poisson(100.0, 0.1) == pytest.approx(math.exp(-0.1), rel=1e-15)


@pytest.mark.parametrize("area, d0", [(50.0, 0.05), (100.0, 0.1), (456.25, 0.09), (665.61, 0.18),
                                      (814.0, 0.3), (858.0, 1.5)])
def test_each_model_matches_its_formula_written_out(area, d0):
    lam = area / 100 * d0
    assert y.poisson(area, d0) == pytest.approx(math.exp(-lam), rel=1e-14)
    assert y.murphy(area, d0) == pytest.approx(((1 - math.exp(-lam)) / lam) ** 2, rel=1e-12)
    assert y.seeds(area, d0) == pytest.approx(1 / (1 + lam), rel=1e-14)
    for alpha in (0.5, 1.0, 3.0, 20.0):
        assert y.negative_binomial(area, d0, alpha) == pytest.approx((1 + lam / alpha) ** -alpha, rel=1e-12)


def test_models_equal_one_without_defects_and_tend_to_one_as_a_d0_vanishes():
    for name, f in FORWARD.items():
        assert f(665.61, 0.0) == 1.0, name
        assert f(665.61, 1e-12) == pytest.approx(1.0, abs=1e-11), name
    # Murphy to second order: 1 - x + 7x²/12 (its series), so the limit is approached smoothly
    x = 1e-4
    assert y.murphy(100.0, x) == pytest.approx(1 - x + 7 * x * x / 12, rel=1e-12)


def test_negative_binomial_tends_to_poisson_and_equals_seeds_at_alpha_one():
    area, d0 = np.array([100.0, 665.61, 858.0]), np.array([0.1, 0.18, 0.5])
    np.testing.assert_allclose(y.negative_binomial(area, d0, 1e9), y.poisson(area, d0), rtol=1e-8)
    np.testing.assert_array_equal(y.negative_binomial(area, d0, np.inf), y.poisson(area, d0))
    np.testing.assert_allclose(y.negative_binomial(area, d0, 1.0), y.seeds(area, d0), rtol=1e-14)
    gaps = [abs(y.negative_binomial(665.61, 0.18, a) - y.poisson(665.61, 0.18)) for a in (1, 10, 100, 1000)]
    assert gaps == sorted(gaps, reverse=True)


def test_dispatchers_name_the_same_functions():
    assert y.die_yield(665.61, 0.18, "murphy") == y.murphy(665.61, 0.18)
    assert y.die_yield(665.61, 0.18, "negative_binomial", alpha=2.0) == y.negative_binomial(665.61, 0.18, 2.0)
    assert y.defect_density_from_yield(0.3, 665.61, "seeds") == y.seeds_defect_density(0.3, 665.61)
    with pytest.raises(ValueError, match="unknown yield model 'bose'"):
        y.die_yield(100, 0.1, "bose")
    with pytest.raises(ValueError, match="needs alpha"):
        y.defect_density_from_yield(0.5, 100, "negative_binomial")


# ----------------------------------------------------------------------------------------------- inverses

@pytest.mark.parametrize("model", y.MODELS)
def test_inverse_of_forward_returns_d0_to_1e_12(model):
    area = np.array([10.0, 100.0, 216.0, 456.25, 665.61, 814.0, 858.0, 900.0])[:, None]
    d0 = np.array([0.01, 0.05, 0.09, 0.18, 0.3, 0.7, 1.2, 2.0])[None, :]
    alpha = 2.5 if model == "negative_binomial" else None
    back = y.defect_density_from_yield(y.die_yield(area, d0, model, alpha), area, model, alpha)
    np.testing.assert_allclose(back, np.broadcast_to(d0, back.shape), rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(area=st.floats(10.0, 900.0), d0=st.floats(0.01, 2.0), alpha=ALPHA)
def test_round_trip_property(area, d0, alpha):
    # A*D0 >= 1e-3 here: below that a double cannot hold a yield of 1 - A*D0 to 12 digits of A*D0.
    for model, a in (("poisson", None), ("murphy", None), ("seeds", None), ("negative_binomial", alpha)):
        back = y.defect_density_from_yield(y.die_yield(area, d0, model, a), area, model, a)
        assert back == pytest.approx(d0, rel=1e-12), model


def test_yield_of_one_implies_no_defects():
    for model in ("poisson", "murphy", "seeds"):
        assert y.defect_density_from_yield(1.0, 665.61, model) == 0.0
    assert y.negative_binomial_defect_density(1.0, 665.61, 3.0) == 0.0


def test_smic_910b_defect_density_backed_out_from_30_percent_yield():
    # chips_supply_controls.md C.2 (derived there): "30% yield on 665 mm² ⇒ D0 ≈ 0.18/cm² (Poisson)";
    # yield from Morgan Stanley [morgan-stanley-smic-2025], die area from the die shot [toms-910b-dieshot].
    d0 = y.poisson_defect_density(0.30, 665.61)
    assert d0 == pytest.approx(0.18, abs=0.005)  # -ln(0.3)/6.6561 = 0.1809
    # the model matters: the same yield implies 0.20 (Murphy) and 0.35 (Seeds)
    assert y.murphy_defect_density(0.30, 665.61) == pytest.approx(0.2035, abs=5e-4)
    assert y.seeds_defect_density(0.30, 665.61) == pytest.approx(0.3506, abs=5e-4)


# ----------------------------------------------------------------------------------------------- properties

@settings(max_examples=300, deadline=None)
@given(area=AREA, d0=D0, alpha=ALPHA)
def test_yields_lie_in_unit_interval(area, d0, alpha):
    for f in (y.poisson(area, d0), y.murphy(area, d0), y.seeds(area, d0), y.negative_binomial(area, d0, alpha)):
        assert 0.0 <= f <= 1.0


@settings(max_examples=300, deadline=None)
@given(a1=AREA, a2=AREA, d1=D0, d2=D0, alpha=ALPHA)
def test_yields_fall_with_area_and_with_defect_density(a1, a2, d1, d2, alpha):
    (a_lo, a_hi), (d_lo, d_hi) = sorted((a1, a2)), sorted((d1, d2))
    models = (y.poisson, y.murphy, y.seeds, lambda a, d: y.negative_binomial(a, d, alpha))
    # monotone up to rounding: at A*D0 ~ 1e-16 Murphy's (1 - exp(-x))/x is 1 - x/2 within a few ulps either way
    tol = 1 + 8 * np.finfo(float).eps
    for f in models:
        assert f(a_hi, d_lo) <= f(a_lo, d_lo) * tol
        assert f(a_lo, d_hi) <= f(a_lo, d_lo) * tol
        assert f(a_hi, max(d_lo, 1e-3)) < f(a_lo, max(d_lo, 1e-3)) or a_hi - a_lo < 1.0  # strictly, away from rounding


@settings(max_examples=300, deadline=None)
@given(area=AREA, d0=st.floats(1e-4, 2.0), alpha=st.floats(1.0, 50.0))
def test_ordering_poisson_below_murphy_below_seeds(area, d0, alpha):
    p, m, s = y.poisson(area, d0), y.murphy(area, d0), y.seeds(area, d0)
    assert p < m < s
    # the negative binomial with alpha >= 1 lies between Poisson (alpha -> inf) and Seeds (alpha = 1)
    nb = y.negative_binomial(area, d0, alpha)
    assert p <= nb * (1 + 1e-12) and nb <= s * (1 + 1e-12)


def test_vectorised_over_samples_and_broadcasting():
    rng = np.random.default_rng(0)
    d0 = rng.uniform(0.05, 0.5, size=1000)
    out = y.murphy(665.61, d0)
    assert out.shape == (1000,)
    np.testing.assert_allclose(out, [y.murphy(665.61, float(d)) for d in d0[:5]] + list(out[5:]))
    assert y.negative_binomial(np.array([100.0, 800.0])[:, None], d0[None, :3], 2.0).shape == (2, 3)


# ----------------------------------------------------------------------------------------------- dies per wafer

def test_dies_per_wafer_closed_form():
    for area in (25.0, 100.0, 665.61, 814.0):
        expected = math.pi * 150**2 / area - math.pi * 300 / math.sqrt(2 * area)
        assert y.dies_per_wafer(area) == pytest.approx(expected, rel=1e-14)
    # the corrections: usable diameter d - 2e, die pitch (sqrt(A) + scribe)**2
    d, s = 300 - 2 * 3.0, (math.sqrt(665.61) + 0.1) ** 2
    expected = math.pi * (d / 2) ** 2 / s - math.pi * d / math.sqrt(2 * s)
    assert y.dies_per_wafer(665.61, 300, 3.0, 0.1) == pytest.approx(expected, rel=1e-14)
    assert y.dies_per_wafer(20000.0) == 0.0  # larger than fits: clipped, never negative


def test_dies_per_wafer_against_published_textbook_counts():
    # Hennessy & Patterson, Computer Architecture: A Quantitative Approach, 5th ed. (2012), §1.6
    # (docs/references.md#dies-per-wafer).
    # Worked example: a 1.0 cm x 1.0 cm die on a 300 mm wafer, 706.9/1.00 - 94.2/1.41 = 640 (this one taken
    # from the book, not from a stored copy; the exact grid count below, 657, backs it independently).
    assert y.dies_per_wafer(100.0) == pytest.approx(640, rel=0.01)
    # Fig. 1.15 caption: "At 216 mm2, the formula for dies per wafer estimates 282", and the real Intel
    # Sandy Bridge wafer holds 280 full dies (read in a copy at what-when-how.com).
    assert y.dies_per_wafer(216.0) == pytest.approx(282, abs=0.5)
    assert y.dies_per_wafer(216.0) == pytest.approx(280, rel=0.02)
    # Solutions to case study 1.2 (Elsevier 2012, copy at papercamp.com): "471 - 54.4 = 416" for 1.5 cm²
    # and "283 - 42.1 = 240" for 2.5 cm² on a 30 cm wafer.
    assert y.dies_per_wafer(150.0) == pytest.approx(416, abs=1)
    assert y.dies_per_wafer(250.0) == pytest.approx(240, abs=1)


def _grid_count(side_mm, radius_mm, offsets=8):
    """Independent check: most whole side x side squares on a square grid inside a circle (best offset)."""
    best = 0
    for ox in np.linspace(0, side_mm, offsets, endpoint=False):
        for oy in np.linspace(0, side_mm, offsets, endpoint=False):
            xs = np.arange(-radius_mm - side_mm + ox, radius_mm + side_mm, side_mm)
            ys = np.arange(-radius_mm - side_mm + oy, radius_mm + side_mm, side_mm)
            x, yy = np.meshgrid(xs, ys)
            inside = np.ones_like(x, dtype=bool)
            for cx, cy in ((x, yy), (x + side_mm, yy), (x, yy + side_mm), (x + side_mm, yy + side_mm)):
                inside &= cx**2 + cy**2 <= radius_mm**2
            best = max(best, int(inside.sum()))
    return best


@pytest.mark.parametrize("side", [5.0, 10.0, 20.0, 25.8])
def test_dies_per_wafer_is_a_slightly_conservative_estimate_of_an_exact_grid_count(side):
    # An independent implementation (cf. de Vries 2005, who compares gross-die formulas with exact counts):
    # the formula undercounts the best grid placement by 1-10%, more for reticle-class dies
    # (10 mm: 640 vs 657; 25.8 mm: 80 vs 89). Tolerance 12% below, never above.
    exact = _grid_count(side, 150.0)
    assert 0.88 * exact <= y.dies_per_wafer(side**2) <= exact


def test_h100_gross_dies_against_a_published_good_die_count():
    # A 2026 supply estimate [okx-h200-supply-2026]: "55 dies per wafer (85% yield)" for the 814 mm² GH100 die
    # [exxact-h100] on TSMC N4, i.e. 55 / 0.85 = 64.7 gross dies. The formula gives 63.5 with no edge exclusion
    # and 60.1 with 3 mm: within 8% either way (tolerance: the post's edge exclusion and scribe are unstated,
    # and its 55 is rounded). The same yield at that area backs out D0 = 0.020/cm², a mature N4-class value.
    gross = 55 / 0.85
    assert y.dies_per_wafer(814.0) == pytest.approx(gross, rel=0.03)
    assert y.dies_per_wafer(814.0, edge_exclusion_mm=3.0) == pytest.approx(gross, rel=0.08)
    assert y.poisson_defect_density(0.85, 814.0) == pytest.approx(0.020, abs=0.001)


def test_ascend_910b_gross_dies_against_morgan_stanley():
    # Morgan Stanley via telefony.co.pl [morgan-stanley-smic-2025]: "Z jednego 12-calowego wafla można uzyskać
    # 78 chipów 910B lub 39 chipów 910C" (78 910B or 39 910C from one 12-inch wafer). The 665.61 mm² die
    # [toms-910b-dieshot] gives 80.4 with no edge exclusion and 76.7 with a 3 mm one: within 5% of 78 either
    # way (tolerance: MS's edge exclusion and scribe are not stated).
    assert y.dies_per_wafer(665.61) == pytest.approx(78, rel=0.05)
    assert y.dies_per_wafer(665.61, edge_exclusion_mm=3.0) == pytest.approx(78, rel=0.05)
    assert y.dies_per_wafer(665.61) / 2 == pytest.approx(39, rel=0.05)


@settings(max_examples=200, deadline=None)
@given(a1=AREA, a2=AREA, e=st.floats(0.0, 5.0), s=st.floats(0.0, 0.3))
def test_dies_per_wafer_falls_with_area_exclusion_and_scribe(a1, a2, e, s):
    lo, hi = sorted((a1, a2))
    assert y.dies_per_wafer(hi) <= y.dies_per_wafer(lo)
    assert y.dies_per_wafer(lo, 300, e, s) <= y.dies_per_wafer(lo)
    assert y.dies_per_wafer(lo, 200.0) <= y.dies_per_wafer(lo, 300.0)


# ----------------------------------------------------------------------------------------------- harvesting

def test_harvest_with_no_tolerance_is_the_plain_model():
    area, d0 = np.array([100.0, 665.61]), np.array([0.1, 0.18])
    np.testing.assert_allclose(y.harvest_yield(area, d0, 0), y.poisson(area, d0), rtol=1e-15)
    np.testing.assert_allclose(y.harvest_yield(area, d0, 0, alpha=2.0), y.negative_binomial(area, d0, 2.0),
                               rtol=1e-14)
    np.testing.assert_allclose(y.harvest_yield(area, d0, 3, redundant_fraction=0.0), y.poisson(area, d0),
                               rtol=1e-15)


@pytest.mark.parametrize("k", [0, 1, 2, 5])
def test_harvest_of_whole_die_is_the_count_distribution(k):
    # f = 1: P(N <= k) for N ~ Poisson(A*D0), or negative binomial(alpha, p = 1/(1 + A*D0/alpha))
    lam = 6.6561 * 0.18
    assert y.harvest_yield(665.61, 0.18, k) == pytest.approx(stats.poisson.cdf(k, lam), rel=1e-12)
    alpha = 2.0
    p = 1 / (1 + lam / alpha)
    assert y.harvest_yield(665.61, 0.18, k, alpha=alpha) == pytest.approx(stats.nbinom.cdf(k, alpha, p),
                                                                          rel=1e-12)


def test_harvest_with_partial_redundancy_closed_form():
    # critical area (1-f)A must be clean, redundant area fA may hold one defect: exp(-lam) (1 + f lam)
    lam, f = 6.6561 * 0.2, 0.4
    assert y.harvest_yield(665.61, 0.2, 1, f) == pytest.approx(math.exp(-lam) * (1 + f * lam), rel=1e-14)


@settings(max_examples=100, deadline=None)
@given(area=AREA, d0=D0, f=st.floats(0.0, 1.0), alpha=st.one_of(st.just(math.inf), ALPHA))
def test_harvest_rises_with_tolerance_and_stays_a_fraction(area, d0, f, alpha):
    values = [y.harvest_yield(area, d0, k, f, alpha) for k in range(4)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(b >= a * (1 - 1e-12) for a, b in zip(values, values[1:], strict=False))


# ----------------------------------------------------------------------------------------------- user errors

@pytest.mark.parametrize("call, message", [
    (lambda: y.poisson(-5.0, 0.1), "die_area_mm2 must be > 0"),
    (lambda: y.murphy(np.array([100.0, 0.0]), 0.1), r"at index \(1,\)"),
    (lambda: y.seeds(100.0, -0.1), "defects_per_cm2 must be >= 0"),
    (lambda: y.poisson(100.0, np.nan), "defects_per_cm2"),
    (lambda: y.negative_binomial(100.0, 0.1, 0.0), "alpha must be > 0"),
    (lambda: y.poisson_defect_density(30.0, 100.0), "write 30% as 0.3"),
    (lambda: y.murphy_defect_density(0.0, 100.0), r"in \(0, 1\]"),
    (lambda: y.dies_per_wafer(100.0, 12.0, 6.0), "edge_exclusion_mm must be < wafer_diameter_mm / 2"),
    (lambda: y.dies_per_wafer(100.0, 0.0), "wafer_diameter_mm must be > 0"),
    (lambda: y.dies_per_wafer(100.0, scribe_mm=-0.1), "scribe_mm must be >= 0"),
    (lambda: y.harvest_yield(100.0, 0.1, -1), "max_defects must be a whole number"),
    (lambda: y.harvest_yield(100.0, 0.1, 1, 1.5), "redundant_fraction must be in"),
])
def test_out_of_range_inputs_raise_with_a_hint(call, message):
    with pytest.raises(ValueError, match=message):
        call()
