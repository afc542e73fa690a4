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
from typing import Any

SAMPLES, SEED = 2000, 0
YEARS = ("2030", "2035", "2040")


@dataclass(frozen=True)
class Lever:
    """One change to a preset: {key: (value, reasoning)}."""

    name: str
    what: str
    preset: str = "baseline"
    sets: dict[str, tuple[Any, str]] = field(default_factory=dict)


EUV = Lever("EUV by 2030", "China has working EUV in volume between 2027 and 2030 (baseline: p50 2034)", sets={
    "events.euv_year": ({"uniform": {"low": 2027, "high": 2030}},
                        "Stress case: a lithography breakthrough by 2030, what the 'China catches up' side expects.")})
POWER_WALL = Lever("US power wall", "US AI power grows 5-20% a year after 2026 (preset `us-power-wall`)",
                   preset="us-power-wall")
LIFTED = Lever("Controls lifted (2026)", "chip and HBM controls lifted in December 2026 (preset "
               "`export-controls-lifted-2026`)", preset="export-controls-lifted-2026")
_CAPEX = ({"by_year": {2022: "20e9 to 50e9", 2025: "84e9 to 98e9", 2026: "72e9 to 160e9", 2027: "150e9 to 320e9",
                       2030: "200e9 to 1e12", 2040: "200e9 to 3e12"}},
          "Stress case: a state push doubles China's AI capex from 2027 on (twice the baseline's 2026-2040 ranges); "
          "history to 2026 as in the baseline.")
CAPEX = Lever("China capex push", "China's AI capex twice the baseline's path from 2027",
              sets={"finance.china_capex_usd_per_year": _CAPEX})
TAIWAN = Lever("Taiwan conflict (2027)", "a Taiwan conflict in mid-2027 that destroys or strands part of TSMC's "
               "capacity (not a blockade)", sets={
                   "events.hazard_start": (2027.5, "Stress case: the event comes in mid-2027."),
                   "events.taiwan_hazard_per_year": (0.99, "Stress case: the event happens (within weeks of its start)."),
                   "events.taiwan_capacity_lost": ({"beta": {"a": 2, "b": 2}},
                                                   "Stress case: a conflict, so some capacity is always lost for good "
                                                   "(the baseline's conflict branch, without the blockade weight).")})
BUST = Lever("US capex bust (2027)", "a US AI-capex bust starting mid-2027 (baseline depth and duration)", sets={
    "events.capex_bust_start": (2027.5, "Stress case: the bust comes in mid-2027."),
    "events.capex_bust_hazard_per_year": (0.99, "Stress case: the bust happens (within weeks of its start).")})
TIGHTEN = Lever("Controls tighten (2027)", "controls tightened in early 2027: licensed parts closed, routes and "
                "tools controlled further", sets={
                    "events.controls_shift_start": (2027.0, "Stress case: the tightening comes in early 2027."),
                    "events.controls_shift_hazard_per_year": (0.99, "Stress case: the change happens."),
                    "events.controls_shift_allowed": (0, "Stress case: the change tightens (level 0).")})


def _combine(name: str, *levers: Lever) -> Lever:
    presets = {lv.preset for lv in levers} - {"baseline"}
    if len(presets) > 1:
        raise ValueError(f"{name}: levers from two presets ({', '.join(sorted(presets))}) cannot be combined")
    sets: dict[str, tuple[Any, str]] = {}
    for lv in levers:
        sets.update(lv.sets)
    return Lever(name, "; ".join(lv.what for lv in levers), next(iter(presets), "baseline"), sets)


BASELINE = Lever("Baseline", "the baseline (every event sampled at its own hazard)")
LEVERS = (BASELINE, EUV, POWER_WALL, LIFTED, CAPEX, TAIWAN, BUST, TIGHTEN,
          _combine("EUV by 2030 + US power wall", EUV, POWER_WALL),
          _combine("Controls lifted + China capex push", LIFTED, CAPEX),
          _combine("Taiwan conflict + controls lifted", TAIWAN, LIFTED),
          _combine("EUV + China capex push + US capex bust", EUV, CAPEX, BUST))


