"""Loading scenarios: extends, overrides, validation and errors that point at the right line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import computerace
from computerace.errors import ScenarioError, UserError
from computerace.scenario import Series, parse_override_value
from computerace.scenario import distributions as D
from computerace.scenario.loader import preset_dir
from computerace.scenario.schema import param_specs

BASELINE_FILE = preset_dir() / "baseline.yaml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of `path` that contains `needle` (so tests never hard-code lines)."""
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def load_error(path_or_name, overrides=None) -> ScenarioError:
    with pytest.raises(ScenarioError) as e:
        computerace.load_scenario(str(path_or_name), overrides)
    return e.value


@pytest.fixture(scope="module")
def baseline():
    return computerace.load_scenario("baseline")


SMUGGLED_002 = """
    extends: baseline
    smuggling:
      enforcement:
        value: 0.02
        assumption: A lower smuggling share for a sensitivity test.
    """


# ----------------------------------------------------------------------------------- valid files
def test_baseline_loads_every_parameter(baseline):
    assert set(baseline.parameters) == set(param_specs())
    assert baseline.name == "baseline"
    assert len(baseline.months()) == 19 * 12  # 2022-01 .. 2040-12
    for p in baseline.parameters.values():
        assert p.source or p.assumption, p.key


def test_override_file_changes_exactly_that_value(tmp_path, baseline):
    sc = computerace.load_scenario(str(write(tmp_path, "low_smuggling.yaml", SMUGGLED_002)))
    changed = [k for k in baseline.parameters if sc.parameters[k].value != baseline.parameters[k].value]
    assert changed == ["smuggling.enforcement"]
    p = sc.parameters["smuggling.enforcement"]
    assert p.value == D.Point(value=0.02)
    assert p.assumption == "A lower smuggling share for a sensitivity test."
    # The parent's sources and note described the old value; they must not stick to the new one.
    assert p.source == ()
    assert p.note is None
    assert p.spec.unit == "fraction"  # unit inherited: the child did not repeat it


def test_extends_deep_merges_and_keeps_sources(tmp_path, baseline):
    sc = computerace.load_scenario(str(write(tmp_path, "low_smuggling.yaml", SMUGGLED_002)))
    for key in ("channels.conditional_licence_share", "channels.remote_share_of_row",
                "supply.western_area_growth_per_year"):
        child, parent = sc.parameters[key], baseline.parameters[key]
        assert child.value == parent.value
        assert child.source == parent.source and child.source
        assert (child.assumption, child.note) == (parent.assumption, parent.note)
        # Inherited entries still point at the line of the preset that defines them.
        assert Path(child.file) == BASELINE_FILE
        assert child.line == line_of(BASELINE_FILE, key.split(".")[1] + ":")
    assert sc.correlations == baseline.correlations
    assert sc.horizon == baseline.horizon


def test_changed_series_value_replaces_the_whole_series(tmp_path, baseline):
    path = write(tmp_path, "flat_power.yaml", """
        extends: baseline
        power:
          us_growth_per_year:
            value: {by_year: {2030: 1.2}}
            assumption: One knot only, to check that knots are not merged with the parent's.
        """)
    v = computerace.load_scenario(str(path)).parameters["power.us_growth_per_year"].value
    assert isinstance(v, Series)
    assert v.times == (2030.5,)
    assert len(baseline.parameters["power.us_growth_per_year"].value.times) > 1


def test_chained_extends_by_relative_path(tmp_path):
    write(tmp_path, "parent.yaml", SMUGGLED_002)
    child = write(tmp_path, "child.yaml", """
        extends: parent.yaml
        finance:
          compute_share:
            value: 0.5
            assumption: Half of capex goes to accelerators in this test.
        """)
    sc = computerace.load_scenario(str(child))
    assert sc.name == "child"
    assert sc.parameters["smuggling.enforcement"].value == D.Point(value=0.02)
    assert sc.parameters["finance.compute_share"].value == D.Point(value=0.5)


