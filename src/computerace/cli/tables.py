"""Tables that fit the terminal: the one way every CLI command prints a table.

rich wraps a table that is wider than the console into garbage, and the commands used to force a console of
118-150 columns to avoid it. Here a table is built first and fitted when it is printed:

    from .tables import col, make_table, print_table

    t = make_table("computerace chips (57)", [
        col("id", "id"),                               # an id: never dropped, folds only if it must
        col("vendor", priority=3),                     # text: wraps at word boundaries
        col("BF16 TF", "num", short="BF16"),           # a number: right-aligned, never wrapped or truncated
        col("TDP W", "num", priority=5),               # dropped first when the terminal is narrow
    ], caption="Dense throughput ...")
    t.add_row("h100-sxm", "NVIDIA", "989.4", "700")   # cells: str (rich markup allowed) or None (blank)
    print_table(Console(), t)

Column kinds:
- "text" (default): wraps at word boundaries (never inside a word unless one word is wider than the terminal);
- "num": right-aligned, `no_wrap` and `min_width` = its widest line, so a number is never cut or wrapped
  (a cell may have several lines, e.g. "1.71M\\n[1.27M-2.39M]");
- "id": left-aligned, `overflow="fold"` (an id too long for the screen is folded, not truncated).

Titles, captions and headers are plain text (escaped); cells may carry rich markup, so escape user text in cells
(`rich.markup.escape`) when it may hold square brackets.

`print_table(console, table)` sizes the table to `console.width` (rich's `Console().width` reads COLUMNS, and is
80 when output is not a terminal). When the table's minimum width (numbers whole, text at its longest word) does
not fit, it tries, in order: the columns' short headers, a border-less layout, then hiding columns, lowest
priority first (the largest `priority`; ties: rightmost first; priority 0 is never hidden) and putting back any
hidden column that still fits, and only when that is not enough, folding long ids to 16 characters. Dropped columns are
named under the table ("Hidden to fit 80 columns: ... (widen the terminal or use --json)").

`fit(table, width)` returns the rich Table without printing it, e.g. for tests or to print it elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rich import box as rich_box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

Kind = Literal["text", "num", "id"]


@dataclass(frozen=True)
class Col:
    """One column: its header, kind ("text", "num" or "id"), drop priority (0: never dropped; higher is dropped
    sooner), a shorter header for narrow terminals, and an optional justify override."""

    header: str
    kind: Kind = "text"
    priority: int = 0
    short: str | None = None
    justify: Literal["left", "center", "right"] | None = None


def col(header: str, kind: Kind = "text", *, priority: int = 0, short: str | None = None,
        justify: Literal["left", "center", "right"] | None = None) -> Col:
    """A column spec for `make_table` (see the module docstring)."""
    if kind not in ("text", "num", "id"):
        raise ValueError(f"column kind must be text, num or id, not {kind!r}")
    return Col(header, kind, priority, short, justify)


@dataclass
class FitTable:
    """Rows and column specs of a table, turned into a rich Table that fits a given width by `fit`."""

    columns: list[Col]
    title: str | None = None
    caption: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)

    def add_row(self, *cells: Any, **row_options: Any) -> None:
        """Add a row (cells as in rich: str with markup, or None for blank); `row_options` go to rich's add_row
        (e.g. end_section=True)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append((["" if c is None else str(c) for c in cells], row_options))


def make_table(title: str | None, columns: Sequence[Col | str], *, caption: str | None = None,
               **options: Any) -> FitTable:
    """A table to fill with `add_row` and print with `print_table`; a plain str column is a text column.
    `options` go to rich.table.Table (e.g. show_lines=True, show_header=False)."""
    cols = [c if isinstance(c, Col) else Col(str(c)) for c in columns]
    return FitTable(cols, title, caption, dict(options))


def _line_width(cell: str) -> int:
    text = Text.from_markup(cell) if "[" in cell else Text(cell)
    return max((t.cell_len for t in text.split("\n", allow_blank=True)), default=0)


#: In a narrow terminal an id column may be folded to this many characters rather than hidden.
ID_FOLD_WIDTH = 16


