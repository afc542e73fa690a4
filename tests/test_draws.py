"""Draws: reproducibility, chunk invariance, common random numbers, copula, series interpolation."""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import computerace
from computerace.draws import BLOCK, Draws, draw, interpolate, month_years
from computerace.scenario import Series
from computerace.scenario import distributions as D
from computerace.scenario.schema import param_specs


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, overrides=None):
    return computerace.load_scenario(str(write(tmp_path, "scenario.yaml", text)), overrides)


def all_arrays(d: Draws) -> dict[str, np.ndarray]:
    """Every sampled array of a Draws, keyed by where it lives."""
    out = {f"scalar {k}": v for k, v in d.scalars.items()}
    out |= {f"knots {k}": v for k, (_, v) in d.knots.items()}
    out |= {f"quantile {k}": v for k, v in d.quantiles.items()}
    out |= {f"event {k}": v for k, v in d.events.items()}
    return out


def assert_same_draws(a: Draws, b: Draws, skip: tuple[str, ...] = ()) -> None:
    xa, xb = all_arrays(a), all_arrays(b)
    assert xa.keys() == xb.keys()
    for name in xa:
        if name.split(" ", 1)[1] in skip:
            continue
        np.testing.assert_array_equal(xa[name], xb[name], err_msg=name)


def assert_quantile_matches(samples: np.ndarray, p: float, expected: float) -> None:
    """Empirical p-quantile agrees with `expected` within 4 binomial standard errors of the empirical CDF.

    The count of samples below the true quantile is Binomial(n, p), so [q_hat(p - 4 se), q_hat(p + 4 se)]
    with se = sqrt(p (1 - p) / n) contains it except with probability ~6e-5.
    """
    se = math.sqrt(p * (1 - p) / len(samples))
    lo, hi = np.quantile(samples, [p - 4 * se, p + 4 * se])
    assert lo <= expected <= hi, f"p={p}: stated {expected}, Monte Carlo interval [{lo}, {hi}]"


@pytest.fixture(scope="module")
def baseline():
    return computerace.load_scenario("baseline")


@pytest.fixture(scope="module")
def big(baseline):
    return draw(baseline, 2100, seed=11)


# ---------------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_draws(baseline):
    a, b = draw(baseline, 1500, seed=3), draw(baseline, 1500, seed=3)
    assert_same_draws(a, b)
    assert a.n == 1500 and a.start == 0
    assert all(v.shape[0] == 1500 for v in all_arrays(a).values())


def test_different_seeds_differ(baseline):
    n = 2000
    a, b = draw(baseline, n, seed=3), draw(baseline, n, seed=4)
    for k in param_specs():
        # Independent streams: the Pearson correlation of two independent uniform vectors is ~N(0, 1/n);
        # 4 standard errors is 4/sqrt(n) = 0.09.
        assert abs(np.corrcoef(a.quantiles[k], b.quantiles[k])[0, 1]) < 4 / math.sqrt(n), k
        if k == "channels.legal_import_allowed":
            continue  # `controls`: the rules engine's frontier access, the same in every sample of the enacted rules
        if baseline.parameters[k].uncertain:
            assert not np.array_equal(a.get(k), b.get(k)), k
        else:
            np.testing.assert_array_equal(a.get(k), b.get(k), err_msg=k)


@pytest.mark.parametrize("start, n", [(0, BLOCK), (990, 25), (999, 2), (1500, 600), (1, 2099), (0, 2100),
                                      (7, 3), (998, 5), (0, 1), (1000, 1)])
def test_chunk_invariance(baseline, big, start, n):
    part = draw(baseline, n, seed=11, start=start)
    assert (part.start, part.n) == (start, n)
    whole = all_arrays(big)
    for name, v in all_arrays(part).items():
        np.testing.assert_array_equal(v, whole[name][start:start + n], err_msg=name)
    np.testing.assert_array_equal(part.path("power.us_growth_per_year"),
                                  big.path("power.us_growth_per_year")[start:start + n])


