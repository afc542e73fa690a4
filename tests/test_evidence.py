"""Evidence as observations and the conditioned forecast (issue 16): likelihoods, grouping, unit conversions,
tempering, resampling, and the posterior against published figures."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import computerace as cr
from computerace import catalog
from computerace.analysis import evidence as E


# ----------------------------------------------------------------------------------------- units
def test_epoch_8bit_h100e_equals_the_models_bf16_h100e_for_the_chips_sold_since_2023():
    """Epoch's chip-sales H100e are dense 8-bit / 1,979 TOPS; the model's dense BF16 / 989.4 TFLOP/s. For the
    parts in Epoch's 2023-2025 sales (NVIDIA Hopper and Blackwell, AMD MI300 and later, TPU v5 and later,
    Trainium2) 8-bit is twice BF16, so one H100e is one H100e (factor 1 within 3%, chips.csv)."""
    parts = ["h100-sxm", "h200", "h20", "h800", "b200", "b300", "gb200", "gb300", "mi300x", "mi325x", "mi355x",
             "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu-v7", "trainium2"]
    for p in parts:
        c = catalog.chip(p)
        assert c.h100e("8bit") == pytest.approx(c.h100e("bf16"), rel=0.03), p
    # and where they differ, the test can tell: TPU v4's 8-bit rate equals its BF16 rate (half the H100e)
    v4 = catalog.chip("tpu-v4")
    assert v4.h100e("8bit") == pytest.approx(0.5 * v4.h100e("bf16"), rel=0.01)


# ----------------------------------------------------------------------------------------- likelihoods
def test_interval_sigma_and_loglik_closed_form():
    # a p5-p95 interval [y / e, y e] is a lognormal with sigma = 1 / 1.645
    assert E._interval_sigma(1 / math.e, math.e, "p5-p95") == pytest.approx(1 / 1.6448536269514722)
    o = E.Observation("x", ("r",), "s", "2025-12", 100.0, 0.2, "2025-01-01", "test",
                      lambda ds: np.array([100.0, 100.0 * math.exp(0.25)]))
    sig2 = 0.2 ** 2 + E.SIGMA_MODEL ** 2
    np.testing.assert_allclose(o.loglik(None), [0.0, -0.5 * 0.25 ** 2 / sig2])


def row(i, end, central, low, high, published="2026-04-22"):
    return SimpleNamespace(id=f"r{i}", metric="nvidia_sales_h100e_cumulative", period_end=end, central=central,
                           low=low, high=high, interval="p5-p95", published=published, source=("s",))


def test_cumulative_rows_become_yearly_increments():
    """Grouping: cumulative sales at three year ends are three different years' sales, not one counted thrice."""
    rows = [row(1, "2022-12-31", 10.0, 8.0, 12.0), row(2, "2023-12-31", 30.0, 25.0, 36.0),
            row(3, "2024-06-30", 40.0, 30.0, 50.0), row(4, "2024-12-31", 70.0, 60.0, 80.0)]
    inc = E._increments(rows)
    assert [(y, v) for y, v, _, _ in inc] == [(2022, 10.0), (2023, 20.0), (2024, 40.0)]
    assert inc[2][2] == pytest.approx(math.log(80 / 60) / (2 * 1.6448536269514722))
    assert inc[2][3] == ["r4"]  # the mid-year row is not used twice


def test_observations_respect_the_as_of_date():
    everything = E.observations()
    early = E.observations("2025-07-01")
    assert len(everything) >= 10
    assert all(o.published <= "2025-07-01" for o in early)
    assert len(early) < len(everything)
    names = {o.name for o in everything}
    assert {"western_sales_2025", "china_legal_2024", "china_share_2026-04"} <= names


# ----------------------------------------------------------------------------------------- weights
def test_ess_tempering_and_resampling():
    ll = np.array([0.0, -1.0, -50.0, -100.0] * 250)
    ok = np.ones(1000, bool)
    w = E._weights(ll, 1.0, ok)
    assert E.ess(w) == pytest.approx(1 / np.sum(w ** 2))
    # without tempering the two better quarters (250 samples each) share the weight:
    # ESS = (250 (1 + e^-1))^2 / (250 (1 + e^-2)), the others adding e^-50 at most
    assert E.ess(w) == pytest.approx(250 * (1 + math.exp(-1)) ** 2 / (1 + math.exp(-2)), rel=1e-9)
    phi, wt = E.temper(ll, ok, 900.0)
    assert 0 < phi < 1 and E.ess(wt) >= 900.0 - 1e-6
    assert E.ess(E._weights(ll, min(1.0, phi * 1.01), ok)) < 900.0  # the largest phi that keeps the ESS
    idx = E.systematic_resample(wt, seed=3)
    counts = np.bincount(idx, minlength=1000)
    assert np.all(np.abs(counts - 1000 * wt) < 1.0 + 1e-9)  # systematic resampling: within one of n w
    np.testing.assert_array_equal(idx, E.systematic_resample(wt, seed=3))


