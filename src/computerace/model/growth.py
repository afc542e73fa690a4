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
