"""The serving estimator's data tables: kernel efficiencies, fabric kernels and validation measurements.

kernels.csv, fabrics.csv and validation.csv (schemas in README.md beside this file). Each row cites source ids from
data/sources.csv; `cited_source_ids` lists them so the catalog test can see that the sources are used.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from ...errors import UserError, did_you_mean

HERE = Path(__file__).parent
TABLES = ("kernels.csv", "fabrics.csv", "validation.csv")


@cache
def rows(name: str) -> tuple[dict[str, str], ...]:
    """The rows of one table as dicts of strings (empty cells are ''). name: one of TABLES."""
    if name not in TABLES:
        raise UserError(f"serving data: unknown table {name!r}; expected one of {', '.join(TABLES)}. "
                        f"{did_you_mean(name, TABLES)}".strip())
    with open(HERE / name, newline="") as f:
        return tuple(csv.DictReader(f))


def cited_source_ids() -> set[str]:
    """Every source id the three tables cite (the `source` column, ';'-separated)."""
    return {s.strip() for name in TABLES for r in rows(name) for s in r["source"].split(";") if s.strip()}
