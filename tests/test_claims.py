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

from computerace.analysis.claims import load_claims, outcome
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
        assert c.quote and c.reading and c.definition
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
    assert len(rows) >= 8 and all(0 <= r["probability"] <= 1 for r in rows)
    assert all(r["driver"] for r in rows)


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
