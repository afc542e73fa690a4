"""Sampled events and how they change supply: a Taiwan disruption and a Chinese EUV breakthrough.

Simple forms at this stage (a later release refines them): a disruption cuts TSMC-based output by a
sampled fraction for a sampled duration; EUV multiplies China's domestic output, ramping linearly.
"""

from __future__ import annotations

import numpy as np

from .growth import month_overlap


def first_event_time(u: np.ndarray, hazard_per_year: np.ndarray, start_year: np.ndarray) -> np.ndarray:
    """Time of the first event of a Poisson process with annual probability h, from `start_year`.

    t = start - ln(1 - u) / r, with rate r = -ln(1 - h) per year, so P(event within 1 year) = h.
    u: [sample] uniform in (0, 1); hazard_per_year: [sample] in [0, 1). Returns fractional years
    (inf when h = 0).
    """
    rate = -np.log1p(-np.minimum(hazard_per_year, 1 - 1e-12))
    with np.errstate(divide="ignore"):
        return start_year - np.log1p(-u) / rate


def disruption_factor(t_years: np.ndarray, event_year: np.ndarray, duration_months: np.ndarray,
                      severity: np.ndarray) -> np.ndarray:
    """Output multiplier f(t) = 1 - severity while event <= t < event + duration, else 1.

    t_years: [month]; event_year, duration_months, severity: [sample]. Returns [sample, month].
    A month partly inside the window is cut in proportion to the overlap.
    """
    return 1.0 - severity[:, None] * month_overlap(t_years, event_year, duration_months)


def euv_factor(t_years: np.ndarray, euv_year: np.ndarray, multiplier: np.ndarray,
               ramp_years: np.ndarray) -> np.ndarray:
    """f(t) = 1 + (M - 1) * clip((t - t_euv) / ramp, 0, 1): [sample, month], dimensionless."""
    frac = np.clip((t_years[None, :] - euv_year[:, None]) / ramp_years[:, None], 0.0, 1.0)
    return 1.0 + (multiplier[:, None] - 1.0) * frac
