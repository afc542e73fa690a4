"""Sobol sensitivity: against analytic indices (Ishigami), on constructed scenarios with known answers,
the copula of grouped inputs, agreement with `run`, the tornado and the command line."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import computerace
from computerace.analysis import sensitivity as S
from computerace.analysis.metrics import sample_values, years_behind_stock
from computerace.draws import EVENT_STREAMS, draw
from computerace.errors import UserError
from computerace.report.tornado import tornado_figure, write_tornado_html
from computerace.scenario import Series
from computerace.scenario.distributions import ControlsSchedule
from computerace.scenario.schema import param_specs

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")


@pytest.fixture(scope="module")
def baseline():
    return computerace.load_scenario("baseline")


# ------------------------------------------------------------------------------ Ishigami
# Analytic indices of the Ishigami function with a = 7, b = 0.1 (Ishigami & Homma 1990; Sobol' &
# Levitan 1999): V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2, V1 = (1 + b pi^4/5)^2 / 2, V2 = a^2/8,
# V13 = 8 b^2 pi^8 / 225, V3 = V12 = V23 = V123 = 0.
A_, B_ = 7.0, 0.1
V = A_**2 / 8 + B_ * math.pi**4 / 5 + B_**2 * math.pi**8 / 18 + 0.5
V1, V2, V13 = 0.5 * (1 + B_ * math.pi**4 / 5) ** 2, A_**2 / 8, 8 * B_**2 * math.pi**8 / 225


def ishigami_unit(x: np.ndarray) -> np.ndarray:
    return S.ishigami(-math.pi + 2 * math.pi * x, A_, B_)


def test_ishigami_analytic_values_are_the_published_ones():
    np.testing.assert_allclose([V1 / V, V2 / V, 0.0], [0.314, 0.442, 0.0], atol=1e-3)
    np.testing.assert_allclose([(V1 + V13) / V, V2 / V, V13 / V], [0.558, 0.442, 0.244], atol=1e-3)


def test_sobol_on_ishigami_matches_analytic_indices():
    # SALib's own tolerances (tests/test_regression.py): atol=5e-2, rtol=1e-1.
    r = S.sobol_indices(ishigami_unit, ["x1", "x2", "x3"], None, 1024, seed=7)
    assert r["names"] == ["x1", "x2", "x3"]
    np.testing.assert_allclose(r["S1"], [V1 / V, V2 / V, 0.0], atol=5e-2, rtol=1e-1)
    np.testing.assert_allclose(r["ST"], [(V1 + V13) / V, V2 / V, V13 / V], atol=5e-2, rtol=1e-1)
    assert len(r["Y"]) == 1024 * (3 + 2)


def test_sobol_on_ishigami_confidence_intervals_cover_the_truth():
    r = S.sobol_indices(ishigami_unit, ["x1", "x2", "x3"], None, 2048, seed=11)
    truth = {"S1": [V1 / V, V2 / V, 0.0], "ST": [(V1 + V13) / V, V2 / V, V13 / V]}
    for k, t in truth.items():
        assert (r[f"{k}_conf"] > 0).all() and (r[f"{k}_conf"] < 0.1).all(), k
        # 95% intervals; with 6 of them a miss by more than 1.5 half-widths would be a real error.
        assert (np.abs(r[k] - t) <= 1.5 * r[f"{k}_conf"]).all(), (k, r[k], r[f"{k}_conf"])


def test_grouped_ishigami_gives_the_joint_index_of_the_group():
    # x1 and x3 as one group: S1 = ST = (V1 + V3 + V13) / V = 0.558; x2 alone: 0.442.
    r = S.sobol_indices(ishigami_unit, ["x1", "x2", "x3"], ["g13", "x2", "g13"], 1024, seed=3)
    assert r["names"] == ["g13", "x2"]
    np.testing.assert_allclose(r["S1"], [(V1 + V13) / V, V2 / V], atol=5e-2, rtol=1e-1)
    np.testing.assert_allclose(r["ST"], [(V1 + V13) / V, V2 / V], atol=5e-2, rtol=1e-1)


def test_saltelli_matrix_is_salibs_sampler():
    from SALib.sample import sobol as salib_sobol
    from scipy.stats import qmc

    names = [f"x{i}" for i in range(5)]
    groups = ["a", "b", "a", "c", "b"]
    problem = {"num_vars": 5, "names": names, "bounds": [[0.0, 1.0]] * 5, "groups": groups}
    expected = salib_sobol.sample(problem, 16, calc_second_order=False, seed=5)
    base = qmc.Sobol(d=10, scramble=True, seed=5).random(16)
    np.testing.assert_array_equal(S.saltelli_matrix(base, groups), expected)


@pytest.mark.parametrize("n", [0, 1, 100, 1000])
def test_base_samples_must_be_a_power_of_two(n):
    with pytest.raises(UserError, match="power of 2"):
        S.sobol_indices(ishigami_unit, ["x1", "x2", "x3"], None, n)


def test_non_finite_outputs_are_a_clear_error():
    with pytest.raises(UserError, match="not finite in 64 of"):
        S.sobol_indices(lambda x: np.where(x[:, 0] < 2, np.inf, 0.0), ["a", "b"], None, 16)


# ---------------------------------------------------------------------- scenario as inputs
def test_baseline_inputs_are_every_uncertain_parameter_and_the_event_uniforms(baseline):
    inp = S.scenario_inputs(baseline)
    uncertain = [k for k in param_specs() if baseline.parameters[k].uncertain
                 and not isinstance(baseline.parameters[k].value, ControlsSchedule)]
    assert inp.names == uncertain + [f"events.{e}_time_u" for e in EVENT_STREAMS]
    assert len(inp.names) > 30
    assert "channels.proxy_drawdown_start" not in inp.names  # a point value in the baseline
    pairs = {tuple(sorted(c.between)) for c in baseline.correlations}
    groups = [set(inp.members(g)) for g in inp.group_names if len(inp.members(g)) > 1]
    assert all(any(set(p) <= g for g in groups) for p in pairs) and len(pairs) == len(baseline.correlations)
    # connected sets: US capex with CoWoS and area growth; watts with chip efficiency and H100e per package;
    # China's lever block (capex, AI wafer share, HBM, packaging, EUV year, domestic growth)
    assert sorted(len(g) for g in groups) == [3, 3, 6]
    assert len(inp.group_names) == len(inp.names) - sum(len(g) - 1 for g in groups)


def test_controls_schedule_is_not_an_input_but_its_levels_are(tmp_path):
    path = tmp_path / "controls.yaml"
    path.write_text("extends: baseline\nchannels:\n  legal_import_allowed:\n    value: controls\n"
                    "    unit: fraction\n    assumption: the export-control rules engine decides each month\n")
    sc = computerace.load_scenario(str(path))
    inp = S.scenario_inputs(sc)
    assert "channels.legal_import_allowed" not in inp.names
    levels = [k for k in ("channels.conditional_licence_share", "imports.h20_chips_per_month")
              if sc.parameters[k].uncertain]
    assert levels and set(levels) <= set(inp.names)


def test_point_mode_has_no_inputs_and_says_so(tmp_path):
    path = tmp_path / "point.yaml"
    path.write_text("extends: baseline\nmode: point\n")
    sc = computerace.load_scenario(str(path))
    assert S.scenario_inputs(sc).names == []
    q, ev = S.quantiles_of(S.scenario_inputs(sc), sc, np.empty((4, 0)))
    assert (ev["taiwan"] == 0.5).all()  # as draw() fixes event times in point mode
    with pytest.raises(UserError, match="no uncertain inputs"):
        S.sobol(sc, "china_share", 2030, samples=16)


def test_grouped_inputs_get_the_scenarios_rank_correlations_and_keep_uniform_marginals(baseline):
    inp = S.scenario_inputs(baseline)
    x = np.random.default_rng(0).random((20_000, len(inp.names)))
    q, ev = S.quantiles_of(inp, baseline, x)
    se = 1 / math.sqrt(len(x))
    for c in baseline.correlations:
        a, b = c.between
        rho = stats.spearmanr(q[a], q[b]).statistic
        assert abs(rho - c.rho) < 5 * se, (c.between, rho)
        for k in (a, b):
            assert stats.kstest(q[k], "uniform").pvalue > 1e-4, k
    # members of different groups stay independent
    g = [inp.members(name) for name in inp.group_names if len(inp.members(name)) > 1]
    assert abs(stats.spearmanr(q[g[0][0]], q[g[1][0]]).statistic) < 5 * se
    # ungrouped inputs pass through unchanged; point parameters sit at u = 0.5
    k = "smuggling.enforcement"
    np.testing.assert_array_equal(q[k], x[:, inp.names.index(k)])
    np.testing.assert_array_equal(ev["taiwan"], x[:, inp.names.index("events.taiwan_time_u")])
    assert (q["channels.proxy_drawdown_start"] == 0.5).all()


@pytest.fixture(scope="module")
def run300(baseline):
    n, seed = 300, 5
    return draw(baseline, n, seed), computerace.run(baseline, samples=n, seed=seed).dataset


def metric_cases() -> list[tuple[str, str | None]]:
    cases = []
    for metric, (_, keys, _) in S.metric_table().items():
        cases += [(metric, None)] if keys is None else [(metric, k) for k in keys]
    return cases


@pytest.mark.parametrize("metric, key", metric_cases())
def test_evaluate_reproduces_every_metric_of_a_run(baseline, run300, metric, key):
    # Same draws as run(seed=5): each metric at 2030-12 from the horizon cut at 2030-12 equals the full
    # run's, read by the same function (sample_values): the model is causal and the layout is the Run's.
    d, ds = run300
    got, _ = S.evaluate(baseline, d.quantiles, d.events, metric, 2030, key, knot_quantiles=d.knot_quantiles)
    want = sample_values(ds, metric, key or "China", "2030-12")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True)
    assert np.isfinite(got).all()


def test_evaluate_by_hand_for_the_headline_metrics(baseline, run300):
    d, ds = run300
    m = int(np.flatnonzero(ds["month"].values.astype("datetime64[M]") == np.datetime64("2030-12"))[0])
    stock = ds["stock_h100e"].values[:, m].astype(np.float64)
    share, _ = S.evaluate(baseline, d.quantiles, d.events, "china_share", 2030, knot_quantiles=d.knot_quantiles)
    np.testing.assert_allclose(share, stock[:, 1] / stock.sum(axis=1), rtol=1e-12)
    ratio, _ = S.evaluate(baseline, d.quantiles, d.events, "us_to_china_ratio", 2030, knot_quantiles=d.knot_quantiles)
    np.testing.assert_allclose(ratio, stock[:, 0] / stock[:, 1], rtol=1e-12)
    yb, _ = S.evaluate(baseline, d.quantiles, d.events, "years_behind_stock", 2030, knot_quantiles=d.knot_quantiles)
    np.testing.assert_array_equal(yb, years_behind_stock(ds, [m])[0].values[:, 0])


def test_results_do_not_depend_on_the_evaluation_chunk(baseline):
    d = draw(baseline, 500, 2)
    a, _ = S.evaluate(baseline, d.quantiles, d.events, "china_share", 2032, chunk=500)
    b, _ = S.evaluate(baseline, d.quantiles, d.events, "china_share", 2032, chunk=77)
    np.testing.assert_array_equal(a, b)


def only_uncertain(base, keep: set[str], extra: dict | None = None):
    """`base` with every uncertain parameter outside `keep` fixed at its median (series: each knot's)."""
    over = {}
    for k, p in base.parameters.items():
        if p.uncertain and k not in keep and not isinstance(p.value, ControlsSchedule):
            v = p.value
            if not isinstance(v, Series):
                over[k] = v.median
            elif v.mode == "step":
                over[k] = {"schedule": {f"{int(t)}-{round((t % 1) * 12) + 1:02d}": d.median
                                        for t, d in zip(v.times, v.dists, strict=True)}}
            else:
                over[k] = {"by_year": {int(t): d.median for t, d in zip(v.times, v.dists, strict=True)}}
    return computerace.load_scenario("baseline", over | (extra or {}))


#: No event can happen: every event uniform is an irrelevant input (its indices are exactly 0).
NO_EVENTS = {"events.taiwan_hazard_per_year": 0, "events.controls_shift_hazard_per_year": 0,
             "events.capex_bust_hazard_per_year": 0, "events.china_centralise_hazard_per_year": 0}


def test_one_uncertain_parameter_carries_all_the_variance(baseline):
    # Only China's capex is uncertain, and no Taiwan event can happen: S1 = ST = 1 for it and exactly 0
    # for the (irrelevant) event uniform. Its correlation partner is now a point: no group. The
    # tolerance 0.1 is the estimators' 95% half-width at N = 1024 for this output.
    k = "supply.china_domestic_hbm_stacks_per_year"  # HBM binds China's domestic output at the medians
    sc = only_uncertain(baseline, {k}, NO_EVENTS)
    r = S.sobol(sc, "years_behind_stock", 2030, samples=1024, seed=1)
    assert r["inputs"] == 1 + len(EVENT_STREAMS) and r["groups"] == 1 + len(EVENT_STREAMS)
    assert r["correlated_groups"] == []
    top, *evs = r["indices"]
    assert top["input"] == k and {e["input"] for e in evs} == {f"events.{e}_time_u" for e in EVENT_STREAMS}
    assert top["S1"] == pytest.approx(1, abs=0.1) and top["ST"] == pytest.approx(1, abs=0.1)
    assert top["S1_conf"] < 0.15 and top["ST_conf"] < 0.1
    assert all(ev["S1"] == 0 and ev["ST"] == 0 for ev in evs)
    assert top["rank_correlation"][k] < -0.9  # more HBM for China, fewer years behind
    assert r["output"]["sd"] > 0.1


def test_a_metric_that_does_not_vary_is_a_clear_error(baseline):
    # power caps operational compute only, never owned stock
    sc = only_uncertain(baseline, {"power.domestic_watts_multiplier"}, NO_EVENTS)
    with pytest.raises(UserError, match="does not vary"):
        S.sobol(sc, "years_behind_stock", 2030, samples=16)


def test_a_correlated_pair_alone_is_one_group_with_all_the_variance(baseline):
    pair = {"supply.cowos_wafers_per_month", "finance.us_capex_usd_per_year"}  # CoWoS binds the US at the medians
    sc = only_uncertain(baseline, pair, {**NO_EVENTS,
                                         # ample power, so that power does not bind instead of CoWoS and capex
                                         "power.us_available_2022_gw": 1000, "power.row_available_2022_gw": 1000})
    r = S.sobol(sc, "china_share", 2030, samples=1024, seed=2)
    assert r["inputs"] == 2 + len(EVENT_STREAMS) and r["groups"] == 1 + len(EVENT_STREAMS)
    (grp,) = r["correlated_groups"]
    assert set(grp["members"]) == pair
    top = r["indices"][0]
    assert set(top["members"]) == pair
    assert top["S1"] == pytest.approx(1, abs=0.1) and top["ST"] == pytest.approx(1, abs=0.1)
    assert r["indices"][1]["ST"] == 0


def test_baseline_result_layout_and_ordering(baseline):
    r = S.sobol(baseline, "years_behind_stock", 2030, samples=64, seed=0)
    json.dumps(r)  # JSON-ready
    inp = S.scenario_inputs(baseline)
    assert r["evaluations"] == 64 * (len(inp.group_names) + 2)
    assert [row["input"] for row in r["indices"]] != inp.group_names  # reordered ...
    st = [row["ST"] for row in r["indices"]]
    assert st == sorted(st, reverse=True)  # ... by total order
    assert {row["input"] for row in r["indices"]} == set(inp.group_names)
    for row in r["indices"]:
        assert row["S1_ci"] == [row["S1"] - row["S1_conf"], row["S1"] + row["S1_conf"]]
        assert set(row["rank_correlation"]) == set(row["members"])
    assert r["month"] == "2030-12" and r["unit"] == "years" and r["seconds"] > 0


def test_same_seed_same_indices_other_seed_differs(baseline):
    a = S.sobol(baseline, "china_share", 2028, samples=32, seed=4)
    b = S.sobol(baseline, "china_share", 2028, samples=32, seed=4)
    c = S.sobol(baseline, "china_share", 2028, samples=32, seed=5)
    assert a["indices"] == b["indices"] and a["output"] == b["output"]
    assert a["output"] != c["output"]


def test_log_analyses_log10_of_the_metric(baseline):
    d = draw(baseline, 200, 1)
    lin, _ = S.evaluate(baseline, d.quantiles, d.events, "stock_h100e", 2030, "US")
    lg, _ = S.evaluate(baseline, d.quantiles, d.events, "stock_h100e", 2030, "US", log=True)
    np.testing.assert_allclose(lg, np.log10(lin), rtol=1e-14)
    assert S.sobol(baseline, "stock_h100e", 2030, "US", samples=16, log=True)["unit"] == "log10 H100e"
    # China ahead (negative years behind) in most samples of this constructed scenario: almost no CoWoS
    sc = computerace.load_scenario("baseline", {"supply.cowos_wafers_per_month": 10.0})
    with pytest.raises(UserError, match="positive"):
        S.sobol(sc, "years_behind_stock", 2030, samples=16, log=True)


@pytest.mark.parametrize("metric, key, year, words", [
    ("china_shar", None, 2030, "did you mean 'china_share'"),
    ("stock_h100e", "Chna", 2030, "did you mean 'China'"),
    ("years_behind_stock", None, 2050, "outside the scenario's horizon"),
    ("years_behind_stock", None, 2021, "from 2022 to 2040"),
])
def test_bad_metric_key_or_year_is_a_user_error(baseline, metric, key, year, words):
    with pytest.raises(UserError, match=words):
        S.sobol(baseline, metric, year, key, samples=16)


# ------------------------------------------------------------------------------- tornado
def test_tornado_has_the_top_inputs_largest_on_top(baseline, tmp_path):
    r = S.sobol(baseline, "years_behind_stock", 2030, samples=64)
    fig = tornado_figure(r, top=5)
    st, s1 = fig.data
    assert st.name.startswith("total") and s1.name.startswith("first")
    assert list(st.x) == [row["ST"] for row in r["indices"][:5]][::-1]  # plotly draws bottom-up
    assert list(st.error_x.array) == [row["ST_conf"] for row in r["indices"][:5]][::-1]
    assert list(s1.x) == [row["S1"] for row in r["indices"][:5]][::-1]
    path = write_tornado_html(r, tmp_path / "t.html")
    html = path.read_text()
    assert "<script src=\"http" not in html and "Plotly.newPlot" in html and len(html) > 1_000_000


# ----------------------------------------------------------------------------------- CLI
def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CR, "sensitivity", *args], capture_output=True, text=True, timeout=300)


