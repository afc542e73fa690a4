"""The self-contained offline HTML report: plotly.js embedded once, every figure inline, no network."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import figures

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

HEADLINE_YEARS = ("2025", "2030", "2035", "2040")
STOCK_ACTORS = ("US", "China", "RoW", "World")
CONDITIONAL_SENTENCE = (
    "This is a forecast conditional on the scenario's assumptions, not a prediction of what will happen. "
    "Every number in the scenario carries a source or a stated assumption."
)

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222;
       max-width: 1150px; margin: 0 auto; padding: 24px; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 0.93em; }
th, td { border: 1px solid #ddd; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f5f6f8; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.conditional { background: #fff7e0; border-left: 5px solid #e0a800; padding: 12px 16px; margin: 16px 0;
               font-size: 1.05em; font-weight: 600; }
.note { color: #555; font-size: 0.9em; }
.interval { color: #666; font-size: 0.88em; }
code, pre { background: #f5f6f8; padding: 2px 5px; border-radius: 3px; }
pre { padding: 10px; overflow-x: auto; }
nav.toc { background: #f5f6f8; border: 1px solid #ddd; border-radius: 4px; padding: 8px 18px; margin: 16px 0; }
nav.toc h2.toc-title { font-size: 1.05em; margin: 4px 0; border: none; padding: 0; }
nav.toc ol { margin: 4px 0; padding-left: 22px; columns: 2; column-gap: 32px; }
nav.toc li { margin: 2px 0; break-inside: avoid; }
h2[id] { scroll-margin-top: 10px; }
footer { margin-top: 3em; border-top: 1px solid #ddd; padding-top: 10px; color: #444; font-size: 0.92em; }
"""


def fmt_number(x: Any) -> str:
    """Three significant digits with a k/M/B/T suffix: 1234567 -> '1.23M', 45600 -> '45.6k'."""
    if x is None:
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—" if math.isnan(v) else ("∞" if v > 0 else "-∞")
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a < 1000:
        s = f"{a:.3g}"
        if "e" not in s and float(s) < 1000:
            return sign + s
    for scale, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")):
        m = a / scale
        digits = 2 if m < 10 else 1 if m < 100 else 0
        if round(m, digits) < 1000 or suffix == "T":
            return f"{sign}{m:.{digits}f}{suffix}"
    raise AssertionError("unreachable")  # pragma: no cover


