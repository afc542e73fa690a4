"""Chinese buyers choose: China's monthly budget split between domestic and imported compute.

Options j (domestic Ascend chips, each licensed part, frontier parts when open, smuggled chips) are offered
in quantities Q_j (H100e/month) at prices p_j (USD per H100e). Buyers take quantities in proportion to a logit
weight on price, with a sampled preference for domestic supply:

    w_j = p_j^(-beta) x pref_j,   x_j = min(Q_j, lambda w_j),   sum_j p_j x_j = min(B, sum_j p_j Q_j)

beta (imports.choice_price_exponent) is how strongly buyers favour cheaper compute (beta = 0: price-blind;
large beta: the cheapest option first); pref is imports.domestic_preference for domestic chips and 1 for the
rest (below 1: the CUDA ecosystem pull that kept Chinese firms buying H20s at ~1.4x the domestic price per
H100e in 2024; above 1: the state push for domestic silicon of 2025-2026). What an option's quantity
cannot absorb is spent on the others (water-filling, model/market.fill). This replaces scaling all of
China's channels pro rata: with NVIDIA parts allowed, buyers can choose them instead of Huawei's.
Source: the rule is our assumption (a standard multinomial-logit demand); its inputs are sourced in
docs/supply_inputs.md ("Chinese buyers choose").
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import market


def logit_weight(relative_price: np.ndarray, price_exponent: np.ndarray, preference: np.ndarray | float = 1.0
                 ) -> np.ndarray:
    """w = (p / p_ref)^(-beta) x pref: an option's logit weight at price p relative to a reference price.

    Any common reference cancels in the split (the frontier list price is used). Arrays [sample]; p > 0.
    """
    return np.exp(-price_exponent * np.log(relative_price)) * preference


def split_budget(budget_usd: np.ndarray, offer_h100e: Mapping[str, np.ndarray], price_usd: Mapping[str, np.ndarray],
                 weight: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{option: H100e bought this month}: x_j = min(Q_j, lambda w_j) with sum_j p_j x_j = min(B, sum_j p_j Q_j).

    budget_usd >= 0; offer_h100e {j: Q_j >= 0}; price_usd {j: p_j > 0}; weight {j: w_j >= 0} (logit_weight).
    Arrays [sample]. Options offered in no sample take no part. One compiled pass when numba is installed
    (split_budget_reference is the same rule in numpy; the tests compare them).
    """
    if market.split_kernel is None:
        return split_budget_reference(budget_usd, offer_h100e, price_usd, weight)
    zero = np.zeros_like(budget_usd)
    out = dict.fromkeys(offer_h100e, zero)
    names = [k for k in offer_h100e if np.any(offer_h100e[k] > 0)]  # options on offer in some sample
    if not names:
        return out
    shape = budget_usd.shape
    q = np.stack([np.broadcast_to(offer_h100e[k], shape) for k in names])
    p = np.stack([np.broadcast_to(price_usd[k], shape) for k in names])
    w = np.stack([np.broadcast_to(weight[k], shape) for k in names])
    x = np.empty_like(q)
    market.split_kernel(np.ascontiguousarray(budget_usd, dtype=np.float64), q, p, w, x)
    out.update({k: x[i] for i, k in enumerate(names)})
    return out


def split_budget_reference(budget_usd: np.ndarray, offer_h100e: Mapping[str, np.ndarray],
                           price_usd: Mapping[str, np.ndarray], weight: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`split_budget` in numpy, vectorised over samples."""
    out = {k: np.zeros_like(budget_usd) for k in offer_h100e}
    names = [k for k in offer_h100e if np.any(offer_h100e[k] > 0)]
    if not names:
        return out
    p = np.stack([np.broadcast_to(price_usd[k], budget_usd.shape) for k in names])
    q = np.stack([np.maximum(offer_h100e[k], 0.0) for k in names])
    w = np.stack([np.broadcast_to(weight[k], budget_usd.shape) for k in names])
    # quantities x_j = min(Q_j, lambda w_j) <=> spending s_j = p_j x_j = min(p_j Q_j, lambda p_j w_j)
    cost = q * p
    x = q.copy()  # a budget that covers every offer buys them all
    short = np.flatnonzero(cost.sum(axis=0) > budget_usd)  # only these samples need the split
    if short.size:
        x[:, short] = market.fill(np.maximum(budget_usd[short], 0.0), cost[:, short],
                                            (w * p)[:, short]) / p[:, short]
    out.update({k: x[i] for i, k in enumerate(names)})
    return out
