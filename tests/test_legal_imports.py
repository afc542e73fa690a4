"""The legal-import channel follows the export-control engine; as-of discipline for scenarios."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import computerace as cr
from computerace.errors import ScenarioError
from computerace.model.controls import allowed_path

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
MONTHS = tuple(str(m) for m in np.arange(np.datetime64("2022-01"), np.datetime64("2027-01")))


PARTS = ("a800", "h800", "h20", "h200")


def access_at(month: str, chip: str = "frontier", cond=0.2) -> float:
    a = allowed_path(MONTHS, np.array([cond]), chip=chip, parts=PARTS)
    return float(a[0, MONTHS.index(month)])


@pytest.mark.parametrize("month, chip, expected", [
    ("2022-06", "frontier", 1.0),  # A100/H100 open before the Oct 2022 rule
    ("2023-06", "frontier", 0.0),  # the H100, newest frontier part, closed
    ("2023-06", "a800", 1.0),      # A800/H800: compliant parts open until the Oct 2023 rule
    ("2023-06", "h800", 1.0),
    ("2024-06", "h800", 0.0),      # after the Oct 2023 rule: the H20 only
    ("2024-06", "h20", 1.0),
    ("2025-05", "h20", 0.0),       # H20 licence requirement from 2025-04-09
    ("2025-10", "h20", 0.2),       # licences with a revenue share: the shipped share of conditional supply
    ("2026-03", "h200", 0.2),      # H200 case-by-case from 2026-01-15
    ("2026-03", "frontier", 0.0),  # the B200/B300 stay closed
    ("2023-06", "h200", 0.0),      # not yet released: closed
])
def test_access_by_regime_and_part(month, chip, expected):
    # Sources: export_controls.yaml (thompsonhine-oct2022, natlawreview-oct2023, nvidia-h20-2025,
    # ap-h20-resume-2025, fr-2026-00789)
    assert access_at(month, chip) == pytest.approx(expected)


def test_freezing_holds_the_regime_of_the_as_of_month():
    a = allowed_path(MONTHS, np.array([0.2]), freeze_after=MONTHS.index("2022-06"))
    assert np.all(a[0, MONTHS.index("2022-06"):] == pytest.approx(1.0))
    h20 = allowed_path(MONTHS, np.array([0.2]), freeze_after=MONTHS.index("2024-06"), chip="h20", parts=PARTS)
    assert np.all(h20[0, MONTHS.index("2024-06"):] == 1.0)  # the April 2025 licence requirement is not known yet


def test_baseline_draws_use_the_engine():
    from computerace.draws import draw

    d = draw(cr.load_scenario("baseline"), 50, seed=0)
    a = d.path("channels.legal_import_allowed")
    i = list(MONTHS).index("2025-05")
    assert np.all(a[:, i] == 0.0) and np.all(a[:, 5] == 1.0)


def test_as_of_refuses_later_sources_and_names_them():
    with pytest.raises(ScenarioError) as e:
        cr.load_scenario("baseline", as_of="2023-01-01")
    assert "published after 2023-01-01" in str(e.value) and "baseline.yaml" in str(e.value)
    cr.load_scenario("baseline", as_of="2030-01-01")  # everything is published by then


def test_cli_run_as_of_a_scenario_citing_later_sources_exits_2():
    """A scenario other than the baseline (which has vintages) is checked as written: later sources are refused."""
    p = subprocess.run([CR, "run", "ai2027", "--as-of", "2023-01-01", "--samples", "10", "--no-report"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "published after" in p.stderr and "Traceback" not in p.stderr