def test_blocks_continue_past_the_first(baseline):
    """Samples beyond the first block are new draws, not a repetition of block 0."""
    d = draw(baseline, 2 * BLOCK, seed=5)
    q = d.quantiles["finance.smuggled_price_multiplier"]
    assert not np.array_equal(q[:BLOCK], q[BLOCK:])


# ----------------------------------------------------------------------------- common random numbers
def test_point_override_leaves_other_draws_unchanged(baseline):
    key = "finance.smuggled_price_multiplier"
    a = draw(baseline, 3000, seed=7)
    b = draw(computerace.load_scenario("baseline", {key: 1.5}), 3000, seed=7)
    assert_same_draws(a, b, skip=(key,))
    np.testing.assert_array_equal(b.scalars[key], np.full(3000, 1.5))
    np.testing.assert_array_equal(a.quantiles[key], b.quantiles[key])


def test_changing_a_correlated_parameter_leaves_the_others_unchanged(baseline):
    """chip_efficiency_growth is correlated with watts_decline; its partner's draws must not move."""
    key = "supply.chip_efficiency_growth_per_year"
    a = draw(baseline, 3000, seed=7)
    b = draw(computerace.load_scenario("baseline", {key: "1.1 to 1.6"}), 3000, seed=7)
    assert_same_draws(a, b, skip=(key,))
    np.testing.assert_array_equal(a.quantiles[key], b.quantiles[key])
    assert not np.array_equal(a.get(key), b.get(key))


def test_shorter_horizon_gives_a_prefix_of_the_paths(baseline):
    a = draw(baseline, 500, seed=2)
    b = draw(computerace.load_scenario("baseline", {"horizon.end": "2030-12"}), 500, seed=2)
    # The export-control schedule has one knot per month of the horizon; its prefix is checked below.
    assert_same_draws(a, b, skip=("channels.legal_import_allowed",))
    for k in a.knots:
        np.testing.assert_array_equal(b.path(k), a.path(k)[:, :108], err_msg=k)


def test_values_are_the_ppf_of_the_recorded_quantiles(baseline, big):
    """Inverse transform: every value is its distribution's ppf at the stored u (a series' knots at their own)."""
    from computerace.scenario.distributions import ControlsSchedule

    for k, p in baseline.parameters.items():
        spec = p.spec
        if isinstance(p.value, ControlsSchedule):  # derived from the rules and other draws, tested elsewhere
            continue
        if isinstance(p.value, Series):
            got = big.knots[k][1]
            u = big.knot_quantiles.get(k)
            if u is None:  # a point series, or one knot: every knot at the series' quantile
                u = np.repeat(big.quantiles[k][:, None], len(p.value.dists), axis=1)
            want = np.stack([d.ppf(u[:, j]) for j, d in enumerate(p.value.dists)], axis=1)
        else:
            got, want = big.scalars[k], p.value.ppf(big.quantiles[k])
        inside = (want >= spec.min) & (want <= spec.max)  # values outside a key's range may be clipped
        assert inside.mean() > 0.99, k
        np.testing.assert_array_equal(got[inside], want[inside], err_msg=k)


# ---------------------------------------------------------------------------------- marginals, copula
CORRELATED = """
    extends: baseline
    correlations:
      - between: [finance.smuggled_price_multiplier, finance.compute_share]
        rho: 0.6
        assumption: A rank correlation to test the copula.
      - between: [channels.domestic_growth_per_year, finance.price_decline_per_year]
        rho: -0.4
        assumption: A negative rank correlation with a time series.
    """

N_CORR = 20_000
# Standard error of Spearman's rho at n = 20k: (1 - rho^2) sqrt(1.06 / n) ~ 0.005 for rho = 0.6, ~0.007 at 0.
# 0.03 is therefore about 4 to 6 standard errors.
RHO_TOL = 0.03


