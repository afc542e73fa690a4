"""Hardening (issue 20): hostile scenario input is refused cleanly, resources are checked before work starts,
outputs are whole-run atomic, and nonsense never reaches summary.json."""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import computerace as cr
from computerace.errors import ScenarioError, UserError
from computerace.outdir import RunDirectory, check_target, clear_leftovers, safe_name
from computerace.results import strict_json

CR = shutil.which("computerace") or "computerace"


def load_text(tmp_path: Path, text: str, name: str = "s.yaml") -> ScenarioError:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ScenarioError) as e:
        cr.load_scenario(str(p))
    return e.value


LAUGHS = "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9) if p else 'x, x, x, x, x, x, x, x, x'}]\n"
                 for c, p in zip("abcdefg", ["", "a", "b", "c", "d", "e", "f"], strict=True))


@pytest.mark.parametrize("text, words", [
    ("extends: baseline\nbase: &b {x: 1}\nfoo:\n  <<: *b\n", "merge keys"),
    ("extends: baseline\n!!str supply: {}\n", "tags are not accepted"),
    ("extends: baseline\nfinance:\n  compute_share:\n    value: !!float abc\n    assumption: because of x y z\n",
     "tags are not accepted"),
    ("extends: baseline\nfinance:\n  compute_share:\n    value: " + "9" * 5000 + "\n    assumption: because xyz\n",
     "cannot read value"),
    (LAUGHS + "extends: baseline\n", "aliases are expanded"),
    ("extends: baseline\nx: " + "[" * 600 + "]" * 600 + "\n", "nesting too deep"),
    ("extends: baseline\na: &a [*a]\n", "refers to itself"),
    ("extends: baseline\nfinance:\n  compute_share:\n    value: '" + "1" * 30000 + "'\n    assumption: because x\n",
     "value too long"),
    ("extends: baseline\nhorizon: {end: '2263-01'}\n", "outside the years"),
    ("extends: baseline\nfinance:\n  compute_share:\n\tvalue: 0.5\n", "tab"),
])
def test_hostile_yaml_is_refused_with_line_and_fix(tmp_path, text, words):
    t0 = time.monotonic()
    e = load_text(tmp_path, text)
    assert words in str(e), str(e)
    assert e.fix, str(e)
    assert e.file and e.file.endswith("s.yaml")
    assert time.monotonic() - t0 < 20  # a hang shows up as a failure, not as a stuck suite (generous: noisy CI)


def test_numbers_beyond_float_range_and_long_strings_are_distribution_errors():
    from computerace.scenario import distributions as D

    for bad in (10 ** 400, "1e999 to 2e999", "1" * 20000 + " to 2", "9" * 5000 + "x"):
        with pytest.raises(D.DistError):
            D.parse(bad)


def test_extends_of_a_device_or_an_overlong_name_is_refused(tmp_path):
    assert "not a regular file" in str(load_text(tmp_path, "extends: /dev/zero\n"))
    assert "cannot use" in str(load_text(tmp_path, "extends: " + "a" * 300 + "\n"))


def test_duplicate_correlations_are_refused(tmp_path):
    entry = ("  - between: [finance.us_capex_usd_per_year, finance.china_capex_usd_per_year]\n    rho: 0.3\n"
             "    assumption: a reason for this test entry\n")
    e = load_text(tmp_path, "extends: baseline\ncorrelations:\n" + entry + entry)
    assert "correlated twice" in str(e) and e.line == 6


def test_one_rule_for_tails_near_the_range_clip_below_one_percent_refuse_above(tmp_path):
    ok = cr.load_scenario("baseline", {"channels.remote_share_of_row": "0.1 to 0.6"})  # tail past 1: 0.5%
    assert ok.parameters["channels.remote_share_of_row"].value.bounds()[1] > 1
    r = cr.run(ok, samples=2000)
    assert 0 < r.manifest["truncated_samples"]["channels.remote_share_of_row"] < 40  # clipped and counted
    with pytest.raises(ScenarioError) as e:
        cr.load_scenario("baseline", {"channels.remote_share_of_row": "0.5 to 2"})
    assert "50.0% of its draws" in str(e.value) and "uniform" in e.value.fix and "beta" in e.value.fix