def test_cli_json_and_files(tmp_path):
    p = cli("--metric", "years_behind_stock", "--year", "2030", "--samples", "64", "--json", "--out",
            str(tmp_path))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["metric"] == "years_behind_stock" and r["year"] == 2030 and r["samples"] == 64
    assert r == json.loads((tmp_path / "sensitivity.json").read_text())
    assert (tmp_path / "tornado.html").stat().st_size > 1_000_000


def test_cli_table_is_sorted_by_total_order_and_gives_the_time():
    p = cli("--metric", "stock_h100e", "--key", "US", "--year", "2027", "--samples", "32", "--top", "5")
    assert p.returncode == 0, p.stderr
    assert "ST" in p.stdout and "S1" in p.stdout and "stock_h100e (US) in 2027-12" in p.stdout
    assert "Time:" in p.stdout and "model runs" in p.stdout
    assert " 5 " in p.stdout and " 6 " not in p.stdout


@pytest.mark.parametrize("args, words", [
    (["--metric", "years_behind_stok"], "did you mean 'years_behind_stock'"),
    (["--metric", "china_share", "--key", "US"], "has no --key"),
    (["--year", "2055"], "outside the scenario's horizon"),
    (["--samples", "100"], "power of 2"),
    (["--set", "smuggling.enforcment=0.1"], "did you mean"),
])
def test_cli_user_errors_exit_2_without_traceback(args, words):
    p = cli(*args, "--json")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert words in p.stderr and "Traceback" not in p.stderr + p.stdout


