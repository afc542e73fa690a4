"""Smuggling as a flow: diversion routes with a capacity, cut by enforcement, chosen on price.

Chips withheld by controls reach China through diversion routes (shell companies, transshipment through
South-East Asia, cloud resellers). The flow offered each month, in H100e, is

    Q_s(t) = R(t) / 12 x (1 - e(t)) x (1 - v(t)) x (1 - a(t)) x h_f(t)

R: the routes' capacity in chips per year (smuggling.route_capacity_chips_per_year, anchored on CNAS's 2024
estimate: 10k to several 100k chips, median ~140k; the FT's >= $1B in three months of 2025; DOJ cases);
e: enforcement, the share of that capacity that export enforcement removes beyond what the 2024-2025 estimates
reflect (smuggling.enforcement from smuggling.enforcement_from on; a scenario lever); v: the cut from chip location verification once it applies (smuggling.location_verification_year
and _cut); a(t): China's legal access to frontier parts (nothing is smuggled that can be bought); h_f: H100e
per chip of the US frontier chip of the month (smugglers move current parts: H100s in 2024, B200s in 2025).
Whether China buys that offer is decided by price (model/choice.py): grey-market chips cost the list price
times finance.smuggled_price_multiplier, so smuggling falls when legal or domestic compute is cheaper.
Sources: cnas-smuggling-2025, cnas-smuggling-2023, ft-smuggling-2025, doj-gatekeeper-2025 (docs/supply_inputs.md).
"""

from __future__ import annotations

import numpy as np


def route_offer_h100e(route_chips_per_year: np.ndarray, enforcement: np.ndarray, verified_cut: np.ndarray,
                      frontier_access: np.ndarray, h100e_per_chip: np.ndarray) -> np.ndarray:
    """Q_s = R / 12 x (1 - e) x (1 - v) x (1 - a) x h_f: H100e per month the routes can deliver.

    route_chips_per_year: [sample] >= 0 chips/year; enforcement, verified_cut, frontier_access: [sample] in
    [0, 1] (verified_cut 0 before location verification applies); h100e_per_chip: [sample] > 0.
    """
    return (route_chips_per_year / 12.0 * (1.0 - enforcement) * (1.0 - verified_cut) * (1.0 - frontier_access)
            * h100e_per_chip)
