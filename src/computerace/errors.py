"""User-facing errors: printed by the CLI without a traceback, exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input (file, key, value, flag). The message says how to fix it."""


class ScenarioError(UserError):
    """A scenario problem located at file:line, key path."""

    def __init__(self, problem: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None, expected: str | None = None, found: str | None = None,
                 fix: str | None = None) -> None:
        self.problem, self.file, self.line, self.key = problem, file, line, key
        self.expected, self.found, self.fix = expected, found, fix
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f", line {self.line}"
        head = f"{where}: "
        if self.key:
            head += f"key '{self.key}': "
        lines = [head + self.problem]
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  found:    {self.found}")
        if self.fix:
            lines.append(f"  fix:      {self.fix}")
        return "\n".join(lines)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest option, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""