def test_history_excludes_samples_where_china_overtook_before_the_forecast():
    months = np.arange(np.datetime64("2026-01"), np.datetime64("2027-01")).astype("datetime64[ns]")
    st = np.ones((3, len(months), 3))
    st[:, :, 0] = 10.0
    st[1, 5, 1] = 11.0  # sample 1: China above the US in June 2026
    st[2, 11, 1] = 11.0  # sample 2: only in December 2026, after the forecast month
    import xarray as xr

    ds = xr.Dataset({"stock_h100e": (("sample", "month", "actor"), st)}, coords={"month": months})
    np.testing.assert_array_equal(E.history_ok(ds, "2026-11"), [True, False, True])


# ----------------------------------------------------------------------------------------- the posterior
@pytest.fixture(scope="module")
def pair():
    prior = cr.run("baseline", samples=4000, seed=0)
    return prior, prior.conditioned()


def test_posterior_world_stock_2025_is_narrower_and_contains_epochs_median(pair):
    """Epoch AI's chip counts (ai-chip-counts, 2026-04-22): 19.7M H100e sold 2022-2025 by NVIDIA, Google, AMD and
    AWS (the sum of ev-027, ev-043, ev-056, ev-068's medians). The posterior 90% interval of the world stock at the
    end of 2025 is narrower than the prior's and contains it."""
    prior, post = pair
    a = prior.summary()["metrics"]["stock_h100e"]["World"]["2025-12"]
    b = post.summary()["metrics"]["stock_h100e"]["World"]["2025-12"]
    epoch = 13_659_258 + 3_812_878 + 1_244_972 + 1_020_727
    assert b["p95"] - b["p5"] < a["p95"] - a["p5"]
    assert b["p5"] <= epoch <= b["p95"]


def test_posterior_has_no_sample_where_china_overtook_before_2027(pair):
    prior, post = pair
    st = post.dataset["stock_h100e"].sel(month=slice("2022-01-01", "2026-12-01")).values
    assert not np.any(st[:, :, 1] > st[:, :, 0])
    assert prior.summary()["probabilities"]["china_overtakes_us_stock_by"]["2030"] >= 0  # the prior is unchanged


def test_conditioning_report(pair):
    _, post = pair
    c = post.summary()["conditioning"]
    assert c["ess"] >= 0.05 * 4000 - 1e-6 and 0 < c["tempering"] <= 1
    assert c["observations"] == len(c["rows"]) >= 10
    assert "stock_h100e/World/2025-12" in c["shift"] and "china_overtakes_us_stock_by" in c["shift"]
    assert set(post.dataset["prior_sample"].values) <= set(range(4000))


def test_posterior_is_identical_for_any_chunk_size():
    a = cr.run("baseline", samples=1500, seed=2, chunk=1000).conditioned()
    b = cr.run("baseline", samples=1500, seed=2, chunk=1500).conditioned()
    np.testing.assert_array_equal(a.dataset["prior_sample"].values, b.dataset["prior_sample"].values)
    np.testing.assert_array_equal(a.dataset["stock_h100e"].values, b.dataset["stock_h100e"].values)


# ----------------------------------------------------------------------------------------- update
HEADER = "id,metric,actor,chip,period_start,period_end,low,central,high,unit,interval,kind,published,source,status,note\n"
SHARE_ROW = "my-001,china_owned_share,China,,2026-10,2026-10,,0.03,,share,point,estimate,2026-11-20,my-notes,estimate,x\n"


@pytest.mark.parametrize("body, message", [
    ("id,metric\nx,y\n", "line 1: the header"),
    (HEADER + SHARE_ROW.replace("china_owned_share", "huawei_mood"), "line 2, column 'metric'"),
    (HEADER + SHARE_ROW.replace(",0.03,", ",abc,"), "line 2, column 'central': 'abc' is not a number"),
    (HEADER + SHARE_ROW.replace(",0.03,", ",,"), "line 2, column 'central': a central value"),
    (HEADER + SHARE_ROW.replace("2026-11-20", "last week"), "line 2, column 'published'"),
    (HEADER, "no evidence rows"),
])
def test_a_bad_evidence_file_is_a_clear_error(tmp_path, body, message):
    from computerace.errors import UserError

    f = tmp_path / "ev.csv"
    f.write_text(body)
    with pytest.raises(UserError, match=message.replace("(", r"\(")) as e:
        E.read_evidence_file(f)
    assert str(f) in str(e.value)