def fmt_percent(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(v) else f"{100 * v:.1f}%"


def fmt_ratio(x: Any) -> str:
    s = fmt_number(x)
    return s if s == "—" else s + "×"


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _lookup_date(series: Mapping[str, Any], year: str) -> Mapping[str, Any] | None:
    """Quantiles at December of `year` ("YYYY-12"), else under a calendar-year key ("YYYY")."""
    for key in (f"{year}-12", year):
        if key in series and isinstance(series[key], Mapping):
            return series[key]
    return None


def _cell(q: Mapping[str, Any] | None, fmt: Any) -> str:
    if q is None or q.get("p50") is None:
        return '<td class="num">—</td>'
    return (
        f'<td class="num">{_esc(fmt(q.get("p50")))} <span class="interval">'
        f"[{_esc(fmt(q.get('p5')))} – {_esc(fmt(q.get('p95')))}]</span></td>"
    )


def headline_rows(
    summary: Mapping[str, Any], years: tuple[str, ...] = HEADLINE_YEARS
) -> list[tuple[str, list[str]]]:
    """(row label, [cell html per year]) for the headline table, from `summary["metrics"]`."""
    metrics = summary.get("metrics") or {}
    rows: list[tuple[str, list[str]]] = []

    def add(label: str, series: Any, fmt: Any) -> None:
        if not isinstance(series, Mapping):
            return
        qs = [_lookup_date(series, y) for y in years]
        if any(q is not None for q in qs):
            rows.append((label, [_cell(q, fmt) for q in qs]))

    stock = metrics.get("stock_h100e") or {}
    for actor in STOCK_ACTORS:
        add(f"Installed stock, {actor} (H100e)", stock.get(actor), fmt_number)
    for metric, label, fmt in (
        ("china_share", "China's share", fmt_percent),
        ("us_to_china_ratio", "US : China ratio", fmt_ratio),
    ):
        series_by_key = metrics.get(metric) or {}
        for key in sorted(series_by_key):
            add(f"{label} ({key})" if len(series_by_key) > 1 else label, series_by_key[key], fmt)
    op = metrics.get("operational_h100e") or {}
    for actor in ("US", "China"):
        add(f"Operational stock (what power runs), {actor} (H100e)", op.get(actor), fmt_number)
    add("US-owned stock at sites abroad (H100e)", (metrics.get("us_abroad_h100e") or {}).get("US"), fmt_number)
    add("Western output nobody bought that year (H100e)", (metrics.get("unsold_h100e") or {}).get("Western"),
        fmt_number)
    for actor in ("US", "China", "RoW"):
        add(f"Compute {actor} could pay for but not power that year (H100e)",
            (metrics.get("unpowered_h100e") or {}).get(actor), fmt_number)
    return rows


def _headline_html(summary: Mapping[str, Any]) -> str:
    rows = headline_rows(summary)
    parts = []
    if rows:
        head = "".join(f"<th>Dec {y}</th>" for y in HEADLINE_YEARS)
        body = "".join(f"<tr><th>{_esc(label)}</th>{''.join(cells)}</tr>" for label, cells in rows)
        parts.append(
            f'<table class="headline"><tr><th>Metric</th>{head}</tr>{body}</table>'
            '<p class="note">Median, with the 90% interval [p5 – p95] over samples.</p>'
        )
    else:
        parts.append('<p class="note">The summary holds no headline metrics.</p>')
    side = years_behind_ratio_html(summary)
    if side:
        parts.append(side)
    allp = summary.get("probabilities") or {}
    probs = allp.get("china_overtakes_us_stock_by") or {}
    oper = allp.get("china_overtakes_us_operational_stock_by") or {}
    if probs:
        body = "".join(
            f'<tr><th>by {_esc(y)}</th><td class="num">{_esc(fmt_percent(p))}</td>'
            + (f'<td class="num">{_esc(fmt_percent(oper[y]))}</td>' if y in oper else "") + "</tr>"
            for y, p in sorted(probs.items())
        )
        extra = "<th>P (operational stock)</th>" if oper else ""
        parts.append(
            '<table class="probabilities"><tr><th>Probability China\'s stock '
            f"overtakes the US's</th><th>P (installed stock)</th>{extra}</tr>{body}</table>"
        )
    return "\n".join(parts)


YEARS_BEHIND_RATIO_NOTE = (
    "Years behind and the US:China ratio measure different things. Years behind is how far back in the US's own "
    "history China's installed stock sits; the ratio is how many times China's stock the US holds now. They are "
    "linked by years behind = log(ratio) / log(g), with g the US's average yearly stock growth over those years: "
    "at a flat ratio, slower US growth stretches the years (a ratio of 8 is 2 years behind at g = 2.8x a year, "
    "5.1 years at 1.5x). So years behind can grow while the ratio stays flat or even shrinks.")


def years_behind_ratio_html(summary: Mapping[str, Any], years: tuple[str, ...] = HEADLINE_YEARS) -> str | None:
    """Years behind (installed stock) beside the US:China installed ratio and the US growth that links them, at
    each headline year, from summary.json's `headline` block (None when the summary has none)."""
    dates = (summary.get("headline") or {}).get("dates") or {}
    cols = [y for y in years if f"{y}-12" in dates]
    if not cols:
        return None

    def years_fmt(x: Any) -> str:
        return "—" if x is None else f"{float(x):.1f}"

    rows = (("Years behind (installed stock)", "years_behind_stock", years_fmt),
            ("US : China installed ratio", "us_to_china_ratio", fmt_ratio),
            ("US stock growth over the years-behind window (per year)", "us_growth_over_lag", fmt_ratio))
    head = "".join(f"<th>Dec {_esc(y)}</th>" for y in cols)
    body = "".join(f"<tr><th>{_esc(label)}</th>" + "".join(_cell(dates[f'{y}-12'].get(key), fmt) for y in cols)
                   + "</tr>" for label, key, fmt in rows)
    return (f'<table class="headline years-behind-ratio"><tr><th>Side by side</th>{head}</tr>{body}</table>'
            f'<p class="note">{_esc(YEARS_BEHIND_RATIO_NOTE)}</p>')


MODEL_FORM_HEADLINES = (("years_behind_stock", "Years behind (installed stock)", lambda x: f"{float(x):.1f}"),
                        ("china_share", "China's share of world stock", fmt_percent))
MODEL_FORM_NOTE = (
    "Each sample runs one model form: the physics or the growth-rate form of Western output, then of China's "
    "domestic output. The table gives each headline's median [p5 – p95] over all samples and within each form, "
    "and the share of the pooled variance that lies between forms (law of total variance; years behind over "
    "samples whose lag lies within the horizon): a small share means the interval comes from the sampled "
    "inputs, not from the choice of model form. A form with too few samples shows its count only."
)


def model_form_html(summary: Mapping[str, Any]) -> str | None:
    """The 'How much comes from the model's form' table from summary.json's `model_form` block (None
    without it): each headline's pooled median [p5 – p95] beside each form's, and the share from form."""
    mf = summary.get("model_form")
    if not isinstance(mf, Mapping) or not mf.get("forms"):
        return None
    forms = list(mf["forms"])
    head = ("<tr><th>Headline</th><th>All samples</th>"
            + "".join(f"<th>{_esc(f)}<br><span class='interval'>{mf['forms'][f]['samples']:,} samples "
                      f"({fmt_percent(mf['forms'][f]['share'])})</span></th>" for f in forms)
            + "<th>Share of variance from form</th></tr>")
    rows = []
    for metric, label, fmt in MODEL_FORM_HEADLINES:
        for date, r in (mf.get("metrics") or {}).get(metric, {}).items():
            cells = _cell(r["pooled"], fmt) + "".join(_cell(r["by_form"].get(f), fmt) for f in forms)
            rows.append(f"<tr><th>{_esc(label)}, {_esc(date)}</th>{cells}"
                        f'<td class="num">{_esc(fmt_percent(r["share_from_form"]))}</td></tr>')
    probs = (mf.get("probabilities") or {}).get("china_overtakes_us_stock_by") or {}
    for year, r in probs.items():
        cells = "".join(f'<td class="num">{_esc(fmt_percent(r["by_form"].get(f)))}</td>' for f in forms)
        rows.append(f"<tr><th>P(China's stock overtakes the US's) by {_esc(year)}</th>"
                    f'<td class="num">{_esc(fmt_percent(r["pooled"]))}</td>{cells}<td class="num">—</td></tr>')
    return (f'<p class="note">{_esc(MODEL_FORM_NOTE)}</p>'
            f'<table class="model-form">{head}{"".join(rows)}</table>'
            '<p class="note">Forms are named Western first, then China\'s domestic output '
            "(docs/metrics.md, \"Model form\").</p>")


def conditioning_html(summary: Mapping[str, Any]) -> str | None:
    """The 'Conditioned on evidence' section from summary.json's `conditioning` block (None without it): the ESS
    and tempering, each headline prior vs posterior, and the observations that carried the weight."""
    from ..formatting import si

    c = summary.get("conditioning")
    if not isinstance(c, Mapping):
        return None
    temper = (f" The likelihood was tempered to {c['tempering']:.2f} (the untempered ESS was "
              f"{c['ess_untempered']:.0f}): the evidence is used only partly." if c["tempering"] < 1 else "")
    intro = (f"These results are the posterior: the {c['samples']:,} samples weighted by {c['observations']} "
             f"observations (evidence to {c['as_of']}) and resampled; effective sample size {c['ess']:.0f}."
             f"{temper} {c['history_excluded']} samples in which China overtook the US before the forecast date were "
             "excluded. `computerace run --prior` gives the unconditioned forecast; docs/evidence.md has the method.")

    rows = []
    for k, v in (c.get("shift") or {}).items():
        a, b = v["prior"], v["posterior"]
        f = fmt_percent if "_share" in k.split("/")[0] else si  # shares as 6.4%, as everywhere else
        if "p50" in a:
            rows.append(f"<tr><th>{_esc(k)}</th><td class='num'>{_esc(f(a['p50']))} <span class='interval'>"
                        f"[{_esc(f(a['p5']))} – {_esc(f(a['p95']))}]</span></td><td class='num'>{_esc(f(b['p50']))} "
                        f"<span class='interval'>[{_esc(f(b['p5']))} – {_esc(f(b['p95']))}]</span></td></tr>")
        else:
            rows.append(f"<tr><th>{_esc(k)}</th><td class='num'>{_esc(' / '.join(fmt_percent(x) for x in a.values()))}"
                        f"</td><td class='num'>{_esc(' / '.join(fmt_percent(x) for x in b.values()))}</td></tr>")
    shift = ("<table class='conditioning'><tr><th>Headline</th><th>Prior: median [90%]</th><th>Posterior</th></tr>"
             + "".join(rows) + "</table>")
    obs_rows = []
    for r in c.get("rows", []):
        f = fmt_percent if "share" in str(r["observation"]) else si
        obs_rows.append(f"<tr><th>{_esc(r['observation'])}</th><td>{_esc(', '.join(r['rows']))}</td>"
                        f"<td class='num'>{_esc(f(r['observed']))}</td><td class='num'>{_esc(f(r['prior_p50']))}</td>"
                        f"<td class='num'>{_esc(f(r['posterior_p50']))}</td>"
                        f"<td class='num'>{r['ess_without']:.0f}</td></tr>")
    obs = "".join(obs_rows)
    rows_table = ("<table class='conditioning'><tr><th>Observation</th><th>Evidence rows</th><th>Observed</th>"
                  "<th>Prior median</th><th>Posterior median</th><th>ESS without it</th></tr>" + obs + "</table>")
    return f'<p class="note">{_esc(intro)}</p>{shift}<p class="note">Which evidence carried the weight (the lower the ESS without an observation, the more weight it carried):</p>{rows_table}'


STRESS_CAPTION = ("For the baseline, from runs of computerace {version} ({samples:,} samples, seed {seed}; "
                  "python -m computerace.report.stress regenerates it, docs/stress.md). Each row is conditional on its "
                  "lever; compare it with the baseline row, which already weighs every event by its hazard. This "
                  "table is the same whatever scenario this report shows.")
CAPEX_CAPTION = (
    "Each actor's AI capex per calendar year: median line and 90% band (p5 – p95), log scale. Thin blue lines "
    "are single US samples, chosen in sample order: solid ones have an AI-capex bust early enough to see it end, "
    "dotted ones have none. In a bust, capex falls by a sampled fraction for a sampled duration, then returns "
    "to its path."
)


def _header_html(summary: Mapping[str, Any], manifest: Mapping[str, Any]) -> tuple[str, str]:
    def get(key: str) -> Any:
        return manifest.get(key, summary.get(key))

    scenario = get("scenario") or "unnamed"
    horizon = manifest.get("horizon")
    if isinstance(horizon, Mapping):
        horizon_text = f"{horizon.get('start', '?')} to {horizon.get('end', '?')}"
    else:
        horizon_text = "" if horizon is None else str(horizon)
    samples = get("samples")
    fields = [
        ("Scenario", scenario),
        ("Description", get("description")),
        ("Seed", get("seed")),
        ("Samples", f"{samples:,}" if isinstance(samples, int) else samples),
        ("Version", get("version")),
        ("Scenario hash", get("scenario_hash")),
        ("Catalog version", get("catalog_version")),
        ("Horizon", horizon_text),
    ]
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in fields)
    out = (
        f"<h1>computerace forecast: {_esc(scenario)}</h1>\n"
        f'<p class="conditional">{_esc(CONDITIONAL_SENTENCE)}</p>\n'
        f'<table class="meta">{rows}</table>'
    )
    return str(scenario), out


