"""Runs end to end: reproducibility, chunk invariance, files, metrics, snapshot and convergence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import computerace as cr
from computerace.analysis.metrics import years_behind_stock

SNAPSHOT = Path(__file__).parent / "snapshots" / "baseline_n400_seed0.json"
UPDATE = os.environ.get("COMPUTERACE_UPDATE_SNAPSHOTS") == "1"


@pytest.fixture(scope="module")
def small_run():
    return cr.run("baseline", samples=400, seed=0)


def test_same_seed_gives_identical_dataset_and_summary(small_run):
    again = cr.run("baseline", samples=400, seed=0)
    xr.testing.assert_identical(small_run.dataset, again.dataset)
    assert json.dumps(small_run.summary()) == json.dumps(again.summary())


def test_different_seed_changes_results(small_run):
    other = cr.run("baseline", samples=400, seed=1)
    assert not np.array_equal(other.dataset["stock_h100e"].values, small_run.dataset["stock_h100e"].values)


@pytest.mark.parametrize("chunk", [7, 50, 333, 1000])
def test_results_do_not_depend_on_chunk_size(small_run, chunk):
    xr.testing.assert_identical(cr.run("baseline", samples=400, seed=0, chunk=chunk).dataset, small_run.dataset)


def test_dataset_has_named_dims_units_and_manifest(small_run):
    ds = small_run.dataset
    assert {"sample", "month", "actor", "channel"} <= set(ds.dims)
    assert ds.sizes["month"] == 228 and str(ds["month"].values[0])[:7] == "2022-01"
    assert list(ds["actor"].values) == ["US", "China", "RoW"]
    for v in ("stock_h100e", "power_gw", "china_stock_h100e", "additions_h100e"):
        assert ds[v].attrs["units"]
    man = json.loads(ds.attrs["manifest"])
    assert man["seed"] == 0 and man["samples"] == 400 and man["scenario_hash"] == small_run.manifest["scenario_hash"]


def test_china_channels_sum_to_china_stock(small_run):
    ds = small_run.dataset
    total = ds["china_stock_h100e"].sum("channel").values
    np.testing.assert_allclose(total, ds["stock_h100e"].sel(actor="China").values, rtol=1e-5)
    assert (ds["china_remote_h100e"].values >= 0).all()


def test_operational_never_exceeds_installed(small_run):
    ds = small_run.dataset
    assert (ds["operational_h100e"] <= ds["stock_h100e"] * (1 + 1e-6)).all()


def test_save_writes_the_five_files_atomically(small_run, tmp_path):
    paths = small_run.save(tmp_path / "out")
    assert sorted(p.name for p in paths.values()) == sorted(
        ["summary.json", "run.nc", "quantiles.csv", "manifest.json", "report.html"])
    assert not list((tmp_path / "out").glob(".*tmp"))  # no temporary files left behind
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s == json.loads(json.dumps(small_run.summary()))
    back = xr.open_dataset(tmp_path / "out" / "run.nc")
    np.testing.assert_array_equal(back["stock_h100e"].values, small_run.dataset["stock_h100e"].values)
    rows = (tmp_path / "out" / "quantiles.csv").read_text().splitlines()
    assert rows[0].startswith("metric,key,date,p5,p50,p95,mean")
    assert any(r.startswith("stock_h100e,World,2025-12,") for r in rows)


def test_interrupted_save_leaves_no_partial_file(small_run, tmp_path, monkeypatch):
    from computerace import results

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.Run, "report_html", boom)
    with pytest.raises(KeyboardInterrupt):
        small_run.save(tmp_path)
    assert not (tmp_path / "report.html").exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_summary_layout(small_run):
    s = small_run.summary()
    m = s["metrics"]
    for key in ("US", "China", "RoW", "World", "China/domestic", "China/legal_import", "China/smuggled",
                "China/proxy_fab"):
        assert set(m["stock_h100e"][key]["2025-12"]) == {"p5", "p50", "p95", "mean"}
    assert set(m["additions_h100e"]["China"]) == {str(y) for y in range(2022, 2041)}
    q = m["stock_h100e"]["World"]["2030-12"]
    assert q["p5"] <= q["p50"] <= q["p95"]
    assert set(s["probabilities"]["china_overtakes_us_stock_by"]) == {"2030", "2035", "2040"}
    share = m["china_share"]["China"]["2030-12"]["p50"]
    assert 0 < share < 1


def test_summary_quantiles_match_the_dataset(small_run):
    ds, m = small_run.dataset, small_run.summary()["metrics"]
    x = ds["stock_h100e"].sel(month="2030-12-01").values.astype(np.float64).sum(axis=1)
    assert m["stock_h100e"]["World"]["2030-12"]["p50"] == pytest.approx(float(np.median(x)), rel=1e-12)
    us = ds["stock_h100e"].sel(actor="US").values
    cn = ds["stock_h100e"].sel(actor="China").values
    months = ds["month"].values.astype("datetime64[M]")
    upto = months <= np.datetime64("2035-12")
    p = float(((cn > us)[:, upto]).any(axis=1).mean())
    assert small_run.summary()["probabilities"]["china_overtakes_us_stock_by"]["2035"] == pytest.approx(p)


def _synthetic(us: np.ndarray, cn: np.ndarray) -> xr.Dataset:
    S, T = us.shape
    stock = np.stack([us, cn, np.ones_like(us)], axis=2)
    months = np.arange(np.datetime64("2022-01"), np.datetime64("2022-01") + T).astype("datetime64[ns]")
    return xr.Dataset({"stock_h100e": (("sample", "month", "actor"), stock)},
                      coords={"sample": np.arange(S), "month": months, "actor": ["US", "China", "RoW"]})


def test_years_behind_recovers_a_known_lag_and_flags_censoring():
    T = 120
    t = np.arange(T)
    us = 1000.0 * 2.0 ** (t / 12)  # doubles every year
    cn = 1000.0 * 2.0 ** ((t - 30) / 12)  # the same path 30 months (2.5 years) later
    yb, cens = years_behind_stock(_synthetic(us[None], cn[None]))
    np.testing.assert_allclose(yb.values[0, 30:], 2.5, atol=1e-9)
    assert cens.values[0, :30].all() and not cens.values[0, 30:].any()
    np.testing.assert_allclose(yb.values[0, :30], t[:30] / 12)  # lower bound: the months available
    # China ahead by 1 year: negative years behind
    yb2, _ = years_behind_stock(_synthetic(cn[None], us[None]))
    np.testing.assert_allclose(yb2.values[0, 40:], -2.5, atol=1e-9)


def test_snapshot_of_small_baseline_summary(small_run):
    """Regression snapshot. Regenerate on purpose with COMPUTERACE_UPDATE_SNAPSHOTS=1 pytest tests/test_run.py."""
    s = json.loads(json.dumps(small_run.summary()))
    s.pop("version")
    s.pop("catalog_version")
    s.pop("scenario_hash")
    if UPDATE or not SNAPSHOT.exists():
        if not UPDATE:
            pytest.fail(f"no snapshot at {SNAPSHOT}: run with COMPUTERACE_UPDATE_SNAPSHOTS=1 to create it")
        SNAPSHOT.write_text(json.dumps(s, indent=1, sort_keys=True) + "\n")
    ref = json.loads(SNAPSHOT.read_text())

    def walk(a, b, path=""):
        if isinstance(a, dict):
            assert set(a) == set(b), path
            for k in a:
                walk(a[k], b[k], f"{path}.{k}")
        elif isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-6, abs=1e-9), path  # float32 storage, platform maths
        else:
            assert a == b, path

    walk(s, ref)


def test_medians_converge_between_2k_and_20k_samples():
    """Medians at 2k and 20k samples agree within Monte Carlo error.

    The standard error of a sample median is about sqrt(p(1-p)/n) in probability; we allow the 2k median
    to sit within the 20k sample's quantiles at 0.5 +- 4 * sqrt(0.25 / 2000) (4 standard errors).
    """
    small = cr.run("baseline", samples=2000, seed=11).dataset
    big = cr.run("baseline", samples=20000, seed=12).dataset
    k = 4 * np.sqrt(0.25 / 2000)
    for month in ("2025-12", "2030-12", "2040-12"):
        for actor in ("US", "China"):
            a = small["stock_h100e"].sel(month=month, actor=actor).values
            b = big["stock_h100e"].sel(month=month, actor=actor).values
            lo, hi = np.quantile(b, [0.5 - k, 0.5 + k])
            assert lo <= np.median(a) <= hi, (month, actor)
