"""The distribution forms of the scenario language (scenario/distributions.py).

Closed-form checks against the definition of each form, against scipy.stats where an equivalent
exists, and Monte Carlo checks whose tolerances come from the binomial standard error of a quantile.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from computerace.scenario import distributions as D

# A grid of quantiles that reaches well into both tails.
U = np.array([1e-6, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1 - 1e-6])

N_MC = 200_000
Z90, Z95 = stats.norm.ppf(0.9), stats.norm.ppf(0.95)


def assert_quantile_matches(samples: np.ndarray, p: float, expected: float) -> None:
    """The p-quantile of `samples` agrees with `expected` within Monte Carlo error.

    The number of samples below the true p-quantile is Binomial(n, p), so the empirical CDF at the
    true quantile has standard error se = sqrt(p (1 - p) / n). The distribution-free interval
    [q_hat(p - 4 se), q_hat(p + 4 se)] therefore contains the true quantile except with probability
    ~6e-5 (4 standard errors) -- no density estimate needed.
    """
    n = len(samples)
    se = math.sqrt(p * (1 - p) / n)
    lo, hi = np.quantile(samples, [p - 4 * se, p + 4 * se])
    assert lo <= expected <= hi, f"p={p}: stated {expected}, Monte Carlo interval [{lo}, {hi}]"


def mc_samples(d: D.Dist, seed: int = 20240601) -> np.ndarray:
    return d.ppf(np.random.default_rng(seed).random(N_MC))


# ------------------------------------------------------------------------------------ point, numbers
@pytest.mark.parametrize("spec, value", [(3.5, 3.5), (7, 7.0), (-2, -2.0), ("12", 12.0), ("1e3", 1000.0),
                                         ("10k", 1e4), ("2.5M", 2.5e6), ("3B", 3e9), ("1.5T", 1.5e12),
                                         ("1_000", 1000.0), ("-4k", -4000.0)])
def test_point_values_and_number_suffixes(spec, value):
    d = D.parse(spec)
    assert isinstance(d, D.Point)
    assert d.is_point
    assert d.value == value
    np.testing.assert_array_equal(d.ppf(U), np.full(len(U), value))
    assert d.median == value


@pytest.mark.parametrize("text, value", [("10k", 1e4), ("2.5M", 2.5e6), ("1e3", 1e3), ("1.5e-3", 1.5e-3),
                                         ("7G", 7e9), (" 2T ", 2e12), (4, 4.0), (0.25, 0.25)])
def test_parse_number(text, value):
    assert D.parse_number(text) == value


@pytest.mark.parametrize("bad", ["2.5m", "k", "ten", "1,000", "", True, None, [1]])
def test_parse_number_rejects_non_numbers(bad):
    with pytest.raises(D.DistError, match="a number"):
        D.parse_number(bad)


@given(x=st.integers(min_value=-10**6, max_value=10**6), suffix=st.sampled_from(["k", "M", "B", "T"]))
def test_suffix_multiplies(x, suffix):
    assert D.parse_number(f"{x}{suffix}") == x * {"k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[suffix]


# ------------------------------------------------------------------------------------------- a to b
def test_a_to_b_positive_is_lognormal_with_90pct_interval():
    d = D.parse("5 to 10")
    assert isinstance(d, D.LogNormal)
    lo, hi = d.ppf(np.array([0.05, 0.95]))
    assert lo == pytest.approx(5, rel=1e-9)
    assert hi == pytest.approx(10, rel=1e-9)
    # A lognormal's median is the geometric mean of a symmetric (in log space) interval.
    assert d.median == pytest.approx(math.sqrt(50), rel=1e-12)


def test_a_to_b_with_suffixes():
    d = D.parse("10M to 20M")
    np.testing.assert_allclose(d.ppf(np.array([0.05, 0.95])), [1e7, 2e7], rtol=1e-9)


@pytest.mark.parametrize("spec, a, b", [("-2 to 4", -2, 4), ("0 to 1", 0, 1), ("-10 to -1", -10, -1)])
def test_a_to_b_nonpositive_is_normal(spec, a, b):
    d = D.parse(spec)
    assert isinstance(d, D.Normal)
    np.testing.assert_allclose(d.ppf(np.array([0.05, 0.95])), [a, b], rtol=1e-9, atol=1e-12)
    assert d.mean == pytest.approx((a + b) / 2, abs=1e-12)


@pytest.mark.parametrize("spec", ["1 to 100", "-3 to 7"])
def test_ci_sets_the_interval_level(spec):
    a, b = (D.parse_number(x) for x in spec.split(" to "))
    d80, d90 = D.parse(spec, ci=80), D.parse(spec, ci=90)
    np.testing.assert_allclose(d80.ppf(np.array([0.1, 0.9])), [a, b], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d90.ppf(np.array([0.05, 0.95])), [a, b], rtol=1e-9, atol=1e-12)
    # Same endpoints at a lower level means a narrower spread at a fixed quantile level.
    assert d80.ppf(np.array([0.05]))[0] < a
    assert d80.ppf(np.array([0.95]))[0] > b


@settings(max_examples=200, deadline=None)
@given(a=st.floats(min_value=1e-6, max_value=1e9), ratio=st.floats(min_value=1.001, max_value=1e6),
       ci=st.sampled_from([50, 80, 90, 95, 99]))
def test_a_to_b_lognormal_property(a, ratio, ci):
    b = a * ratio
    d = D.parse(f"{a!r} to {b!r}", ci=ci)
    assert isinstance(d, D.LogNormal)
    tail = (1 - ci / 100) / 2
    np.testing.assert_allclose(d.ppf(np.array([tail, 1 - tail])), [a, b], rtol=1e-9)
    grid = d.ppf(np.linspace(1e-6, 1 - 1e-6, 501))
    assert np.all(np.diff(grid) > 0), "ppf must be strictly increasing"


# ------------------------------------------------------------------------------ named distributions
def test_normal():
    d = D.parse({"normal": {"mean": 3, "sd": 2}})
    assert isinstance(d, D.Normal)
    np.testing.assert_allclose(d.ppf(U), stats.norm(3, 2).ppf(U), rtol=1e-12)
    assert d.ppf(np.array([0.5]))[0] == 3
    assert d.cdf(np.array([5.0]))[0] == pytest.approx(stats.norm.cdf(1.0), abs=1e-15)


def test_lognormal_median_sigma():
    d = D.parse({"lognormal": {"median": 10, "sigma": 0.5}})
    assert d.median == pytest.approx(10, rel=1e-12)
    # One sigma above the median in log space: Phi(1) -> 10 e^0.5.
    assert d.ppf(np.array([stats.norm.cdf(1.0)]))[0] == pytest.approx(10 * math.exp(0.5), rel=1e-12)


def test_lognormal_mu_sigma():
    d = D.parse({"lognormal": {"mu": 1, "sigma": 0.25}})
    assert isinstance(d, D.LogNormal)
    assert d.median == pytest.approx(math.e, rel=1e-12)
    assert d == D.parse({"lognormal": {"median": math.e, "sigma": 0.25}})


def test_beta_unit_and_rescaled():
    d = D.parse({"beta": {"a": 2, "b": 5}})
    np.testing.assert_allclose(d.ppf(U), stats.beta(2, 5).ppf(U), rtol=1e-10)
    r = D.parse({"beta": {"a": 2, "b": 5, "low": 10, "high": 20}})
    np.testing.assert_allclose(r.ppf(U), 10 + 10 * stats.beta(2, 5).ppf(U), rtol=1e-10)
    assert r.bounds()[0] > 10 and r.bounds()[1] < 20
    np.testing.assert_allclose(r.cdf(np.array([9.0, 10.0, 20.0, 21.0])), [0, 0, 1, 1])


def test_uniform():
    d = D.parse({"uniform": {"low": 2, "high": 6}})
    np.testing.assert_allclose(d.ppf(np.array([0.0, 0.25, 0.5, 1.0])), [2, 3, 4, 6], rtol=1e-15)
    np.testing.assert_allclose(d.cdf(np.array([1.0, 3.0, 7.0])), [0, 0.25, 1])


def test_quantiles_hit_exactly():
    d = D.parse({"quantiles": {"p10": 2030, "p50": 2034, "p90": 2045}})
    assert isinstance(d, D.Quantiles)
    np.testing.assert_allclose(d.ppf(np.array([0.1, 0.5, 0.9])), [2030, 2034, 2045], rtol=1e-12)
    np.testing.assert_allclose(d.cdf(np.array([2030.0, 2034.0, 2045.0])), [0.1, 0.5, 0.9], rtol=1e-12)
    # Skewed as specified: the upper half is wider than the lower half.
    assert d.ppf(np.array([0.99]))[0] - 2034 > 2034 - d.ppf(np.array([0.01]))[0]


def test_quantiles_cdf_inverts_ppf():
    d = D.parse({"quantiles": {"p10": -1, "p50": 0, "p90": 5}})
    np.testing.assert_allclose(d.cdf(d.ppf(U)), U, rtol=1e-9, atol=1e-12)


def test_mixture_cdf_and_ppf_are_consistent():
    d = D.parse({"mixture": [{"weight": 0.3, "value": {"normal": {"mean": 0, "sd": 1}}},
                             {"weight": 0.7, "value": {"lognormal": {"median": 10, "sigma": 0.5}}}]})
    assert isinstance(d, D.Mixture)
    np.testing.assert_allclose(d.cdf(d.ppf(U)), U, rtol=0, atol=1e-9)
    x = np.array([-1.0, 0.0, 5.0, 10.0, 20.0])
    expected = 0.3 * stats.norm.cdf(x) + 0.7 * stats.lognorm(s=0.5, scale=10).cdf(x)
    np.testing.assert_allclose(d.cdf(x), expected, rtol=1e-12)


def test_mixture_of_two_points():
    d = D.parse({"mixture": [{"weight": 0.3, "value": 1}, {"weight": 0.7, "value": 5}]})
    np.testing.assert_allclose(d.ppf(np.array([0.01, 0.29, 0.31, 0.99])), [1, 1, 5, 5], atol=1e-12)
    x = mc_samples(d)
    # The share of samples at the lower point is Binomial(n, 0.3)/n: 4 standard errors of slack.
    se = math.sqrt(0.3 * 0.7 / N_MC)
    assert abs(np.mean(x < 3) - 0.3) < 4 * se


def test_mixture_components_use_the_ci():
    d = D.parse({"mixture": [{"weight": 0.5, "value": "1 to 100"}, {"weight": 0.5, "value": 3}]}, ci=80)
    assert d.components[0].ppf(np.array([0.1]))[0] == pytest.approx(1, rel=1e-9)


# ------------------------------------------------------------------------------------ against scipy
@pytest.mark.parametrize("spec", ["5 to 10", "-2 to 4", {"normal": {"mean": 1, "sd": 3}},
                                  {"lognormal": {"median": 2e9, "sigma": 1.2}},
                                  {"beta": {"a": 4, "b": 2}},
                                  {"beta": {"a": 0.5, "b": 0.5, "low": -1, "high": 3}},
                                  {"uniform": {"low": -5, "high": 5}}])
def test_ppf_and_cdf_match_scipy(spec):
    d = D.parse(spec)
    ref = D.scipy_frozen(d)
    assert ref is not None
    np.testing.assert_allclose(d.ppf(U), ref.ppf(U), rtol=1e-10)
    x = ref.ppf(U)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("spec", [3, {"quantiles": {"p10": 1, "p50": 2, "p90": 4}},
                                  {"mixture": [{"weight": 1, "value": 2}]}])
def test_scipy_frozen_is_none_without_an_equivalent(spec):
    assert D.scipy_frozen(D.parse(spec)) is None


# -------------------------------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize("spec, p5, p50, p95", [
    ("5 to 10", 5, math.sqrt(50), 10),
    ("-2 to 4", -2, 1, 4),
    # Split normal: p5 = p50 - z95 (p50 - p10) / z90, p95 = p50 + z95 (p90 - p50) / z90.
    ({"quantiles": {"p10": 2030, "p50": 2034, "p90": 2045}},
     2034 - 4 * Z95 / Z90, 2034, 2034 + 11 * Z95 / Z90),
    ({"uniform": {"low": 0, "high": 20}}, 1, 10, 19),
    ({"beta": {"a": 4, "b": 2}}, *stats.beta(4, 2).ppf([0.05, 0.5, 0.95])),
])
def test_monte_carlo_quantiles(spec, p5, p50, p95):
    x = mc_samples(D.parse(spec))
    for p, q in ((0.05, p5), (0.5, p50), (0.95, p95)):
        assert_quantile_matches(x, p, q)


def test_monte_carlo_mixture_quantiles():
    """Mixture quantiles solved independently (brentq on the analytic cdf) and matched by sampling."""
    d = D.parse({"mixture": [{"weight": 0.4, "value": "1 to 2"}, {"weight": 0.6, "value": "10 to 30"}]})
    comps = [D.scipy_frozen(c) for c in d.components]

    def cdf(x):
        return 0.4 * comps[0].cdf(x) + 0.6 * comps[1].cdf(x)

    from scipy.optimize import brentq
    x = mc_samples(d)
    for p in (0.05, 0.5, 0.95):
        q = brentq(lambda v, p=p: cdf(v) - p, 1e-3, 1e3, xtol=1e-12)
        assert d.ppf(np.array([p]))[0] == pytest.approx(q, rel=1e-9)
        assert_quantile_matches(x, p, q)


# ------------------------------------------------------------------------------------ invalid specs
@pytest.mark.parametrize("spec, message", [
    ("10 to 5", "a < b"),
    ("5 to 5", "a < b"),
    ({"normal": {"mean": 0, "sd": -1}}, "sd > 0"),
    ({"normal": {"mean": 0, "sd": 0}}, "sd > 0"),
    ({"normal": {"mean": 0}}, "missing sd"),
    ({"normal": {"mean": 0, "sd": 1, "skew": 2}}, "unknown skew"),
    ({"lognormal": {"median": -1, "sigma": 1}}, "median > 0"),
    ({"lognormal": {"median": 1, "sigma": 0}}, "sigma > 0"),
    ({"beta": {"a": 0, "b": 1}}, "a > 0 and b > 0"),
    ({"beta": {"a": 1, "b": 1, "low": 2, "high": 1}}, "low < high"),
    ({"uniform": {"low": 3, "high": 3}}, "low < high"),
    ({"quantiles": {"p10": 3, "p50": 2, "p90": 4}}, "p10 < p50 < p90"),
    ({"mixture": [{"weight": 0.5, "value": 1}, {"weight": 0.4, "value": 2}]}, "summing to 1"),
    ({"mixture": [{"weight": 1.5, "value": 1}, {"weight": -0.5, "value": 2}]}, "summing to 1"),
    ({"mixture": [{"weight": 1, "val": 1}]}, "weight: w, value"),
    ({"mixture": []}, "mixture: a list"),
    ({"gamma": {"k": 2}}, "normal, lognormal, beta, uniform, quantiles, mixture"),
    ({"normal": 3}, "a mapping of its parameters"),
    ({"normal": {"mean": 0, "sd": 1}, "uniform": {"low": 0, "high": 1}}, "one-key distribution mapping"),
    ("abc", "'a to b'"),
    ("5 - 10", "'a to b'"),
    (None, "found None"),
    (True, "found True"),
    ([1, 2], "one-key distribution mapping"),
])
def test_invalid_specs_raise_helpful_errors(spec, message):
    with pytest.raises(D.DistError) as e:
        D.parse(spec)
    assert message in str(e.value)


@pytest.mark.parametrize("ci", [0, 100, -5, 150, 1e-300, 0.5, 99.95])
def test_invalid_ci(ci):
    with pytest.raises(D.DistError, match="from 1 to 99.9"):
        D.parse("1 to 2", ci=ci)


@pytest.mark.parametrize("spec", ["nan", {"normal": {"mean": 0, "sd": float("nan")}},
                                  {"lognormal": {"median": 1, "sigma": float("nan")}}])
def test_nan_is_not_a_valid_distribution(spec):
    with pytest.raises(D.DistError):
        D.parse(spec)
