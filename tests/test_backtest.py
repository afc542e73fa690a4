"""Backtest scoring on synthetic data with known answers, and the as-of scenario."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from computerace import load_scenario
from computerace.analysis.backtest import as_of_scenario, crps, score, widen
from computerace.scenario.distributions import LogNormal, Point

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")


def test_crps_of_a_normal_ensemble_matches_the_closed_form():
    # Gneiting & Raftery (2007): CRPS(N(0, s), y) = s [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)], z = y / s.
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200_000) * 2.0
    for y in (0.0, 1.0, -3.0):
        z = y / 2.0
        exact = 2.0 * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
        assert crps(x, y) == pytest.approx(exact, rel=0.01)


def test_crps_of_a_point_forecast_is_the_absolute_error():
    assert crps(np.full(10, 5.0), 7.0) == pytest.approx(2.0)


def test_coverage_is_nominal_when_observations_come_from_the_forecast():
    # 400 observations drawn from the forecast itself: the share inside the 50% (90%) interval is binomial
    # around 0.5 (0.9); 4 standard errors are 0.1 (0.06).
    rng = np.random.default_rng(1)
    x = rng.lognormal(0, 0.5, 50_000)
    ys = rng.lognormal(0, 0.5, 400)
    hits50 = np.mean([score(x, y)["in_50"] for y in ys])
    hits90 = np.mean([score(x, y)["in_90"] for y in ys])
    assert abs(hits50 - 0.5) < 0.1 and abs(hits90 - 0.9) < 0.06


def test_widen_keeps_the_median_and_stretches_the_interval():
    d = LogNormal("x", 0.0, 0.2)
    w = widen(d, 3.0)
    assert w.median == pytest.approx(d.median)
    lo, hi = w.ppf(np.array([0.05, 0.95]))
    assert hi / lo > 9.0  # at least x3 either side of the median
    p = widen(Point("5", 5.0), 2.0)
    assert p.median == pytest.approx(5.0) and p.ppf(np.array([0.95]))[0] == pytest.approx(10.0, rel=1e-9)


def test_as_of_scenario_drops_later_policy_and_widens_later_sources():
    sc, changes = as_of_scenario(load_scenario("baseline"), dt.date(2023, 1, 1))
    from computerace.scenario.distributions import ControlsSchedule

    allowed = sc.parameters["channels.legal_import_allowed"].value
    assert isinstance(allowed, ControlsSchedule) and allowed.freeze_after == "2023-01"  # later rules unknown
    base = load_scenario("baseline").parameters["stock.useful_life_years"].value
    assert sc.parameters["stock.useful_life_years"].value == base  # an assumption, no source: kept
    keys = {c["parameter"] for c in changes}
    assert "channels.proxy_die_bank_dies" in keys  # sourced in 2025: widened


def test_cli_backtest_json_reports_coverage_per_series(tmp_path):
    p = subprocess.run([CR, "backtest", "--as-of", "2023-01-01", "--samples", "300", "--json", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["series"] and all(0 <= s["coverage_90"] <= 1 for s in r["series"])
    assert (tmp_path / "backtest.html").stat().st_size > 0
    p = subprocess.run([CR, "backtest", "--as-of", "1999-01-01"], capture_output=True, text=True)
    assert p.returncode == 2 and "outside the horizon" in p.stderr


def test_year_valued_parameters_are_widened_additively_and_stay_plausible():
    """As of 2023, a date known only from later sources is widened by at most two years a side (factor 3), never
    on a log scale (which sent TSMC's N3 to 2020 and 2100 and SMIC's N5 to 2015)."""
    import datetime as dt

    import numpy as np

    import computerace as cr
    from computerace.analysis.backtest import as_of_scenario
    from computerace.draws import draw

    base = cr.load_scenario("baseline")
    sc, _ = as_of_scenario(base, dt.date(2023, 1, 1))
    d = draw(sc, 2000, 0)
    n3 = d.get("capability.tsmc_n3_year")
    assert n3.min() >= 2022.9 - 2 - 1e-9 and n3.max() <= 2022.9 + 2 + 1e-9 and n3.std() > 0.5
    for k, p in sc.parameters.items():
        if p.spec.unit != "year":
            continue
        lo, hi = (float(x) for x in base.parameters[k].value.ppf(np.array([0.05, 0.95])))
        v = d.get(k)
        assert v.min() >= min(lo - 2, base.parameters[k].value.ppf(np.array([1e-12]))[0]) - 1e-9, k
        assert v.max() <= max(hi + 2, base.parameters[k].value.ppf(np.array([1 - 1e-12]))[0]) + 1e-9, k


def test_log_score_binomial_interval_and_naive_forecast_closed_forms():
    import math

    import numpy as np
    from scipy import stats

    from computerace.analysis.backtest import binomial_interval, log_score, naive_forecast

    # a lognormal ensemble: the kernel estimate of ln y's density is close to the normal density (n = 200k)
    rng = np.random.default_rng(0)
    x = np.exp(rng.normal(2.0, 0.5, 200_000))
    assert log_score(x, math.exp(2.3)) == pytest.approx(stats.norm.logpdf(2.3, 2.0, 0.5), abs=0.02)
    assert log_score(x, math.exp(2.0)) > log_score(x, math.exp(3.5))  # closer to the mass scores higher
    # Clopper-Pearson: 0 of 10 -> [0, 1 - 0.05^(1/10)]; 10 of 10 -> [0.05^(1/10), 1]
    assert binomial_interval(0, 10) == pytest.approx((0.0, 1 - 0.05 ** 0.1))
    assert binomial_interval(10, 10) == pytest.approx((0.05 ** 0.1, 1.0))
    lo, hi = binomial_interval(5, 10)
    assert lo < 0.5 < hi
    # trend extrapolation: 100 in 2022, 200 in 2023 -> 400 in 2024; one point is held flat; none gives None
    assert naive_forecast([("2022-12", 100.0), ("2023-12", 200.0)], "2024-12") == pytest.approx(400.0)
    assert naive_forecast([("2023-12", 7.0)], "2025-12") == 7.0
    assert naive_forecast([], "2025-12") is None


def test_every_vintage_cites_only_sources_published_by_its_date_and_runs():
    """Each baseline vintage loads under its own as-of date (no parameter cites a later source), runs, and holds
    the export-control rules of its date (no later licensed-part halt is known)."""
    import numpy as np

    import computerace as cr
    from computerace.scenario.loader import vintages

    vs = vintages()
    assert "2024-01-01" in vs
    for date, path in vs.items():
        sc = cr.load_scenario(str(path), as_of=date)
        assert sc.resolved["as_of"] == date
        ds = cr.run(sc, samples=200, seed=0).dataset
        assert np.isfinite(ds["stock_h100e"].values).all()
        for k, p in sc.parameters.items():  # year-valued parameters stay in plausible years
            if p.spec.unit == "year" and not isinstance(p.value, cr.scenario.Series):
                lo, hi = p.value.ppf(np.array([1e-9, 1 - 1e-9]))
                assert 2015 <= lo and hi <= 2200, (date, k, lo, hi)


def test_backtest_from_vintages_scores_later_evidence_and_ai2027(tmp_path):
    from computerace.analysis.backtest import vintage_backtest
    from computerace.scenario.loader import vintages

    assert set(vintages()) == {"2023-01-01", "2024-01-01", "2025-04-01"}
    res = vintage_backtest(dates=tuple(vintages()), samples=600, seed=0)
    pooled = res["pooled"]
    assert pooled["observations"] >= 15 and len(pooled["series"]) >= 4
    assert "china_domestic_output_h100e" in pooled["series"] and "china_owned_share" in pooled["series"]
    lo, hi = pooled["coverage_90_interval"]
    assert lo <= pooled["coverage_90"] <= hi
    for v in res["vintages"]:
        for o in v["observations"]:  # scored only on what came after the vintage
            assert o["period_end"] > v["as_of"][:7]
    assert any("ai2027" in v for v in res["vintages"]) and pooled["skill_vs_naive"] is not None