def test_initial_shares_above_the_whole_are_refused_before_simulating():
    with pytest.raises(UserError, match="must sum to at most 1"):
        cr.run(cr.load_scenario("baseline", {"stock.initial_us_share": 0.9}), samples=50)


def test_memory_budget_is_checked_before_work(monkeypatch):
    from computerace.api import estimate_bytes

    sc = cr.load_scenario("baseline")
    # the estimate grows with samples and matches the output arrays' size to within the stated factor
    small = cr.run(sc, samples=200)
    per = (estimate_bytes(sc, 20_000) - estimate_bytes(sc, 10_000)) / 10_000
    assert small.dataset.nbytes / 200 < per < 5 * small.dataset.nbytes / 200
    monkeypatch.setenv("COMPUTERACE_MEMORY_GIB", "2")
    with pytest.raises(UserError, match=r"need about .* GiB; the budget is 2.0 GiB. Use --samples") as e:
        cr.run(sc, samples=1_000_000)
    advised = int(str(e.value).split("Use --samples ")[1].split(" ")[0].replace(",", ""))
    assert estimate_bytes(sc, advised) <= 2 * 2**30 < estimate_bytes(sc, advised + 1)  # the advice fits, exactly
    monkeypatch.setenv("COMPUTERACE_MEMORY_GIB", "0.5")  # below the interpreter and one chunk's buffers
    with pytest.raises(UserError, match="Not even one sample fits"):
        cr.run(sc, samples=1_000_000)
    monkeypatch.setenv("COMPUTERACE_MEMORY_GIB", "lots")
    with pytest.raises(UserError, match="COMPUTERACE_MEMORY_GIB must be a number"):
        cr.run(sc, samples=10)


def test_outputs_are_checked_for_finiteness_and_sign():
    from computerace.api import check_outputs

    r = cr.run("baseline", samples=20)
    ds = r.dataset.copy(deep=True)
    check_outputs(ds, r.scenario)  # a real run passes
    ds["stock_h100e"].values[3, 10, 2] = -5e6
    with pytest.raises(UserError, match=r"negative values of stock_h100e .*sample 3"):
        check_outputs(ds, r.scenario)
    ds["stock_h100e"].values[3, 10, 2] = np.nan
    with pytest.raises(UserError, match="not finite values of stock_h100e"):
        check_outputs(ds, r.scenario)


def test_summary_json_is_strict_json():
    text = strict_json({"a": math.inf, "b": [1.0, math.nan, np.float32(2.5)], "c": {"d": -math.inf}})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict token {c}")) == \
        {"a": None, "b": [1.0, None, 2.5], "c": {"d": None}}


# ------------------------------------------------------------------------------------------ output directories
def test_safe_name_never_leaves_the_output_root():
    for name in ("/tmp/evil", "../../etc", "a/b", "..", "", "baseline+x=1 to 2"):
        s = safe_name(name)
        assert "/" not in s and s not in ("", ".", "..") and not s.startswith(".")
    assert safe_name("baseline") == "baseline"


def test_run_directory_replaces_the_whole_run_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out"
    with RunDirectory(target) as stage:
        (stage / "summary.json").write_text("1")
        (stage / "inference.nc").write_text("old")
    with RunDirectory(target) as stage:
        (stage / "summary.json").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["summary.json"]  # no file of the first run survives
    assert (target / "summary.json").read_text() == "2"
    with pytest.raises(RuntimeError), RunDirectory(target) as stage:
        (stage / "summary.json").write_text("3")
        raise RuntimeError("the run failed")
    assert (target / "summary.json").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or old directories


