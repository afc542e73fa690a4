"""Western (TSMC-based) accelerator production in H100e per month.

At this stage production is the growth-rate form of AI 2027's compute forecast: output measured in
H100-die-area equivalents grows with packaging (CoWoS) and HBM capacity, and each unit of area
delivers more H100e as chip efficiency improves. The wafer/yield/HBM physics replace this later.
"""

from __future__ import annotations

import numpy as np

from .growth import monthly_step


def western_production_next(p_h100e_per_month: np.ndarray, area_growth_pow_1_12: np.ndarray,
                            efficiency_growth_pow_1_12: np.ndarray) -> np.ndarray:
    """P(t + 1 month) = P(t) * (g_area(t) * g_eff(t))^(1/12).

    p_h100e_per_month: [sample], Western output this month (H100e/month, > 0), starting from
    supply.western_production_2022_h100e_per_month. Growth factors per year, 0.3..6, given here as
    their 1/12 powers. Closed form at constant growth: P(m) = P0 * (g_area * g_eff)^(m/12).
    Source: Dean (2025), AI 2027 Compute Forecast: compute growth = chip efficiency x production.
    """
    return monthly_step(p_h100e_per_month, area_growth_pow_1_12 * efficiency_growth_pow_1_12)