@pytest.fixture(scope="module")
def correlated(tmp_path_factory):
    sc = load(tmp_path_factory.mktemp("corr"), CORRELATED)
    return sc, draw(sc, N_CORR, seed=1)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.spearmanr(x, y)[0])


def test_rank_correlation_matches_rho(correlated):
    _, d = correlated
    rho = spearman(d.scalars["finance.smuggled_price_multiplier"], d.scalars["finance.compute_share"])
    assert rho == pytest.approx(0.6, abs=RHO_TOL)
    # A correlation acts on a series' common level; each knot's normal is sqrt(1 - s) of it plus its own
    # deviation (paths.deviation_share s), so a knot's normal-score correlation is sqrt(1 - s) x 2 sin(pi rho / 6)
    # and its rank correlation (6 / pi) asin(that / 2); the level itself carries rho exactly.
    sc, _ = correlated
    s = sc.paths.deviation_share
    growth = d.knots["channels.domestic_growth_per_year"][1]
    assert spearman(d.quantiles["channels.domestic_growth_per_year"], d.scalars["finance.price_decline_per_year"]
                    ) == pytest.approx(-0.4, abs=RHO_TOL)
    r_knot = 6 / math.pi * math.asin(math.sqrt(1 - s) * 2 * math.sin(math.pi * -0.4 / 6) / 2)
    assert s > 0 and r_knot > -0.35  # the dilution is large enough for this test to tell the two apart
    for j in range(growth.shape[1]):
        if growth[:, j].std() == 0:
            continue
        assert spearman(growth[:, j], d.scalars["finance.price_decline_per_year"]) == pytest.approx(
            r_knot, abs=RHO_TOL)


def test_uncorrelated_pairs_stay_uncorrelated(correlated):
    _, d = correlated
    pairs = [("finance.smuggled_price_multiplier", "channels.conditional_licence_share"),
             ("finance.compute_share", "finance.price_decline_per_year"),
             # baseline correlated these two; the child's correlation list replaces baseline's
             ("power.watts_decline_per_year", "supply.chip_efficiency_growth_per_year")]
    for a, b in pairs:
        assert abs(spearman(d.quantiles[a], d.quantiles[b])) < RHO_TOL, (a, b)


def test_baseline_correlations(baseline):
    d = draw(baseline, N_CORR, seed=1)
    for c in baseline.correlations:
        a, b = c.between
        assert spearman(d.quantiles[a], d.quantiles[b]) == pytest.approx(c.rho, abs=RHO_TOL), c.between


def test_copula_keeps_the_stated_marginals(correlated):
    """Correlating a parameter must not change its own distribution: p5/p95 stay at the 90% interval."""
    sc, d = correlated
    for key in ("finance.smuggled_price_multiplier", "finance.compute_share", "finance.price_decline_per_year"):
        dist = sc.parameters[key].value
        # The stated interval, read back from the text the scenario was written with ("a to b (90% CI, ...)").
        a, b = (D.parse_number(x) for x in dist.text.split(" (")[0].split(" to "))
        x = d.scalars[key]
        assert_quantile_matches(x, 0.05, a)
        assert_quantile_matches(x, 0.95, b)
        assert_quantile_matches(x, 0.5, math.sqrt(a * b))  # lognormal: the median is the geometric mean


def test_event_uniforms(big):
    u = big.events["taiwan"]
    assert np.all((u > 0) & (u < 1))
    for p in (0.05, 0.5, 0.95):
        assert_quantile_matches(u, p, p)


# -------------------------------------------------------------------------------------- time series
SERIES = """
    extends: baseline
    power:
      us_growth_per_year:
        value: {{by_year: {{2022: 1, 2024: 4}}}}
        {interp}
        assumption: Two point knots to check interpolation in closed form.
    channels:
      legal_import_allowed:
        value:
          schedule:
            "2022-01": 1
            "2023-11": 0.5
            "2025-04": 0
        assumption: Three regimes to check that a schedule steps at the right month.
    """


