"""China's channels, the controls' boost to domestic supply, the proxy-fab die bank, and rented compute.

China's owned compute arrives through four channels: `domestic` (SMIC-made), `legal_import` (licensed parts and
frontier parts the rules of the month allow: model/imports.py, model/market.py), `smuggled` (diversion routes:
model/smuggling.py) and `proxy_fab` (TSMC-made dies obtained through intermediaries, banked and drawn down).
Compute rented abroad (`remote`) is reported apart from what China owns. How the budget is split between them is
model/choice.py.
"""

from __future__ import annotations

import numpy as np

from .growth import month_overlap

CHANNELS = ("domestic", "legal_import", "smuggled", "proxy_fab")

def controls_boost_step(log_boost_per_year: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Monthly factor of the response of China's domestic supply to controls: b^((1 - a(t)) / 12).

    b (channels.controls_domestic_boost_per_year) is the extra yearly growth China's response to controls
    adds while they withhold chips; with no controls (a = 1) it vanishes. This is the 'backfire' mechanism.
    It multiplies the growth ramp's output, or the AI wafer starts of the supply physics. Arrays [sample];
    log_boost_per_year = ln b. Closed form at constant a: B(m) = b^(m (1 - a) / 12).
    """
    return np.exp(log_boost_per_year * (1.0 - allowed) / 12.0)

def proxy_fab(t_years: np.ndarray, bank: np.ndarray, start_year: np.ndarray,
              drawdown_months: np.ndarray) -> np.ndarray:
    """Die bank delivered at a constant rate B / n over [start, start + n months): dies (or H100e)/month.

    Each month receives B/n times its overlap (in months) with the drawdown window, so the
    total over the horizon is exactly B when the window lies inside it.
    Source: SemiAnalysis (2025), >2.9M TSMC-made Ascend dies; CSIS (2025) >2M. The month loop packages
    delivered dies under the HBM cap (supply.china_month).
    """
    return bank[:, None] / drawdown_months[:, None] * month_overlap(t_years, start_year, drawdown_months)

def remote(row_stock_h100e: np.ndarray, share: np.ndarray) -> np.ndarray:
    """R(t) = s_remote * RoW stock(t): compute rented abroad by Chinese firms (not owned). H100e.

    Source: AI 2027 - around half of the rest of the world's compute is used by China.
    """
    return row_stock_h100e * share
