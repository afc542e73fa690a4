"""The dashboard's JSON API through FastAPI's test client: routes, results, validation, limits, downloads.

Runs use few samples (the numbers are compared with the Python API and the CLI, not with targets).
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import computerace as cr
from computerace.scenario import param_specs, parse_override_value, presets
from computerace.web import (
    MAX_BODY_BYTES,
    MAX_HORIZON_END,
    MAX_QUERY_BYTES,
    MAX_SAMPLES,
    is_loopback,
    optional,
)
from computerace.web.app import create_app
from computerace.web.service import PAGE_OMITS, finite, page_summary, value_text

with warnings.catch_warnings():  # starlette's test client asks for httpx2, which this environment lacks
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
N = 240  # samples per test run
SPREAD = ("smuggling.enforcement", "supply.western_area_growth_per_year", "finance.china_capex_usd_per_year")


@pytest.fixture(scope="module")
def client():
    app = create_app(default_samples=N, warm=False, rank=False)  # no minute-long Sobol process behind the tests
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CR, *args], capture_output=True, text=True, timeout=300)


def strict_json(text: str):
    def no_constants(c: str):
        raise ValueError(f"non-standard JSON constant {c}")

    return json.loads(text, parse_constant=no_constants)


# ------------------------------------------------------------------------------ routes and page
def test_openapi_lists_the_api(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/info", "/api/presets", "/api/parameters", "/api/run", "/api/claims", "/api/sources/{source_id}",
              "/api/download/summary.json", "/api/download/quantiles.csv", "/api/download/scenario.yaml"):
        assert p in paths, p
    assert set(paths["/api/run"]) == {"get", "post"}
    samples = next(q for q in paths["/api/run"]["get"]["parameters"] if q["name"] == "samples")
    assert "20000" in json.dumps(samples["schema"])  # the cap is documented


def test_docs_page_needs_no_network(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "/api/run" in r.text and "/openapi.json" in r.text
    assert "<script" not in r.text and "cdn" not in r.text.lower()


def test_page_and_assets_are_served_locally(client):
    r = client.get("/")
    assert r.status_code == 200 and r.text.lstrip().lower().startswith("<!doctype html>")
    head = r.text.split("<body")[0]
    assert "https://" not in head and "http://" not in head
    scripts = [s.split('"')[1] for s in r.text.split("<script src=")[1:]]
    assert scripts == ["/vendor/plotly.min.js", "/static/dashboard.js"]
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "plotly.js v" in js.text[:200] and len(js.content) > 1_000_000
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/dashboard.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


def test_security_headers_and_no_cors(client):
    r = client.get("/api/info", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    pre = client.options("/api/run", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers  # cross-origin: refused


def test_host_header_must_name_this_server(client):
    assert client.get("/api/info", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/info", headers={"Host": "localhost:8050"}).status_code == 200


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.com")


# ------------------------------------------------------------------------- presets, parameters
def test_presets_are_the_packaged_presets(client):
    rows = client.get("/api/presets").json()["presets"]
    assert [r["name"] for r in rows] == presets()
    base = next(r for r in rows if r["name"] == "baseline")
    assert base["scenario_hash"] == cr.load_scenario("baseline").hash and base["description"]


def test_parameters_carry_unit_source_and_exact_value(client):
    body = client.get("/api/parameters", params={"scenario": "baseline"}).json()
    rows = body["parameters"]
    specs = param_specs()
    assert sorted(r["key"] for r in rows) == sorted(specs)
    fixed = [k for k in optional.INFLUENTIAL if k in specs]
    assert [r["key"] for r in rows[:len(fixed)]] == fixed and body["ordering"] == optional.FIXED
    sc = cr.load_scenario("baseline")
    from computerace.catalog import sources

    for r in rows:
        assert r["unit"] == specs[r["key"]].unit
        assert r["sources"] or r["assumption"], r["key"]
        for s in r["sources"]:
            assert s["url"] == sources()[s["id"]].url
        # the text box's value is exactly the scenario's value
        again = cr.load_scenario("baseline", {r["key"]: parse_override_value(r["value_text"])})
        assert again.parameters[r["key"]].value == sc.parameters[r["key"]].value, r["key"]
        assert len(r["pins"]) in ((19,) if r["key"] in SPREAD else (0,) if not r["uncertain"] else (0, 19)), r["key"]


def test_a_value_without_spread_gets_no_slider(client):
    rows = {r["key"]: r for r in client.get("/api/parameters").json()["parameters"]}
    for key, r in rows.items():
        if r["pins"]:
            assert len({p["text"] for p in r["pins"]}) > 1, key
    controls = rows["channels.legal_import_allowed"]
    if controls["value_text"] == "controls":  # computed by the export-control engine: nothing to pin
        assert controls["pins"] == [] and "export-control" in controls["summary"]


def test_slider_pins_are_valid_and_ordered(client):
    rows = {r["key"]: r for r in client.get("/api/parameters").json()["parameters"]}
    r = rows["smuggling.enforcement"]
    values = [float(p["text"]) for p in r["pins"]]
    assert values == sorted(values) and values[0] < values[-1]
    d = cr.load_scenario("baseline").parameters["smuggling.enforcement"].value
    assert math.isclose(values[9], d.median, rel_tol=1e-3)  # the 50th percentile is the median
    series = rows["supply.western_area_growth_per_year"]["pins"][18]["text"]
    sc = cr.load_scenario("baseline", {"supply.western_area_growth_per_year": parse_override_value(series)})
    assert not sc.parameters["supply.western_area_growth_per_year"].uncertain


def test_value_text_round_trips_yaml_forms():
    for v in ("0.006 to 0.08", 1e9, 2024.5, 3, {"uniform": {"low": 0.0, "high": 0.1}},
              {"by_year": {"2022": "2.5 to 3.4", "2030": 1.25}}, {"mixture": [{"weight": 0.5, "value": 1}]},
              "yes", "a, b"):
        assert parse_override_value(value_text(v)) == (
            {"by_year": {2022: "2.5 to 3.4", 2030: 1.25}} if isinstance(v, dict) and "by_year" in v else v)


# ------------------------------------------------------------------------------------- runs
def test_run_returns_the_python_api_summary_and_series(client):
    r = client.get("/api/run", params={"seed": 4})
    assert r.status_code == 200
    body = strict_json(r.text)
    run = cr.run("baseline", samples=N, seed=4).conditioned()  # the dashboard shows the posterior, as `run` does
    assert body["summary"] == strict_json(json.dumps(finite(page_summary(run.summary()))))
    assert not set(PAGE_OMITS) & set(body["summary"]["metrics"]) and "binding_constraint" in body["summary"]
    full = client.get("/api/download/summary.json", params={"seed": 4}).json()
    assert set(PAGE_OMITS) <= set(full["metrics"])  # the download keeps every metric
    assert body["scenario_hash"] == run.scenario.hash and body["samples"] == N and body["seed"] == 4
    s = body["series"]
    assert len(s["months"]) == run.dataset.sizes["month"] and s["months"][0] == "2022-01"
    i = s["months"].index("2030-12")
    for actor in ("US", "China", "RoW"):
        q = s["stock_h100e"][actor]
        assert q["p5"][i] <= q["p50"][i] <= q["p95"][i]
        assert math.isclose(q["p50"][i], body["summary"]["metrics"]["stock_h100e"][actor]["2030-12"]["p50"], rel_tol=1e-9)
    for ch in ("domestic", "legal_import", "smuggled", "proxy_fab"):
        assert math.isclose(s["china_stock_h100e"][ch]["p95"][i],
                            body["summary"]["metrics"]["stock_h100e"][f"China/{ch}"]["2030-12"]["p95"], rel_tol=1e-9)
    assert "server-timing" in r.headers and "run;dur=" in r.headers["server-timing"]


def test_override_changes_the_numbers_and_the_hash(client):
    base = client.get("/api/run").json()
    more = client.get("/api/run", params={"set": "smuggling.enforcement=0.9"}).json()
    assert more["overrides"] == {"smuggling.enforcement": "0.9"}
    assert more["scenario_hash"] != base["scenario_hash"]
    smug = lambda b: b["summary"]["metrics"]["stock_h100e"]["China/smuggled"]["2030-12"]["p50"]  # noqa: E731
    assert smug(more) < 0.5 * smug(base)  # enforcement closes 90% of the routes from 2026 on


def test_post_and_get_agree(client):
    g = client.get("/api/run", params=[("seed", "2"), ("set", "smuggling.enforcement=0.01 to 0.05"),
                                       ("set", "events.taiwan_hazard_per_year=0.05")]).json()
    p = client.post("/api/run", json={"seed": 2, "overrides": {"smuggling.enforcement": "0.01 to 0.05",
                                                               "events.taiwan_hazard_per_year": 0.05}}).json()
    assert g["scenario_hash"] == p["scenario_hash"] and g["summary"] == p["summary"]


def test_repeated_requests_hit_the_cache(client):
    service = client.app.state.service
    first = client.get("/api/run", params={"seed": 11}).json()
    runs = service.stats["runs"]
    again = client.get("/api/run", params={"seed": 11}).json()
    assert again["cached"] is True and first["cached"] is False
    assert service.stats["runs"] == runs and again["summary"] == first["summary"]
    other = client.get("/api/run", params={"seed": 12}).json()
    assert other["cached"] is False and service.stats["runs"] == runs + 1


# ---------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("pair", [
    "smuggling.enforcment=0.1",          # misspelt key: did you mean
    "smuggling.enforcement=1.9",         # outside the valid range
    "smuggling.enforcement=abc",         # not a value
    "smuggling.enforcement",             # no '='
    "finance.compute_share=5 to 1",        # a > b
])
def test_bad_override_is_422_with_the_cli_message(client, pair, tmp_path):
    r = client.get("/api/run", params={"set": pair})
    assert r.status_code == 422
    p = cli("run", "--set", pair, "--samples", "10", "--out", str(tmp_path / "o"), "--quiet", "--no-report")
    assert p.returncode == 2
    assert p.stderr.strip() == "error: " + r.json()["detail"]
    post = client.post("/api/run", json={"overrides": {pair.split("=")[0]: pair.split("=", 1)[1]}}) if "=" in pair else None
    if post is not None:
        assert post.status_code == 422 and post.json()["detail"] == r.json()["detail"]


@pytest.mark.parametrize("params, word", [
    ({"samples": MAX_SAMPLES + 1}, "samples"), ({"samples": 0}, "samples"), ({"seed": -1}, "seed"),
    ({"seed": "x"}, "seed"), ({"scenario": "x" * 65}, "scenario"),
])
def test_samples_seed_and_names_are_bounded(client, params, word):
    r = client.get("/api/run", params=params)
    assert r.status_code == 422 and word in r.json()["detail"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "baseline.yaml", "src/computerace/data/scenarios/baseline.yaml"])
def test_paths_are_never_accepted(client, name):
    for r in (client.get("/api/run", params={"scenario": name}), client.get("/api/parameters", params={"scenario": name}),
              client.get("/api/download/scenario.yaml", params={"scenario": name})):
        assert r.status_code == 422 and "not a preset" in r.json()["detail"]


def test_typo_in_preset_suggests_the_name(client):
    r = client.get("/api/run", params={"scenario": "basline"})
    assert r.status_code == 422 and "did you mean 'baseline'" in r.json()["detail"]


def test_sample_months_are_capped(client):
    r = client.get("/api/run", params=[("samples", str(MAX_SAMPLES)), ("set", f"horizon.end={MAX_HORIZON_END}")])
    assert r.status_code == 422 and "sample-months" in r.json()["detail"]


def test_horizon_end_is_bounded(client):
    r = client.get("/api/run", params={"set": "horizon.end=2100-12"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    # the scenario language's own limit (2060-12, the dashboard's too) refuses it, naming the key and the limit
    assert "horizon.end" in detail and "2100-12" in detail and MAX_HORIZON_END in detail


def test_yaml_alias_bomb_is_refused(client):
    bomb = ("{a: &a [1,1,1,1,1,1,1,1,1,1], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
            "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]}")
    r = client.get("/api/run", params={"set": f"smuggling.enforcement={bomb}"})
    assert r.status_code == 422 and "too large" in r.json()["detail"]


def test_deep_nesting_is_a_user_error(client):
    r = client.get("/api/run", params={"set": "smuggling.enforcement=" + "[" * 900 + "]" * 900})
    assert r.status_code == 422 and "nested too deeply" in r.json()["detail"]


def test_request_size_limits(client):
    big = {"overrides": {"smuggling.enforcement": "1" * (MAX_BODY_BYTES + 10)}}
    assert client.post("/api/run", json=big).status_code == 413
    assert client.get("/api/run", params={"set": "x=" + "1" * (MAX_QUERY_BYTES + 10)}).status_code == 414
    r = client.post("/api/run", json={"scenario": "baseline", "path": "/etc/passwd"})
    assert r.status_code == 422 and "path" in r.json()["detail"]  # unknown fields are refused


def test_nonfinite_numbers_become_null():
    assert finite({"a": [1.0, float("inf"), float("nan")], "b": {"c": -float("inf")}}) == {"a": [1.0, None, None],
                                                                                          "b": {"c": None}}


# ----------------------------------------------------------------------------------- downloads
def test_downloads_reproduce_exactly_with_the_cli(client, tmp_path):
    params = [("seed", "7"), ("samples", "300"), ("set", "smuggling.enforcement=0.02 to 0.1"),
              ("set", "finance.compute_share=0.5")]
    y = client.get("/api/download/scenario.yaml", params=params)
    assert y.status_code == 200 and "attachment" in y.headers["content-disposition"]
    assert "--seed 7 --samples 300" in y.text
    f = tmp_path / "scenario.yaml"
    f.write_text(y.text)
    p = cli("run", str(f), "--seed", "7", "--samples", "300", "--out", str(tmp_path / "out"), "--quiet", "--no-report")
    assert p.returncode == 0, p.stderr
    summary = client.get("/api/download/summary.json", params=params)
    assert summary.content == (tmp_path / "out" / "summary.json").read_bytes()
    csv = client.get("/api/download/quantiles.csv", params=params)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content == (tmp_path / "out" / "quantiles.csv").read_bytes()
    run = client.get("/api/run", params=params).json()
    assert json.loads(summary.content)["scenario_hash"] == run["scenario_hash"]


# ----------------------------------------------------------------------------- sources, claims
def test_source_by_id(client):
    r = client.get("/api/sources/epoch-chip-counts").json()
    assert r["id"] == "epoch-chip-counts" and r["url"].startswith("https://") and r["publisher"]
    miss = client.get("/api/sources/epoch-chip-count")
    assert miss.status_code == 404 and "did you mean 'epoch-chip-counts'" in miss.json()["detail"]


def test_claims_follow_the_claims_module(client):
    body = client.get("/api/claims", params={"seed": 3}).json()
    assert body["available"] == optional.available("claims")
    assert client.get("/api/info").json()["features"]["claims"] == optional.available("claims")
    if body["available"]:
        assert body["samples"] == N and body["claims"]
        for c in body["claims"]:
            assert c["id"] and c["claim"] and 0 <= c["probability"] <= 1
            n = c.get("samples_scored") or N  # a share of the samples where the claim's metric is defined
            assert math.isclose(c["probability"] * n, round(c["probability"] * n), abs_tol=1e-6)
    else:
        assert body["claims"] == [] and "claims" in body["reason"]


def test_sensitivity_output_orders_parameters():
    out = {"indices": [
        {"input": "events.taiwan_time_u", "members": ["events.taiwan_time_u"], "ST": 0.5},
        {"input": "a+b", "members": ["smuggling.enforcement", "finance.compute_share"], "ST": 0.3},
        {"input": "finance.china_capex_usd_per_year", "members": ["finance.china_capex_usd_per_year"], "ST": 0.4},
    ]}
    assert optional.parse_ranking(out) == ["finance.china_capex_usd_per_year", "smuggling.enforcement",
                                           "finance.compute_share"]
    assert optional.parse_ranking({"nothing": 1}) == []


# --------------------------------------------------------------------------------------- CLI
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_refuses_a_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        p = cli("dashboard", "--port", str(s.getsockname()[1]))
    assert p.returncode == 2 and "cannot listen" in p.stderr and "Traceback" not in p.stderr


def test_cli_serves_and_stops():
    port = _free_port()
    proc = subprocess.Popen([CR, "dashboard", "--port", str(port), "--samples", "100", "--no-rank"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        import httpx

        deadline, info = time.monotonic() + 30, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert info is not None and info["default_samples"] == 100
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in out and "Traceback" not in err