def month_index(d: Draws, month: str) -> int:
    return int(np.flatnonzero(d.months == np.datetime64(month, "M"))[0])


def test_by_year_log_interpolation(tmp_path):
    sc = load(tmp_path, SERIES.format(interp=""))
    assert sc.parameters["power.us_growth_per_year"].value.mode == "log"
    d = draw(sc, 4, seed=0)
    path = d.path("power.us_growth_per_year")
    assert np.all(path == path[:1])  # point knots: every sample identical
    v = path[0]
    assert v[month_index(d, "2023-07")] == pytest.approx(2.0, rel=1e-12)  # geometric midpoint of 1 and 4
    np.testing.assert_array_equal(v[: month_index(d, "2022-07") + 1], 1.0)  # flat up to the first knot
    np.testing.assert_allclose(v[month_index(d, "2024-07"):], 4.0, rtol=1e-12)  # flat after the last
    # Between the knots (mid-2022 to mid-2024), ln v is linear in time: v = 4 ** ((t - 2022.5) / 2).
    t = month_years(d.months)
    inside = (t >= 2022.5) & (t <= 2024.5)
    np.testing.assert_allclose(v[inside], 4.0 ** ((t[inside] - 2022.5) / 2), rtol=1e-12)


def test_by_year_linear_interpolation(tmp_path):
    sc = load(tmp_path, SERIES.format(interp="interpolate: linear"))
    d = draw(sc, 2, seed=0)
    v = d.path("power.us_growth_per_year")[0]
    assert v[month_index(d, "2023-07")] == pytest.approx(2.5, rel=1e-12)
    assert v[month_index(d, "2022-10")] == pytest.approx(1.375, rel=1e-12)  # 1 + 3 * 0.25 / 2
    assert v[0] == 1.0 and v[-1] == 4.0


def test_schedule_steps_at_the_right_month(tmp_path):
    d = draw(load(tmp_path, SERIES.format(interp="")), 3, seed=0)
    v = d.path("channels.legal_import_allowed")[0]
    expected = np.where(d.months < np.datetime64("2023-11"), 1.0,
                        np.where(d.months < np.datetime64("2025-04"), 0.5, 0.0))
    np.testing.assert_array_equal(v, expected)
    assert v[month_index(d, "2023-10")] == 1.0 and v[month_index(d, "2023-11")] == 0.5
    assert v[month_index(d, "2025-03")] == 0.5 and v[month_index(d, "2025-04")] == 0.0


def test_interpolate_directly():
    t = np.array([2020.0, 2022.5, 2023.0, 2023.5, 2025.5, 2030.0])
    values = np.array([[1.0, 4.0, 2.0], [2.0, 2.0, 2.0]])
    log = Series((2022.5, 2023.5, 2025.5), (D.Point(), D.Point(), D.Point()), "log")
    np.testing.assert_allclose(interpolate(log, values, t),
                               [[1, 1, 2, 4, 2, 2], [2, 2, 2, 2, 2, 2]], rtol=1e-12)
    lin = Series(log.times, log.dists, "linear")
    np.testing.assert_allclose(interpolate(lin, values, t)[0], [1, 1, 2.5, 4, 2, 2], rtol=1e-12)
    step = Series((2022.0, 2023.0, 2025.0), log.dists, "step")
    np.testing.assert_array_equal(interpolate(step, values, t)[0], [1, 1, 4, 4, 2, 2])
    one = Series((2024.5,), (D.Point(),), "log")
    np.testing.assert_array_equal(interpolate(one, values[:, :1], t), np.repeat(values[:, :1], 6, axis=1))


def test_month_years():
    months = np.array(["1970-01", "2024-07", "2025-12"], dtype="datetime64[M]")
    np.testing.assert_array_equal(month_years(months), [1970.0, 2024.5, 2025 + 11 / 12])


