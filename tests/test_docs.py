"""Generated docs stay in step with the schema and the baseline."""

import re
from pathlib import Path

from computerace.scenario.docs import parameters_markdown


def test_parameters_doc_is_up_to_date():
    path = Path(__file__).parents[1] / "docs" / "parameters.md"
    assert path.read_text() == parameters_markdown() + "\n", (
        "docs/parameters.md is stale: python -m computerace.scenario.docs > docs/parameters.md")


def used_source_ids() -> set[str]:
    """Source ids cited by shipped scenarios and by the catalog's own tables (when they exist)."""
    from computerace import catalog
    from computerace.scenario import load_scenario, presets

    used = set()
    for name in presets():
        used |= load_scenario(name).sources_used()
    used |= set(getattr(catalog, "cited_source_ids", lambda: set())())
    from computerace.model import controls

    used |= controls.cited_source_ids()
    from computerace.analysis.claims import load_claims

    used |= {c.source for c in load_claims() if c.source}
    try:
        from computerace import serving
    except ImportError:
        serving = None
    used |= set(getattr(serving, "cited_source_ids", lambda: set())())
    from computerace.analysis import reasoning

    used |= reasoning.cited_source_ids()  # data/system_classes.csv
    return used


def test_every_source_in_the_catalog_is_used_and_every_used_source_exists():
    from computerace.catalog import sources

    used = used_source_ids()
    assert used <= set(sources())
    assert set(sources()) - used == set(), "sources.csv lists ids no shipped scenario uses"


def test_presets_doc_matches_the_runs():
    from computerace.report.presets_doc import presets_markdown

    path = Path(__file__).parents[1] / "docs" / "presets.md"
    assert path.read_text() == presets_markdown() + "\n", (
        "docs/presets.md is stale: python -m computerace.report.presets_doc > docs/presets.md")


def test_readme_example_output_is_what_the_command_prints():
    """The README's example table is generated, not pasted: it must equal readme_example() (a 2,000-sample run,
    seed 7). Regenerate with COMPUTERACE_UPDATE_SNAPSHOTS=1 pytest tests/test_docs.py -k readme_example."""
    import os
    import re

    from computerace.cli.run import readme_example

    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    m = re.search(r"<!-- example-run:start -->\n```\n(.*?)```\n<!-- example-run:end -->", text, re.S)
    assert m, "the README lost its example-run markers"
    now = readme_example()
    if os.environ.get("COMPUTERACE_UPDATE_SNAPSHOTS") == "1":
        readme.write_text(text[:m.start(1)] + now + text[m.end(1):])
        return
    assert m.group(1) == now


def test_docs_never_point_outside_the_repository():
    root = Path(__file__).resolve().parents[1]
    for f in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = f.read_text()
        assert "../shared" not in text and "shared/DESIGN" not in text, f.name
        for link in re.findall(r"\]\(([^)#]+)", text):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            assert (f.parent / link).resolve().is_relative_to(root), (f.name, link)
