"""Claims scored on constructed runs with known answers; compare's common random numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from computerace.analysis.claims import (
    ALWAYS,
    NEVER,
    NO_VARIATION,
    OPERATIONALISATION_KEYS,
    ClaimsError,
    decile_drivers,
    driver_inputs,
    load_claims,
    outcome,
    parse_claims,
    score_reading,
    sweeps,
)
from computerace.catalog import source_ids

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
T = 228  # 2022-01 .. 2040-12


def constructed(us_growth: float, cn_growth: float, cn0: float = 1.0) -> xr.Dataset:
    """Four samples; stocks grow at the given yearly factors from 100 (US) and cn0 (China)."""
    t = np.arange(T)
    us = 100.0 * us_growth ** (t / 12)
    cn = cn0 * np.stack([cn_growth ** (t / 12)] * 4)
    stock = np.stack([np.stack([us] * 4), cn, np.full((4, T), 10.0)], axis=2)
    months = (np.datetime64("2022-01") + t).astype("datetime64[ns]")
    years = np.arange(2022, 2041)
    return xr.Dataset(
        {"stock_h100e": (("sample", "month", "actor"), stock),
         "china_remote_h100e": (("sample", "month"), np.zeros((4, T))),
         "taiwan_event_year": ("sample", np.array([2027.0, 2028.5, 2031.0, np.inf])),
         "additions_h100e": (("sample", "year", "actor"), np.ones((4, len(years), 3))),
         "spend_usd": (("sample", "year", "actor"), np.stack([np.full((4, len(years)), 6.0), np.full((4, len(years)), 2.0),
                                                             np.ones((4, len(years)))], axis=2))},
        coords={"sample": np.arange(4), "month": months, "actor": ["US", "China", "RoW"], "year": years})


def test_claims_file_has_at_least_eight_claims_with_quotes_and_known_sources():
    claims = load_claims()
    assert len(claims) >= 8
    for c in claims:
        assert c.quote and c.reading and (c.definition or c.status == "not-scored")
        assert c.source is None or c.source in source_ids(), c.id


def test_growth_claim_holds_exactly_when_growth_is_in_range():
    ds = constructed(us_growth=3.4, cn_growth=5.0)
    claim = next(c for c in load_claims() if c.id == "us-1.5x-per-4-months-china-5x-per-year")
    assert outcome(claim.definition, ds).all()
    assert not outcome(claim.definition, constructed(us_growth=3.4, cn_growth=2.0)).any()


def test_overtake_after_2030_is_detected():
    # China at 1 growing 4x/yr vs US at 100 growing 2x/yr: 100 * 2^y = 4^y -> y = log2(100) = 6.64 -> 2028.6.
    early = constructed(us_growth=2.0, cn_growth=4.0)
    late = constructed(us_growth=2.0, cn_growth=4.0, cn0=0.01)  # 2^y = 1e4 -> y = 13.3 -> 2035.3
    d = {"kind": "overtake", "after": 2030.99, "by": 2040.99}
    assert not outcome(d, early).any() and outcome(d, late).all()


def test_event_before_counts_samples():
    d = {"kind": "event_before", "event": "taiwan_event_year", "before": 2028.9}
    np.testing.assert_array_equal(outcome(d, constructed(2, 2)), [True, True, False, False])


def test_binding_claims_read_the_binding_constraint_codes():
    from computerace.model.supply import BINDING, HBM, PACKAGING, POWER

    ds = constructed(2, 2)
    codes = np.full((4, ds.sizes["year"], 3), PACKAGING, np.int8)
    codes[:2, ds["year"].values.tolist().index(2026), 1] = HBM  # China, 2026: HBM binds in samples 0 and 1
    codes[[0, 2], ds["year"].values.tolist().index(2030), 0] = POWER  # US, 2030: power binds in samples 0, 2
    ds = ds.assign(binding_constraint=(("sample", "year", "actor"), codes)).assign_coords(constraint=list(BINDING))
    hbm = next(c for c in load_claims() if c.id == "hbm-is-the-bottleneck")
    np.testing.assert_array_equal(outcome(hbm.definition, ds), [True, True, False, False])
    power = next(c for c in load_claims() if c.id == "china-can-just-build-more-power")
    np.testing.assert_array_equal(outcome(power.definition, ds), [True, False, True, False])  # China never power
    with pytest.raises(ValueError, match="unknown constraint"):
        outcome({"kind": "binding", "actor": "US", "year": 2030, "constraint": "HMB"}, ds)


def test_price_and_spend_ratios():
    ds = constructed(2, 2)
    # spend US 6, China 2 per H100e added (1 each): China pays 1/3 of the US price; US spends 3x.
    assert outcome({"kind": "between", "metric": "us_to_china_spend_ratio", "date": "2026", "low": 2.9,
                    "high": 3.1}, ds).all()
    assert not outcome({"kind": "between", "metric": "china_to_us_price_ratio", "date": "2026", "low": 1,
                        "high": 10}, ds).any()


def test_counterfactual_compares_sample_by_sample():
    a, b = constructed(2, 3.0), constructed(2, 2.0)
    d = {"kind": "counterfactual", "preset": "x", "metric": "stock_h100e", "key": "China", "date": "2030-12",
         "direction": "higher"}
    assert outcome(d, a, b).all() and not outcome(d, b, a).any()


def test_cli_claims_json_lists_probabilities():
    p = subprocess.run([CR, "claims", "--samples", "300", "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["claims"]
    assert len(rows) >= 8 and all(0 <= r["probability"] <= 1 for r in rows if r["status"] == "scored")
    assert all(r["driver"] for r in rows)
    for r in rows:
        for rd in r["readings"]:
            if rd["probability"] is None:
                assert rd["status"] == "not-scored" and rd["note"].startswith("not scored: ")
            elif rd["probability"] in (0.0, 1.0):
                assert rd["note"].startswith(NEVER if rd["probability"] == 0 else ALWAYS)
                assert rd["drivers"] == [] and rd["driver"] == NO_VARIATION


def test_compare_a_scenario_with_itself_gives_zero_differences():
    p = subprocess.run([CR, "compare", "baseline", "baseline", "--samples", "200", "--json", "--year", "2030"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    for r in json.loads(p.stdout)["comparisons"]:
        assert r["difference_p5_p50_p95"] == [0.0, 0.0, 0.0] and r["p_scenario_higher"] == 0.0


def test_compare_needs_two_scenarios_and_known_metrics():
    p = subprocess.run([CR, "compare", "baseline"], capture_output=True, text=True)
    assert p.returncode == 2 and "at least two" in p.stderr
    p = subprocess.run([CR, "compare", "baseline", "baseline", "--samples", "10", "--metric", "nonsense"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr


@pytest.mark.parametrize("bad", ["no-such-claim"])
def test_unknown_claim_id_is_a_user_error(bad):
    p = subprocess.run([CR, "claims", "--samples", "100", "--claim", bad], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown claim" in p.stderr


# ------------------------------------------------------------------ operationalisation, readings, status
NEW_CLAIMS = ("us-keeps-clear-compute-advantage", "china-7nm-yields-too-low", "china-500b-leaky-100b-effective",
              "china-pays-6x-per-flop")


def test_every_reading_states_a_validated_operationalisation():
    for c in load_claims():
        assert c.readings, c.id
        for r in c.readings:
            op = r.operationalisation
            assert all(op.get(k) not in (None, "", []) for k in OPERATIONALISATION_KEYS), (c.id, r.id)
            assert len(op["basis"].split()) >= 3
            assert (r.status == "scored") == (r.definition is not None), (c.id, r.id)
            assert r.status == "scored" or r.reason, (c.id, r.id)


GOOD = """
claims:
  - id: good-claim
    claim: A claim.
    quote: "a quote"
    reading: read as
    operationalisation: {metric: years_behind_chip, threshold: "2 <= lag <= 4", date: 2026-12, basis: "what is measured"}
    definition: {kind: between, metric: years_behind_chip, date: 2026-12, low: 2, high: 4}
