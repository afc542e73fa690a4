"""The offline HTML report and its figures, on a small synthetic dataset (no engine needed)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from computerace.report import figures
from computerace.report.html import CONDITIONAL_SENTENCE, fmt_number, render_report

N = 200
ACTORS = ["US", "China", "RoW"]
CHANNELS = ["domestic", "legal_import", "smuggled", "proxy_fab"]


def _synthetic(n: int = N, seed: int = 1) -> xr.Dataset:
    """Lognormal stocks growing exponentially, with a different growth rate per sample and actor."""
    rng = np.random.default_rng(seed)
    months = np.arange(np.datetime64("2022-01"), np.datetime64("2041-01")).astype("datetime64[ns]")
    years = np.arange(2022, 2041)
    t = np.arange(months.size) / 12.0
    base = np.array([4e5, 1e5, 2e5])
    growth = rng.normal([0.45, 0.55, 0.35], 0.08, size=(n, 3))
    noise = rng.lognormal(0.0, 0.3, size=(n, 1, 3))
    stock = (base * noise * np.exp(growth[:, None, :] * t[None, :, None])).astype(np.float32)
    ch_share = rng.dirichlet([4, 3, 1, 1], size=n)
    china_stock = (stock[:, :, 1:2] * ch_share[:, None, :]).astype(np.float32)
    remote = (0.2 * stock[:, :, 1] * rng.lognormal(0, 0.5, size=(n, 1))).astype(np.float32)
    adds = rng.lognormal(np.log(base) + 0.4 * (years[:, None] - 2022), 0.5, size=(n, years.size, 3))
    china_adds = rng.lognormal(
        np.log([5e4, 3e4, 1e4, 5e3]) + 0.3 * (years[:, None] - 2022), 0.6, size=(n, years.size, 4)
    )
    unsold = rng.lognormal(np.log(1e4) + 0.3 * (years[:, None] - 2022), 0.8, size=(n, years.size, 1))
    return xr.Dataset(
        {
            "stock_h100e": (("sample", "month", "actor"), stock),
            "china_stock_h100e": (("sample", "month", "channel"), china_stock),
            "china_remote_h100e": (("sample", "month"), remote),
            "operational_h100e": (("sample", "month", "actor"), 0.9 * stock),
            "power_gw": (("sample", "month", "actor"), (stock * 1.4e-6).astype(np.float32)),
            "additions_h100e": (("sample", "year", "actor"), adds.astype(np.float32)),
            "china_additions_h100e": (("sample", "year", "channel"), china_adds.astype(np.float32)),
            "unsold_h100e": (("sample", "year", "supplier"), unsold.astype(np.float32)),
        },
        coords={"sample": np.arange(n), "month": months, "actor": ACTORS, "channel": CHANNELS, "year": years,
                "supplier": ["Western"]},
    )


def _years_behind(ds: xr.Dataset, seed: int = 2) -> tuple[xr.DataArray, xr.DataArray]:
    rng = np.random.default_rng(seed)
    shape = (ds.sizes["sample"], ds.sizes["month"])
    years = xr.DataArray(
        rng.normal(3.0, 1.5, size=shape),
        dims=("sample", "month"),
        coords={"sample": ds["sample"], "month": ds["month"]},
    )
    # Censoring share rises over time, so each date has its own fraction.
    p = np.linspace(0.02, 0.6, shape[1])
    censored = xr.DataArray(
        rng.random(shape) < p, dims=("sample", "month"), coords={"sample": ds["sample"], "month": ds["month"]}
    )
    return years, censored


def _summary() -> dict:
    def q(p50: float) -> dict:
        return {"p5": p50 / 3, "p50": p50, "p95": p50 * 3, "mean": p50 * 1.1}

    stock = {
        a: {f"{y}-12": q(v * 10 ** (0.2 * (y - 2025))) for y in (2025, 2030, 2035, 2040)}
        for a, v in (("US", 1_234_567), ("China", 45_600), ("RoW", 987_000))
    }
    return {
        "scenario": "baseline",
        "seed": 7,
        "samples": N,
        "version": "0.1.0",
        "scenario_hash": "abc123",
        "metrics": {
            "stock_h100e": stock,
            "china_share": {"World": {"2030-12": {"p5": 0.1, "p50": 0.2, "p95": 0.3, "mean": 0.2}}},
            "us_to_china_ratio": {"US/China": {"2030-12": {"p5": 1.5, "p50": 4.0, "p95": 9.0, "mean": 4.5}}},
        },
        "probabilities": {"china_overtakes_us_stock_by": {"2030": 0.05, "2035": 0.125, "2040": 0.25}},
    }


def _manifest() -> dict:
    return {
        "scenario": "baseline",
        "seed": 7,
        "samples": N,
        "version": "0.1.0",
        "scenario_hash": "abc123",
        "catalog_version": "cat-2026.1",
        "horizon": {"start": "2022-01", "end": "2040-12"},
        "description": "Central case <with> & markup",
    }


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return _synthetic()


@pytest.fixture(scope="module")
def page(ds: xr.Dataset) -> str:
    return render_report(ds, _summary(), _manifest(), years_behind=_years_behind(ds))


def test_plotlyjs_embedded_exactly_once_and_no_remote_scripts(page: str) -> None:
    from plotly.offline import get_plotlyjs

    assert page.count(get_plotlyjs()) == 1
    assert page.count("plotly.js v") == 1  # the bundle's banner: no second copy under another form
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?:", page, re.I)
    # Outside the embedded bundle (whose config defaults mention a topojson CDN used only by maps),
    # the page references no web address at all.
    rest = page.replace(get_plotlyjs(), "")
    assert "cdn.plot.ly" not in rest
    assert not re.search(r"https?://", rest)
    assert page.count("Plotly.newPlot(") == 4  # stock, China's channels, Western output by buyer, years behind


def test_header_names_run_and_escapes_text(page: str) -> None:
    assert "<title>computerace forecast: baseline</title>" in page
    assert "<h1>computerace forecast: baseline</h1>" in page
    for label, value in (
        ("Seed", "7"),
        ("Samples", "200"),
        ("Scenario hash", "abc123"),
        ("Catalog version", "cat-2026.1"),
        ("Horizon", "2022-01 to 2040-12"),
    ):
        assert f"<tr><th>{label}</th><td>{value}</td></tr>" in page
    assert "Central case &lt;with&gt; &amp; markup" in page
    assert "Central case <with>" not in page


def test_conditional_sentence_present(page: str) -> None:
    import html

    assert "not a prediction of what will happen" in CONDITIONAL_SENTENCE
    assert html.escape(CONDITIONAL_SENTENCE) in page


def test_footer_reproduce_command(page: str) -> None:
    assert "computerace run baseline --samples 200 --seed 7" in page


def test_fan_chart_median_matches_numpy(ds: xr.Dataset) -> None:
    fig = figures.fan_chart(ds)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "H100e (dense BF16)"
    traces = {t.name: t for t in fig.data}
    stock = ds["stock_h100e"].values
    for i, actor in enumerate(ACTORS):
        for m in (0, 100, 227):
            expected = np.median(stock[:, m, i].astype(np.float64))
            assert traces[f"{actor} median"].y[m] == pytest.approx(expected, rel=1e-9)
            assert traces[f"{actor} 5-95%"].y[m] == pytest.approx(
                np.quantile(stock[:, m, i].astype(np.float64), 0.95), rel=1e-9
            )
            assert traces[f"{actor} p25"].y[m] < expected < traces[f"{actor} 25-75%"].y[m]
    assert traces["China median"].x[100] == "2030-05-01"


def test_stacked_bars_are_per_channel_medians(ds: xr.Dataset) -> None:
    fig = figures.china_channels(ds)
    assert fig.layout.barmode == "stack"
    bars = {t.meta: t for t in fig.data if t.type == "bar"}
    assert set(bars) == set(CHANNELS)
    adds = ds["china_additions_h100e"].values
    for j, ch in enumerate(CHANNELS):
        np.testing.assert_allclose(bars[ch].y, np.median(adds[:, :, j].astype(np.float64), axis=0), rtol=1e-9)
        assert list(bars[ch].x) == list(range(2022, 2041))
    remote = next(t for t in fig.data if t.meta == "remote")
    assert remote.line.dash == "dash"
    assert "not owned" in remote.name
    dec = ds["china_remote_h100e"].sel(month=ds["month"].dt.month == 12)
    np.testing.assert_allclose(remote.y, np.median(dec.values.astype(np.float64), axis=0), rtol=1e-9)
    assert list(remote.x) == list(range(2022, 2041))


def test_years_behind_censored_fractions_annotated(ds: xr.Dataset) -> None:
    years, censored = _years_behind(ds)
    fig = figures.years_behind_hist(years, censored)
    notes = {a.name: a.text for a in fig.layout.annotations if a.name}
    fracs = []
    for d in ("2025-12", "2030-12", "2035-12", "2040-12"):
        expected = censored.sel(month=np.datetime64(f"{d}-01")).values.mean()
        fracs.append(expected)
        m = re.search(r"censored: ([\d.]+)%", notes[f"censored {d}"])
        assert m, notes
        assert float(m.group(1)) == pytest.approx(100 * expected, abs=0.05)
    assert len(set(np.round(fracs, 3))) == 4  # the dates really differ, so a mix-up would be caught
    # Histogram shares (observed + censored) sum to one at each date.
    for d in ("2025-12", "2040-12"):
        total = sum(np.sum(t.y) for t in fig.data if t.meta in (f"{d} observed", f"{d} censored"))
        assert total == pytest.approx(1.0)
        cens = sum(np.sum(t.y) for t in fig.data if t.meta == f"{d} censored")
        assert cens == pytest.approx(censored.sel(month=np.datetime64(f"{d}-01")).values.mean())


def test_render_is_deterministic(ds: xr.Dataset, page: str) -> None:
    assert render_report(ds, _summary(), _manifest(), years_behind=_years_behind(ds)) == page


def test_years_behind_missing_gives_note(ds: xr.Dataset) -> None:
    page = render_report(ds, _summary(), _manifest(), years_behind=None)
    assert "Years-behind data was not provided" in page
    assert page.count("Plotly.newPlot(") == 3


def test_headline_table(page: str) -> None:
    assert "Installed stock, US (H100e)" in page
    assert "1.23M" in page and "45.6k" in page  # Dec 2025 medians
    assert "20.0%" in page  # china_share p50
    assert "4×" in page  # us_to_china_ratio p50
    assert "12.5%" in page  # P(overtake by 2035)
    for y in ("2025", "2030", "2035", "2040"):
        assert f"<th>Dec {y}</th>" in page


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (0.456, "0.456"),
        (999, "999"),
        (999.96, "1.00k"),
        (1000, "1.00k"),
        (45_600, "45.6k"),
        (123_456, "123k"),
        (999_999, "1.00M"),
        (1_234_567, "1.23M"),
        (2.5e9, "2.50B"),
        (-45_600, "-45.6k"),
        (float("nan"), "—"),
        (None, "—"),
    ],
)
def test_fmt_number(value: float | None, text: str) -> None:
    assert fmt_number(value) == text


def test_binding_sentence_names_the_two_most_frequent_limits_per_actor():
    from computerace.report.answers import binding_sentence

    summary = {"binding_constraint": {
        "US": {"2030": {"packaging": 0.4, "power": 0.35, "HBM": 0.05, "budget": 0.2, "wafers": 0.0}},
        "China": {"2030": {"HBM": 0.5, "budget": 0.3, "packaging": 0.2}}}}
    text = binding_sentence(summary, "2030")
    assert "the US - packaging (40%), power (35%)" in text and "China - HBM (50%), budget (30%)" in text
    assert "HBM (5%)" not in text  # only the two most frequent per actor
    assert binding_sentence({"metrics": {}}, "2030") is None  # runs without the physics outputs


def test_western_output_bars_are_per_buyer_medians(ds: xr.Dataset) -> None:
    fig = figures.western_output_by_buyer(ds)
    assert fig.layout.barmode == "stack"
    bars = {t.meta: t for t in fig.data if t.type == "bar"}
    assert set(bars) == {"US", "RoW", "China/legal_import", "China/smuggled", "unsold"}
    np.testing.assert_allclose(bars["RoW"].y, np.median(ds["additions_h100e"].sel(actor="RoW").values.astype(np.float64),
                                                        axis=0), rtol=1e-9)
    unsold = ds["unsold_h100e"].sel(supplier="Western").values.astype(np.float64)
    np.testing.assert_allclose(bars["unsold"].y, np.median(unsold, axis=0), rtol=1e-9)
    assert list(bars["US"].x) == list(range(2022, 2041))


def _with_forms_and_capex(ds: xr.Dataset, seed: int = 3) -> tuple[xr.Dataset, dict]:
    """The synthetic run with per-sample model forms, AI-capex busts and capex paths, and its summary with the
    model_form block (built by the analysis layer from the same samples)."""
    from computerace.analysis.metrics import model_form_block, model_forms

    rng = np.random.default_rng(seed)
    n, years = ds.sizes["sample"], ds["year"].values
    west, dom = (rng.random(n) < 0.75).astype(float), (rng.random(n) < 0.75).astype(float)
    bust = np.where(rng.random(n) < 0.5, rng.uniform(2026, 2045, n), np.inf)
    level = 1e11 * 1.25 ** (years - 2022)
    capex = np.stack([level * rng.lognormal(0, 0.2, (n, 1)) * f for f in (1.0, 0.3, 0.5)], axis=2)
    in_bust = (years[None, :] >= np.floor(bust)[:, None]) & (years[None, :] < np.floor(bust)[:, None] + 2)
    capex[:, :, 0] *= np.where(in_bust, 0.5, 1.0)  # a two-year halving of US capex, then back on its path
    out = ds.assign(western_model=("sample", west), domestic_model=("sample", dom), capex_bust_year=("sample", bust),
                    capex_usd=(("sample", "year", "actor"), capex))
    years_behind, censored = _years_behind(ds)
    dec = [i for i, m in enumerate(ds["month"].values.astype("datetime64[M]")) if str(m) in ("2030-12", "2035-12")]
    summary = _summary()
    forms = model_forms(out)
    assert forms is not None
    summary["model_form"] = model_form_block(
        forms, {"years_behind_stock": (years_behind.values[:, dec], censored.values[:, dec])}, ["2030-12", "2035-12"],
        {"2030": rng.random(n) < 0.1})
    return out, summary


def test_model_form_section_and_capex_figure_appear(ds: xr.Dataset) -> None:
    ds2, summary = _with_forms_and_capex(ds)
    page = render_report(ds2, summary, _manifest(), years_behind=_years_behind(ds))
    assert ">How much comes from the model's form</h2>" in page
    table = page.split('<table class="model-form">', 1)[1].split("</table>", 1)[0]
    mf = summary["model_form"]
    for form, row in mf["forms"].items():
        assert f"{form}<br><span class='interval'>{row['samples']:,} samples" in table
    r = mf["metrics"]["years_behind_stock"]["2030-12"]
    assert f"{r['pooled']['p50']:.1f} <span class=\"interval\">[{r['pooled']['p5']:.1f} – {r['pooled']['p95']:.1f}]" in table
    assert f"{100 * r['share_from_form']:.1f}%</td></tr>" in table
    assert "P(China's stock overtakes the US's) by 2030" in table
    # growth/growth holds ~6% of 200 samples, under the minimum: its count is shown, its cells are dashes.
    small = [f for f, row in mf["forms"].items() if r["by_form"][f]["p50"] is None]
    assert small == ["growth/growth"] and mf["forms"]["growth/growth"]["samples"] < 20
    col = 2 + list(mf["forms"]).index("growth/growth")  # after the headline label and the pooled column
    first_row = table.split("</tr>")[1]
    assert re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", first_row)[col] == "—"
    assert ">AI capex by actor: booms and busts</h2>" in page and 'id="fig-capex"' in page
    assert "then returns to its path" in page
    assert page.count("Plotly.newPlot(") == 5  # the four of the plain report and the capex figure
    # Without the block or capex_usd, neither appears.
    plain = render_report(ds, _summary(), _manifest(), years_behind=_years_behind(ds))
    assert "model-form" not in plain and "fig-capex" not in plain


def test_capex_figure_bands_and_chosen_sample_paths(ds: xr.Dataset) -> None:
    ds2, _ = _with_forms_and_capex(ds)
    fig = figures.capex_paths(ds2)
    assert fig.layout.yaxis.type == "log"
    traces = {t.name: t for t in fig.data}
    capex = ds2["capex_usd"].values
    for i, actor in enumerate(ACTORS):
        np.testing.assert_allclose(traces[f"{actor} median"].y, np.median(capex[:, :, i], axis=0), rtol=1e-9)
        np.testing.assert_allclose(traces[f"{actor} 5-95%"].y, np.quantile(capex[:, :, i], 0.95, axis=0), rtol=1e-9)
    bust = ds2["capex_bust_year"].values
    paths = [t for t in fig.data if t.meta and str(t.meta).startswith("US sample")]
    busts = [t for t in paths if "(bust" in t.meta]
    calm = [t for t in paths if "(no bust)" in t.meta]
    # The first three samples whose bust starts by 2037 (seen to end by 2040), and the first two with none in the horizon.
    assert [t.meta for t in busts] == [f"US sample {j} (bust {bust[j]:.1f})" for j in np.nonzero(bust < 2038)[0][:3]]
    assert [t.meta for t in calm] == [f"US sample {j} (no bust)" for j in np.nonzero(~(bust < 2041))[0][:2]]
    for t in paths:
        j = int(t.meta.split()[2])
        np.testing.assert_allclose(t.y, capex[j, :, 0], rtol=1e-12)
    # A drawn bust path falls in its bust year, then returns to its path.
    y0 = int(np.floor(bust[int(busts[0].meta.split()[2])]))
    k = int(np.nonzero(ds2["year"].values == y0)[0][0])
    assert busts[0].y[k] < busts[0].y[k - 1] and busts[0].y[k + 2] > busts[0].y[k + 1]


# ------------------------------------------------------------------ headline: years behind beside the ratio
def test_headline_shows_the_us_china_ratio_beside_years_behind(ds: xr.Dataset) -> None:
    from computerace.report.answers import headline_sentences
    from computerace.report.html import YEARS_BEHIND_RATIO_NOTE

    s = _summary()
    s["headline"] = {"explanation": "x", "dates": {
        "2030-12": {"years_behind_stock": {"p5": 3.0, "p50": 4.5, "p95": 5.5, "censored": 0.0},
                    "us_to_china_ratio": {"p5": 2.2, "p50": 8.7, "p95": 30.4},
                    "us_growth_over_lag": {"p5": 1.38, "p50": 1.62, "p95": 1.92, "samples": 197}}}}
    page = render_report(ds, s, _manifest(), years_behind=None)
    assert "years-behind-ratio" in page and "US : China installed ratio" in page
    assert "8.7×" in page and "4.5" in page and "1.62×" in page  # ratio, years behind, US growth over the lag
    assert YEARS_BEHIND_RATIO_NOTE.split(";")[0].replace("'", "&#x27;") in page
    assert "log(ratio) / log(g)" in page
    s["metrics"]["china_share"]["China"] = {f"{y}-12": {"p5": 0.1, "p50": 0.2, "p95": 0.3} for y in (2025, 2030, 2035)}
    side = [x for x in headline_sentences(s) if x.startswith("Side by side in 2030-12")]
    assert side and "8.7x China's installed stock" in side[0] and "4.5 years behind" in side[0]


def test_headline_side_by_side_is_absent_without_the_block(page: str) -> None:
    assert "years-behind-ratio" not in page


# ------------------------------------------------------------------ claims table
def test_claims_table_shows_readings_curves_drivers_and_not_scored() -> None:
    from computerace.report.answers import claims_html

    scored = {"id": "a", "reading": "read a", "status": "scored", "probability": 0.25, "note": None,
              "operationalisation": {"metric": "m", "threshold": "x <= 2", "date": "2026-12", "basis": "b c d"},
              "sweep": {"kind": "at_most", "label": "P(m <= k)", "claim_x": 2.0,
                        "points": [[1.0, 0.1], [2.0, 0.25], [3.0, 0.9]]},
              "drivers": [{"input": "p.x", "delta": 0.62, "p_top": 0.8, "p_bottom": 0.18, "n_top": 10, "n_bottom": 10}],
              "driver": "p.x +0.62"}
    never = scored | {"id": "b", "probability": 0.0, "note": "does not happen in any sample of this run",
                      "drivers": [], "driver": "does not vary in this run"}
    not_scored = {"id": "c", "reading": "read c", "status": "not-scored", "probability": None,
                  "reason": "no leakage term", "operationalisation": scored["operationalisation"]}
    rows = [{"id": "claim-1", "claim": "Claim one", "quote": "q", "source": None, "source_url": None,
             "source_title": None, "readings": [scored, never, not_scored]}]
    html = claims_html(rows)
    assert html.count("<tr data-claim='claim-1'") == 3 and "rowspan='3'" in html
    assert html.count("<svg class=\"spark\"") == 2 and "<polyline" in html
    assert "p.x</code> <b>+0.62</b>" in html
    assert "does not happen in any sample of this run" in html and "does not vary in this run" in html
    assert "not scored: no leakage term" in html
    assert "measured as <code>m</code> x &lt;= 2 at 2026-12: b c d" in html
