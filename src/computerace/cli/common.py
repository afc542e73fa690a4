"""Shared CLI helpers: user errors without tracebacks (exit 2), number formatting, JSON output, help metavars."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from ..formatting import si as fmt  # noqa: F401 (used by the commands)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Print a UserError's message on stderr and exit with code 2; let bugs raise (exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..errors import UserError

        try:
            return fn(*args, **kwargs)
        except UserError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- help metavars

#: What follows an option in --help, by option (typer's default is the Python type: `--as-of <str>`).
METAVARS = {
    "--as-of": "DATE", "--date": "DATE", "--out": "DIR", "--scenario": "NAME|FILE", "--samples": "N",
    "--seed": "N", "--set": "KEY=VALUE", "--chunk": "N", "--evidence": "FILE.csv", "--metric": "METRIC",
    "--year": "YEAR", "--id": "ID", "--key": "KEY", "--top": "N", "--workers": "N", "--scheduler": "tcp://HOST:PORT",
    "--connect-timeout": "SECONDS", "--claim": "ID", "--system": "ID", "--model": "ID",
    "--precision": "bf16|fp8|int8|fp4", "--kv-precision": "bf16|fp8", "--phase": "decode|prefill", "--tokens": "N",
    "--tpot-ms": "MS", "--batch": "N", "--mtp-tokens-per-step": "N", "--ep": "N", "--tp": "N", "--figure": "FILE.html",
    "--host": "HOST", "--port": "PORT",
}


def _metavar(param: Any) -> str:
    """A flag shows none; an option its METAVARS entry, else one from its type (N, NUMBER, PATH) or its name."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    for opt in param.opts:
        if opt in METAVARS:
            return METAVARS[opt]
    kind = getattr(getattr(param, "type", None), "name", "") or ""  # click's type names (typer may vendor its own)
    if kind.startswith("integer"):
        return "N"
    if kind.startswith("float"):
        return "NUMBER"
    if kind in ("path", "file"):
        return "PATH"
    return (param.name or "value").upper()


class _MetavarMixin:
    """Fill each option's metavar for --help (flags: none; others: METAVARS) unless the command set its own."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for p in params:
            if getattr(p, "param_type_name", "") == "option" and (p.metavar is None or getattr(p, "is_flag", False)):
                p.metavar = _metavar(p)
        return params


def use_help_metavars(app: typer.Typer) -> None:
    """Make every command and group of `app` (and its sub-apps) show meaningful metavars in --help:
    `--as-of DATE`, `--out DIR`, `--scenario NAME|FILE`, and nothing after a flag (`--json`, not `--json <bool>`)."""
    from typer.core import TyperCommand, TyperGroup

    class Command(_MetavarMixin, TyperCommand):
        pass

    class Group(_MetavarMixin, TyperGroup):
        pass

    def default(cls: Any, base: type) -> bool:  # unset (None or typer's DefaultPlaceholder) or typer's own class
        return cls is base or not isinstance(cls, type)

    def walk(a: typer.Typer) -> None:
        if default(a.info.cls, TyperGroup):
            a.info.cls = Group
        for c in a.registered_commands:
            if default(c.cls, TyperCommand):
                c.cls = Command
        for g in a.registered_groups:
            if default(g.cls, TyperGroup):
                g.cls = Group
            if g.typer_instance is not None:
                walk(g.typer_instance)

    walk(app)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=1, default=str) + "\n")


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """--set key=value pairs -> {key: parsed value}; a malformed pair is a user error."""
    from ..errors import UserError
    from ..scenario import parse_override_value

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--set expects key=value (e.g. smuggling.enforcement=0.02), got '{item}'")
        k, v = item.split("=", 1)
        out[k.strip()] = parse_override_value(v.strip())
    return out
