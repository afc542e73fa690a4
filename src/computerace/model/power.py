"""Power: GW available to AI data centres by site versus GW the chips in service need.

Power limits purchases: each month an actor buys only what the power left at its sites can run (headroom),
or places chips abroad where power is. Chips installed beyond the power available later (if available power
falls) are stranded: counted as installed, not as operational. "More, worse chips" cost more power per H100e
(a multiplier for China's domestic chips), so the claim that China can simply stack more data centres is testable.
"""

from __future__ import annotations

import numba
import numpy as np

from .growth import trend_start

WATTS_REF_YEAR = 2024.5


def watts_start(w_ref: np.ndarray, decline_per_year: np.ndarray, t0_years: float) -> np.ndarray:
    """w(t) = w_2024 * d^-(t - 2024.5): all-in W per H100e of chips produced at t, at the horizon's start;
    it then falls by d^(1/12) a month. Source: AI 2027 (1.0 kW per H100e in 2024, 550 W in 2027).
    """
    return trend_start(w_ref, decline_per_year, t0_years, WATTS_REF_YEAR)


def in_service_next(in_service_gw: np.ndarray, added_last_month_gw: np.ndarray, retiring_gw: np.ndarray) -> np.ndarray:
    """N(m) = N(m - 1) + a(m - 1) - a(m - L): GW of the cohorts in service before month m's purchases.

    A cohort bought in month c is in service in months c .. c + L - 1 (stock.cohort_stock), so before month m's
    purchases the cohorts c = m - L + 1 .. m - 1 are: last month's joins, the one bought L months ago leaves.
    Arrays [sample]; retiring_gw is 0 where m - L < 0.
    """
    return in_service_gw + added_last_month_gw - retiring_gw


def headroom_gw(available_gw: np.ndarray, in_service_gw: np.ndarray, initial_gw: np.ndarray, month: int,
                life_months: np.ndarray) -> np.ndarray:
    """R = max(0, A - N - I x max(0, 1 - (m + 1) / L)): GW a site can still give new chips in month m.

    A power available; N the cohorts in service (in_service_next); I the GW of the stock installed before the
    horizon, which retires linearly over L months (as in stock.cohort_stock). Arrays [sample]. An actor buys at
    most R / k H100e, k the GW per H100e of the month's chips.
    """
    ageing = np.maximum(0.0, 1.0 - (month + 1) / life_months)
    return np.maximum(available_gw - in_service_gw - initial_gw * ageing, 0.0)


@numba.njit(cache=True, nogil=True)
def drawn_and_running(needed_gw: float, available_gw: float) -> tuple[float, float]:
    """(power drawn = min(needed, available) GW, share of the chips that power runs = drawn / needed, 1 when
    nothing is needed), for one site, sample and month (compiled: model/tally.py calls it in the post-processing of
    the month loop). Operational stock = installed x share. NaN propagates, as in numpy's minimum.
    """
    drawn = needed_gw if (needed_gw <= available_gw or needed_gw != needed_gw) else available_gw
    return drawn, (drawn / needed_gw if needed_gw > 0.0 else 1.0)