def test_name_defaults_to_file_stem(tmp_path):
    assert computerace.load_scenario(str(write(tmp_path, "my_case.yaml", SMUGGLED_002))).name == "my_case"
    named = write(tmp_path, "other.yaml", "name: explicit\n" + textwrap.dedent(SMUGGLED_002))
    assert computerace.load_scenario(str(named)).name == "explicit"


def test_name_defaults_to_file_stem_without_extends(tmp_path):
    text = "\n".join(ln for ln in BASELINE_FILE.read_text().splitlines() if not ln.startswith("name:"))
    path = write(tmp_path, "standalone.yaml", text)
    assert computerace.load_scenario(str(path)).name == "standalone"


def test_per_entry_ci(tmp_path):
    path = write(tmp_path, "ci.yaml", """
        extends: baseline
        smuggling:
          enforcement:
            value: 0.01 to 0.05
            ci: 80
            assumption: An 80% interval to check that the entry's ci is used.
        """)
    sc = computerace.load_scenario(str(path))
    np.testing.assert_allclose(sc.parameters["smuggling.enforcement"].value.ppf(np.array([0.1, 0.9])),
                               [0.01, 0.05], rtol=1e-9)
    # Other entries keep the default 90% level (baseline: 0.45 to 0.75).
    np.testing.assert_allclose(sc.parameters["finance.compute_share"].value.ppf(np.array([0.05, 0.95])),
                               [0.45, 0.75], rtol=1e-9)


def test_child_ci_does_not_reinterpret_inherited_intervals(tmp_path):
    path = write(tmp_path, "ci.yaml", """
        extends: baseline
        ci: 80
        """)
    sc = computerace.load_scenario(str(path))
    # Baseline writes compute_share as 0.45 to 0.75 under its own 'ci: 90'.
    np.testing.assert_allclose(sc.parameters["finance.compute_share"].value.ppf(np.array([0.05, 0.95])),
                               [0.45, 0.75], rtol=1e-9)


# ------------------------------------------------------------------------------------- file errors
def test_changed_value_without_source_or_assumption(tmp_path):
    path = write(tmp_path, "bare.yaml", """
        extends: baseline
        smuggling:
          enforcement:
            value: 0.02
        """)
    e = load_error(path)
    assert e.key == "smuggling.enforcement"
    assert e.line == line_of(path, "enforcement:")
    assert "source or assumption" in str(e)


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "typo.yaml", """
        extends: baseline
        description: A file with a misspelled section.
        finanse:
          compute_share:
            value: 0.5
            assumption: Half of capex goes to accelerators in this test.
        """)
    e = load_error(path)
    assert isinstance(e, UserError)
    assert (e.file, e.line, e.key) == (str(path), line_of(path, "finanse:"), "finanse")
    assert e.line == 3
    assert "did you mean 'finance'" in str(e)
    assert f"{path}, line 3" in str(e)


def test_unknown_parameter_in_section(tmp_path):
    path = write(tmp_path, "typo.yaml", """
        extends: baseline
        finance:
          price_decline_per_year:
            value: 1.3
            assumption: A slower price decline for this test.
          compute_shar:
            value: 0.5
            assumption: Half of capex goes to accelerators in this test.
        """)
    e = load_error(path)
    assert (e.line, e.key) == (line_of(path, "compute_shar:"), "finance.compute_shar")
    assert "did you mean 'compute_share'" in str(e)


def test_unknown_entry_field(tmp_path):
    path = write(tmp_path, "typo.yaml", """
        extends: baseline
        finance:
          compute_share:
            value: 0.5
            assumption: Half of capex goes to accelerators in this test.
            notes: a misspelled field
        """)
    e = load_error(path)
    assert e.line == line_of(path, "notes:")
    assert "did you mean 'note'" in str(e)


def test_wrong_unit(tmp_path):
    path = write(tmp_path, "unit.yaml", """
        extends: baseline
        finance:
          compute_share:
            value: 50
            unit: percent
            assumption: Half of capex, written in percent by mistake.
        """)
    e = load_error(path)
    assert (e.line, e.key, e.expected, e.found) == (line_of(path, "compute_share:"), "finance.compute_share",
                                                    "fraction", "percent")


