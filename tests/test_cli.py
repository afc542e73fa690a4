"""The command line as a user meets it: exit codes, messages without tracebacks, files, JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CR, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_run_writes_files_and_prints_the_table(tmp_path):
    p = cli("run", "--samples", "300", "--seed", "3", "--out", str(tmp_path / "a"))
    assert p.returncode == 0, p.stderr
    for name in ("summary.json", "run.nc", "quantiles.csv", "manifest.json", "report.html"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    # an 80-column table (output is not a terminal) uses the short header
    assert "2030-12" in p.stdout and ("China share" in p.stdout or "CN share" in p.stdout)
    assert "conditional" in p.stdout
    assert "P(China's owned stock exceeds the US's" in p.stdout


def test_same_seed_gives_byte_identical_summary(tmp_path):
    for d in ("a", "b"):
        assert cli("run", "--samples", "200", "--seed", "9", "--out", str(tmp_path / d), "--quiet",
                   "--no-report").returncode == 0
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()


def test_json_output_is_the_summary(tmp_path):
    p = cli("run", "--samples", "100", "--out", str(tmp_path), "--json", "--no-report")
    s = json.loads(p.stdout)
    assert s["samples"] == 100 and s == json.loads((tmp_path / "summary.json").read_text())


def test_missing_scenario_file_exits_2_without_traceback(tmp_path):
    p = cli("run", str(tmp_path / "missing.yaml"), "--samples", "10", "--out", str(tmp_path / "o"))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr + p.stdout
    assert "not found" in p.stderr and "missing.yaml" in p.stderr
    assert not (tmp_path / "o").exists()


def test_misspelt_key_names_file_line_and_fix(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("extends: baseline\nfinanse:\n  capex: 1\n")
    p = cli("run", str(bad), "--samples", "10", "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "typo.yaml, line 2" in p.stderr and "finanse" in p.stderr and "did you mean 'finance'" in p.stderr


@pytest.mark.parametrize("args, words", [
    (["--set", "smuggling.enforcement"], "key=value"),
    (["--set", "smuggling.enforcment=0.1"], "did you mean 'smuggling.enforcement'"),
    (["--set", "smuggling.enforcement=2"], "outside the valid range"),
    (["--set", "stock.useful_life_years=abc"], "not a valid value"),
    (["no-such-preset"], "neither a preset"),
])
def test_bad_input_exits_2_with_a_message(tmp_path, args, words):
    p = cli("run", *args, "--samples", "10", "--out", str(tmp_path / "o"))
    assert p.returncode == 2, p.stdout + p.stderr
    assert words in p.stderr and "Traceback" not in p.stderr


def test_bad_flag_value_is_a_usage_error():
    p = cli("run", "--samples", "0")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_presets_json_lists_baseline_with_sources():
    p = cli("presets", "--json")
    assert p.returncode == 0
    rows = json.loads(p.stdout)["presets"]
    base = next(r for r in rows if r["name"] == "baseline")
    assert "epoch-chip-counts" in base["sources"] and base["description"]


def test_help_lists_commands():
    p = cli("--help")
    assert p.returncode == 0 and "run" in p.stdout and "presets" in p.stdout


def test_version_prints_the_package_version_and_exits_0():
    import computerace

    p = subprocess.run([CR, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == computerace.__version__


def test_point_mode_simulates_one_sample_with_the_same_path(tmp_path):
    """`--point` is one deterministic path: the CLI simulates it once, and it equals any sample of a point run."""
    import computerace as cr

    p = cli("run", "ai2027", "--point", "--quiet", "--json", "--out", str(tmp_path / "o"))
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["samples"] == 1
    two = cr.run(cr.load_scenario("ai2027", {"mode": "point"}), samples=2, seed=0).summary()
    for key in ("US", "China"):
        assert s["metrics"]["stock_h100e"][key]["2030-12"]["p50"] == two["metrics"]["stock_h100e"][key]["2030-12"]["p50"]


def test_no_netcdf_writes_the_summary_and_report_only(tmp_path):
    p = cli("run", "--samples", "200", "--no-netcdf", "--quiet", "--out", str(tmp_path / "o"))
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in (tmp_path / "o").iterdir()) == ["manifest.json", "quantiles.csv", "report.html",
                                                                   "summary.json"]
