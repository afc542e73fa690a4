"""Scenario discovery (analysis/discover.py, `computerace discover`): PRIM boxes with coverage and density."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import computerace as cr
from computerace.analysis.discover import check_outcome, choose_box, discover, year_month
from computerace.cli.main import app
from computerace.errors import UserError


def _synthetic(n: int = 3000, seed: int = 1) -> xr.Dataset:
    """Uniform quantiles of four parameters; the outcome is exactly x1 > 0.7 and x2 < 0.3."""
    rng = np.random.default_rng(seed)
    u = rng.random((n, 4))
    months = np.arange(np.datetime64("2022-01"), np.datetime64("2041-01")).astype("datetime64[ns]")
    ds = xr.Dataset({"parameter_quantile": (("sample", "parameter"), u)},
                    coords={"sample": np.arange(n), "parameter": ["x1", "x2", "x3", "x4"], "month": months})
    hit = (u[:, 0] > 0.7) & (u[:, 1] < 0.3)
    # a stock per actor whose China/US comparison is the outcome: China ahead from 2030 where hit
    stock = np.ones((n, months.size, 2))
    stock[:, :, 0] = 10.0
    stock[hit, 96:, 1] = 20.0
    ds["stock_h100e"] = (("sample", "month", "actor"), stock)
    return ds.assign_coords(actor=["US", "China"])


def test_synthetic_box_recovers_the_limits() -> None:
    ds = _synthetic()
    r = discover(ds, "overtake-by-2040", max_inputs=None)
    assert r.basis == "dataset" and 0.05 < r.base_rate < 0.15
    b = r.boxes[0]
    assert b.coverage > 0.9 and b.density > 0.9
    dims = {d.name: d for d in b.dimensions}
    assert set(dims) == {"x1", "x2"}
    assert dims["x1"].lower == pytest.approx(0.7, abs=0.03) and dims["x1"].upper is None
    assert dims["x2"].upper == pytest.approx(0.3, abs=0.03) and dims["x2"].lower is None
    assert "x1" in b.words and "x2" in b.words and "coverage" in r.statement
    assert all(d.qp < 1e-6 for d in b.dimensions)
    # deterministic: the same samples give the same result
    assert discover(ds, "overtake-by-2040", max_inputs=None).to_dict() == r.to_dict()


def test_outcome_that_never_happens_reports_no_box() -> None:
    ds = _synthetic()
    r = discover(ds, "overtake-by-2025")
    assert r.hits == 0 and r.boxes == [] and r.no_box_reason
    assert "No box" in r.statement and "never" in r.statement and "Searched" in r.statement
    always = discover(ds, "not overtake-by-2025")
    assert always.boxes == [] and "always" in always.statement


@pytest.fixture(scope="module")
def baseline() -> cr.Run:
    return cr.run("baseline", samples=3000, seed=0)


def test_baseline_overtake_by_2040_has_a_box(baseline: cr.Run) -> None:
    r = discover(baseline, "overtake-by-2040")
    assert r.basis == "prior" and 0 < r.base_rate < 1
    assert r.boxes, r.statement
    b = r.boxes[0]
    assert 0 < b.coverage <= 1 and 0 < b.density <= 1 and b.density > r.base_rate
    assert b.dimensions and any(d.name in b.words for d in b.dimensions)
    assert any(d.name in baseline.scenario.parameters or d.kind == "event" for d in b.dimensions)
    assert b.trajectory[0]["coverage"] == 1.0
    json.dumps(r.to_dict(), allow_nan=False)  # strict JSON


def test_outcome_forms(baseline: cr.Run) -> None:
    from computerace.analysis.discover import resolve_outcome

    ds = baseline.dataset
    _, a = resolve_outcome("years-behind-below-2-in-2030", ds, baseline)
    _, b = resolve_outcome("years_behind_stock/China/2030-12 < 2", ds, baseline)
    assert (a == b).all()
    _, c = resolve_outcome("china-overtakes-after-2030", ds, baseline)
    assert c.dtype == bool and c.shape == a.shape
    for bad in ("bogus", "overtake-by-1999", "stock_h100e/Mars/2030-12 > 1", "stock_h100e/China/2030-12 > x"):
        with pytest.raises(UserError):
            check_outcome(bad) if bad == "bogus" else resolve_outcome(bad, ds, baseline)


def test_box_rule_and_words() -> None:
    traj = [{"coverage": 1.0, "density": 0.1, "mass": 1.0, "restricted_dims": 0},
            {"coverage": 0.8, "density": 0.4, "mass": 0.2, "restricted_dims": 2},
            {"coverage": 0.6, "density": 0.41, "mass": 0.15, "restricted_dims": 3},
            {"coverage": 0.4, "density": 0.9, "mass": 0.05, "restricted_dims": 3}]
    assert choose_box(traj) == 1  # the densest with coverage >= 0.5, fewer dims within 0.02 of it
    assert year_month(2029.25) == "2029-04" and year_month(2040.999) == "2040-12"


def test_cli_json_and_bad_outcome(tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["discover", "--outcome", "overtake-by-2040", "--samples", "2000", "--json",
                              "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["outcome"] == "overtake-by-2040" and doc["samples"] == 2000 and "boxes" in doc
    assert (tmp_path / "discover.json").exists() and "plotly" in (tmp_path / "discover.html").read_text()
    bad = runner.invoke(app, ["discover", "--outcome", "china-overtakes-never"])
    assert bad.exit_code == 2
    assert "unknown outcome" in bad.output and "overtake-by-2040" in bad.output


def test_dashboard_discover_route_matches_the_python_api():
    """GET /api/discover gives the same boxes as discover() on the view's prior samples, refuses a bad outcome with
    422 and a cross-origin request with 403."""
    from fastapi.testclient import TestClient

    from computerace.web.app import create_app

    app = create_app(default_samples=1500, warm=False, rank=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.get("/api/discover", params={"outcome": "overtake-by-2040", "samples": 1500, "seed": 0})
        assert r.status_code == 200, r.text
        d = r.json()
        direct = discover(cr.run("baseline", samples=1500, seed=0), "overtake-by-2040").to_dict()
        assert d["statement"] == direct["statement"] and d["base_rate"] == direct["base_rate"]
        assert d["boxes"] and 0 < d["boxes"][0]["coverage"] <= 1 and d["figure"]["data"]
        bad = c.get("/api/discover", params={"outcome": "no-such-outcome"})
        assert bad.status_code == 422 and "outcome" in bad.json()["detail"]
        assert c.get("/api/discover", headers={"Origin": "http://evil.example"}).status_code == 403