def test_unknown_source_id(tmp_path):
    path = write(tmp_path, "src.yaml", """
        extends: baseline
        finance:
          compute_share:
            value: 0.5
            source: epoch-chip-count
        """)
    e = load_error(path)
    assert e.key == "finance.compute_share.source"
    assert e.found == "epoch-chip-count"
    assert "did you mean 'epoch-chip-counts'" in str(e)
    assert e.line == line_of(path, "source: epoch-chip-count")


@pytest.mark.parametrize("value", ["1.7", "-0.1", "0.01 to 0.99", "{uniform: {low: 0.1, high: 1.9}}"])
def test_value_outside_range(tmp_path, value):
    path = write(tmp_path, "range.yaml", f"""
        extends: baseline
        smuggling:
          enforcement:
            value: {value}
            assumption: A value outside the valid range of a share of the smuggling routes.
        """)
    e = load_error(path)
    assert "outside the valid range" in str(e)
    assert e.expected == "values in [0, 1] fraction"
    assert e.line == line_of(path, "enforcement:")


def test_invalid_distribution_in_file(tmp_path):
    path = write(tmp_path, "dist.yaml", """
        extends: baseline
        smuggling:
          enforcement:
            value: 0.05 to 0.01
            assumption: Bounds written the wrong way round.
        """)
    e = load_error(path)
    assert "a < b" in e.expected
    assert e.line == line_of(path, "enforcement:")


def test_malformed_yaml_reports_a_line(tmp_path):
    path = write(tmp_path, "broken.yaml", """
        extends: baseline
        smuggling:
          enforcement:
            value: [0.02
            assumption: An unclosed bracket.
        """)
    e = load_error(path)
    assert "not valid YAML" in str(e)
    # PyYAML notices the unclosed '[' on the line after it: either line is a useful pointer.
    assert e.line in (line_of(path, "[0.02"), line_of(path, "[0.02") + 1)


def test_duplicate_keys(tmp_path):
    path = write(tmp_path, "dup.yaml", """
        extends: baseline
        smuggling:
          enforcement:
            value: 0.02
            assumption: The first of two entries for one key.
          enforcement_from:
            value: 2027
            assumption: A key in between the duplicates.
          enforcement:
            value: 0.03
            assumption: The second of two entries for one key.
        """)
    e = load_error(path)
    assert "duplicate key" in str(e)
    assert e.key == "smuggling.enforcement"
    assert e.line == 9  # the second 'enforcement:', where the duplicate is detected


def test_missing_file(tmp_path):
    e = load_error(tmp_path / "nowhere.yaml")
    assert e.file == str(tmp_path / "nowhere.yaml")
    assert "not found" in str(e)


def test_unknown_preset():
    e = load_error("basline")
    assert "did you mean 'baseline'" in str(e)


def test_unknown_preset_in_extends_points_at_extends(tmp_path):
    path = write(tmp_path, "ext.yaml", """
        description: A scenario extending a misspelled preset.
        extends: basline
        """)
    e = load_error(path)
    assert (e.file, e.line, e.key) == (str(path), 2, "extends")
    assert "did you mean 'baseline'" in str(e)
    assert f"{path}, line 2" in str(e)