def scenario_of(lever: Lever) -> Any:
    """The lever's Scenario: its preset with each override's value and reasoning."""
    from ..scenario import load_scenario

    over: dict[str, Any] = {}
    for key, (value, why) in lever.sets.items():
        over[key] = value
        over[f"{key}.assumption"] = why
    return load_scenario(lever.preset, over or None)


def stress_rows(samples: int = SAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Run every lever (same seed: common random numbers); plain numbers, ready for JSON."""
    import computerace as cr

    from .. import __version__

    rows = []
    for lv in LEVERS:
        s = cr.run(scenario_of(lv), samples=samples, seed=seed).summary()
        p = s["probabilities"]
        yb = s["metrics"]["years_behind_stock"]["China"]["2030-12"]
        rows.append({"lever": lv.name, "what": lv.what, "preset": lv.preset, "sets": sorted(lv.sets),
                     "overtake_installed": {y: p["china_overtakes_us_stock_by"][y] for y in YEARS},
                     "overtake_operational": {y: p["china_overtakes_us_operational_stock_by"][y] for y in YEARS},
                     "years_behind_2030": {k: yb[k] for k in ("p5", "p50", "p95")}})
    return {"samples": samples, "seed": seed, "version": __version__, "rows": rows}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _yb(r: dict[str, float]) -> str:
    return f"{r['p50']:.1f} [{r['p5']:.1f} to {r['p95']:.1f}]"


def stress_markdown(table: dict[str, Any]) -> str:
    lines = ["# Stress table", "",
             f"Generated from actual runs by `python -m computerace.report.stress` ({table['samples']:,} samples, "
             f"seed {table['seed']}, the same seed for every row: common random numbers); do not edit by hand. "
             "Each row is the baseline (or the preset named) with one lever, or a combination the debate names, "
             "switched on; the mechanisms and their sources are in [tails.md](tails.md).", "",
             "| lever | what it changes | P(overtake, installed) 2030 / 2035 / 2040 | "
             "P(overtake, operational) 2030 / 2035 / 2040 | years behind (stock), Dec 2030: median [90%] |",
             "|---|---|---|---|---|"]
    for r in table["rows"]:
        inst = " / ".join(_pct(r["overtake_installed"][y]) for y in YEARS)
        op = " / ".join(_pct(r["overtake_operational"][y]) for y in YEARS)
        lines.append(f"| {r['lever']} | {r['what']} | {inst} | {op} | {_yb(r['years_behind_2030'])} |")
    lines += ["", "## How to read it", "",
              "Every row is conditional on its lever: it answers \"if this happens, how likely is China to overtake "
              "the US, and how far behind is it in 2030?\", with everything else as uncertain as in the baseline. "
              "Compare a row with the baseline row: with common random numbers the difference is the lever's "
              "effect, not sampling noise. The baseline row already weighs every lever by its own hazard "
              "(a Taiwan conflict, a bust, a change of controls can each happen in it), so it is not the "
              "'nothing happens' case. Installed stock counts every chip owned; operational stock only those "
              "its owner's power can run. Probabilities are over 2,000 samples: a difference below about one "
              "percentage point is within noise."]
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
            "<th>years behind (stock), Dec 2030<br>median [90%]</th></tr></thead><tbody>")
    body = []
    for r in table["rows"]:
        inst = " / ".join(_pct(r["overtake_installed"][y]) for y in YEARS)
        op = " / ".join(_pct(r["overtake_operational"][y]) for y in YEARS)
        body.append(f"<tr><td>{esc(str(r['lever']))}</td><td>{esc(str(r['what']))}</td><td>{esc(inst)}</td>"
                    f"<td>{esc(op)}</td><td>{esc(_yb(r['years_behind_2030']))}</td></tr>")
    return head + "".join(body) + "</tbody></table>"


def main() -> None:
    from ..results import atomic_write

    table = stress_rows()
    root = Path(__file__).resolve().parents[3]
    atomic_write(Path(__file__).with_name("stress.json"), stress_json(table) + "\n")
    atomic_write(root / "docs" / "stress.md", stress_markdown(table) + "\n")


if __name__ == "__main__":
    main()
