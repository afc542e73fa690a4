"""The stress table: P(China overtakes) and years behind for each lever alone and in the debate's combinations.

`python -m computerace.report.stress` runs every row (SAMPLES samples, SEED, the same seed for every row: common
random numbers) and writes docs/stress.md and the package's copy, report/stress.json, which the HTML report
shows. Never typed by hand: tests/test_stress.py regenerates both and compares. Each row is a preset with
parameter overrides; each override states its reasoning (it replaces the baseline's source or assumption).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

SAMPLES, SEED = 2000, 0
YEARS = ("2030", "2035", "2040")


class Set(NamedTuple):
    """One parameter override: its value, the reasoning (replaces the preset's), and any sources it keeps."""

    value: Any
    why: str
    source: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lever:
    """A preset with parameter overrides: {key: Set}."""

    name: str
    what: str
    preset: str = "baseline"
    sets: dict[str, Set] = field(default_factory=dict)
    parts: tuple[str, ...] = ()  # the levers a combination is made of


EUV = Lever("EUV by 2030", "China has working EUV in volume between 2027 and 2030 (baseline: p50 2034)", sets={
    "events.euv_year": Set({"uniform": {"low": 2027, "high": 2030}},
                           "Stress case: a lithography breakthrough by 2030, what the 'China catches up' side expects.")})
POWER_WALL = Lever("US power wall", "US AI power grows 5-20% a year after 2026 (preset `us-power-wall`)",
                   preset="us-power-wall")
LIFTED = Lever("Controls lifted (2026)", "chip and HBM controls lifted in December 2026 (preset "
               "`export-controls-lifted-2026`)", preset="export-controls-lifted-2026")
# The baseline's knots to 2026 (sourced, kept with their sources), a 2027 knot at twice 2026's range and the
# baseline's 2030 and 2040 ranges doubled; tests/test_stress.py checks them against baseline.yaml.
_CAPEX = Set({"by_year": {2022: "20e9 to 50e9", 2025: "84e9 to 98e9", 2026: "72e9 to 160e9", 2027: "144e9 to 320e9",
                          2030: "200e9 to 1e12", 2040: "200e9 to 3e12"}},
             "Stress case: a state push doubles China's AI capex from 2027 on (2027 at twice 2026's range, 2030 and "
             "2040 at twice the baseline's); 2022-2026 as in the baseline, with its sources.",
             ("bofa-china-capex-2025", "rfm-china-capex-2026", "dean-cloudmatrix-comment"))
CAPEX = Lever("China capex push", "China's AI capex twice the baseline's path from 2027",
              sets={"finance.china_capex_usd_per_year": _CAPEX})
TAIWAN = Lever("Taiwan conflict (2027)", "a Taiwan conflict in mid-2027 that destroys or strands part of TSMC's "
               "capacity (not a blockade)", sets={
                   "events.hazard_start": Set(2027.5, "Stress case: the event comes in mid-2027."),
                   "events.taiwan_hazard_per_year": Set(0.99, "Stress case: the event happens (half of samples "
                                                              "within two months of its start, 99% within a year)."),
                   "events.taiwan_capacity_lost": Set({"beta": {"a": 2, "b": 2}},
                                                      "Stress case: a conflict, so some capacity is always lost for "
                                                      "good (the baseline's conflict branch, without the blockade "
                                                      "weight).")})
BUST = Lever("US capex bust (2027)", "a US AI-capex bust starting mid-2027 (baseline depth and duration)", sets={
    "events.capex_bust_start": Set(2027.5, "Stress case: the bust comes in mid-2027."),
    "events.capex_bust_hazard_per_year": Set(0.99, "Stress case: the bust happens (half of samples within two "
                                                   "months of its start, 99% within a year).")})
TIGHTEN = Lever("Controls tighten (2027)", "controls tightened in early 2027: licensed parts closed, routes and "
                "tools controlled further", sets={
                    "events.controls_shift_start": Set(2027.0, "Stress case: the tightening comes in early 2027."),
                    "events.controls_shift_hazard_per_year": Set(0.99, "Stress case: the change happens (half of "
                                                                       "samples by March 2027, 99% within a year)."),
                    "events.controls_shift_allowed": Set(0, "Stress case: the change tightens (level 0, the "
                                                            "baseline's tightening branch).")})


def _combine(name: str, *levers: Lever) -> Lever:
    presets = {lv.preset for lv in levers} - {"baseline"}
    if len(presets) > 1:
        raise ValueError(f"{name}: levers from two presets ({', '.join(sorted(presets))}) cannot be combined")
    sets: dict[str, Set] = {}
    for lv in levers:
        sets.update(lv.sets)
    return Lever(name, "; ".join(lv.what for lv in levers), next(iter(presets), "baseline"), sets,
                 tuple(lv.name for lv in levers))


BASELINE = Lever("Baseline", "the baseline (every event sampled at its own hazard)")
LEVERS = (BASELINE, EUV, POWER_WALL, LIFTED, CAPEX, TAIWAN, BUST, TIGHTEN,
          _combine("EUV by 2030 + US power wall", EUV, POWER_WALL),
          _combine("Controls lifted + China capex push", LIFTED, CAPEX),
          _combine("Taiwan conflict + controls lifted", TAIWAN, LIFTED),
          _combine("EUV by 2030 + China capex push + US capex bust", EUV, CAPEX, BUST))


def scenario_of(lever: Lever) -> Any:
    """The lever's Scenario: its preset with each override's value and reasoning."""
    from ..scenario import load_scenario

    over: dict[str, Any] = {}
    for key, s in lever.sets.items():
        over[key] = s.value  # drops the preset's source and assumption: the next lines give this value's own
        over[f"{key}.assumption"] = s.why
        if s.source:
            over[f"{key}.source"] = list(s.source)
    return load_scenario(lever.preset, over or None)


def _value_text(value: Any) -> str:
    """An override as one would write it after --set (YAML flow style)."""
    import yaml

    if not isinstance(value, dict):
        return str(value)
    return " ".join(yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).split())


