"""Who gets what: Western output split between the US, the rest of the world and China's channels.

China's owned compute arrives through four channels (DESIGN.md): `domestic` (SMIC-made), `legal_import`
(what the export-control regime of the month allows), `smuggled` (a leak of the output controls
withhold) and `proxy_fab` (TSMC-made dies obtained through intermediaries, banked and drawn down).
Compute rented abroad (`remote`) is reported apart from what China owns.
"""

from __future__ import annotations

import numpy as np

from .growth import month_overlap

CHANNELS = ("domestic", "legal_import", "smuggled", "proxy_fab")


def legal_import(western_h100e: np.ndarray, share: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """L(t) = W(t) * s_legal * a(t): H100e/month. Arrays broadcast; allowed in [0, 1].

    Source: Epoch AI chip counts (China's licensed NVIDIA holdings) for s_legal; the regime schedule a(t).
    """
    return western_h100e * share * allowed


def smuggled(western_h100e: np.ndarray, share: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """S(t) = W(t) * s_smuggle * (1 - a(t)): smuggling fills part of what controls withhold.

    Source: CNAS (2025), median ~140k chips smuggled in 2024.
    """
    return western_h100e * share * (1.0 - allowed)


def controls_boost_step(log_boost_per_year: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Monthly factor of the response of China's domestic supply to controls: b^((1 - a(t)) / 12).

    b (channels.controls_domestic_boost_per_year) is the extra yearly growth China's response to controls
    adds while they withhold chips; with no controls (a = 1) it vanishes. This is the 'backfire' mechanism.
    It multiplies the growth ramp's output, or the AI wafer starts of the supply physics. Arrays [sample];
    log_boost_per_year = ln b. Closed form at constant a: B(m) = b^(m (1 - a) / 12).
    """
    return np.exp(log_boost_per_year * (1.0 - allowed) / 12.0)


def domestic(base_h100e_per_month: np.ndarray, euv: np.ndarray) -> np.ndarray:
    """D(t) = D_base(t) * f_euv(t), where D_base(t) = D0 * prod_{tau < t} g_dom(tau)^(1/12) (H100e/month).

    Source: Bloomberg (2025) 910C output doubling; SemiAnalysis SMIC capacity; Morgan Stanley yields.
    """
    return base_h100e_per_month * euv


def proxy_fab(t_years: np.ndarray, bank: np.ndarray, start_year: np.ndarray,
              drawdown_months: np.ndarray) -> np.ndarray:
    """Die bank delivered at a constant rate B / n over [start, start + n months): dies (or H100e)/month.

    Each month receives B/n times its overlap (in months) with the drawdown window, so the
    total over the horizon is exactly B when the window lies inside it.
    Source: SemiAnalysis (2025), >2.9M TSMC-made Ascend dies; CSIS (2025) >2M. The month loop packages
    delivered dies under the HBM cap (supply.china_month).
    """
    return bank[:, None] / drawdown_months[:, None] * month_overlap(t_years, start_year, drawdown_months)


def allocate_rest(western_h100e: np.ndarray, to_china: np.ndarray, us_share: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """US and RoW offers: (W - China's legal and smuggled flows) split by the US share. H100e/month."""
    rest = np.maximum(western_h100e - to_china, 0.0)
    us = rest * us_share
    return us, rest - us


def remote(row_stock_h100e: np.ndarray, share: np.ndarray) -> np.ndarray:
    """R(t) = s_remote * RoW stock(t): compute rented abroad by Chinese firms (not owned). H100e.

    Source: AI 2027 - around half of the rest of the world's compute is used by China.
    """
    return row_stock_h100e * share
