"""Number formatting shared by the CLI tables, the report's sentences and the generated docs."""

from __future__ import annotations


def si(x: float) -> str:
    """1234567 -> '1.23M'; 0.0123 -> '0.0123' (three significant digits, suffixes k M B T)."""
    a = abs(x)
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{suf}"
    return f"{x:.3g}"
