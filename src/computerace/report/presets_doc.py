"""Generate docs/presets.md from actual runs: `python -m computerace.report.presets_doc > docs/presets.md`.

For each preset: its description, what it changes relative to the baseline (with sources and
assumptions), and its headline results from a run of SAMPLES samples with SEED. Never typed by hand;
tests/test_presets_doc.py regenerates it and compares.
"""

from __future__ import annotations

from typing import Any

from ..formatting import si as _fmt

SAMPLES, SEED = 2000, 0

# Notes that explain a preset beyond its parameters (kept here so the page stays generated).
NOTES = {
    "ai2027": [
        "Where AI 2027 contradicts itself (published_forecasts.md, method notes), we match:",
        "- **China's share**: 12% (Fig. 3 and the scenario text) rather than the 14% (end-2024 text) or 13% "
        "(2027 text); it is a usage share that includes compute rented abroad, so it is compared with "
        "`china_share_with_remote`, and the test tolerance (12% +- 3 pp) covers the other two statements.",
        "- **Stock at the end of 2023**: between the table's 4M and the owner chart's 3.4M (the run gives "
        "about 3.6M); the 2022 stock is not stated by AI 2027 and is set to reach this.",
        "- **Stock at the end of 2025**: the table's 18M, not the owner chart's 19.9M.",
        "- **Retirements**: AI 2027's cumulative row implies some (8.5 + 11 = 19.5 vs 18); a four-year "
        "life matches it; AI 2027 states none.",
        "- **Power**: computerace charges each cohort the power per H100e of its production year, so the "
        "stock's power need is somewhat above AI 2027's (which applies each year's figure to all chips).",
        "- **Cost**: AI 2027's total cost of ownership per H100e is used as the price with `compute_share` "
        "= 1, and budgets are set so that they never bind, as money follows compute in AI 2027.",
        "- AI 2027 ends in 2027: values after 2027 are the extrapolations stated in the parameters.",
        "",
        "Run `computerace run ai2027 --point` for AI 2027's own numbers (every distribution at its median).",
    ],
}
DATES = ("2025-12", "2030-12", "2035-12", "2040-12")




def _changes(sc: Any, base: Any) -> list[str]:
    from .answers import value_text

    out = []
    for key, p in sc.parameters.items():
        b = base.parameters[key]
        if p.value == b.value and p.source == b.source and p.assumption == b.assumption:
            continue
        text = value_text(sc, key)
        basis = []
        if p.source:
            basis.append("sources: " + ", ".join(f"`{s}`" for s in p.source))
        if p.assumption:
            basis.append("assumption: " + " ".join(p.assumption.split()))
        if p.note:
            basis.append("note: " + " ".join(p.note.split()))
        out.append(f"- `{key}` = {text} [{p.spec.unit}]. " + " ".join(basis))
    return out


def presets_markdown() -> str:
    import computerace as cr

    from ..scenario import load_scenario, presets

    base = load_scenario("baseline")
    lines = ["# Presets", "",
             "Generated from actual runs by `python -m computerace.report.presets_doc > docs/presets.md` "
             f"({SAMPLES:,} samples, seed {SEED}); do not edit by hand. Results are medians with 90% intervals,",
             "conditional on each preset's assumptions. Every preset extends `baseline` "
             "(see [parameters.md](parameters.md)).", ""]
    for name in ["baseline"] + [p for p in presets() if p != "baseline"]:
        sc = load_scenario(name)
        s = cr.run(sc, samples=SAMPLES, seed=SEED).summary()
        m = s["metrics"]
        lines += [f"## `{name}`", "", " ".join(sc.description.split()), ""]
        if name != "baseline":
            lines += ["What it changes relative to the baseline:", ""] + _changes(sc, base) + [""]
        if name in NOTES:
            lines += NOTES[name] + [""]
        lines += ["| | " + " | ".join(DATES) + " |", "|---|" + "---|" * len(DATES)]

        def row(label: str, metric: str, key: str, pct: bool = False, m: dict = m) -> str:
            cells = []
            for d in DATES:
                q = m[metric][key][d]
                if pct:
                    cells.append(f"{q['p50']:.1%} [{q['p5']:.1%}–{q['p95']:.1%}]")
                elif metric == "years_behind_stock":
                    cells.append(f"{q['p50']:.1f} [{q['p5']:.1f}–{q['p95']:.1f}]")
                else:
                    cells.append(f"{_fmt(q['p50'])} [{_fmt(q['p5'])}–{_fmt(q['p95'])}]")
            return f"| {label} | " + " | ".join(cells) + " |"

        lines += [row("US stock (H100e)", "stock_h100e", "US"), row("China stock (H100e)", "stock_h100e", "China"),
                  row("World stock (H100e)", "stock_h100e", "World"),
                  row("US operational (H100e)", "operational_h100e", "US"),
                  row("China share", "china_share", "China", pct=True),
                  row("China share incl. rented", "china_share_with_remote", "China", pct=True),
                  row("Years behind (stock)", "years_behind_stock", "China"), ""]
        p = s["probabilities"]["china_overtakes_us_stock_by"]
        lines += ["P(China's installed stock exceeds the US's by December of): "
                  + ", ".join(f"{y}: {v:.1%}" for y, v in p.items()), ""]
        op = s["probabilities"].get("china_overtakes_us_operational_stock_by")
        if op:
            lines += ["P(China's operational stock exceeds the US's by December of): "
                      + ", ".join(f"{y}: {v:.1%}" for y, v in op.items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(presets_markdown())