_H2 = re.compile(r"^<h2>(.*)</h2>$", re.S)


def section_id(title_html: str, taken: set[str]) -> str:
    """An anchor for a section: 'sec-' + its title in lowercase words joined by '-', unique within `taken`."""
    words = re.findall(r"[a-z0-9]+", html.unescape(re.sub(r"<[^>]+>", "", title_html)).lower())
    base = "sec-" + ("-".join(words[:8]) or "section")
    sid, n = base, 2
    while sid in taken:
        sid, n = f"{base}-{n}", n + 1
    taken.add(sid)
    return sid


def with_contents(sections: Sequence[str]) -> tuple[list[str], str]:
    """Give every `<h2>` section heading an id and return (the sections, a table of contents linking to each)."""
    out, links, taken = [], [], set()
    for part in sections:
        m = _H2.match(part.strip())
        if m is None:
            out.append(part)
            continue
        sid = section_id(m.group(1), taken)
        out.append(f'<h2 id="{sid}">{m.group(1)}</h2>')
        links.append(f'<li><a href="#{sid}">{m.group(1)}</a></li>')
    toc = (f'<nav class="toc" id="contents" aria-label="Contents"><h2 class="toc-title">Contents</h2>'
           f'<ol>{"".join(links)}</ol></nav>') if links else ""
    return out, toc


