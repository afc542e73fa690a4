"""Power: GW available to AI data centres by actor versus GW the installed chips need.

Chips installed beyond the power available are stranded: counted as installed, not as operational.
"More, worse chips" cost more power per H100e (a multiplier for China's domestic chips), so the
claim that China can simply stack more data centres is testable.
"""

from __future__ import annotations

import numpy as np

from .growth import trend_start

WATTS_REF_YEAR = 2024.5


def watts_start(w_ref: np.ndarray, decline_per_year: np.ndarray, t0_years: float) -> np.ndarray:
    """w(t) = w_2024 * d^-(t - 2024.5): all-in W per H100e of chips produced at t, at the horizon's start;
    it then falls by d^(1/12) a month. Source: AI 2027 (1.0 kW per H100e in 2024, 550 W in 2027).
    """
    return trend_start(w_ref, decline_per_year, t0_years, WATTS_REF_YEAR)


def operational(installed_h100e: np.ndarray, needed_gw: np.ndarray, available_gw: np.ndarray,
                out_op: np.ndarray | None = None, out_gw: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Operational stock = installed * min(1, available / needed); power drawn = min(needed, available).

    Arrays of one shape (e.g. [actor, sample] for one month); returns (operational H100e, drawn GW),
    written into `out_op`/`out_gw` when given.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(needed_gw > 0, np.minimum(1.0, available_gw / needed_gw), 1.0)
    op = np.multiply(installed_h100e, frac, out=out_op)
    gw = np.minimum(needed_gw, available_gw, out=out_gw)
    return op, gw