def test_cli_default_sample_count_is_the_analysis_default():
    from computerace.cli.sensitivity import DEFAULT_SAMPLES

    assert DEFAULT_SAMPLES == S.DEFAULT_SAMPLES


def test_correlated_pairs_sharing_a_parameter_form_one_group(tmp_path):
    # Two pairs through China's capex: connected components make one group of three, and the groups still
    # partition the inputs.
    path = tmp_path / "chain.yaml"
    path.write_text("extends: baseline\nname: chain\ncorrelations:\n"
                    "  - between: [supply.china_ai_wafer_share, finance.china_capex_usd_per_year]\n"
                    "    rho: 0.4\n    assumption: test\n"
                    "  - between: [supply.china_domestic_hbm_stacks_per_year, finance.china_capex_usd_per_year]\n"
                    "    rho: 0.3\n    assumption: test\n")
    inp = S.scenario_inputs(computerace.load_scenario(path))
    groups = [set(inp.members(g)) for g in inp.group_names if len(inp.members(g)) > 1]
    assert groups == [{"supply.china_ai_wafer_share", "supply.china_domestic_hbm_stacks_per_year",
                       "finance.china_capex_usd_per_year"}]
    assert sorted(m for g in inp.group_names for m in inp.members(g)) == sorted(inp.names)