def _build(t: FitTable, keep: list[int], short: bool, compact: bool, note: str | None, fold_ids: bool = False
           ) -> Table:
    caption = t.caption
    if note:
        caption = (caption.rstrip() + ("" if caption.rstrip().endswith((".", ")", ":")) else ".") + " " + note
                   if caption else note)
    opts: dict[str, Any] = {"title": None if t.title is None else escape(t.title),
                            "caption": None if caption is None else escape(caption), **t.options}
    if compact:
        opts.update(show_edge=False, box=rich_box.SIMPLE_HEAD)
    table = Table(**opts)
    for i in keep:
        c = t.columns[i]
        # a header may wrap at its spaces even over a column of numbers that never wraps
        header = Text(c.short if (short and c.short) else c.header, no_wrap=False, overflow="fold")
        if c.kind == "num":
            widest = max((_line_width(r[0][i]) for r in t.rows), default=0)
            table.add_column(header, justify=c.justify or "right", no_wrap=True, min_width=max(1, widest))
        elif c.kind == "id":
            table.add_column(header, justify=c.justify or "left", overflow="fold",
                             max_width=ID_FOLD_WIDTH if fold_ids else None)
        else:  # rich wraps text at word boundaries
            table.add_column(header, justify=c.justify or "left")
    for cells, row_options in t.rows:
        table.add_row(*(cells[i] for i in keep), **row_options)
    return table


def _measure(console: Console, table: Table) -> list[Measurement]:
    """Each column's (minimum, maximum) width with its padding: the minimum keeps every number whole and every
    word unbroken; the maximum is its widest line."""
    wide = console.options.update_width(100_000)
    return [table._measure_column(console, wide, c) for c in table.columns]  # noqa: SLF001 (stable since rich 1)


def _min_width(console: Console, table: Table) -> int:
    """The narrowest the table can be with every number whole and every word of text unbroken."""
    return sum(m.minimum for m in _measure(console, table)) + table._extra_width  # noqa: SLF001


def _sized(console: Console, table: Table, width: int) -> Table:
    """Fix each column's width so the table is at most `width` wide without breaking a word or a number when it
    can be: the widest columns give up room first (a water level), none below its minimum. rich's own squeeze
    ignores minimums (it folds or truncates whatever is widest), hence explicit widths."""
    ms = _measure(console, table)
    avail = width - table._extra_width  # noqa: SLF001
    if sum(m.maximum for m in ms) <= avail or sum(m.minimum for m in ms) > avail:
        return table  # fits as it is, or cannot fit: rich lays it out

    def total(level: int) -> int:
        return sum(max(m.minimum, min(m.maximum, level)) for m in ms)

    lo, hi = 0, max(m.maximum for m in ms)
    while lo < hi:  # the highest level at which the columns fit
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if total(mid) <= avail else (lo, mid - 1)
    widths = [max(m.minimum, min(m.maximum, lo)) for m in ms]
    spare = avail - sum(widths)
    for i, m in enumerate(ms):  # hand out the remainder of the level, left to right
        if spare <= 0:
            break
        add = min(spare, m.maximum - widths[i])
        widths[i] += add
        spare -= add
    for i, (c, w) in enumerate(zip(table.columns, widths, strict=True)):
        c.width = max(1, w - table._get_padding_width(i))  # noqa: SLF001
    return table


def fit(table: FitTable, width: int, console: Console | None = None) -> Table:
    """The rich Table for `table` at most `width` columns wide if it can be (see the module docstring)."""
    con = console or Console(width=width)
    every = list(range(len(table.columns)))
    for short, compact in ((False, False), (True, False), (True, True)):
        built = _build(table, every, short, compact, None)
        if _min_width(con, built) <= width:
            return _sized(con, built, width)
    droppable = sorted((i for i, c in enumerate(table.columns) if c.priority > 0),
                       key=lambda i: (-table.columns[i].priority, -i))
    for fold in (False, True):  # ids folded only when hiding every column that may be hidden is not enough

        def fits(keep: list[int], fold: bool = fold) -> bool:
            return _min_width(con, _build(table, keep, True, True, None, fold)) <= width

        if fits(every):
            return _sized(con, _build(table, every, True, True, None, fold), width)
        keep, dropped = list(every), []
        for i in droppable:
            keep.remove(i)
            dropped.append(i)
            if fits(keep):
                break
        else:
            if not fold:
                continue
        for i in reversed(dropped[:-1]):  # put back, most important first, any dropped column that still fits
            trial = sorted([*keep, i])
            if fits(trial):
                keep = trial
                dropped.remove(i)
        note = None
        if dropped:
            note = (f"Hidden to fit {width} columns: " + ", ".join(table.columns[j].header for j in sorted(dropped))
                    + " (widen the terminal or use --json).")
        return _sized(con, _build(table, keep, True, True, note, fold), width)
    raise AssertionError("unreachable")  # pragma: no cover


def print_table(console: Console, table: FitTable | Table) -> None:
    """Print `table` sized to `console.width`: a FitTable is fitted (`fit`), a plain rich Table is printed as
    rich lays it out (no wider than the console)."""
    if isinstance(table, FitTable):
        console.print(fit(table, console.width, console))
    else:
        console.print(table)
