"""Find, read, merge (extends) and override scenario files, then validate them into a Scenario."""

from __future__ import annotations

import copy
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ScenarioError, did_you_mean
from .schema import ENTRY_KEYS, Scenario, build, param_specs
from .yamlio import Lines, read_yaml_file


def preset_dir() -> Path:
    return Path(str(resources.files("computerace").joinpath("data", "scenarios")))


def presets() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def vintages() -> dict[str, Path]:
    """{YYYY-MM-DD: path} of the baseline's vintage files (data/scenarios/vintages/baseline-<date>.yaml): the
    baseline as it could have been written on that date, every parameter from sources published by then."""
    out = {}
    for p in sorted((preset_dir() / "vintages").glob("baseline-*.yaml")):
        date = p.stem[len("baseline-"):]
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            out[date] = p
    return out


def vintage_for(as_of: str) -> Path | None:
    """The latest baseline vintage written on or before `as_of` (YYYY-MM-DD), or None."""
    dates = [d for d in vintages() if d <= as_of]
    return vintages()[max(dates)] if dates else None


def _locate(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    try:
        return _locate_unchecked(name_or_path, relative_to)
    except OSError as e:  # a name too long for the file system, a path through a file, ...
        raise ScenarioError(f"cannot use '{str(name_or_path)[:80]}' as a scenario: {e.strerror or e}",
                            fix="give a preset name (computerace presets) or the path of a YAML file") from None


def _locate_unchecked(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    s = str(name_or_path)
    p = Path(s)
    if relative_to is not None and not p.is_absolute():
        rel = relative_to.parent / p
        if rel.exists():
            return rel
    if p.exists() or s.endswith((".yaml", ".yml")) or "/" in s:
        return p  # a path (read_yaml_file reports a missing one)
    if (preset_dir() / f"{s}.yaml").exists():
        return preset_dir() / f"{s}.yaml"
    hint = did_you_mean(s, presets())
    raise ScenarioError(f"'{s}' is neither a preset nor a scenario file",
                        fix=(hint + " " if hint else "") + "run 'computerace presets' to list presets, "
                        "or give a path ending in .yaml")


def _has_interval(value: Any) -> bool:
    """Whether a raw value holds an 'a to b' interval anywhere (a point, a named distribution has none)."""
    if isinstance(value, str):
        return " to " in value
    if isinstance(value, dict):
        return any(_has_interval(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_interval(v) for v in value)
    return False


def _merge(parent: dict[str, Any], child: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Deep merge. A parameter whose value the child changes drops the parent's source/assumption/note."""
    out = copy.deepcopy(parent)
    for k, v in child.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            if depth == 0 and k == "paths" and {"deviation_share", "rho_per_year"} & set(v):
                out[k] = {kk: vv for kk, vv in out[k].items() if kk not in ("source", "assumption")}
                out[k].update(copy.deepcopy(v))  # new path settings need their own reasoning
            elif depth == 1 and "value" in v:  # section.parameter level
                base = {kk: vv for kk, vv in out[k].items() if kk not in ("source", "assumption", "note", "value")}
                base.update(copy.deepcopy(v))
                out[k] = base
            else:
                out[k] = _merge(out[k], v, depth + 1)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_tree(name_or_path: str | Path, chain: tuple[Path, ...] = (), relative_to: Path | None = None
               ) -> tuple[dict[str, Any], Lines, Path]:
    path = _locate(name_or_path, relative_to)
    rp = path.resolve()
    if rp in chain:
        raise ScenarioError("'extends' forms a cycle", file=str(path),
                            found=" -> ".join(str(c) for c in chain + (rp,)), fix="remove one 'extends'")
    data, lines = read_yaml_file(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a YAML mapping of keys", file=str(path), line=1,
                            fix="start from 'extends: baseline' and override keys")
    # A changed value must bring its own source or assumption.
    for sec, body in data.items():
        if isinstance(body, dict) and sec not in ("horizon",):
            for name, item in body.items():
                unknown = [k for k in item if k not in ENTRY_KEYS] if isinstance(item, dict) else []
                if unknown:
                    f, ln = lines.get((sec, name, unknown[0]), lines.get((sec, name), (str(path), None)))
                    hint = did_you_mean(unknown[0], ENTRY_KEYS)
                    raise ScenarioError("unknown key", file=f, line=ln, key=f"{sec}.{name}.{unknown[0]}",
                                        expected="one of " + ", ".join(ENTRY_KEYS),
                                        fix=(hint + " " if hint else "") + "remove or rename the key")
                if isinstance(item, dict) and "value" in item and not ({"source", "assumption"} & set(item)):
                    f, ln = lines.get((sec, name), (str(path), None))
                    raise ScenarioError("a changed value needs its own source or assumption", file=f, line=ln,
                                        key=f"{sec}.{name}", fix="add 'source: <id>' or 'assumption: <why>'")
    # An entry's own `ci:` applies to its "a to b" intervals: on a value without one, a level other than the file's
    # would be ignored silently (a resolved scenario, as the dashboard downloads it, restates the file's level).
    for sec, body in data.items():
        if isinstance(body, dict) and sec != "horizon":
            for name, item in body.items():
                if (isinstance(item, dict) and "ci" in item and "value" in item and not _has_interval(item["value"])
                        and item["ci"] != data.get("ci", 90)):  # the file's own level restated is harmless
                    f, ln = lines.get((sec, name, "ci"), lines.get((sec, name), (str(path), None)))
                    raise ScenarioError("'ci' sets the level of 'a to b' intervals, and this value has none: it "
                                        "would be ignored", file=f, line=ln, key=f"{sec}.{name}.ci",
                                        fix="remove 'ci', or write the value as an interval ('5 to 10')")
    # A file's `ci:` sets the level of that file's own "a to b" intervals, not its parent's.
    file_ci = data.get("ci")
    if file_ci is not None:
        for sec, body in data.items():
            if isinstance(body, dict) and sec != "horizon":
                for item in body.values():
                    if isinstance(item, dict) and "value" in item and "ci" not in item:
                        item["ci"] = file_ci
    ext = data.pop("extends", None)
    if "name" not in data:
        data["name"] = path.stem
    if ext is None:
        return data, lines, path
    if not isinstance(ext, str):
        f, ln = lines.get(("extends",), (str(path), None))
        raise ScenarioError("extends names one preset or file", file=f, line=ln, key="extends",
                            found=repr(ext), fix="extends: baseline")
    try:
        pdata, plines, _ = _read_tree(ext, chain + (rp,), relative_to=path)
    except ScenarioError as e:
        if e.file is None:
            f, ln = lines.get(("extends",), (str(path), None))
            e.file, e.line, e.key = f, ln, "extends"
            e.args = (e.render(),)
        raise
    merged = _merge(pdata, data)
    merged_lines = dict(plines)
    merged_lines.update(lines)
    return merged, merged_lines, path


def parse_override_value(text: str) -> Any:
    """A --set value as YAML ('1.5' -> 1.5, '1 to 2' -> '1 to 2', '{uniform: {low: 1, high: 2}}')."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict[str, Any], lines: Lines, overrides: dict[str, Any]) -> None:
    specs = param_specs()
    for key, value in overrides.items():
        where = f"--set {key}"
        parts = key.split(".")
        if key in ("name", "description", "mode"):
            raw[key] = value
            continue
        if parts[0] == "horizon" and len(parts) == 2 and parts[1] in ("start", "end"):
            raw.setdefault("horizon", {})[parts[1]] = str(value)
            lines[tuple(parts)] = (where, None)  # type: ignore[assignment]
            continue
        pkey = ".".join(parts[:2])
        field = parts[2] if len(parts) == 3 else "value"
        if pkey not in specs or len(parts) > 3 or field not in ENTRY_KEYS:
            hint = did_you_mean(pkey, specs)
            raise ScenarioError("unknown key to set", file=where, key=key,
                                expected="section.parameter (e.g. smuggling.enforcement) or horizon.end",
                                fix=(hint + " " if hint else "") + "run 'computerace run --help' or see docs/parameters.md")
        entry = raw.setdefault(parts[0], {}).setdefault(parts[1], {"unit": specs[pkey].unit})
        entry[field] = value
        if field == "value":
            entry.pop("source", None)
            entry.pop("note", None)
            from .distributions import describe

            entry["assumption"] = f"set on the command line: {key}={describe(value)}"
        lines[tuple(parts[:2])] = (where, None)  # type: ignore[assignment]


def load_scenario(name_or_path: str | Path, overrides: dict[str, Any] | None = None,
                  as_of: str | None = None) -> Scenario:
    """Load a preset or YAML file, resolve `extends`, apply overrides and validate.

    `as_of` (YYYY-MM-DD): refuse, naming each offending key, any parameter citing a source published
    after that date (as-of discipline; `computerace backtest` widens such parameters instead).
    """
    from ..catalog import published_after, source_ids

    raw, lines, path = _read_tree(name_or_path)
    if overrides:
        apply_overrides(raw, lines, dict(overrides))
    origin = str(name_or_path)
    sc = build(raw, lines, origin, source_ids())
    if as_of is not None:
        bad = []
        for key, p in sc.parameters.items():
            late = published_after(p.source, as_of)
            if late:
                bad.append(f"{key} ({', '.join(late)}) at {p.file}:{p.line}")
        if bad:
            raise ScenarioError(f"{len(bad)} parameters cite sources published after {as_of}", file=str(origin),
                                key=bad[0].split(" ")[0], found="; ".join(bad[:8]) + (" ..." if len(bad) > 8 else ""),
                                fix="replace those values with ones sourced before the date, or use "
                                    "`computerace backtest --as-of`, which widens them instead")
        # the export-control rules in force at the date then hold (no later rule is known): draws reads this
        sc = sc.model_copy(update={"resolved": {**sc.resolved, "as_of": str(as_of)}})
    return sc
