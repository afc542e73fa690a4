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


def a_at(month: str, near=0.8, degraded=0.3, cond=0.2) -> float:
    a = allowed_path(MONTHS, np.array([near]), np.array([degraded]), np.array([cond]))
    return float(a[0, MONTHS.index(month)])


@pytest.mark.parametrize("month, expected", [
    ("2022-06", 1.0),  # A100 open before the Aug 2022 'is-informed' letter and the Oct 2022 rule
    ("2023-06", 0.8),  # A800/H800: near-frontier compliant parts only
    ("2024-06", 0.3),  # after the Oct 2023 rule: the H20 only
    ("2025-05", 0.0),  # H20 licence requirement from 2025-04-09
    ("2026-03", 0.2),  # H200 case-by-case from 2026-01-15: the shipped share of conditional supply
])
def test_allowed_fraction_by_regime(month, expected):
    assert a_at(month) == pytest.approx(expected)


def test_freezing_holds_the_regime_of_the_as_of_month():
    a = allowed_path(MONTHS, np.array([0.8]), np.array([0.3]), np.array([0.2]), freeze_after=MONTHS.index("2023-06"))
    assert np.all(a[0, MONTHS.index("2023-06"):] == pytest.approx(0.8))


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


def test_cli_run_as_of_exits_2():
    p = subprocess.run([CR, "run", "--as-of", "2023-01-01", "--samples", "10", "--no-report"], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "published after" in p.stderr and "Traceback" not in p.stderr
