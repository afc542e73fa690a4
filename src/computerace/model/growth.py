"""Compounding of per-year growth factors month by month (shared by supply, channels and power)."""

from __future__ import annotations

import numpy as np


def monthly_step(x: np.ndarray, growth_per_year_pow_1_12: np.ndarray) -> np.ndarray:
    """x(t + 1 month) = x(t) * g(t)^(1/12), with g a factor per year (1.0 = flat, > 0).

    Over m months at constant g this gives x0 * g^(m/12). Arrays [sample].
    """
    return x * growth_per_year_pow_1_12


def trend_start(x_ref: np.ndarray, factor_per_year: np.ndarray, t0_years: float, t_ref: float) -> np.ndarray:
    """x(t0) = x_ref * f^{-(t0 - t_ref)}: a quantity that falls by f per year, at the horizon's start."""
    return x_ref * np.exp(-np.log(factor_per_year) * (t0_years - t_ref))


def month_overlap(t_years: np.ndarray, start_year: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Months (0..1) of each month [t, t + 1/12) inside the window [start, start + months/12): [sample, month].

    t_years: [month]; start_year, months: [sample]. Used for windows that open mid-month (events, drawdowns).
    """
    t0 = t_years[None, :]
    a = start_year[:, None]
    b = a + months[:, None] / 12.0
    return np.clip(np.minimum(t0 + 1.0 / 12.0, b) - np.maximum(t0, a), 0.0, None) * 12.0