def test_update_with_one_row_changes_the_answers_and_names_the_row(tmp_path):
    """A newer, lower owner share for China (3% in October 2026) moves China's share down; leaving that row out
    gives back the catalog-only answer exactly (same samples, same weights)."""
    f = tmp_path / "ev.csv"
    f.write_text(HEADER + SHARE_ROW)
    rows = E.read_evidence_file(f)
    res = E.update(cr.load_scenario("baseline"), rows, samples=1500, seed=0)
    key = "china_share/China/2030-12"
    assert res["moved"][key]["posterior"]["p50"] < res["moved"][key]["prior"]["p50"]
    (inf,) = res["influence"]
    assert inf["row"] == "my-001"
    assert inf["change"][key]["prior"] == res["moved"][key]["prior"]  # without it: the answer before


def test_update_cli(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    cr_bin = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
    f = tmp_path / "ev.csv"
    f.write_text(HEADER + SHARE_ROW)
    p = subprocess.run([cr_bin, "update", str(f), "--samples", "500"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "without my-001" in p.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + SHARE_ROW.replace("china_owned_share", "huawei_mood"))
    p = subprocess.run([cr_bin, "update", str(bad)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2 and "huawei_mood" in p.stderr and "Traceback" not in p.stderr


def test_inference_file_has_prior_posterior_and_observed_data_groups(tmp_path):
    """inference.nc opens with ArviZ (InferenceData groups) and with xarray; its posterior is the run's posterior."""
    import warnings

    import xarray as xr

    post = cr.run("baseline", samples=600, seed=1).conditioned()
    paths = post.save(tmp_path, report=False)
    f = paths["inference.nc"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az

        idata = az.from_netcdf(f)
    assert set(idata.groups()) >= {"prior", "posterior", "observed_data"}
    p = xr.open_dataset(f, group="posterior")
    world = post.dataset["stock_h100e"].sel(month="2025-12-01").values.astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(p["stock_world_2025"].values[0], world)
    obs = xr.open_dataset(f, group="observed_data")
    assert float(obs["obs_western_sales_2025"]) == pytest.approx(13_205_909.0)
    assert "ev-027" in obs["obs_western_sales_2025"].attrs["rows"]
    prior = xr.open_dataset(f, group="prior")
    assert prior.sizes["draw"] == 600 and not np.array_equal(prior["stock_world_2025"].values, p["stock_world_2025"].values)


def test_report_shows_the_conditioning_and_cli_evidence_option(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    post = cr.run("baseline", samples=400, seed=0).conditioned()
    page = post.report_html(claims=False)
    c = post.summary()["conditioning"]
    assert "Conditioned on evidence" in page and f"effective sample size {c['ess']:.0f}" in page
    assert c["rows"][0]["observation"] in page
    cr_bin = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
    f = tmp_path / "ev.csv"
    f.write_text(HEADER + SHARE_ROW)
    p = subprocess.run([cr_bin, "run", "--samples", "300", "--evidence", str(f), "--out", str(tmp_path / "o"),
                        "--no-report", "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    import json

    s = json.loads(p.stdout)
    assert any("my-001" in r["rows"] for r in s["conditioning"]["rows"])
    p = subprocess.run([cr_bin, "run", "--samples", "300", "--evidence", str(f), "--prior", "--out",
                        str(tmp_path / "o2")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "--prior" in p.stderr and not (tmp_path / "o2").exists()


# ----------------------------------------------------------------------------------------- every row accounted for
def test_forecast_rows_are_not_observations():
    """A row whose period ends more than six months after it was published forecasts; it does not observe."""
    def r(end, pub):
        return SimpleNamespace(period_end=end, published=pub)
    assert E.is_observation(r("2025-12", "2025-09-30"))  # Bloomberg's September estimate of 2025
    assert E.is_observation(r("2025-12", "2025-06"))  # six months: still a nowcast
    assert not E.is_observation(r("2026-12", "2025-09-30"))  # its plan for 2026
    assert not E.is_observation(r("2026-12", "2026-05"))  # a capex guide for the rest of the year


def test_every_catalog_row_is_an_observation_or_says_why_not():
    rows = E.row_map(scenario=cr.load_scenario("baseline"))
    assert len(rows) == len(catalog.evidence())
    assert all(r["why"] for r in rows), [r["id"] for r in rows if not r["why"]]
    uses = {r["id"]: r["use"] for r in rows}
    # the series the issue names are observed
    assert uses["ev-078"] == "nvidia_china_revenue_2024"
    assert uses["ev-094"] == uses["ev-087"] == "china_domestic_output_2025"  # Cambricon beside Huawei
    assert uses["ev-088"] == "forecast"  # Huawei's 2026 plan
    assert uses["ev-104"] == "in the prior"  # the baseline's US capex is built from the big-4 reports


def test_evidence_rows_doc_is_current():
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "evidence-rows.md"
    assert doc.read_text() == E.row_table(), "regenerate: python -m computerace.analysis.evidence > docs/evidence-rows.md"


def test_nvidia_revenue_conversion_fiscal_year_and_accelerator_share():
    """NVIDIA's fiscal year ends in late January: FY2025 (2024-01-29 .. 2025-01-26) is calendar 2024. Revenue x the
    accelerator share's geometric middle; its log sd adds the share's range (p5-p95) to the point error."""
    rev = SimpleNamespace(id="x", metric="nvidia_china_revenue_usd", period_start="2024-01-29",
                          period_end="2025-01-26", central=17e9, low=None, high=None, interval="point",
                          published="2025-04", source=("s",), unit="usd")
    (o,) = E.observations(rows=[rev])
    lo, hi = E.ACCELERATOR_SHARE_OF_CHINA_REVENUE
    assert o.name == "nvidia_china_revenue_2024" and o.period_end == "2024-12"
    assert o.y == pytest.approx(17e9 * math.sqrt(lo * hi))
    assert o.sigma_obs == pytest.approx(math.hypot(math.log(hi / lo) / (2 * 1.6448536269514722), E.POINT_SIGMA))
    quarter = SimpleNamespace(**{**vars(rev), "period_start": "2024-07-29", "period_end": "2024-10-27"})
    assert E.observations(rows=[quarter]) == []  # a quarter sits inside the fiscal year's row


def test_domestic_output_adds_cambricon_chips_at_their_stated_rate():
    def hw(i, v, unit, chip=""):
        return SimpleNamespace(id=f"h{i}", metric="huawei_ascend_output", period_start="2025-01", period_end="2025-12",
                               central=v, low=None, high=None, interval="point", published="2025-09-30",
                               source=("s",), unit=unit, chip=chip)
    camb = SimpleNamespace(**{**vars(hw(9, 100_000.0, "chips")), "id": "c", "metric": "cambricon_output"})
    (o,) = E.observations(rows=[hw(1, 300_000.0, "chips"), hw(2, 805_000.0, "packages"), camb])
    per = catalog.chip("ascend-910c").h100e("bf16")
    lo, hi = E.CAMBRICON_H100E
    y_hw, y_c = math.sqrt(300_000 * 805_000) * per, 100_000 * math.sqrt(lo * hi)
    assert o.y == pytest.approx(y_hw + y_c)
    s_c = math.hypot(math.log(hi / lo) / (2 * 1.6448536269514722), E.POINT_SIGMA)
    assert o.sigma_obs == pytest.approx(math.hypot(y_hw * math.log(805 / 300) / 2, y_c * s_c) / (y_hw + y_c))
    assert set(o.rows) == {"h1", "h2", "c"}


def test_rows_in_the_prior_are_not_counted_twice():
    """The baseline's US capex prior cites the big-4 reports: conditioning leaves those rows out. A scenario that
    does not cite them (the 2023 vintage) would count them."""
    us = [o for o in E.observations() if o.name == "us_capex_2024"][0]
    assert E.in_prior(us, cr.load_scenario("baseline"))
    from computerace.scenario.loader import vintage_for

    assert not E.in_prior(us, cr.load_scenario(str(vintage_for("2023-01-01")), as_of="2023-01-01"))
    post = cr.run("baseline", samples=500, seed=1).conditioned()
    names = {r["observation"] for r in post.manifest["conditioning"]["rows"]}
    assert "us_capex_2024" not in names and "nvidia_china_revenue_2024" in names
    assert {r["observation"] for r in post.manifest["conditioning"]["in_prior"]} >= {"us_capex_2024"}