def stress_rows(samples: int = SAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Run every lever (same seed: common random numbers); plain numbers, ready for JSON."""
    import computerace as cr

    from .. import __version__

    rows = []
    for lv in LEVERS:
        sc = scenario_of(lv)
        s = cr.run(sc, samples=samples, seed=seed).summary()
        p = s["probabilities"]
        yb = s["metrics"]["years_behind_stock"]["China"]["2030-12"]
        sets = {k: {"value": _value_text(lv.sets[k].value), "unit": sc.parameters[k].spec.unit,
                    "assumption": sc.parameters[k].assumption, "source": list(sc.parameters[k].source)}
                for k in sorted(lv.sets)}
        rows.append({"lever": lv.name, "what": lv.what, "preset": lv.preset, "parts": list(lv.parts), "sets": sets,
                     "overtake_installed": {y: float(p["china_overtakes_us_stock_by"][y]) for y in YEARS},
                     "overtake_operational": {y: float(p["china_overtakes_us_operational_stock_by"][y])
                                              for y in YEARS},
                     "years_behind_2030": {k: float(yb[k]) for k in ("p5", "p50", "p95")}})
    return {"samples": samples, "seed": seed, "version": __version__, "rows": rows}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _yb(r: dict[str, float]) -> str:
    return f"{r['p50']:.1f} [{r['p5']:.1f}–{r['p95']:.1f}]"


def _figures(r: dict[str, Any]) -> tuple[str, str, str]:
    """A row's figures as text: P(overtake) installed and operational by YEARS, and years behind in 2030."""
    inst = " / ".join(_pct(r["overtake_installed"][y]) for y in YEARS)
    op = " / ".join(_pct(r["overtake_operational"][y]) for y in YEARS)
    return inst, op, _yb(r["years_behind_2030"])


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def stress_markdown(table: dict[str, Any]) -> str:
    rows = table["rows"]
    lines = ["# Stress table", "",
             f"Generated from actual runs by `python -m computerace.report.stress` ({table['samples']:,} samples, "
             f"seed {table['seed']}, the same seed for every row: common random numbers); do not edit by hand. "
             "Each row is the baseline (or the preset named) with one lever, or a combination the debate names, "
             "switched on; the mechanisms and their sources are in [tails.md](tails.md), what each lever sets and "
             "why is listed below the table.", "",
             "| lever | what it changes | P(overtake, installed) 2030 / 2035 / 2040 | "
             "P(overtake, operational) 2030 / 2035 / 2040 | years behind (stock), Dec 2030: median [p5–p95] |",
             "|---|---|---|---|---|"]
    for r in rows:
        inst, op, yb = _figures(r)
        lines.append(f"| {_cell(r['lever'])} | {_cell(r['what'])} | {inst} | {op} | {yb} |")
    same = all(r["overtake_installed"] == r["overtake_operational"] for r in rows)
    lines += ["", "## How to read it", "",
              "Every row is conditional on its lever: it answers \"if this happens, how likely is China to overtake "
              "the US, and how far behind is it in 2030?\", with everything else as uncertain as in the baseline. "
              "Compare a row with the baseline row: with common random numbers the difference is the lever's "
              "effect, not sampling noise. The baseline row already weighs every lever by its own hazard "
              "(a Taiwan conflict, a bust, a change of controls can each happen in it), so it is not the "
              "'nothing happens' case. Installed stock counts every chip owned; operational stock only those "
              "its owner's power can run"
              + (". An actor buys only what its power can run (what it cannot is `unpowered_h100e`), so the two "
                 "differ only where available power falls after chips are installed; in these runs they agree in "
                 "every row" if same else "")
              + f". Probabilities are over {table['samples']:,} samples: a difference below about one "
              "percentage point is within noise.", "",
              "## What each lever sets", "",
              "Each override replaces the preset's value, and with it its source and assumption, by the value and "
              "reasoning below; a combination sets the union of its levers' overrides.", ""]
    for r in rows:
        if not r["sets"] and r["preset"] == "baseline":
            continue
        preset = f"preset `{r['preset']}`" + (" (see [presets.md](presets.md))" if r["preset"] != "baseline" else "")
        if r["parts"]:
            names = [f"*{_cell(x)}*" for x in r["parts"]]
            lines.append(f"- **{_cell(r['lever'])}**: {preset}, with the overrides of "
                         + ", ".join(names[:-1]) + " and " + names[-1] + ".")
            continue
        lines.append(f"- **{_cell(r['lever'])}**: {preset}" + (", with:" if r["sets"] else "."))
        for key, v in r["sets"].items():
            cite = " Sources: " + ", ".join(f"`{x}`" for x in v["source"]) + "." if v["source"] else ""
            lines.append(f"  - `{key}` = `{v['value']}` [{v['unit']}]: {_cell(v['assumption'])}{cite}")
    return "\n".join(lines)


def stress_json(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=True, allow_nan=False)


def shipped_table() -> dict[str, Any] | None:
    """The stress table shipped with the package (report/stress.json), or None if it is missing."""
    try:
        text = resources.files("computerace.report").joinpath("stress.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None
    return json.loads(text)


def stress_html(table: dict[str, Any]) -> str:
    """An HTML fragment (a table, no external assets) of a stress table; every text escaped."""
    esc = html.escape
    head = ("<table class='stress'><thead><tr><th>lever</th><th>what it changes</th>"
            "<th>P(overtake, installed)<br>2030 / 2035 / 2040</th><th>P(overtake, operational)<br>2030 / 2035 / 2040</th>"
            "<th>years behind (stock), Dec 2030<br>median [p5–p95]</th></tr></thead><tbody>")
    body = []
    for r in table["rows"]:
        inst, op, yb = _figures(r)
        body.append(f"<tr><td>{esc(str(r['lever']))}</td><td>{esc(str(r['what']))}</td><td>{esc(inst)}</td>"
                    f"<td>{esc(op)}</td><td>{esc(yb)}</td></tr>")
    return head + "".join(body) + "</tbody></table>"


def main() -> None:
    from ..results import atomic_write

    table = stress_rows()
    root = Path(__file__).resolve().parents[3]
    atomic_write(Path(__file__).with_name("stress.json"), stress_json(table) + "\n")
    atomic_write(root / "docs" / "stress.md", stress_markdown(table) + "\n")


if __name__ == "__main__":
    main()
