"""Money: capex by actor, the share that buys compute, price per H100e by channel, budget caps."""

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


def budget_scale(cost_usd: np.ndarray, budget_usd: np.ndarray) -> np.ndarray:
    """Fraction of the offered supply an actor can pay for: min(1, budget / cost). [sample].

    Acquisitions = min(supply, budget / price) when all of an actor's channels are scaled alike.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cost_usd > 0, np.minimum(1.0, budget_usd / cost_usd), 1.0)


def legal_import_price_multiplier(compliant_multiplier: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Price per H100e of China's legal imports relative to list: m while any control restricts sales
    (a < 1: only export-compliant parts such as the A800, H800 or H20 are sold), 1 without controls.

    Source: H20 at ~$12k for 0.15 H100e is ~2.7x list per H100e (whatpsu, FT/SemiAnalysis 2024).
    """
    return np.where(allowed < 1.0, compliant_multiplier, 1.0)
