"""The export-control engine: closed cases by date, each pinned to the rule that decides it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computerace import catalog
from computerace.errors import UserError
from computerace.model import controls
from computerace.model.controls import Condition, classify


def status(chip: str, date: str):
    c = classify(chip, date)
    return c.license_required_for_china, c.policy, c.eccn, c.regime


# (chip, date, licence?, policy, eccn, deciding layer, a source that must be cited)
CASES = [
    # before any AI-chip control
    ("a100", "2022-08-01", False, "no_licence", None, "none", None),
    # NVIDIA 8-K: licence for A100/H100 from 2022-08-26 ("is-informed" letter)
    ("a100", "2022-09-01", True, "licence_required", None, "is-informed-2022-08", "nvidia-8k-2022-08"),
    # Oct 2022 rule: I/O >= 600 GB/s and TPP >= 4,800
    ("a100", "2022-11-01", True, "presumption_of_denial", "3A090", "oct-2022", "thompsonhine-oct2022"),
    ("h100-sxm", "2023-03-01", True, "presumption_of_denial", "3A090", "oct-2022", "thompsonhine-oct2022"),
    # A800/H800: NVLink cut to 400 GB/s < 600: legal between Oct 2022 and Oct 2023
    ("a800", "2022-12-01", False, "no_licence", None, "oct-2022", "thompsonhine-oct2022"),
    ("a800", "2023-06-01", False, "no_licence", None, "oct-2022", "thompsonhine-oct2022"),
    ("h800", "2023-10-20", False, "no_licence", None, "oct-2022", "thompsonhine-oct2022"),
    # made effective immediately for these chips on 2023-10-23 (NVIDIA 8-K), for all others on 2023-11-17
    ("a800", "2023-11-01", True, "presumption_of_denial", "3A090.a", "oct-2023-early", "techdator-oct2023"),
    ("h800", "2023-11-01", True, "presumption_of_denial", "3A090.a", "oct-2023-early", "techdator-oct2023"),
    ("a800", "2023-12-01", True, "presumption_of_denial", "3A090.a", "oct-2023", "natlawreview-oct2023"),
    ("rtx-4090", "2023-11-01", False, "no_licence", None, "oct-2022", "thompsonhine-oct2022"),
    ("rtx-4090", "2023-12-01", True, "presumption_of_denial", "3A090.a", "oct-2023", "natlawreview-oct2023"),
    # China editions designed under the 2023 thresholds
    ("rtx-4090d", "2024-06-01", False, "no_licence", None, "oct-2023", "natlawreview-oct2023"),
    ("l20", "2024-06-01", False, "no_licence", None, "oct-2023", "natlawreview-oct2023"),
    ("h20", "2024-06-01", False, "no_licence", None, "oct-2023", "natlawreview-oct2023"),
    # performance-density routes: L40 in the 3A090.b grey zone (NAC), L4 caught by PD >= 5.92
    ("l40", "2024-06-01", True, "nac_notification", "3A090.b", "oct-2023", "computersweden-oct2023"),
    ("l4", "2024-06-01", True, "presumption_of_denial", "3A090.a", "oct-2023", "natlawreview-oct2023"),
    # H20: licence from 2025-04-09, licences granted against a 15% revenue share from 2025-08
    ("h20", "2025-05-01", True, "licence_required", None, "h20-licence-2025-04", "nvidia-h20-2025"),
    ("h20", "2025-09-01", True, "licence_granted", None, "h20-resumed-2025-08", "ap-h20-resume-2025"),
    ("mi308x", "2025-05-01", True, "licence_required", None, "mi308-licence-2025-04", "amd-mi308-2025"),
    # H200 and MI325X: case-by-case from 2026-01-15 (Federal Register 2026-00789); Blackwell stays denied
    ("h200", "2025-06-01", True, "presumption_of_denial", "3A090.a", "oct-2023", "natlawreview-oct2023"),
    ("h200", "2026-01-14", True, "presumption_of_denial", "3A090.a", "oct-2023", "natlawreview-oct2023"),
    ("h200", "2026-01-15", True, "case_by_case", "3A090.a", "h200-case-by-case-2026-01", "fr-2026-00789"),
    ("mi325x", "2026-03-01", True, "case_by_case", "3A090.a", "h200-case-by-case-2026-01", "fr-2026-00789"),
    ("b200", "2026-03-01", True, "presumption_of_denial", "3A090.a", "oct-2023", "natlawreview-oct2023"),
    ("l40", "2026-03-01", True, "nac_notification", "3A090.b", "oct-2023", "computersweden-oct2023"),  # NAC kept
    ("b300", "2026-03-01", True, "presumption_of_denial", "3A090.a", "oct-2023", "natlawreview-oct2023"),
]


@pytest.mark.parametrize("chip, date, licence, policy, eccn, layer, source", CASES)
def test_closed_cases(chip, date, licence, policy, eccn, layer, source):
    c = classify(chip, date)
    assert (c.license_required_for_china, c.policy, c.eccn, c.regime) == (licence, policy, eccn, layer)
    if source:
        assert source in c.source
    assert c.reason and set(c.source) <= catalog.source_ids()


def test_h20_sits_just_below_both_2023_tests():
    c = classify("h20", "2024-06-01")
    assert 1600 <= c.tpp < 2400 and c.pd < 3.2  # so neither 3A090.a nor 3A090.b.1/.b.2


def test_granted_licences_carry_their_conditions():
    assert any("15%" in x for x in classify("h20", "2025-09-01").conditions)
    assert any("50%" in x for x in classify("h200", "2026-02-01").conditions)


def test_chinese_chips_are_not_us_exports_but_say_what_they_would_be():
    c = classify("ascend-910b", "2025-01-01")
    assert c.policy == "not_us_export" and c.license_required_for_china is False and c.access == "domestic"
    assert "3A090.a" in c.reason and "hbm-2024-12" in c.reason


def test_missing_specs_give_indeterminate_not_a_guess():
    c = classify("mi308x", "2024-06-01")  # no shipped throughput figures
    assert c.policy == "indeterminate" and c.license_required_for_china is None and c.tpp is None


def test_conditions_are_three_valued():
    h20 = catalog.chip("h20")
    assert Condition(tpp_min=1600, pd_min=3.2).match(h20) is False
    assert Condition(tpp_min=2000).match(h20) is True
    assert Condition(tpp_min=1600, pd_min=3.2).match(catalog.chip("b200")) is None  # die area unknown
    assert Condition(tpp_min=1600, markets=("datacenter",)).match(catalog.chip("rtx-4090")) is False


def test_unreleased_chips_are_classified_with_a_note():
    c = classify("h20", "2023-01-01")
    assert c.notes and "not yet released" in c.notes[0]


def test_user_errors():
    with pytest.raises(UserError, match="h100-sxm"):
        classify("h100-sxmm", "2024-01-01")
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        classify("h20", "2024-13-01")


def test_timeline_lists_rule_changes_in_order_with_the_chips_status():
    entries = controls.timeline("h20")
    dates = [e.date for e in entries]
    assert dates == sorted(dates)
    layers = [e.layer for e in entries]
    assert "is-informed-2022-08" not in layers and "oct-2023-early" not in layers  # other chips' events
    assert {"h20-licence-2025-04", "h20-resumed-2025-08", "hbm-2024-12"} <= set(layers)
    changed = [e.layer for e in entries if e.changed]
    assert changed == ["h20-licence-2025-04", "h20-resumed-2025-08"]
    hbm = next(e for e in entries if e.layer == "hbm-2024-12")
    assert not hbm.changed and "HBM" in hbm.effect


def test_rules_cite_known_sources_and_every_layer_has_one():
    r = controls.rules()
    assert all(x.source for x in r.layers)
    assert r.source_ids() <= catalog.source_ids()
    assert [x.date for x in r.layers] == sorted(x.date for x in r.layers)


def test_allowed_fraction_follows_the_regime():
    w = {"h20": 1.0, "h100-sxm": 1.0}
    assert controls.allowed_fraction("2024-06-01", w) == 0.5
    assert controls.allowed_fraction("2025-05-01", w) == 0.0
    assert controls.allowed_fraction("2025-09-01", w, conditional=0.5) == 0.25
    assert controls.allowed_fraction("2022-06-01", {"h20": 1.0}) == 0.0  # not yet released: weight 0


def test_best_legal_import():
    assert controls.best_legal_import("2024-06-01", conditional=False)[0] == "h20"
    assert controls.best_legal_import("2026-02-01")[0] in {"h200", "mi325x", "mi300x", "gh200", "h100-sxm"}
    access = controls.legal_import_access("2024-06-01")
    assert access["h100-sxm"] == "closed" and access["h20"] == "open" and "ascend-910b" not in access


# ----------------------------------------------------------------------------------------------- CLI

runner = CliRunner()


def invoke(*args: str):
    from computerace.cli.main import app

    return runner.invoke(app, list(args))


def test_cli_classify_json_has_the_contract_fields():
    r = invoke("controls", "classify", "h100-sxm", "--date", "2024-01-01", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    for k in ("chip", "date", "tpp", "pd", "eccn", "license_required_for_china", "reason", "regime", "source"):
        assert k in d
    assert d["license_required_for_china"] is True and d["eccn"] == "3A090.a" and d["date"] == "2024-01-01"
    assert "natlawreview-oct2023" in d["source"]


def test_cli_classify_and_timeline_text_and_json():
    r = invoke("controls", "classify", "h20", "--date", "2025-09-01")
    assert r.exit_code == 0 and "licence required" in r.stdout and "ap-h20-resume-2025" in r.stdout
    r = invoke("controls", "timeline", "a800", "--json")
    d = json.loads(r.stdout)
    assert d["chip"] == "a800" and any(e["layer"] == "oct-2023-early" and e["changed"] for e in d["timeline"])
    assert invoke("controls", "timeline", "a800").exit_code == 0
    d = json.loads(invoke("controls", "allowed", "--date", "2024-06-01", "--json").stdout)
    assert "h20" in d["groups"]["open"] and d["best_legal_import"]["chip"]


@pytest.mark.parametrize("args, hint", [
    (("controls", "classify", "h100-sxmm", "--date", "2024-01-01"), "h100-sxm"),
    (("controls", "classify", "h20", "--date", "2024-1-1"), "YYYY-MM-DD"),
    (("controls", "timeline", "ascend-91c"), "ascend-910c"),
])
def test_cli_user_errors_exit_2_with_a_hint(args, hint):
    r = invoke(*args)
    assert r.exit_code == 2 and hint in r.output


def test_cli_unknown_chip_from_the_shell_has_no_traceback():
    cr = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
    p = subprocess.run([cr, "controls", "classify", "h100-sxmm", "--date", "2024-01-01"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "h100-sxm" in p.stderr and "Traceback" not in p.stderr
