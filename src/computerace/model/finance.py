"""Money: capex by actor, the share that buys compute, and the list price per H100e (model/market.py clears it)."""

from __future__ import annotations

import numpy as np

from .growth import trend_start

PRICE_REF_YEAR = 2024.5


def price_start(price_ref_usd: np.ndarray, decline_per_year: np.ndarray, t0_years: float) -> np.ndarray:
    """p(t) = p_2024 * d^-(t - 2024.5), USD per H100e, at the horizon's start; it then falls by d^(1/12)
    a month. Source: AI 2027 (FLOP/$ ~1.4x/yr); Epoch (hardware 30% cheaper each year).
    """
    return trend_start(price_ref_usd, decline_per_year, t0_years, PRICE_REF_YEAR)


def monthly_budget(capex_usd_per_year: np.ndarray, compute_share: np.ndarray) -> np.ndarray:
    """B(t) = capex(t) * s_compute / 12: USD per month available for accelerators."""
    return capex_usd_per_year * compute_share / 12.0
