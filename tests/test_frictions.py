"""Frictions a new user hit: chip ids, tables on an 80-column terminal, shares in %, help metavars, distributions
in words, and the report's legibility (contents, axis ranges, the supply-chain chart)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from computerace import catalog
from computerace.errors import UserError

runner = CliRunner()


def invoke(*args: str, columns: int = 80):
    from computerace.cli.main import app

    return runner.invoke(app, list(args), env={"COLUMNS": str(columns)})


def widest(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


# ----------------------------------------------------------------------------------------------- 1. chip ids

@pytest.mark.parametrize("typed, chip_id", [("A800", "a800"), ("B200", "b200"), ("H20", "h20"), ("H100-SXM", "h100-sxm"),
                                            ("  h800 ", "h800")])
def test_chip_ids_are_case_insensitive(typed, chip_id):
    assert catalog.chip(typed).id == chip_id


@pytest.mark.parametrize("typed, suggested, not_suggested", [
    ("H100", ["h100-sxm", "h100-pcie", "h100-nvl"], ["b100", "h800"]),
    ("h100", ["h100-sxm", "h100-pcie", "h100-nvl"], ["b100", "h800"]),
    ("H100SXM", ["h100-sxm"], ["h800"]),
    ("h2O", ["h20"], []),
    ("h100-sxmm", ["h100-sxm"], []),
])
def test_unknown_chip_suggests_what_it_may_mean(typed, suggested, not_suggested):
    with pytest.raises(UserError) as e:
        catalog.chip(typed)
    msg = str(e.value)
    quoted = re.findall(r"'([^']+)'", msg.split("Did you mean", 1)[1])
    assert set(suggested) <= set(quoted), msg
    assert not set(not_suggested) & set(quoted), msg


def test_suggest_ids_order_equal_then_prefix_then_parts_then_difflib():
    ids = ["h100-sxm", "h100-pcie", "h100-nvl", "h800", "b100", "hgx-h20", "h200"]
    assert catalog.suggest_ids("H100", ids) == ["h100-sxm", "h100-pcie", "h100-nvl"]
    assert catalog.suggest_ids("h100_pcie", ids) == ["h100-pcie"]
    assert catalog.suggest_ids("H20", ["hgx-h20", "h200", "l20"]) == ["h200", "hgx-h20"]
    assert catalog.resolve_id("H800", ids) == "h800" and catalog.resolve_id("H100", ids) is None


def test_system_ids_are_case_insensitive_and_suggested():
    assert catalog.system("GB200-NVL72").id == "gb200-nvl72"
    with pytest.raises(UserError, match="hgx-h20"):
        catalog.system("H20")
    with pytest.raises(UserError, match="dgx-b200"):
        catalog.system("B200")


def test_cli_takes_chip_and_system_ids_in_any_case():
    r = invoke("data", "chips", "--id", "H20", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["chip"]["id"] == "h20"
    r = invoke("data", "chips", "--id", "H100")
    assert r.exit_code == 2 and "h100-sxm" in r.output and "b100" not in r.output
    r = invoke("data", "systems", "--id", "HGX-H800", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["system"]["id"] == "hgx-h800"
    r = invoke("serve-estimate", "--system", "HGX-H800", "--model", "deepseek-v3", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["system"] == "hgx-h800"
    r = invoke("controls", "classify", "H20", "--date", "2024-06-01", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["chip"] == "h20"


# ----------------------------------------------------------------------------------------------- 2. tables

@pytest.mark.parametrize("args", [("data", "chips"), ("data", "systems"), ("data", "evidence"), ("data", "sources"),
                                  ("presets",), ("controls", "timeline", "h100-sxm"),
                                  ("controls", "classify", "h20", "--date", "2024-06-01"),
                                  ("controls", "allowed", "--date", "2025-01-01"),
                                  ("serve-estimate", "--system", "hgx-h800", "--model", "deepseek-v3"),
                                  ("serve-estimate", "--curve")])
def test_tables_fit_80_columns(args):
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert widest(r.stdout) <= 80, "\n".join(x for x in r.stdout.splitlines() if cell_len(x) > 80)


def test_chips_table_shows_h100e_and_tpp_whole_at_80_columns():
    r = invoke("data", "chips")
    line = next(x for x in r.stdout.splitlines() if x.split() and x.split()[0] == "h100-sxm")
    cells = line.split()
    assert "1" in cells and "15,832" in cells, line
    b200 = next(x for x in r.stdout.splitlines() if x.split() and x.split()[0] == "b200").split()
    assert "36,000" in b200 and "2.274" in b200
    assert "…" not in r.stdout
    assert "Hidden to fit 80 columns" in r.stdout  # says what it left out
    wide = invoke("data", "chips", columns=200)
    assert "Hidden" not in wide.stdout and "die mm²" in wide.stdout


def test_evidence_table_does_not_break_words():
    r = invoke("data", "evidence")
    ids = {e.id for e in catalog.evidence()}
    first_cells = [x.split()[0] for x in r.stdout.splitlines() if x.split() and x.split()[0].startswith("ev-")]
    assert set(first_cells) <= ids and len(first_cells) == len(ids)
    metrics = {e.metric for e in catalog.evidence()}
    shown = {c for x in r.stdout.splitlines() for c in x.split()}
    assert metrics <= shown  # every metric id whole, on one line


def test_fit_table_helper_drops_low_priority_columns_and_keeps_numbers_whole():
    from computerace.cli.tables import col, fit, make_table, print_table

    t = make_table("t", [col("id", "id"), col("a long text column", priority=2), col("value", "num"),
                         col("extra number", "num", short="extra", priority=1)], caption="c")
    for i in range(5):
        t.add_row(f"row-{i}", "words " * 12, f"{123456789 * (i + 1):,}", f"{i}.123456")
    for width in (25, 30, 40, 60, 120):
        con = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        print_table(con, t)
        out = con.export_text()
        assert widest(out) <= width, out
        assert "617,283,945" in out  # never wrapped or truncated
    headers = {w: [c.header.plain for c in fit(t, w).columns] for w in (25, 30, 120)}
    assert headers[120] == ["id", "a long text column", "value", "extra number"]
    assert {"id", "value"} <= set(headers[30]) and len(headers[30]) == 3  # one hidden
    assert headers[25] == ["id", "value"]  # priority 0 never hidden
    assert "Hidden to fit 25 columns: a long text column, extra number" in fit(t, 25).caption


# ----------------------------------------------------------------------------------------------- 3. shares in %

def test_share_formats_are_percentages():
    from computerace.cli.compare import value_formats

    value, diff = value_formats("china_share")
    assert value(0.0642) == "6.4%" and diff(0.012) == "+1.2 pp"
    assert value_formats("stock_h100e")[0](1.71e6) == "1.71M"


def test_compare_prints_china_share_as_percent():
    r = invoke("compare", "baseline", "no-export-controls", "-n", "100", "--year", "2030",
               "--metric", "china_share:China", columns=140)
    assert r.exit_code == 0, r.output
    row = next(x for x in r.stdout.splitlines() if "china_share" in x)
    assert re.search(r"\d+\.\d%", row) and not re.search(r"\b0\.0\d+", row), row
    assert widest(r.stdout) <= 140


def test_report_conditioning_table_prints_shares_as_percent():
    from computerace.report.html import conditioning_html

    c = {"samples": 100, "observations": 1, "as_of": "2026-01-01", "ess": 50.0, "tempering": 1.0,
         "history_excluded": 0,
         "shift": {"china_share/China/2030-12": {"prior": {"p5": 0.02, "p50": 0.064, "p95": 0.2},
                                                 "posterior": {"p5": 0.03, "p50": 0.07, "p95": 0.15}}},
         "rows": [{"observation": "china_share_2025-12", "rows": ["ev-1"], "observed": 0.07, "prior_p50": 0.06,
                   "posterior_p50": 0.065, "ess_without": 80}]}
    out = conditioning_html({"conditioning": c})
    assert "6.4%" in out and "7.0%" in out and "0.064" not in out and "0.07<" not in out


# ----------------------------------------------------------------------------------------------- 4. help

@pytest.mark.parametrize("args", [("run", "--help"), ("data", "chips", "--help"), ("compare", "--help"),
                                  ("serve-estimate", "--help"), ("--help",), ("sweep", "--help"),
                                  ("backtest", "--help"), ("dashboard", "--help")])
def test_help_shows_no_type_metavars(args):
    r = invoke(*args, columns=120)
    assert r.exit_code == 0, r.output
    assert "<bool>" not in r.output and "<str>" not in r.output.split("Options")[-1], r.output


def test_help_metavars_are_meaningful():
    out = invoke("run", "--help", columns=120).output
    assert re.search(r"--as-of\s+DATE", out) and re.search(r"--out\s+-o\s+DIR", out)
    assert re.search(r"--json\s+Print", out)  # a flag: nothing between it and its help
    out = invoke("backtest", "--help", columns=120).output
    assert re.search(r"--scenario\s+NAME\|FILE", out)


# ----------------------------------------------------------------------------------------------- 5. distributions

def test_appendix_shows_distributions_in_words():
    import computerace as cr
    from computerace.report.answers import appendix_html, value_text

    sc = cr.load_scenario("baseline", {"events.taiwan_hazard_per_year": {"uniform": {"low": 0.01, "high": 0.05}}})
    page = appendix_html(sc)
    cells = re.findall(r"<tr><td><code>[^<]+</code></td><td>([^<]*)</td>", page)
    assert len(cells) == len(sc.parameters)
    assert not [c for c in cells if "{" in c or "&#x27;" in c]
    assert "<td>uniform(low 0.01, high 0.05)</td>" in page
    assert value_text(sc, "events.taiwan_hazard_per_year") == "uniform(low 0.01, high 0.05)"
    sched = [k for k in sc.parameters if k.startswith("imports.h20_chips")][0]
    assert value_text(sc, sched).startswith("schedule: from 2022-01: 0")


# ----------------------------------------------------------------------------------------------- 6. report

@pytest.fixture(scope="module")
def synthetic():
    from test_report import _manifest, _summary, _synthetic, _years_behind

    ds = _synthetic()
    return ds, _summary(), _manifest(), _years_behind(ds)


def test_report_has_contents_linking_every_section(synthetic):
    from computerace.report.html import render_report

    ds, summary, manifest, yb = synthetic
    page = render_report(ds, summary, manifest, years_behind=yb, answers=["a"],
                         extra=[("Extra & more", "<p>x</p>"), ("Extra & more", "<p>y</p>")])
    ids = re.findall(r'<h2 id="([^"]+)">', page)
    assert len(ids) >= 6 and len(set(ids)) == len(ids)
    assert not re.search(r"<h2>(?!Contents)", page.replace('<h2 class="toc-title">', ""))  # every section has an id
    toc = page[page.index('<nav class="toc"'):page.index("</nav>")]
    assert set(re.findall(r'href="#([^"]+)"', toc)) == set(ids)
    assert page.index('<nav class="toc"') < page.index(f'id="{ids[0]}"')  # near the top


def _trace_max_in(fig, lo, hi):
    out = []
    for t in fig.data:
        x = np.asarray(t.x, dtype=float)
        y = np.asarray(t.y, dtype=float)
        grid = np.linspace(lo, hi, 2001)
        if t.type == "scatter" and "lines" in (t.mode or ""):
            out.append((t.name, float(np.nanmax(np.interp(grid[(grid >= x.min()) & (grid <= x.max())], x, y)))))
        else:
            m = (x >= lo) & (x <= hi)
            out.append((t.name, float(np.nanmax(y[m]))))
    return out


def test_channel_chart_y_range_holds_every_trace(synthetic):
    from computerace.report import figures

    ds = synthetic[0].copy()
    # the remote line climbs steeply after 2030: the segment to 2031 used to leave the chart at the top
    ds["china_remote_h100e"] = ds["china_remote_h100e"] * (1 + 40 * (ds["month"].dt.year >= 2031))
    fig = figures.china_channels(ds)
    lo, hi = fig.layout.xaxis.range
    top = fig.layout.yaxis.range[1]
    for name, m in _trace_max_in(fig, lo, hi):
        assert m <= top, (name, m, top)
    bars = [t for t in fig.data if t.type == "bar"]
    stack = np.sum([np.asarray(t.y, dtype=float) for t in bars], axis=0)
    years = np.asarray(bars[0].x, dtype=float)
    assert stack[(years >= lo) & (years <= hi)].max() <= top


def test_supply_chain_chart_is_legible():
    from computerace.report import supply_figures as SF

    chain = {step: {str(y): {"p50": 10.0 ** (3 + i / 2), "p5": 1.0, "p95": 1e9} for y in (2025, 2027, 2030)}
             for i, (step, _) in enumerate(SF.CHAIN_BARS)}
    chain["hbm_packages"].pop("2025")
    summary = {"metrics": {"china_supply_chain": chain},
               "binding_constraint": {"China": {str(y): {"wafers": 0.2, "HBM": 0.5, "packaging": 0.3}
                                                for y in (2025, 2027, 2030)}}}
    fig = SF.chain_figure(summary)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 3 and all(t.orientation == "h" for t in bars)  # labels read horizontally, no overlap
    for ax in (fig.layout.yaxis, fig.layout.yaxis2, fig.layout.yaxis3):
        assert ax.tickfont.size >= 12 and ax.automargin
    assert all(t.textfont.size >= 12 for t in bars)
    assert fig.layout.xaxis.tickangle in (None, 0)
    lo, hi = fig.layout.xaxis.range  # log10: room right of the longest bar for its 'binds in' label
    assert hi >= np.log10(max(v for t in bars for v in t.x if v is not None)) + 0.5
    assert any(a.text == "no cap" for a in fig.layout.annotations)