def _figure_html(fig: Any, div_id: str) -> str:
    """Inline figure with a fixed div id, so the same run renders to the same bytes."""
    height = fig.layout.height or 450
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_height=f"{height}px",
        config={"displaylogo": False, "responsive": True},
    )


def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    # A literal "</script" inside the bundle would end the tag early; current bundles have none.
    return js.replace("</script", "<\\/script") if "</script" in js else js


def render_report(
    dataset: xr.Dataset,
    summary: Mapping[str, Any],
    manifest: Mapping[str, Any],
    years_behind: tuple[xr.DataArray, xr.DataArray] | None = None,
    answers: Sequence[str] = (),
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole report as one self-contained HTML string (plotly.js inline once, no network).

    `years_behind` is `(years, censored)`, two (sample, month) DataArrays from the analysis layer;
    when None, the years-behind figure is replaced by a note.
    """
    import plotly

    scenario, header = _header_html(summary, manifest)
    seed = manifest.get("seed", summary.get("seed"))
    samples = manifest.get("samples", summary.get("samples"))
    version = manifest.get("version", summary.get("version"))
    scenario_hash = manifest.get("scenario_hash", summary.get("scenario_hash"))

    sections = []
    if answers:
        sections += ["<h2>Answers</h2>", "<ul class='answers'>" + "".join(f"<li>{_esc(a)}</li>" for a in answers)
                     + "</ul>"]
    sections += [
        "<h2>Headline numbers</h2>",
        _headline_html(summary),
        "<h2>Installed stock by actor</h2>",
        '<p class="note">Median line; shaded bands hold the central 50% (p25–p75) and 90% (p5–p95) of '
        "samples. Log scale.</p>",
        _figure_html(figures.fan_chart(dataset), "fig-stock"),
        "<h2>China's acquisitions by channel</h2>",
        '<p class="note">Bars are the median of each channel, stacked; a stack of medians is not the median '
        "of the total, which is marked separately. The dashed line is compute Chinese firms rent abroad "
        "(a December stock, not an annual flow): it is used, not owned, and is reported apart from the owned "
        "channels.</p>",
        _figure_html(figures.china_channels(dataset), "fig-china-channels"),
        "<h2>Where Western output went</h2>",
        '<p class="note">Each year\'s Western accelerator output by buyer (medians, stacked). When output is short the '
        "market shares it by money at a price that clears it; grey is output nobody could pay for and power "
        "(docs/metrics.md, \"Supply meets demand\").</p>",
        _figure_html(figures.western_output_by_buyer(dataset), "fig-western-buyers"),
        "<h2>Years behind: China vs the US (installed stock)</h2>",
    ]
    if years_behind is None:
        sections.append(
            '<p class="note">Years-behind data was not provided for this run; figure omitted.</p>'
        )
    else:
        years, censored = years_behind
        sections.append(
            '<p class="note">How many years earlier the US had the installed stock China has at '
            "each date. Where that lies beyond the model horizon the value is only a lower "
            "bound; those samples are shown apart and counted as censored.</p>"
        )
        sections.append(_figure_html(figures.years_behind_hist(years, censored), "fig-years-behind"))

    cond = conditioning_html(summary)
    if cond is not None:
        sections += ["<h2>Conditioned on evidence</h2>", cond]
    form_table = model_form_html(summary)
    if form_table is not None:
        sections += ["<h2>How much comes from the model's form</h2>", form_table]
    if "capex_usd" in dataset:
        sections += ["<h2>AI capex by actor: booms and busts</h2>", f'<p class="note">{_esc(CAPEX_CAPTION)}</p>',
                     _figure_html(figures.capex_paths(dataset), "fig-capex")]

    from .stress import shipped_table, stress_html

    stress = shipped_table()
    if stress is not None:  # the baseline's stress table, shipped with this version (docs/stress.md)
        sections += ["<h2>Stress table: each lever alone and in the debate's combinations</h2>",
                     f'<p class="note">{_esc(STRESS_CAPTION.format(samples=stress["samples"], seed=stress["seed"], version=stress["version"]))}</p>',
                     stress_html(stress)]

    for title, body in extra:
        sections += [f"<h2>{_esc(title)}</h2>", body]
    sections, toc = with_contents(sections)

    cmd = f"computerace run {scenario} --samples {samples} --seed {seed}"
    footer = (
        f"<footer><p>Reproduce this report with:</p><pre><code>{_esc(cmd)}</code></pre>"
        f"<p>computerace {_esc(version)}, scenario hash <code>{_esc(scenario_hash)}</code>, "
        f"plotly {_esc(plotly.__version__)}. Same version, scenario and seed give identical results. "
        "This page works offline.</p></footer>"
    )

    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>computerace forecast: {_esc(scenario)}</title>",
            f"<style>{CSS}</style>",
            f'<script type="text/javascript">{_plotlyjs()}</script>',
            "</head>",
            "<body>",
            header,
            toc,
            *sections,
            footer,
            "</body>",
            "</html>",
        ]
    )