def test_extends_cycle(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    e = load_error(tmp_path / "a.yaml")
    assert "cycle" in str(e)
    assert "a.yaml" in e.found and "b.yaml" in e.found


CORR = """
    extends: baseline
    correlations:
      - between: [smuggling.enforcement, channels.conditional_licence_share]
        rho: {r1}
        assumption: First correlation of a test set.
      - between: [smuggling.enforcement, channels.remote_share_of_row]
        rho: {r2}
        assumption: Second correlation of a test set.
      - between: [channels.conditional_licence_share, channels.remote_share_of_row]
        rho: {r3}
        assumption: Third correlation of a test set.
    """


def test_non_positive_definite_correlations(tmp_path):
    path = write(tmp_path, "corr.yaml", CORR.format(r1=0.9, r2=0.9, r3=-0.9))
    e = load_error(path)
    assert "not positive definite" in str(e)
    assert "never adjusts them silently" in str(e)
    assert e.line == line_of(path, "correlations:")


def test_feasible_correlations_load(tmp_path):
    sc = computerace.load_scenario(str(write(tmp_path, "corr.yaml", CORR.format(r1=0.5, r2=0.5, r3=0.2))))
    assert [c.rho for c in sc.correlations] == [0.5, 0.5, 0.2]


def test_correlation_with_unknown_parameter(tmp_path):
    path = write(tmp_path, "corr.yaml", """
        extends: baseline
        correlations:
          - between: [smuggling.enforcment, channels.conditional_licence_share]
            rho: 0.5
            assumption: A correlation naming a misspelled parameter.
        """)
    e = load_error(path)
    assert e.found == "smuggling.enforcment"
    assert "did you mean 'smuggling.enforcement'" in str(e)
    assert e.line == line_of(path, "- between:")


def test_by_year_with_decreasing_years(tmp_path):
    path = write(tmp_path, "years.yaml", """
        extends: baseline
        power:
          us_growth_per_year:
            value:
              by_year:
                2030: 1.5
                2025: 2.0
            assumption: Knots written in the wrong order.
        """)
    e = load_error(path)
    assert "must increase" in str(e)
    assert (e.key, e.line) == ("power.us_growth_per_year", line_of(path, "us_growth_per_year:"))


@pytest.mark.parametrize("month", ["2023-13", "2023-00", "2023-1", "23-01"])
def test_schedule_with_bad_month(tmp_path, month):
    path = write(tmp_path, "sched.yaml", f"""
        extends: baseline
        channels:
          legal_import_allowed:
            value:
              schedule:
                "2022-01": 1
                "{month}": 0
            assumption: A schedule with a month that does not exist.
        """)
    e = load_error(path)
    assert f"bad time '{month}'" in str(e)
    assert e.key == "channels.legal_import_allowed"


def test_by_year_on_a_scalar_key(tmp_path):
    path = write(tmp_path, "scalar.yaml", """
        extends: baseline
        finance:
          compute_share:
            value: {by_year: {2025: 0.5, 2030: 0.6}}
            assumption: A time series given to a key that holds one value.
        """)
    assert "only for time-varying keys" in str(load_error(path))


@pytest.mark.parametrize("horizon, message", [("{start: '2022-01', end: '2030-13'}", "YYYY-MM"),
                                              ("{start: '2030-01', end: '2025-12'}", "ends before it starts"),
                                              ("{start: '2022-01', stop: '2030-12'}", "unknown key")])
def test_bad_horizon(tmp_path, horizon, message):
    path = write(tmp_path, "h.yaml", f"extends: baseline\nhorizon: {horizon}\n")
    e = load_error(path)
    assert message in str(e)
    assert e.line == 2


def test_short_assumption_is_rejected(tmp_path):
    path = write(tmp_path, "short.yaml", """
        extends: baseline
        smuggling:
          enforcement:
            value: 0.02
            assumption: lower
        """)
    assert "at least 10 characters" in str(load_error(path))


def test_log_interpolation_of_nonpositive_values_is_rejected(tmp_path):
    path = write(tmp_path, "logzero.yaml", """
        extends: baseline
        channels:
          legal_import_allowed:
            value: {by_year: {2022: 1, 2025: 0}}
            interpolate: log
            assumption: Log interpolation through zero, which is undefined.
        """)
    load_error(path)


@pytest.mark.parametrize("value", [".nan", "{normal: {mean: 0.1, sd: .nan}}"])
def test_nan_value_is_rejected(tmp_path, value):
    path = write(tmp_path, "nan.yaml", f"""
        extends: baseline
        smuggling:
          enforcement:
            value: {value}
            assumption: Not a number, which no parameter can take.
        """)
    load_error(path)


# --------------------------------------------------------------------------------------- overrides
def test_override_sets_a_point_and_records_an_assumption(baseline):
    sc = computerace.load_scenario("baseline", {"smuggling.enforcement": 0.02})
    p = sc.parameters["smuggling.enforcement"]
    assert p.value == D.Point(value=0.02)
    assert not p.uncertain
    assert p.source == ()
    assert "smuggling.enforcement" in p.assumption and "0.02" in p.assumption
    changed = [k for k in baseline.parameters if sc.parameters[k].value != baseline.parameters[k].value]
    assert changed == ["smuggling.enforcement"]


def test_override_drops_the_note_of_the_replaced_value():
    sc = computerace.load_scenario("baseline", {"smuggling.enforcement": 0.02})
    assert sc.parameters["smuggling.enforcement"].note is None


def test_override_with_misspelled_key():
    e = load_error("baseline", {"smuggling.enforcment": 1})
    assert "did you mean 'smuggling.enforcement'" in str(e)
    assert e.key == "smuggling.enforcment"


@pytest.mark.parametrize("key", ["finanse.compute_share", "channels", "smuggling.enforcement.value.x",
                                 "smuggling.enforcement.colour"])
def test_override_with_unknown_key(key):
    assert "unknown key to set" in str(load_error("baseline", {key: 1}))


def test_override_with_garbage_value():
    e = load_error("baseline", {"smuggling.enforcement": "abc"})
    assert e.key == "smuggling.enforcement"
    assert "not a valid value" in str(e)
    assert e.found == "abc"  # the value as written, never a Python repr
    assert "'a to b'" in e.expected


def test_override_out_of_range():
    assert "outside the valid range" in str(load_error("baseline", {"smuggling.enforcement": 1.9}))


def test_override_horizon_end(baseline):
    sc = computerace.load_scenario("baseline", {"horizon.end": "2030-12"})
    months = sc.months()
    assert len(months) == 9 * 12
    assert str(months[0]) == "2022-01" and str(months[-1]) == "2030-12"
    assert len(baseline.months()) == 19 * 12


def test_override_string_parses_as_distribution():
    sc = computerace.load_scenario("baseline", {"smuggling.enforcement": "0.01 to 0.05"})
    d = sc.parameters["smuggling.enforcement"].value
    assert isinstance(d, D.LogNormal)
    np.testing.assert_allclose(d.ppf(np.array([0.05, 0.95])), [0.01, 0.05], rtol=1e-9)


def test_override_mapping_through_parse_override_value():
    """The CLI reads --set values as YAML, so a distribution mapping can be given on the command line."""
    value = parse_override_value("{uniform: {low: 0.4, high: 0.6}}")
    sc = computerace.load_scenario("baseline", {"finance.compute_share": value})
    assert sc.parameters["finance.compute_share"].value == D.Uniform(low=0.4, high=0.6)
    assert parse_override_value("0.01 to 0.05") == "0.01 to 0.05"
    assert parse_override_value("1.5") == 1.5


# -------------------------------------------------------------------------------------------- hash
def test_hash_is_stable_and_tracks_values(tmp_path, baseline):
    again = computerace.load_scenario("baseline")
    assert again.hash == baseline.hash
    assert computerace.load_scenario(str(BASELINE_FILE)).hash == baseline.hash
    changed = computerace.load_scenario("baseline", {"smuggling.enforcement": 0.02})
    assert changed.hash != baseline.hash
    assert computerace.load_scenario("baseline", {"smuggling.enforcement": 0.02}).hash == changed.hash
    assert computerace.load_scenario("baseline", {"smuggling.enforcement": 0.03}).hash != changed.hash
    path = write(tmp_path, "low_smuggling.yaml", SMUGGLED_002)
    assert computerace.load_scenario(str(path)).hash == computerace.load_scenario(str(path)).hash
    assert computerace.load_scenario(str(path)).hash != baseline.hash


@pytest.mark.parametrize("value", [0.5, "0 to 1", 2])
def test_a_model_switch_takes_0_or_1_only(value):
    with pytest.raises(ScenarioError, match="switch is 0 or 1|outside the valid range"):
        computerace.load_scenario("baseline", {"supply.western_model": value})
    assert computerace.load_scenario("baseline", {"channels.domestic_model": 0}).parameters[
        "channels.domestic_model"].value.median == 0
