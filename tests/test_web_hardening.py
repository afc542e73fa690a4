"""The dashboard server under hostile or careless clients: loopback only, read timeouts, cross-origin
requests, limits, the background ranking's processes, error bodies against the OpenAPI schema, and a
bounded schemathesis fuzz of the whole API.

Real servers (`computerace dashboard` on a free port) where the socket layer matters; FastAPI's test
client elsewhere. No timed assertions: the deadlines below only detect hangs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil  # a dependency of dask.distributed, hence always installed with computerace
import pytest

from computerace.web import HEADER_TIMEOUT_S, MAX_HORIZON_END, MAX_SAMPLES, optional
from computerace.web.app import create_app
from computerace.web.guard import PROTECTED
from computerace.web.launch import running_dashboard

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
N = 120
HANG_S = 60  # generous: only detects a hang on a loaded machine


@contextlib.contextmanager
def dashboard(*args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`computerace dashboard` as a user starts it, on a free port; yields (base URL, process)."""
    with running_dashboard("--samples", str(N), *args, start_timeout=HANG_S) as (base, proc):
        yield base, proc


def listening_sockets(pid: int) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket of a process and its descendants."""
    root = psutil.Process(pid)
    out = []
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            for c in p.net_connections(kind="tcp"):
                if c.status == psutil.CONN_LISTEN:
                    out.append((p.pid, c.laddr.ip, c.laddr.port))
    return out


def is_loopback_ip(ip: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(ip.split("%")[0]).is_loopback


@pytest.fixture(scope="module")
def client():
    app = create_app(default_samples=N, warm=False, rank=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


# --------------------------------------------------------------------------- 1. loopback only
def test_dashboard_listens_on_loopback_only():
    with dashboard("--no-rank") as (base, proc):
        socks = listening_sockets(proc.pid)
        port = int(base.rsplit(":", 1)[1])
        assert any(p == port for _, _, p in socks), socks
        assert all(is_loopback_ip(ip) for _, ip, _ in socks), socks


# ------------------------------------------------------------------------------ 2. read timeouts
def _half_open(port: int, i: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    # a partial request line, or a request line and part of the headers; then nothing
    s.sendall(b"GET /api/inf" if i % 2 else b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return s


def _closed_by_server(s: socket.socket, deadline: float) -> tuple[bool, bytes]:
    data = b""
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = s.recv(4096)
        except TimeoutError:
            return False, data
        except ConnectionResetError:
            return True, data
        if not chunk:
            return True, data
        data += chunk
    return False, data


def test_half_open_connections_neither_starve_the_server_nor_stay_open():
    with dashboard("--no-rank") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        socks = [_half_open(port, i) for i in range(70)]
        try:
            # uvicorn's own limit_concurrency counted these 70 sockets and answered 503 to everyone else
            r = httpx.get(base + "/api/info", timeout=HANG_S)
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + HEADER_TIMEOUT_S + 15
            results = [_closed_by_server(s, deadline) for s in socks]
            assert all(closed for closed, _ in results), sum(not c for c, _ in results)
            replies = [d for _, d in results if d]
            assert replies and all(d.startswith(b"HTTP/1.1 408") for d in replies)
            body = json.loads(replies[0].split(b"\r\n\r\n", 1)[1])
            assert "not received within" in body["detail"] and "whole request" in body["detail"]
            assert httpx.get(base + "/api/info", timeout=HANG_S).status_code == 200
        finally:
            for s in socks:
                s.close()


def test_a_body_that_never_arrives_is_cut_off():
    with dashboard("--no-rank") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /api/run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 500\r\n\r\n{\"seed\": ")
            closed, data = _closed_by_server(s, time.monotonic() + HANG_S)
        assert closed and data.startswith(b"HTTP/1.1 408") and b"body not received" in data
        assert httpx.get(base + "/api/info", timeout=HANG_S).status_code == 200


def test_a_kept_alive_connection_still_serves_requests():
    with dashboard("--no-rank") as (base, _), httpx.Client(timeout=HANG_S) as c:
        assert [c.get(base + "/api/info").status_code for _ in range(3)] == [200] * 3


# ------------------------------------------------------------------------------- 3. cross-origin
def _runs(client) -> int:
    return client.app.state.service.stats["runs"]


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:9999"},  # another port is another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1"},
])
def test_cross_origin_requests_start_nothing(client, headers):
    before = _runs(client)
    paths = ["/api/run?seed=901", "/api/download/summary.json?seed=902", "/api/download/quantiles.csv?seed=903",
             "/api/download/scenario.yaml?seed=904", "/api/claims?seed=905", "/api/parameters?scenario=baseline"]
    for path in paths:
        r = client.get(path, headers=headers)
        assert r.status_code == 403, (path, r.status_code)
        assert "refused" in r.json()["detail"] and "127.0.0.1" in r.json()["detail"]
        assert "access-control-allow-origin" not in r.headers
    post = client.post("/api/run", json={"seed": 906}, headers=headers)
    assert post.status_code == 403
    assert _runs(client) == before
    assert all(p.split("?")[0].startswith(PROTECTED) for p in paths)


@pytest.mark.parametrize("headers", [
    {}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {"Origin": "http://127.0.0.1"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1"},
])
def test_the_page_itself_and_scripts_may_compute(client, headers):
    assert client.get("/api/run", params={"seed": 1}, headers=headers).status_code == 200
    assert client.post("/api/run", json={"seed": 1}, headers=headers).status_code == 200


def test_read_only_routes_stay_open_to_links(client):
    # a link to a source's catalog entry from elsewhere computes nothing: not refused
    r = client.get("/api/sources/epoch-chip-counts", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200


# ----------------------------------------------------------------------------------- 4. limits
def test_samples_and_horizon_have_stated_maxima(client):
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/api/run"]["get"]["parameters"]}
    assert params["samples"]["schema"]["anyOf"][0]["maximum"] == MAX_SAMPLES
    assert MAX_HORIZON_END in params["set"]["description"]
    r = client.get("/api/run", params={"samples": MAX_SAMPLES + 1})
    assert r.status_code == 422 and "computerace run --samples" in r.json()["detail"]
    r = client.get("/api/run", params={"set": "horizon.end=2061-01"})
    assert r.status_code == 422 and MAX_HORIZON_END in r.json()["detail"] and "horizon.end" in r.json()["detail"]
    r = client.post("/api/run", json={"overrides": {"horizon.end": "2099-12"}})
    assert r.status_code == 422 and MAX_HORIZON_END in r.json()["detail"]
    assert client.get("/api/run", params={"set": "horizon.end=2035-12"}).status_code == 200


# ------------------------------------------------------------------------------ 5. the ranking
def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(not optional.available("sensitivity"), reason="computerace.analysis.sensitivity is absent")
def test_one_ranking_at_a_time_and_none_outlives_a_killed_server():
    with dashboard() as (base, proc):
        presets = [p["name"] for p in httpx.get(base + "/api/presets", timeout=HANG_S).json()["presets"]][:3]
        for name in presets:
            assert httpx.get(base + "/api/parameters", params={"scenario": name}, timeout=HANG_S).status_code == 200
        deadline = time.monotonic() + HANG_S
        while True:
            status = httpx.get(base + "/api/info", timeout=HANG_S).json()["ranking"]
            children = [p for p in _descendants(proc.pid) if _alive(p)]
            if "running" in status.values() and children:
                break
            assert time.monotonic() < deadline, (status, children)
            time.sleep(0.2)
        assert list(status.values()).count("running") == 1, status
        assert list(status.values()).count("queued") == len(presets) - 1, status
        assert len(children) == 1, [c.cmdline()[-6:] for c in children]  # one process, not one per preset
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=HANG_S)
        deadline = time.monotonic() + 20  # the child checks its parent twice a second
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [c.pid for c in children if _alive(c)]
        for pid in left:  # do not leave a stray process behind a failing test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not left, f"ranking processes outlived the killed server: {left}"


# ----------------------------------------------------------------------------- 6. error bodies
def _error_schema(spec: dict, path: str, method: str, status: int) -> dict:
    resp = spec["paths"][path][method]["responses"][str(status)]
    schema = resp["content"]["application/json"]["schema"]
    return {**schema, "components": spec["components"]}


def test_error_bodies_match_the_openapi_schema():
    jsonschema = pytest.importorskip("jsonschema")
    app = create_app(default_samples=N, warm=False, rank=False)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        spec = c.get("/openapi.json").json()
        assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's 422 shape is not ours
        cases = [
            ("/api/run", "get", c.get("/api/run", params={"seed": "x"}), 422),          # malformed parameter
            ("/api/run", "get", c.get("/api/run", params={"set": "smuggling.enforcement=9"}), 422),  # the CLI's
            ("/api/run", "post", c.post("/api/run", json={"seed": 1, "path": "x"}), 422),
            ("/api/run", "get", c.get("/api/run", headers={"Origin": "https://evil.example"}), 403),
            ("/api/run", "get", c.get("/api/run", headers={"Host": "evil.example"}), 400),
            ("/api/run", "get", c.get("/api/run?set=" + "1" * 9000), 414),
            ("/api/run", "post", c.post("/api/run", json={"overrides": {"a": "1" * 70_000}}), 413),
            ("/api/run", "post", c.post("/api/run", content=(b"x" * 1000 for _ in range(100)),  # chunked
                                        headers={"Content-Type": "application/json"}), 413),
            ("/api/sources/{source_id}", "get", c.get("/api/sources/nope"), 404),
        ]
        app.state.service.run_json = lambda st: 1 / 0  # a bug in the compute layer
        cases.append(("/api/run", "get", c.get("/api/run"), 500))
        for path, method, r, status in cases:
            assert r.status_code == status, (path, status, r.text)
            assert r.headers["content-type"].startswith("application/json")
            jsonschema.validate(r.json(), _error_schema(spec, path, method, status))
            assert isinstance(r.json()["detail"], str) and len(r.json()["detail"]) > 20
        assert "bug" in cases[-1][2].json()["detail"] and "ZeroDivisionError" in cases[-1][2].json()["detail"]
        missing = c.get("/api/nothing-here")
        assert missing.status_code == 404 and "/docs" in missing.json()["detail"]


def test_download_content_types_are_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    want = {"/api/download/quantiles.csv": "text/csv", "/api/download/scenario.yaml": "application/yaml",
            "/api/download/summary.json": "application/json"}
    for path, media in want.items():
        assert list(paths[path]["get"]["responses"]["200"]["content"]) == [media], path
        r = client.get(path, params={"seed": 2})
        assert r.headers["content-type"].split(";")[0] == media


# -------------------------------------------------------------------------------- 7. fuzzing
try:
    import schemathesis
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - the test extra installs it
    schemathesis = None

if schemathesis is not None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    FUZZ_SAMPLES = 60  # fuzzed sample counts are clamped to this: the fuzz tests validation, not speed
    SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", create_app(default_samples=FUZZ_SAMPLES, warm=False,
                                                                        rank=False), headers={"Host": "127.0.0.1"})
    # Hypothesis' fuzzing phase only (max_examples below bounds it); the coverage phase would add hundreds of
    # cases per operation, each a simulation.
    SCHEMA.config.phases.coverage.enabled = False

    @SCHEMA.hook
    def map_query(ctx, query):  # noqa: ARG001 - schemathesis passes the hook context
        if isinstance(query, dict) and isinstance(query.get("samples"), int) and query["samples"] > FUZZ_SAMPLES:
            query = {**query, "samples": FUZZ_SAMPLES}
        return query

    @SCHEMA.hook
    def map_body(ctx, body):  # noqa: ARG001
        if isinstance(body, dict) and isinstance(body.get("samples"), int) and body["samples"] > FUZZ_SAMPLES:
            body = {**body, "samples": FUZZ_SAMPLES}
        return body

    @SCHEMA.parametrize()
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def test_fuzz_the_api_from_its_openapi_schema(case):
        case.call_and_validate(headers={"Host": "127.0.0.1"},
                               checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                       response_headers_conformance, response_schema_conformance])
else:  # pragma: no cover
    def test_fuzz_the_api_from_its_openapi_schema():
        pytest.skip("schemathesis is not installed: pip install schemathesis (it is in the test extra)")