"""


@pytest.mark.parametrize("old, new, message", [
    ('basis: "what is measured"', "", "missing basis"),
    ("operationalisation: {", "operationalisation_: {", "unknown key"),
    ("metric: years_behind_chip, threshold", "metric: years_behind_stock, threshold", "does not match"),
    ("kind: between, metric: years_behind_chip", "kind: between, metric: years_behind_chp", "unknown metric"),
    ("date: 2026-12, basis", "date: December 2026, basis", "'date'"),
    ("low: 2, high: 4}", "}", "needs 'low', 'high' or both"),
])
def test_a_malformed_claim_is_a_clear_error_naming_the_claim(old, new, message):
    assert parse_claims(GOOD)[0].operationalisation["date"] == "2026-12"
    text = GOOD.replace(old, new).replace(", }", "}")
    with pytest.raises(ClaimsError) as e:
        parse_claims(text)
    assert "good-claim" in str(e.value) and message in str(e.value)


def test_not_scored_needs_a_reason_and_no_definition_is_then_required():
    text = GOOD.replace("    definition: {kind: between, metric: years_behind_chip, date: 2026-12, low: 2, high: 4}\n",
                        "    status: not-scored\n")
    with pytest.raises(ClaimsError, match="good-claim.*reason"):
        parse_claims(text)
    c = parse_claims(text.replace("status: not-scored", "status: not-scored\n    reason: no such term"))[0]
    assert c.status == "not-scored" and c.readings[0].reason == "no such term" and c.definition is None


def test_new_claims_exist_with_known_sources_and_several_readings_where_words_admit_them():
    claims = {c.id: c for c in load_claims()}
    for cid in NEW_CLAIMS:
        assert cid in claims
    leaky = claims["china-500b-leaky-100b-effective"]  # scored since China's compute share has its own ratio
    assert leaky.status == "scored" and leaky.definition["metric"] == "china_effective_spend_share"
    six = claims["china-pays-6x-per-flop"]
    assert {r.status for r in six.readings} == {"scored", "not-scored"}
    assert {r.id for r in claims["china-2-4-years-behind"].readings} >= {"chip", "process-node", "capability"}
    assert {r.id for r in claims["china-overtakes-after-2030"].readings} == {"installed", "operational"}
    assert {r.id for r in claims["us-1.5x-per-4-months-china-5x-per-year"].readings} == {"national-stock",
                                                                                        "leading-lab"}
    adv = claims["us-keeps-clear-compute-advantage"].definition
    assert adv["dates"] == ["2026-12", "2027-12", "2028-12", "2029-12"] and adv["low"] == 3


# ------------------------------------------------------------------ sweeps
def test_sweeps_are_monotone_in_the_threshold_and_pass_through_the_claims_own_probability():
    rng = np.random.default_rng(0)
    ds = constructed(2, 2)
    n = ds.sizes["sample"]
    v = rng.lognormal(1, 0.7, n)
    from computerace.analysis.claims import Leaf

    mask = np.ones(n, bool)
    at_most, _, _ = sweeps([Leaf("m", v, None, 3.0)], mask)
    at_least, _, _ = sweeps([Leaf("m", v, 3.0, None)], mask)
    window, cdf, _ = sweeps([Leaf("m", v, 2.0, 4.0, scale="linear")], mask)
    for sw, sign in ((at_most, 1), (at_least, -1), (cdf, 1)):
        ps = [p for _, p in sw["points"]]
        assert all(sign * (b - a) >= 0 for a, b in zip(ps, ps[1:], strict=False)), sw
    own = dict(map(tuple, at_most["points"]))[3.0]
    assert own == float((v <= 3.0).mean())
    assert dict(map(tuple, window["points"]))[2.0] == float(((v >= 2) & (v <= 4)).mean())


def test_sweeps_of_scored_claims_on_a_run_are_monotone():
    import computerace as cr

    run = cr.run("baseline", samples=300, seed=1)
    for c in load_claims():
        for r in c.readings:
            if r.definition is None or "counterfactual" in str(r.definition):
                continue
            out = score_reading(r, run.dataset)
            for sw in (out["sweep"], out["cdf"]):
                if sw is None or sw["kind"] not in ("at_most", "at_least"):
                    continue
                ps = [p for _, p in sw["points"]]
                sign = 1 if sw["kind"] == "at_most" else -1
                assert all(sign * (b - a) >= -1e-12 for a, b in zip(ps, ps[1:], strict=False)), (c.id, r.id, ps)


# ------------------------------------------------------------------ decile drivers
def synthetic_inputs(n: int = 4000, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    u = rng.random((n, 3))
    return xr.Dataset({"parameter_quantile": (("sample", "parameter"), u),
                       "taiwan_event_year": ("sample", np.where(rng.random(n) < 0.5, 2030.0 + rng.random(n), np.inf)),
                       "controls_regime": ("sample", rng.integers(0, 3, n).astype(float))},
                      coords={"sample": np.arange(n), "parameter": ["a.x", "a.y", "a.z"]})


def test_decile_drivers_closed_form():
    ds = synthetic_inputs()
    x = ds["parameter_quantile"].values[:, 0]
    hit = x > 0.5  # the claim is exactly "x > 0.5": its top decile always holds, its bottom never
    inputs = driver_inputs(ds)
    assert set(inputs) == {"a.x", "a.y", "a.z", "taiwan_event_year", "controls_regime"}
    rows = decile_drivers(inputs, hit, top=10)
    by = {r["input"]: r for r in rows}
    assert rows[0]["input"] == "a.x" and by["a.x"]["delta"] == pytest.approx(1.0)
    assert by["a.x"]["p_top"] == 1.0 and by["a.x"]["p_bottom"] == 0.0 and by["a.x"]["n_top"] == 400
    for name in ("a.y", "a.z", "taiwan_event_year", "controls_regime"):
        assert abs(by[name]["delta"]) < 0.12, by[name]
    neg = decile_drivers(inputs, ~hit)
    assert neg[0]["input"] == "a.x" and neg[0]["delta"] == pytest.approx(-1.0)  # the sign says which way
    assert len(decile_drivers(inputs, hit)) == 3  # top 3 by default
    assert decile_drivers(inputs, np.zeros(len(x), bool)) == [] and decile_drivers(inputs, np.ones(len(x), bool)) == []


def test_cli_json_and_dashboard_api_give_identical_drivers():
    import warnings

    from computerace.web.app import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    n, seed = 240, 3
    p = subprocess.run([CR, "claims", "--samples", str(n), "--seed", str(seed), "--json"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    cli = {r["id"]: r for r in json.loads(p.stdout)["claims"]}
    app = create_app(default_samples=n, warm=False, rank=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        body = client.get("/api/claims", params={"seed": seed, "samples": n}).json()
    api = {r["id"]: r for r in body["claims"] + body.get("not_scored", [])}
    assert set(api) == set(cli)
    assert any(r["drivers"] for r in cli.values())
    for cid, r in cli.items():
        assert api[cid]["drivers"] == r["drivers"], cid
        assert api[cid]["probability"] == r["probability"], cid
        assert [x["drivers"] for x in api[cid]["readings"]] == [x["drivers"] for x in r["readings"]], cid
    six = api["china-pays-6x-per-flop"]["readings"]
    assert [x["status"] for x in six if x["id"] == "cost-per-flop-delivered"] == ["not-scored"]


def test_not_scored_claims_render_as_such_in_the_cli_and_the_report():
    from computerace.analysis.claims import score
    from computerace.report.answers import claims_html

    p = subprocess.run([CR, "claims", "--samples", "100", "--claim", "china-pays-6x-per-flop"],
                       capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "COLUMNS": "200"})
    assert p.returncode == 0, p.stderr
    assert "not scored" in p.stdout and "prices hardware only" in p.stdout
    rows = score("baseline", samples=100, seed=0, claim_ids=["china-500b-leaky-100b-effective", "china-pays-6x-per-flop"])
    six = rows[0] if rows[0]["id"].startswith("china-pays") else rows[1]
    delivered = [x for x in six["readings"] if x["id"] == "cost-per-flop-delivered"][0]
    assert delivered["probability"] is None and delivered["status"] == "not-scored"
    assert "electricity" in delivered["reason"]
    html = claims_html(rows)
    assert "not scored: the model prices hardware only" in html


def test_yield_claim_is_scored_on_physics_form_samples_only():
    import computerace as cr

    run = cr.run("baseline", samples=300, seed=0)
    r = next(c for c in load_claims() if c.id == "china-7nm-yields-too-low")
    physics = int((run.dataset["domestic_model"].values > 0.5).sum())
    out = [score_reading(x, run.dataset) for x in r.readings]
    assert all(o["samples_scored"] == physics < 300 for o in out)
    assert all("scored on the" in o["note"] for o in out)
    assert out[1]["probability"] >= out[0]["probability"]  # a larger die yields worse


def test_counterfactual_claims_on_a_posterior_pair_each_sample_with_its_prior_draw():
    """A conditioned run's sample i copies prior sample prior_sample[i]; the counterfactual run (same seed) must be
    read at that prior index, or the comparison would pair different worlds (common random numbers broken)."""
    import computerace as cr
    from computerace.analysis.claims import score

    prior = cr.run("baseline", samples=400, seed=3)
    post = prior.conditioned()
    cid = "export-controls-backfired"
    p_post = score(None, run=post, claim_ids=[cid])[0]["probability"]
    # by hand: the claim's outcome per prior sample, then read at the posterior's prior indices
    per_prior = score(None, run=prior, claim_ids=[cid])[0]
    from computerace.analysis.claims import load_claims, outcome

    defn = next(c for c in load_claims() if c.id == cid).definition
    cf = cr.run("no-export-controls", samples=400, seed=3).dataset
    hit_prior = outcome(defn, prior.dataset, cf)
    assert per_prior["probability"] == pytest.approx(hit_prior.mean())
    assert p_post == pytest.approx(hit_prior[post.dataset["prior_sample"].values].mean())
