"""Typed, validated access to the shipped catalog in computerace/data/ (every number cited)."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

STATUSES = ("primary", "secondary", "estimate", "derived", "assumption")


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str
    publisher: str
    published: str
    quote: str
    status: str


def _read(name: str) -> str:
    return resources.files("computerace").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def sources() -> dict[str, Source]:
    out: dict[str, Source] = {}
    for row in csv.DictReader(_read("sources.csv").splitlines()):
        out[row["id"]] = Source(**row)
    return out


def source_ids() -> set[str]:
    return set(sources())


@lru_cache(maxsize=1)
def catalog_version() -> str:
    """A short hash of the catalog's files, recorded in every run's manifest."""
    h = hashlib.sha256()
    root = resources.files("computerace").joinpath("data")
    for name in sorted(p.name for p in root.iterdir() if p.name.endswith((".csv", ".yaml"))):
        h.update(name.encode())
        h.update(_read(name).encode())
    return h.hexdigest()[:12]