# ------------------------------------------------------------ the model's month-by-month view (model/inputs.py)
def assert_stepper_matches_path(d: Draws, key: str, power: float) -> None:
    path = d.path(key) ** power
    monthly = d.inputs().series(key, power)
    for m in range(path.shape[1]):
        # Each month is computed from its two knots (logs scaled by the power for log series): rounding only.
        np.testing.assert_allclose(monthly.at(m), path[:, m], rtol=1e-12, atol=0, err_msg=f"{key} month {m}")


POWERS = [1.0, 1 / 12, -0.5]


@pytest.mark.parametrize("power", POWERS)
@pytest.mark.parametrize("horizon", [None, ("2023-03", "2031-05"), ("2020-01", "2023-02"),
                                     ("2041-01", "2042-06")])
def test_stepper_equals_path_baseline(baseline, power, horizon):
    sc = baseline if horizon is None else computerace.load_scenario(
        "baseline", {"horizon.start": horizon[0], "horizon.end": horizon[1]})
    d = draw(sc, 300, seed=9)
    modes = {s.mode for s, _ in d.knots.values()}
    assert modes == {"log", "step"}
    for key in list(d.knots) + ["finance.compute_share"]:
        with np.errstate(divide="ignore"):  # the step series has zeros: 0 ** -0.5 = inf on both sides
            assert_stepper_matches_path(d, key, power)


@pytest.mark.parametrize("power", POWERS)
def test_stepper_equals_path_linear(tmp_path, power):
    write(tmp_path, "series.yaml", SERIES.format(interp="interpolate: linear"))
    text = """
        extends: series.yaml
        channels:
          legal_import_allowed:
            value: {by_year: {2022: 1, 2024: 0.2 to 0.6, 2027: {uniform: {low: 0.0, high: 0.3}}, 2035: 0.5}}
            interpolate: linear
            assumption: Uncertain knots interpolated linearly, one of which can reach zero.
        """
    sc = computerace.load_scenario(str(write(tmp_path, "linear.yaml", text)))
    assert sc.parameters["channels.legal_import_allowed"].value.mode == "linear"
    assert sc.parameters["power.us_growth_per_year"].value.mode == "linear"
    d = draw(sc, 300, seed=9)
    with np.errstate(divide="ignore"):
        for key in ("channels.legal_import_allowed", "power.us_growth_per_year"):
            assert_stepper_matches_path(d, key, power)


def test_stepper_one_month_horizon_without_warnings(baseline):
    sc = computerace.load_scenario("baseline", {"horizon.start": "2030-05", "horizon.end": "2030-05"})
    d = draw(sc, 10, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_stepper_matches_path(d, "power.us_growth_per_year", 1 / 12)


def test_log_mode_paths_are_finite_for_knots_with_a_tail_below_zero(tmp_path):
    # normal(0.5, 0.15): 0.1% quantile 0.036 > 0 passes the range check and selects log mode, yet
    # P(x <= 0) = Phi(-3.33) = 4e-4, i.e. ~4 of 10k samples.
    sc = load(tmp_path, """
        extends: baseline
        channels:
          legal_import_allowed:
            value: {by_year: {2022: 1, 2030: {normal: {mean: 0.5, sd: 0.15}}}}
            assumption: A normal knot whose far tail crosses zero.
        """)
    d = draw(sc, 10_000, seed=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        path = d.path("channels.legal_import_allowed")
    assert np.isfinite(path).all()


def test_take_reorders_every_array(big):
    order = np.random.default_rng(0).permutation(big.n)
    t = big.take(order)
    for name, v in all_arrays(t).items():
        np.testing.assert_array_equal(v, all_arrays(big)[name][order], err_msg=name)
    np.testing.assert_array_equal(t.path("finance.us_capex_usd_per_year"),
                                  big.path("finance.us_capex_usd_per_year")[order])
