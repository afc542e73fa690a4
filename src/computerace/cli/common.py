"""Shared CLI helpers: user errors without tracebacks (exit 2), number formatting, JSON output."""

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