def test_a_directory_of_other_files_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a computerace run"):
        check_target(tmp_path)
    with pytest.raises(UserError, match="not a directory"):
        check_target(tmp_path / "notes.txt")


def test_leftovers_of_dead_runs_are_cleared_and_a_lost_output_restored(tmp_path):
    dead = 2**22 + 12345  # no such pid
    (tmp_path / f".out.partial-{dead}-ab12").mkdir()
    old = tmp_path / f".out.old-{dead}-ab12"
    old.mkdir()
    (old / "summary.json").write_text("previous")
    clear_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (tmp_path / "out" / "summary.json").read_text() == "previous"


def test_cli_refuses_an_unwritable_out_before_simulating(tmp_path):
    t0 = time.monotonic()
    p = subprocess.run([CR, "run", "--samples", "200000", "--out", "/proc/nope/x", "--quiet"], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "cannot" in p.stderr and "Traceback" not in p.stderr
    assert time.monotonic() - t0 < 30  # refused before 200,000 samples were simulated


def test_cli_modified_run_is_named_and_filed_apart_from_the_preset(tmp_path):
    p = subprocess.run([CR, "run", "--samples", "40", "--quiet", "--no-report", "--prior", "--set",
                        "smuggling.enforcement=0.05"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (d,) = (tmp_path / "computerace-out").iterdir()
    assert d.name == "baseline+smuggling.enforcement-0.05"
    assert json.loads((d / "summary.json").read_text())["scenario"] == "baseline+smuggling.enforcement=0.05"
    p = subprocess.run([CR, "run", "--samples", "40", "--quiet", "--no-report", "--prior", "--set",
                        "name=/tmp/elsewhere"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "computerace-out" / "tmp-elsewhere" / "summary.json").exists()


def _kill_during_run(tmp_path: Path, delay: float) -> None:
    out = tmp_path / "o"
    proc = subprocess.Popen([CR, "run", "--samples", "3000", "--seed", "5", "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_sigkill_leaves_the_previous_complete_run_and_no_temporary_files(tmp_path):
    out = tmp_path / "o"
    first = subprocess.run([CR, "run", "--samples", "300", "--seed", "1", "--out", str(out), "--quiet"],
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    files = sorted(p.name for p in out.iterdir())
    for delay in (0.5, 2.0, 3.5, 5.0):  # while importing, simulating, conditioning, writing
        _kill_during_run(tmp_path, delay)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(list(tmp_path.iterdir())) > 1:
            time.sleep(0.1)  # the watchdog removes the staging directory
        assert [p.name for p in tmp_path.iterdir()] == ["o"], list(tmp_path.iterdir())
        seed = json.loads((out / "manifest.json").read_text())["seed"]
        assert sorted(p.name for p in out.iterdir()) == files
        assert seed in (1, 5)  # the previous run, or a complete new one; never a mix
        summary = json.loads((out / "summary.json").read_text())
        assert summary["seed"] == seed


@pytest.mark.parametrize("entry, words", [
    ("    value: 0.4 to 0.6\n    ci: 1e-300\n", "from 1 to 99.9"),
    ("    value: 0.5\n    ci: 50\n", "would be ignored"),
])
def test_an_entrys_ci_is_used_or_refused_never_ignored(tmp_path, entry, words):
    e = load_text(tmp_path, "extends: baseline\nfinance:\n  compute_share:\n" + entry
                  + "    assumption: a test of the entry's interval level\n")
    assert words in str(e) and e.line in (3, 5)


def test_an_entrys_ci_sets_its_interval():
    from computerace.scenario import distributions as D

    wide = cr.load_scenario("baseline", {"finance.compute_share": "0.4 to 0.6"}).parameters["finance.compute_share"]
    assert isinstance(wide.value, D.LogNormal)
    at50 = D.parse("0.4 to 0.6", ci=50)
    assert at50.sigma == pytest.approx(wide.value.sigma * D.z_of_ci(90) / D.z_of_ci(50))
