"""Model-form uncertainty in summary.json (issue 15): each headline pooled and within each model form, and
the share of its variance that lies between forms (law of total variance)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import computerace
from computerace.analysis.metrics import (
    MODEL_FORM_MIN_SAMPLES,
    model_form_block,
    model_forms,
    variance_share_from_form,
)


def _forms_dataset(west: np.ndarray, dom: np.ndarray) -> xr.Dataset:
    return xr.Dataset({"western_model": ("sample", west.astype(float)), "domestic_model": ("sample", dom.astype(float))},
                      coords={"sample": np.arange(west.size)})


def test_variance_share_matches_the_law_of_total_variance_in_closed_form():
    # Form A (physics/physics): 100 samples at 0 +- 1 (mean 0, variance 1); form B (growth/physics): 300 samples
    # at 4 +- 2 (mean 4, variance 4). Weights 1/4, 3/4: within = 1/4 x 1 + 3/4 x 4 = 3.25, between =
    # 1/4 x 3/4 x (4 - 0)^2 = 3, total 6.25, so the share from form is 3 / 6.25 = 0.48.
    a = np.tile([-1.0, 1.0], 50)
    b = 4.0 + np.tile([-2.0, 2.0], 150)
    forms = model_forms(_forms_dataset(np.r_[np.ones(100), np.zeros(300)], np.ones(400)))
    assert forms is not None
    assert list(np.unique(forms)) == ["growth/physics", "physics/physics"]
    values = np.r_[a, b]
    assert np.var(values) == pytest.approx(6.25)
    assert variance_share_from_form(values, forms) == pytest.approx(0.48, abs=1e-12)
    # Equal means: no variance from form, however different the spreads.
    assert variance_share_from_form(np.r_[a, 10 * a[:50].repeat(6)], forms) == pytest.approx(0.0, abs=1e-12)

    # In the block: a censored sample (a lower bound, here an absurd 1e6) and a non-finite one enter the
    # quantiles as summary() does, but not the variance share.
    forms2 = np.concatenate([forms, ["physics/physics", "growth/physics"]])
    yb = np.r_[values, 1e6, 7.0][:, None]
    cens = np.zeros_like(yb, bool)
    cens[400, 0] = True
    share = np.r_[values / 100, np.inf, 0.07][:, None]
    block = model_form_block(forms2, {"years_behind_stock": (yb, cens), "china_share": (share, None)}, ["2030-12"],
                             {"2030": np.r_[np.zeros(401, bool), True]})
    r = block["metrics"]["years_behind_stock"]["2030-12"]
    assert r["variance_samples"] == 401  # the censored sample dropped, the extra growth/physics sample kept
    expected = variance_share_from_form(np.r_[values, 7.0], np.concatenate([forms, ["growth/physics"]]))
    assert r["share_from_form"] == pytest.approx(expected, abs=1e-12)
    assert r["pooled"]["censored"] == pytest.approx(1 / 402)
    assert r["by_form"]["physics/physics"]["censored"] == pytest.approx(1 / 101)
    assert r["by_form"]["physics/physics"]["p95"] == pytest.approx(np.quantile(np.r_[a, 1e6], 0.95))
    assert block["metrics"]["china_share"]["2030-12"]["variance_samples"] == 401  # the infinite share dropped
    assert block["forms"] == {"physics/physics": {"samples": 101, "share": 101 / 402},
                              "growth/physics": {"samples": 301, "share": 301 / 402}}
    p = block["probabilities"]["china_overtakes_us_stock_by"]["2030"]
    assert p["pooled"] == pytest.approx(1 / 402)
    assert p["by_form"] == {"physics/physics": 0.0, "growth/physics": pytest.approx(1 / 301)}


def test_a_form_with_few_samples_reports_its_count_and_null_statistics():
    n_small = MODEL_FORM_MIN_SAMPLES - 1
    west = np.r_[np.ones(100), np.zeros(n_small)]
    forms = model_forms(_forms_dataset(west, np.zeros(west.size)))
    v = np.linspace(0.0, 1.0, west.size)[:, None]
    block = model_form_block(forms, {"years_behind_stock": (v, np.zeros_like(v, bool))}, ["2035-12"],
                             {"2035": np.zeros(west.size, bool)})
    assert list(block["forms"]) == ["physics/growth", "growth/growth"]
    assert block["forms"]["growth/growth"]["samples"] == n_small
    r = block["metrics"]["years_behind_stock"]["2035-12"]
    assert r["by_form"]["growth/growth"] == {"p5": None, "p50": None, "p95": None, "mean": None, "censored": None}
    assert r["by_form"]["physics/growth"]["p50"] == pytest.approx(np.median(v[:100]))
    assert block["probabilities"]["china_overtakes_us_stock_by"]["2035"]["by_form"]["growth/growth"] is None
    json.dumps(block, allow_nan=False)  # strict JSON: null, never NaN


@pytest.fixture(scope="module")
def baseline() -> computerace.Run:
    return computerace.run("baseline", samples=1000, seed=0)


def test_baseline_summary_has_the_block_with_the_existing_pooled_quantiles(baseline):
    s = baseline.summary()
    mf = s["model_form"]
    ds = baseline.dataset
    # The baseline mixes 75% physics / 25% growth for each switch independently: all four forms appear.
    assert list(mf["forms"]) == ["physics/physics", "physics/growth", "growth/physics", "growth/growth"]
    assert sum(f["samples"] for f in mf["forms"].values()) == 1000
    assert mf["forms"]["physics/physics"]["share"] == pytest.approx(0.75 * 0.75, abs=0.05)
    for metric in ("years_behind_stock", "china_share"):
        assert list(mf["metrics"][metric]) == ["2030-12", "2035-12", "2040-12"]
        for date, r in mf["metrics"][metric].items():
            assert r["pooled"] == s["metrics"][metric]["China"][date]
            assert 0.0 <= r["share_from_form"] <= 1.0
    assert {y: r["pooled"] for y, r in mf["probabilities"]["china_overtakes_us_stock_by"].items()} == \
        s["probabilities"]["china_overtakes_us_stock_by"]
    # Within a form, the quantiles are those of that form's samples.
    pp = (ds["western_model"].values == 1) & (ds["domestic_model"].values == 1)
    stock = ds["stock_h100e"].sel(month="2035-12").values[:, 0].astype(np.float64)  # [sample, actor]
    v = (stock[:, list(ds["actor"].values).index("China")] / stock.sum(axis=1))[pp]
    got = mf["metrics"]["china_share"]["2035-12"]["by_form"]["physics/physics"]
    assert got["p50"] == pytest.approx(np.median(v), rel=1e-9)
    assert got["p95"] == pytest.approx(np.quantile(v, 0.95), rel=1e-9)
    json.dumps(s, allow_nan=False)


def test_a_single_form_run_reports_one_form_and_no_variance_from_form():
    s = computerace.run("growth-forms", samples=300, seed=0).summary()
    mf = s["model_form"]
    assert mf["forms"] == {"growth/growth": {"samples": 300, "share": 1.0}}
    for metric in ("years_behind_stock", "china_share"):
        for date, r in mf["metrics"][metric].items():
            assert r["share_from_form"] == 0.0
            assert r["by_form"] == {"growth/growth": r["pooled"]}
            assert r["pooled"] == s["metrics"][metric]["China"][date]
