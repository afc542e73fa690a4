"""Plotly figures and the self-contained offline HTML report."""

from __future__ import annotations

from .html import render_report

__all__ = ["render_report"]
