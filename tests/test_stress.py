"""The stress table (issue 15): regenerated from runs and compared with docs/stress.md and the shipped JSON; its
rows obey the mechanisms they switch on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from computerace.report import stress as S


@pytest.fixture(scope="module")
def table():
    return S.stress_rows()


def rows(table) -> dict[str, dict]:
    return {r["lever"]: r for r in table["rows"]}


def test_stress_doc_and_json_match_the_runs(table):
    root = Path(__file__).parents[1]
    assert (root / "docs" / "stress.md").read_text() == S.stress_markdown(table) + "\n", (
        "docs/stress.md is stale: python -m computerace.report.stress")
    assert json.loads(S.stress_json(table)) == S.shipped_table(), "report/stress.json is stale: same command"


def test_every_named_lever_and_combination_is_a_row(table):
    names = set(rows(table))
    for name in ("Baseline", "EUV by 2030", "US power wall", "Controls lifted (2026)", "China capex push",
                 "Taiwan conflict (2027)", "EUV by 2030 + US power wall", "Controls lifted + China capex push"):
        assert name in names
    for r in table["rows"]:
        for kind in ("overtake_installed", "overtake_operational"):
            p = [r[kind][y] for y in S.YEARS]
            assert all(0 <= x <= 1 for x in p) and p == sorted(p), (r["lever"], kind)  # 'by year' only grows


# Mechanism checks. Every row uses the same seed (common random numbers), so a difference is the lever's effect;
# the allowance is a third of a percentage point (a handful of the 2,000 samples) for paths that cross.
TOL = 0.004


def test_more_chinese_money_never_lowers_chinas_chances(table):
    r = rows(table)
    assert r["China capex push"]["overtake_installed"]["2040"] >= r["Baseline"]["overtake_installed"]["2040"] - TOL
    assert (r["Controls lifted + China capex push"]["overtake_installed"]["2040"]
            >= r["Controls lifted (2026)"]["overtake_installed"]["2040"] - TOL)


def test_a_us_power_wall_raises_chinas_chances_and_shortens_the_gap(table):
    r = rows(table)
    assert r["US power wall"]["overtake_operational"]["2040"] > r["Baseline"]["overtake_operational"]["2040"]
    assert r["US power wall"]["years_behind_2030"]["p50"] < r["Baseline"]["years_behind_2030"]["p50"]


def test_tightening_widens_and_lifting_narrows_the_gap(table):
    r = rows(table)
    base = r["Baseline"]["years_behind_2030"]["p50"]
    assert r["Controls tighten (2027)"]["years_behind_2030"]["p50"] > base
    assert r["Controls lifted (2026)"]["years_behind_2030"]["p50"] < base


def test_an_earlier_euv_never_lowers_chinas_chances(table):
    r = rows(table)
    for with_euv, without in (("EUV by 2030", "Baseline"), ("EUV by 2030 + US power wall", "US power wall")):
        assert r[with_euv]["overtake_installed"]["2040"] >= r[without]["overtake_installed"]["2040"] - TOL
        assert r[with_euv]["years_behind_2030"]["p50"] <= r[without]["years_behind_2030"]["p50"] + 0.05


def test_every_override_states_its_reasoning_in_the_doc(table):
    doc = S.stress_markdown(table)
    for lv in S.LEVERS:
        for key, s in lv.sets.items():
            assert s.why.startswith("Stress case:") and f"`{key}` = " in doc and " ".join(s.why.split()) in doc


def _ends(text: str) -> tuple[float, float]:
    lo, hi = text.split(" to ")
    return float(lo), float(hi)


def test_the_capex_push_doubles_the_baselines_path_from_2027():
    from computerace.scenario import load_scenario

    base = load_scenario("baseline").resolved["finance"]["china_capex_usd_per_year"]
    knots = {int(y): v for y, v in base["value"]["by_year"].items()}
    push = S.CAPEX.sets["finance.china_capex_usd_per_year"]
    assert set(push.source) == set(base["source"])
    got = {int(y): _ends(v) for y, v in push.value["by_year"].items()}
    assert set(got) == set(knots) | {2027}, "the baseline's knots changed: update stress._CAPEX"
    for y, v in knots.items():
        lo, hi = _ends(v)
        assert got[y] == ((lo, hi) if y <= 2026 else (2 * lo, 2 * hi)), y
    lo, hi = _ends(knots[2026])
    assert got[2027] == (2 * lo, 2 * hi)


def test_stress_html_escapes_text_and_has_one_row_per_lever(table):
    t = json.loads(json.dumps(table))
    t["rows"][0]["what"] = "<script>alert(1)</script> & more"
    out = S.stress_html(t)
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp; more" in out
    assert out.count("<tr>") == len(t["rows"]) + 1  # the header row and one per lever


def test_combining_levers_from_two_presets_is_refused():
    with pytest.raises(ValueError, match="two presets"):
        S._combine("x", S.POWER_WALL, S.LIFTED)


def test_the_report_shows_the_shipped_table():
    import computerace as cr

    page = cr.run("baseline", samples=200, seed=0).report_html(claims=False)
    shipped = S.shipped_table()
    assert "Stress table: each lever alone" in page
    assert S.stress_html(shipped) in page
    assert f"{shipped['samples']:,} samples" in page
