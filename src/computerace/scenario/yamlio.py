"""Safe YAML loading that remembers the line of every key, so errors can point at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ScenarioError

Lines = dict[tuple[str, ...], tuple[str, int]]


def load_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """Parse `text` with yaml.SafeLoader; return the data and {key path: (file, line)}.

    Only safe YAML: no Python tags, no arbitrary objects. Duplicate keys are an error
    (PyYAML would silently keep the last one).
    """
    # libyaml's safe loader when present (10x faster), else the pure-Python one: same nodes and marks.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ScenarioError(f"not valid YAML: {getattr(e, 'problem', None) or e}", file=file,
                            line=mark.line + 1 if mark else None,
                            fix="check indentation, colons and quotes around this line") from None
    finally:
        loader.dispose()
    lines: Lines = {}
    if node is None:
        return {}, lines
    constructor = yaml.SafeLoader("")

    def walk(n: yaml.Node, path: tuple[str, ...]) -> Any:
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in n.value:
                key = constructor.construct_object(k, deep=True)
                key = str(key)
                if key in out:
                    raise ScenarioError("duplicate key", file=file, line=k.start_mark.line + 1,
                                        key=".".join(path + (key,)), fix="keep one of the two entries")
                lines[path + (key,)] = (file, k.start_mark.line + 1)
                out[key] = walk(v, path + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            items = []
            for i, v in enumerate(n.value):
                lines[path + (str(i),)] = (file, v.start_mark.line + 1)
                items.append(walk(v, path + (str(i),)))
            return items
        try:
            return constructor.construct_object(n, deep=True)
        except yaml.YAMLError as e:
            raise ScenarioError(f"cannot read value: {e}", file=file, line=n.start_mark.line + 1,
                                key=".".join(path)) from None

    lines[()] = (file, node.start_mark.line + 1)
    return walk(node, ()), lines


def read_yaml_file(path: Path) -> tuple[Any, Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("scenario file not found", file=str(path),
                            fix="check the path, or run 'computerace presets' to list built-in scenarios") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise ScenarioError(f"cannot read scenario file: {e.__class__.__name__}", file=str(path),
                            fix="give a readable UTF-8 YAML file") from None
    return load_yaml(text, str(path))
