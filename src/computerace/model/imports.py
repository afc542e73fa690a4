"""China's legal imports as volumes of licensed parts: each part its own H100e per chip, price and availability.

A licence for one compliant part is access to that part, not to a share of all frontier output. Each month
the export-control engine (model/controls.py, data/export_controls.yaml) says for every China-bound part
whether it is open (1), licence-conditional (the sampled share of such supply that ships,
channels.conditional_licence_share) or closed (0). The part is offered to Chinese buyers, in chips per month:

    Q_k(t) = min(A_k(t) x access_k(t), cap_k(t)),   H100e_k = Q_k x h_k,   price per H100e = P_k / h_k

A_k: NVIDIA's production of the China-bound part (imports.<part>_chips_per_month, halts included);
cap_k: a quantity cap the rule itself sets (the January 2026 rule: China's H200 volume at most 50% of the US
volume, imports.h200_rule_cap_chips_per_month); h_k: dense-BF16 H100e per chip from data/chips.csv; P_k the
price per chip (imports.<part>_price_usd). Parts exist because controls withhold the frontier: they are offered
only in months when China's access to frontier parts a(t) is below 1. Chinese buyers then choose between these
offers, domestic chips, frontier parts (when open) and smuggled chips (model/choice.py).
Sources: docs/supply_inputs.md ("China's legal imports"); catalog rows a800, h800, h20, h200.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: China-bound parts, by catalog chip id: A800 and H800 (Oct 2022 - Oct 2023), H20 (Nov 2023 - 2025), the
#: H200 under the January 2026 case-by-case rule (standing for "the H200 and its equivalents"), and a B30A-class
#: Blackwell part, not approved, offered only from imports.b30a_allowed_from when a scenario sets that date.
PARTS = ("a800", "h800", "h20", "h200", "b30a")
#: Parts a scenario may allow beyond the enacted rules: {part: parameter with the date from which it is open}.
SCENARIO_ALLOWED = {"b30a": "imports.b30a_allowed_from"}
#: Reference chip for power per H100e (watts of a part relative to the H100's per H100e).
_H100 = "h100-sxm"


@lru_cache(maxsize=1)
def part_specs() -> dict[str, tuple[float, float]]:
    """{part: (dense-BF16 H100e per chip, power per H100e relative to an H100)} from data/chips.csv.

    The power ratio is (TDP / H100e) / (H100 TDP / 1): an H20 (400 W, 0.15 H100e) draws ~3.8x an H100's power
    per H100e, an A800 ~1.8x.
    """
    from .. import catalog

    h100 = catalog.chip(_H100)
    out = {}
    for k in PARTS:
        c = catalog.chip(k)
        h = c.h100e("bf16") or 0.0
        out[k] = (h, (c.tdp_w / h) / (h100.tdp_w / 1.0) if h and c.tdp_w and h100.tdp_w else 1.0)
    return out


def access_at(schedule: tuple[np.ndarray, np.ndarray], month: int, conditional_share: np.ndarray, t_year: float,
              allowed_from: np.ndarray | None = None) -> np.ndarray | float:
    """China's access to a part in one month: open + conditional x c (the shipped share), or 1 from a scenario's
    `allowed_from` date (decimal year) on. schedule: (open [month], conditional [month]) 0/1 from the rules engine.
    Returns [sample] (or a scalar when it is the same for every sample).
    """
    o, c = schedule[0][month], schedule[1][month]
    access = o + c * conditional_share if c > 0 else float(o)
    if allowed_from is not None:
        access = np.where(t_year >= allowed_from, 1.0, access)
    return access


def offered_chips(available_chips: np.ndarray, access: np.ndarray, rule_cap_chips: np.ndarray | float,
                  frontier_access: np.ndarray) -> np.ndarray:
    """Q = min(A x access, cap) while a(t) < 1, else 0: chips per month of one part offered to China.

    available_chips: [sample] >= 0, NVIDIA's China-bound production this month; access: [sample] in [0, 1] (1 open,
    the shipped share if licence-conditional, 0 closed); rule_cap_chips: the rule's quantity cap (inf if none);
    frontier_access: a(t) [sample]. Returns [sample] chips/month.
    """
    return np.where(frontier_access < 1.0, np.minimum(available_chips * access, rule_cap_chips), 0.0)
