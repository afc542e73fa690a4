"""Generate docs/parameters.md from the schema (params.csv) and the baseline: one source of truth."""

from __future__ import annotations

from .loader import load_scenario
from .schema import Series, param_specs


def _value_text(p) -> str:  # noqa: ANN001
    v = p.value
    if isinstance(v, Series):
        if v.mode == "step":
            when = [f"{int(t)}-{round((t - int(t)) * 12) + 1:02d}" for t in v.times]
        else:
            when = [str(int(t)) for t in v.times]
        kind = "from" if v.mode == "step" else "in"
        return "; ".join(f"{kind} {w}: {d.text}" for w, d in zip(when, v.dists, strict=True)) + f" ({v.mode})"
    return v.text


def parameters_markdown() -> str:
    base = load_scenario("baseline")
    out = ["# Parameters", "",
           "Generated from `src/computerace/scenario/params.csv` and the baseline scenario by",
           "`python -m computerace.scenario.docs > docs/parameters.md`; do not edit by hand.", ""]
    section = None
    for key, spec in param_specs().items():
        if spec.section != section:
            if section is not None:
                out.append("")
            section = spec.section
            out += [f"## `{section}`", "", "| key | unit | range | meaning | baseline | basis |",
                    "|---|---|---|---|---|---|"]
        p = base.parameters[key]
        basis = []
        if p.source:
            basis.append("source: " + ", ".join(f"`{s}`" for s in p.source))
        if p.assumption:
            basis.append("assumption: " + " ".join(p.assumption.split()))
        cells = [f"`{key.split('.', 1)[1]}`", spec.unit, f"{spec.min:g} .. {spec.max:g}", spec.description,
                 _value_text(p).replace("|", "/"), "<br>".join(basis).replace("|", "/")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print(parameters_markdown())
