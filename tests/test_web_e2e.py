"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against
`computerace dashboard` started as a user would start it (a fresh server on a free port per test).

Where Chromium or the playwright package is missing, these tests are skipped with one line naming what to
install; with COMPUTERACE_REQUIRE_BROWSER=1 (set by CI) a missing browser is a failure instead.
COMPUTERACE_SKIP_BROWSER_TESTS=1 skips them on purpose (unless COMPUTERACE_REQUIRE_BROWSER=1).
A screenshot of the page is kept in build/test-artifacts/ (or $COMPUTERACE_ARTIFACTS).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from computerace.web.launch import running_dashboard

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
CHROMIUM = os.environ.get("COMPUTERACE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("COMPUTERACE_ARTIFACTS", Path(__file__).parent.parent / "build" / "test-artifacts"))
SAMPLES = 400
WAIT_MS = 90_000  # generous: a shared CI machine may be slow; speed is measured in benchmarks/, not here
KEY = "smuggling.enforcement"


def missing_browser() -> str | None:
    """What to install for the browser tests, or None when Chromium and playwright are both there."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set COMPUTERACE_CHROMIUM)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install playwright; no browser download needed)")
    return " and ".join(missing) or None


@pytest.fixture(scope="module")
def browser():
    required = os.environ.get("COMPUTERACE_REQUIRE_BROWSER") == "1"
    missing = missing_browser()
    if missing and required:
        pytest.fail(f"browser tests need {missing}; COMPUTERACE_REQUIRE_BROWSER=1 makes a missing browser a failure")
    if missing:
        pytest.skip(f"browser tests skipped: install {missing}")
    if os.environ.get("COMPUTERACE_SKIP_BROWSER_TESTS") == "1" and not required:
        pytest.skip("COMPUTERACE_SKIP_BROWSER_TESTS=1: browser tests skipped on purpose")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = None
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
    finally:
        if b is not None:
            b.close()
        pw.stop()


@pytest.fixture
def server():
    """`computerace dashboard` on a free loopback port; yields its base URL; stopped afterwards."""
    with running_dashboard("--samples", str(SAMPLES), "--no-rank", stop_timeout=10) as (base, _):
        yield base


@pytest.fixture
def page(browser, server):
    """A fresh browser context; records console errors and every URL the page requests."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.problems = []
    pg.requested = []
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.on("request", lambda r: pg.requested.append(r.url))
    try:
        yield pg
    finally:
        ctx.close()


def open_page(page, server, query: str = "") -> None:
    page.goto(server + "/" + query)
    wait_renders(page, 1)


def wait_renders(page, n: int) -> None:
    page.wait_for_selector(f"body[data-renders='{n}']", state="attached")


def trace(page, chart: str, name: str) -> list:
    return page.evaluate("([c, n]) => document.getElementById(c).data.find((t) => t.name === n).y", [chart, name])


def trace_names(page, chart: str) -> list[str]:
    return page.evaluate("(c) => document.getElementById(c).data.map((t) => t.name)", chart)


def api_state(page) -> list[tuple[str, str]]:
    """The page's URL state as the API's query parameters (scenario, seed, samples, set...)."""
    q = parse_qs(urlsplit(page.url).query)
    return [(k, v) for k in ("scenario", "seed", "samples", "set") for v in q.get(k, [])]


def card_p50(page, metric: str) -> float:
    return float(page.get_attribute(f".card[data-metric='{metric}']", "data-p50"))


# -------------------------------------------------------------------------------------------- tests
def test_page_loads_offline_draws_and_agrees_with_the_api(page, server):
    open_page(page, server)
    assert page.problems == []
    assert page.requested and all(u.startswith(server + "/") for u in page.requested), page.requested
    assert {"US", "China", "RoW"} <= set(trace_names(page, "chart-stock"))
    assert "Smuggled" in trace_names(page, "chart-channels")
    api = httpx.get(server + "/api/run", params=api_state(page), timeout=60).json()
    assert api["samples"] == SAMPLES and f"{SAMPLES} samples · seed 0" in page.inner_text("#status")
    assert trace(page, "chart-stock", "China") == api["series"]["stock_h100e"]["China"]["p50"]
    assert card_p50(page, "stock_h100e/China") == api["summary"]["metrics"]["stock_h100e"]["China"]["2030-12"]["p50"]
    assert card_p50(page, "years_behind_stock/China") == \
        api["summary"]["metrics"]["years_behind_stock"]["China"]["2030-12"]["p50"]
    over = page.get_attribute(".card[data-metric='china_overtakes_us_stock_by'] [data-year='2035']", "data-p")
    assert float(over) == api["summary"]["probabilities"]["china_overtakes_us_stock_by"]["2035"]
    assert page.is_visible("text=A forecast conditional on the scenario's assumptions")
    # the binding-constraint charts draw summary.json's binding_constraint shares (charts below the fold are
    # drawn right after the first paint)
    page.wait_for_function("() => (document.getElementById('chart-binding-china').data || []).length > 0")
    china = api["summary"]["binding_constraint"]["China"]
    names = trace_names(page, "chart-binding-china")
    assert names and set(names) <= {"wafers", "yield", "HBM", "packaging", "power", "budget", "growth form"}
    for n in names:
        assert trace(page, "chart-binding-china", n) == [china[y][n] for y in china]
    assert "power" in trace_names(page, "chart-binding-us")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_moving_a_slider_redraws_the_charts_and_the_url(page, server):
    open_page(page, server)
    before_china = trace(page, "chart-stock", "China")
    before_smuggled = trace(page, "chart-channels", "Smuggled")
    pins = next(p for p in httpx.get(server + "/api/parameters", timeout=60).json()["parameters"] if p["key"] == KEY)["pins"]
    page.locator(f".param[data-key='{KEY}'] input[type=range]").fill("19")  # its 95th percentile
    wait_renders(page, 2)
    assert parse_qs(urlsplit(page.url).query)["set"] == [f"{KEY}={pins[18]['text']}"]
    assert page.input_value(f".param[data-key='{KEY}'] .ptext") == pins[18]["text"]
    after_smuggled = trace(page, "chart-channels", "Smuggled")
    i = httpx.get(server + "/api/run", params=api_state(page), timeout=60).json()["series"]["months"].index("2030-12")
    assert after_smuggled[i] < before_smuggled[i]  # more enforcement against the smuggling routes
    api = httpx.get(server + "/api/run", params=api_state(page), timeout=60).json()
    assert trace(page, "chart-stock", "China") == api["series"]["stock_h100e"]["China"]["p50"] != before_china
    assert card_p50(page, "stock_h100e/China") == api["summary"]["metrics"]["stock_h100e"]["China"]["2030-12"]["p50"]
    assert page.get_attribute("body", "data-hash") == api["scenario_hash"]
    assert page.problems == []


def test_the_url_restores_a_shared_view(page, server):
    query = "?" + urlencode([("scenario", "baseline"), ("seed", "3"), ("samples", "300"), ("set", f"{KEY}=0.05"),
                             ("year", "2035"), ("compare", "1")])
    open_page(page, server, query)
    assert page.input_value("#seed") == "3" and page.input_value("#samples") == "300"
    assert page.input_value("#year") == "2035" and page.is_checked("#compare")
    assert page.input_value(f".param[data-key='{KEY}'] .ptext") == "0.05"
    assert "overridden" in page.get_attribute(f".param[data-key='{KEY}']", "class")
    assert "300 samples · seed 3" in page.inner_text("#status")
    assert "US (baseline)" in trace_names(page, "chart-stock")
    assert "Dec 2035" in page.inner_text(".card[data-metric='stock_h100e/US']")
    assert "baseline:" in page.inner_text(".card[data-metric='stock_h100e/China']")
    api = httpx.get(server + "/api/run", params=[("seed", "3"), ("samples", "300"), ("set", f"{KEY}=0.05")],
                    timeout=60).json()
    assert card_p50(page, "stock_h100e/China") == api["summary"]["metrics"]["stock_h100e"]["China"]["2035-12"]["p50"]
    assert parse_qs(urlsplit(page.url).query)["compare"] == ["1"]


def test_compare_toggle_and_year_update_page_and_url(page, server):
    open_page(page, server)
    assert not any("(baseline)" in n for n in trace_names(page, "chart-stock"))
    page.check("#compare")
    wait_renders(page, 2)
    assert "China (baseline)" in trace_names(page, "chart-stock")
    assert parse_qs(urlsplit(page.url).query)["compare"] == ["1"]
    page.select_option("#year", "2040")
    page.wait_for_selector(".card[data-metric='stock_h100e/US']:has-text('Dec 2040')")
    assert parse_qs(urlsplit(page.url).query)["year"] == ["2040"]


def test_a_bad_value_shows_the_cli_message_and_keeps_the_last_chart(page, server):
    open_page(page, server)
    before = trace(page, "chart-stock", "China")
    box = page.locator(f".param[data-key='{KEY}'] .ptext")
    box.fill("abc")
    box.press("Enter")
    page.wait_for_selector("#error:not([hidden])")
    detail = httpx.get(server + "/api/run", params={"set": f"{KEY}=abc", "samples": SAMPLES}, timeout=60).json()["detail"]
    assert page.inner_text("#error") == "error: " + detail
    assert page.get_attribute("body", "data-renders") == "1" and trace(page, "chart-stock", "China") == before
    assert "bad" in page.get_attribute(f".param[data-key='{KEY}']", "class")
    page.click(f".param[data-key='{KEY}'] .reset-one")
    wait_renders(page, 2)
    assert page.is_hidden("#error") and "set" not in parse_qs(urlsplit(page.url).query)


def test_downloads_reproduce_with_the_cli(page, server, tmp_path):
    open_page(page, server, "?" + urlencode([("seed", "5"), ("samples", "300"), ("set", "finance.compute_share=0.5")]))
    files = {}
    for link in ("#dl-yaml", "#dl-summary", "#dl-csv"):
        with page.expect_download() as d:
            page.click(link)
        files[link] = tmp_path / d.value.suggested_filename
        d.value.save_as(files[link])
    cmd = page.inner_text("#reproduce").split()
    assert cmd[:2] == ["computerace", "run"] and cmd[2] == files["#dl-yaml"].name and cmd[3:] == [
        "--seed", "5", "--samples", "300"]
    p = subprocess.run([CR, "run", str(files["#dl-yaml"]), *cmd[3:], "--out", str(tmp_path / "out"), "--quiet",
                        "--no-report"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert files["#dl-summary"].read_bytes() == (tmp_path / "out" / "summary.json").read_bytes()
    assert files["#dl-csv"].read_bytes() == (tmp_path / "out" / "quantiles.csv").read_bytes()


def test_switching_preset_loads_its_inputs_and_numbers(page, server):
    open_page(page, server)
    presets = [p["name"] for p in httpx.get(server + "/api/presets", timeout=60).json()["presets"]]
    other = next(p for p in presets if p != "baseline")
    page.select_option("#preset", other)
    wait_renders(page, 2)
    api = httpx.get(server + "/api/run", params={"scenario": other, "samples": SAMPLES}, timeout=60).json()
    assert page.get_attribute("body", "data-hash") == api["scenario_hash"]
    assert parse_qs(urlsplit(page.url).query)["scenario"] == [other]
    desc = httpx.get(server + "/api/parameters", params={"scenario": other}, timeout=60).json()["description"]
    assert page.inner_text("#preset-description") == desc


def test_claims_table_shows_the_api_probabilities(page, server):
    open_page(page, server)
    assert page.get_attribute("body", "data-claims") is None  # scored only once the table is on screen
    page.locator("#claims").scroll_into_view_if_needed()
    body = httpx.get(server + "/api/claims", params={"samples": SAMPLES}, timeout=300).json()
    if not body["available"]:
        page.wait_for_selector("#claims-body:has-text('once the claims module')")
        return
    page.wait_for_selector("body[data-claims]", state="attached")
    rows = page.locator("#claims-body tr[data-claim]")
    assert rows.count() == len(body["claims"])
    shown = {rows.nth(i).get_attribute("data-claim"): float(rows.nth(i).get_attribute("data-p"))
             for i in range(rows.count())}
    assert shown == {c["id"]: c["probability"] for c in body["claims"]}


def test_half_width_chart_titles_are_never_under_the_modebar(page, server):
    open_page(page, server)
    page.wait_for_function("() => (document.getElementById('chart-binding-china').data || []).length > 0")
    for chart in ("chart-behind", "chart-overtake", "chart-binding-us", "chart-binding-china"):
        page.hover(f"#{chart} .nsewdrag")  # the modebar shows while the pointer is over the chart
        box = page.evaluate("""(c) => {
            const r = (e) => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
            const d = document.getElementById(c);
            return {title: r(d.querySelector('.gtitle')), bar: r(d.querySelector('.modebar'))};
        }""", chart)
        t, b = box["title"], box["bar"]
        overlap = t[0] < b[2] and b[0] < t[2] and t[1] < b[3] and b[1] < t[3]
        assert not overlap, (chart, box)
    page.mouse.move(0, 0)
    hidden = page.evaluate("() => getComputedStyle(document.querySelector('#chart-behind .modebar-group')).opacity")
    assert float(hidden) == 0  # away from the chart, no modebar at all


def test_a_shared_link_with_a_bad_value_shows_why_and_the_defaults(page, server):
    page.goto(server + "/?" + urlencode([("seed", "4"), ("set", f"{KEY}=abc"), ("year", "2035")]))
    page.wait_for_selector("body[data-fallback='1']", state="attached")
    wait_renders(page, 1)
    detail = httpx.get(server + "/api/run", params={"set": f"{KEY}=abc"}, timeout=60).json()["detail"]
    message = page.inner_text("#error")
    assert message.startswith("error: " + detail) and "defaults of preset 'baseline'" in message
    assert "Defaults of preset 'baseline' shown" in page.inner_text("#status")
    assert "last valid view" not in page.inner_text("#status")
    q = parse_qs(urlsplit(page.url).query)
    assert "set" not in q and q["seed"] == ["0"]  # the address bar now names the view on screen
    api = httpx.get(server + "/api/run", params={"samples": SAMPLES}, timeout=60).json()
    assert trace(page, "chart-stock", "China") == api["series"]["stock_h100e"]["China"]["p50"]


def test_log_axes_stop_a_few_decades_below_the_largest_value(page, server):
    # proxy fabs' die bank drains towards zero: its median must not drag the axis down to 1e-9 H100e
    open_page(page, server, "?" + urlencode([("set", "channels.proxy_die_bank_dies=1")]))
    for chart in ("chart-stock", "chart-channels"):
        lo, hi = page.evaluate("(c) => document.getElementById(c).layout.yaxis.range", chart)
        assert hi - lo <= 6 + 0.2, (chart, lo, hi)
        assert lo > 0, (chart, lo)  # at least 1 H100e


def test_no_python_reprs_on_the_page(page, server):
    open_page(page, server)
    page.click("#more summary")
    text = page.inner_text("body")
    for needle in ("{'", "'}", "': {", "[{'"):
        assert needle not in text, needle
    label = page.inner_text(".param[data-key='events.controls_shift_allowed'] .pval")
    assert "mixture(" in label and "uniform(low 0.1, high 0.6)" in label


def test_discover_box_finds_the_region_on_request(page, server):
    """'Which worlds make it happen': nothing runs until asked; then the statement of /api/discover and its
    trajectory chart appear."""
    open_page(page, server)
    assert page.inner_text("#discover-body") == ""
    page.locator("#discover").scroll_into_view_if_needed()
    page.click("#discover-go")
    page.wait_for_selector("#discover-body p:has-text('overtakes')", timeout=120_000)
    body = httpx.get(server + "/api/discover", params={"samples": SAMPLES, "outcome": "overtake-by-2040"},
                     timeout=300).json()
    assert body["statement"] in page.inner_text("#discover-body")
    if body["boxes"]:
        page.wait_for_function("() => (document.getElementById('chart-discover').data || []).length > 0")
