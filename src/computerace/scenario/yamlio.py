"""Safe YAML loading that remembers the line of every key, so errors can point at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ScenarioError

Lines = dict[tuple[str, ...], tuple[str, int]]

#: Limits of the scenario language (a scenario file is a few hundred lines; these are generous and stop abuse):
MAX_FILE_BYTES = 2_000_000  # a file larger than this is refused before it is read
MAX_DEPTH = 40  # nesting of mappings and lists
MAX_NODES = 200_000  # values after aliases are expanded ("billion laughs" stops here)
MAX_SCALAR_CHARS = 20_000  # one value (a long assumption is a few hundred characters)


def load_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """Parse `text` with yaml.SafeLoader; return the data and {key path: (file, line)}.

    Only safe YAML: no Python tags, no arbitrary objects. Duplicate keys are an error
    (PyYAML would silently keep the last one).
    """
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(f"file too large ({len(text):,} characters; the limit is {MAX_FILE_BYTES:,})", file=file,
                            fix="a scenario overrides a few keys: start from 'extends: baseline'")
    # libyaml's safe loader when present (10x faster), else the pure-Python one: same nodes and marks.
    cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:  # tags (!!float, !python/...) are refused before anything is constructed
        for tok in yaml.scan(text, Loader=cls):
            if isinstance(tok, yaml.TagToken):
                raise ScenarioError("YAML tags are not accepted", file=file, line=tok.start_mark.line + 1,
                                    found=str(tok.value[0] or "") + str(tok.value[1] or ""),
                                    fix="remove the tag (e.g. write 0.5, not !!float 0.5)")
    except yaml.YAMLError:
        pass  # reported with its line by the parser below
    loader = cls(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = str(getattr(e, "problem", None) or e)
        fix = "check indentation, colons and quotes around this line"
        text_line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        if "\t" in problem or "tab" in problem.lower() or "\t" in text_line[:max(mark.column + 1, 1) if mark else 0]:
            problem, fix = "a tab character where YAML needs spaces", "indent with spaces, not tabs"
        raise ScenarioError(f"not valid YAML: {problem}", file=file, line=mark.line + 1 if mark else None,
                            fix=fix) from None
    except RecursionError:
        raise ScenarioError(f"nesting too deep (the limit is {MAX_DEPTH} levels)", file=file,
                            fix="flatten the structure") from None
    finally:
        loader.dispose()
    lines: Lines = {}
    if node is None:
        return {}, lines
    constructor = yaml.SafeLoader("")
    count = [0]
    active: set[int] = set()  # nodes being expanded (a recursive alias is refused)

    def refuse(why: str, n: yaml.Node, path: tuple[str, ...], fix: str) -> ScenarioError:
        return ScenarioError(why, file=file, line=n.start_mark.line + 1, key=".".join(path) or None, fix=fix)

    def walk(n: yaml.Node, path: tuple[str, ...]) -> Any:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise refuse(f"too many values once aliases are expanded (the limit is {MAX_NODES:,})", n, path,
                         "write the values out instead of repeating aliases")
        if len(path) > MAX_DEPTH:
            raise refuse(f"nesting too deep (the limit is {MAX_DEPTH} levels)", n, path, "flatten the structure")
        if id(n) in active:
            raise refuse("an alias refers to itself", n, path, "remove the recursive alias")
        if isinstance(n, yaml.MappingNode | yaml.SequenceNode):
            active.add(id(n))
            try:
                return walk_collection(n, path)
            finally:
                active.discard(id(n))
        if isinstance(n.value, str) and len(n.value) > MAX_SCALAR_CHARS:
            raise refuse(f"value too long ({len(n.value):,} characters; the limit is {MAX_SCALAR_CHARS:,})", n, path,
                         "shorten it")
        try:
            return constructor.construct_object(n, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            raise refuse(f"cannot read value: {str(e).splitlines()[0][:120]}", n, path,
                         "write a plain number or string") from None

    def walk_collection(n: yaml.Node, path: tuple[str, ...]) -> Any:
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in n.value:
                if not isinstance(k, yaml.ScalarNode):
                    raise refuse("a key must be a plain name", k, path, "write the key as text")
                if k.tag == "tag:yaml.org,2002:merge" or k.value == "<<":
                    raise refuse("YAML merge keys ('<<') are not accepted", k, path,
                                 "write the keys out, or use 'extends:' to inherit from another scenario")
                key = str(walk(k, path))
                if key in out:
                    raise ScenarioError("duplicate key", file=file, line=k.start_mark.line + 1,
                                        key=".".join(path + (key,)), fix="keep one of the two entries")
                lines[path + (key,)] = (file, k.start_mark.line + 1)
                out[key] = walk(v, path + (key,))
            return out
        items = []
        for i, v in enumerate(n.value):
            lines[path + (str(i),)] = (file, v.start_mark.line + 1)
            items.append(walk(v, path + (str(i),)))
        return items

    lines[()] = (file, node.start_mark.line + 1)
    return walk(node, ()), lines


def read_yaml_file(path: Path) -> tuple[Any, Lines]:
    try:
        st = path.stat()
        if path.exists() and not path.is_file():
            raise ScenarioError("not a regular file", file=str(path), fix="give a YAML file")
        if st.st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"file too large ({st.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,})",
                                file=str(path), fix="a scenario overrides a few keys: start from 'extends: baseline'")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("scenario file not found", file=str(path),
                            fix="check the path, or run 'computerace presets' to list built-in scenarios") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(f"cannot read scenario file: {e.__class__.__name__}", file=str(path),
                            fix="give a readable UTF-8 YAML file") from None
    return load_yaml(text, str(path))
