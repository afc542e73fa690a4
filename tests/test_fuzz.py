"""Property-based fuzzing of every input a user writes (issue 20): scenario files, --set overrides, sweep grid files
and `computerace run` arguments. Each input is either accepted or refused with a UserError (exit 2 on the CLI):
never another exception, never a hang, and an accepted run's outputs are finite and strict JSON.

CI runs a bounded number of examples. A larger run (documented in docs/hardening.md):

    COMPUTERACE_FUZZ_EXAMPLES=3000 python -m pytest tests/test_fuzz.py -q
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import computerace as cr
from computerace.errors import UserError
from computerace.scenario.schema import param_specs

N = int(os.environ.get("COMPUTERACE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=N, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
KEYS = sorted(param_specs())

numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e300, 10**400, 2**63, 1e9]))
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
num_text = st.one_of(numbers.map(str), st.sampled_from(["10k", "2.5M", "1e999", "-3", "nan", "inf", "0x10", "1_000"]))
ranges = st.tuples(num_text, num_text).map(lambda ab: f"{ab[0]} to {ab[1]}")
dist_forms = st.one_of(
    st.fixed_dictionaries({"normal": st.fixed_dictionaries({"mean": numbers, "sd": numbers})}),
    st.fixed_dictionaries({"lognormal": st.fixed_dictionaries({"median": numbers, "sigma": numbers})}),
    st.fixed_dictionaries({"beta": st.fixed_dictionaries({"a": numbers, "b": numbers})}),
    st.fixed_dictionaries({"uniform": st.fixed_dictionaries({"low": numbers, "high": numbers})}),
    st.fixed_dictionaries({"quantiles": st.fixed_dictionaries({"p10": numbers, "p50": numbers, "p90": numbers})}),
)
leaf = st.one_of(numbers, words, ranges, st.none(), st.booleans(), dist_forms)
values = st.recursive(leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["mixture", "by_year", "schedule", "weight", "value", "2025", "2030"]), inner,
                    max_size=3),
    st.lists(st.fixed_dictionaries({"weight": numbers, "value": inner}), max_size=3).map(lambda m: {"mixture": m})),
    max_leaves=8)
entry = st.fixed_dictionaries({"value": values}, optional={
    "assumption": st.one_of(words, st.just("a stated reason for this fuzzed value")),
    "source": st.one_of(words, st.just("ai2027-compute")), "ci": numbers, "interpolate": words, "unit": words})
top = st.fixed_dictionaries({}, optional={
    "horizon": st.one_of(st.fixed_dictionaries({}, optional={"start": words, "end": st.one_of(
        words, st.sampled_from(["2030-12", "2263-01", "1600-01", "2023-13", "2040-12"]))}), values),
    "ci": numbers, "mode": st.one_of(words, st.sampled_from(["point", "monte_carlo"])),
    "name": words, "description": words,
    "paths": st.one_of(values, st.fixed_dictionaries({"deviation_share": numbers, "rho_per_year": numbers},
                                                     optional={"assumption": words})),
    "correlations": st.lists(st.fixed_dictionaries({"between": st.lists(st.sampled_from(KEYS), max_size=3),
                                                    "rho": numbers}, optional={"assumption": words}), max_size=3),
})


@st.composite
def scenario_docs(draw: st.DrawFn) -> dict:
    doc = {"extends": draw(st.sampled_from(["baseline", "ai2027", "no-export-controls", "nope", "../x"]))}
    doc.update(draw(top))
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        section, name = key.split(".", 1)
        doc.setdefault(section, {})[name] = draw(entry)
    if draw(st.booleans()):
        doc[draw(words)] = draw(values)  # an unknown top key
    return doc


def _dump(doc: dict) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        return "extends: baseline\n"


def _accepted_or_user_error(fn):
    try:
        return fn()
    except UserError:  # ScenarioError is a UserError: refused with file, line, key and fix
        return None


@FUZZ
@given(doc=scenario_docs(), mutate=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    ["", ":", "-", " ", "\t", "'", '"', "[", "{", "&a", "*a", "!!", "<<: ", "\n", "#", "%", "@"])), max_size=3))
def test_scenario_files_are_accepted_or_refused_cleanly(tmp_path_factory, doc, mutate):
    text = _dump(doc)
    for pos, s in mutate:  # character-level damage on top of the structure
        i = pos % (len(text) + 1)
        text = text[:i] + s + text[i:]
    path = Path(tmp_path_factory.mktemp("fz")) / "s.yaml"
    path.write_text(text)
    sc = _accepted_or_user_error(lambda: cr.load_scenario(str(path)))
    if sc is not None:
        assert sc.months()[0] >= np.datetime64("2020-01") and sc.months()[-1] <= np.datetime64("2060-12")
        _run_checked(sc)


def _run_checked(sc) -> None:
    r = _accepted_or_user_error(lambda: cr.run(sc, samples=12, seed=1))
    if r is None:
        return
    text = json.dumps(r.summary(), default=str)
    from computerace.results import strict_json

    strict = json.loads(strict_json(r.summary()), parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    assert strict["samples"] == 12 and text
    st_ = r.dataset["stock_h100e"].values
    assert np.isfinite(st_).all() and (st_ >= 0).all()


@settings(max_examples=max(N // 3, 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(sets=st.dictionaries(st.one_of(st.sampled_from(KEYS), words), st.one_of(num_text, ranges, words), max_size=3))
def test_set_overrides_are_accepted_or_refused_and_accepted_runs_are_sane(sets):
    sc = _accepted_or_user_error(lambda: cr.load_scenario("baseline", {**sets, "horizon.end": "2027-12"}))
    if sc is not None:
        _run_checked(sc)


@FUZZ
@given(doc=st.fixed_dictionaries({"base": st.one_of(st.sampled_from(["baseline", "nope"]), values)}, optional={
    "name": words, "samples": numbers, "seed": numbers, "chunk": numbers, "description": words,
    "axes": st.one_of(values, st.dictionaries(st.sampled_from(KEYS[:20]), st.one_of(
        st.lists(numbers, max_size=4), st.fixed_dictionaries({"from": numbers, "to": numbers, "steps": numbers}),
        values), max_size=2)),
    "metrics": st.one_of(values, st.lists(st.sampled_from(["china_share", "stock_h100e/China", "bogus"]), max_size=3)),
    "years": st.one_of(values, st.lists(st.integers(1900, 2200), max_size=3)),
    "report": values}))
def test_grid_files_are_accepted_or_refused_cleanly(doc):
    from computerace.sweep.grid import parse_grid

    _accepted_or_user_error(lambda: parse_grid(_dump(doc)))


OPTIONS = ["--samples", "--seed", "--out", "--set", "--chunk", "--as-of", "--evidence", "--point", "--prior",
           "--json", "--quiet", "--no-report", "-n", "-s", "-o", "--bogus"]  # not --full: minutes per example


@settings(max_examples=max(N // 3, 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(args=st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(
    ["0", "-1", "3", "17", "10000000", "1e3", "x", "", "baseline", "nope", "2024-01-01", "1999-13-01",
     "smuggling.enforcement=0.05", "a=b", "=", "/proc/x"]), words), max_size=6))
def test_run_arguments_exit_0_or_2_never_a_traceback(tmp_path, monkeypatch, args):
    from typer.testing import CliRunner

    from computerace.cli.main import app

    # keep runs small: a few samples unless the fuzzer picked a count (the memory budget refuses huge ones)
    argv = ["run", *args]
    if not any(a in ("--samples", "-n") for a in args):
        argv += ["--samples", "7"]
    argv += ["--no-report"]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "100", "COMPUTERACE_MEMORY_GIB": "2"})
    assert result.exit_code in (0, 2), (argv, result.output, repr(result.exception))
    assert "Traceback" not in result.output
