"""The market for Western output: each month's accelerators cleared between the buyers who can pay.

Clearing rule (docs/metrics.md, "Supply meets demand"): supply W (H100e/month) is offered at the list price p
to buyers i who bring money b_i (USD/month: the US's and RoW's accelerator budgets; what China's buyers chose to
spend on frontier parts) and demand D_i = min(b_i / p, what power lets them install). Buyer i receives

    x_i = min(D_i, lambda * b_i),   with lambda the largest value such that sum_i x_i <= W,

the constrained-proportional ("water-filling") rule with money as the weight. When supply covers every demand,
each buyer gets D_i at p and Unsold = W - sum_i D_i. When it is short, the price rises until demand meets supply:
p* = max(p, 1 / lambda), so a buyer not held back by power gets b_i / p* (money talks: ten times the budget buys
ten times the share), a buyer held back by power gets D_i, and what one buyer cannot afford or power is taken
by the others. Every buyer pays p* (clearing_price). A buyer that brings no money is served only from what the
others leave (it demands nothing, so it gets nothing).
Assumption (stated in docs/metrics.md): output nobody buys is not stocked and does not move the price or
next month's output. Accelerator capacity (CoWoS, HBM) is committed one to two years ahead and the price
path is the FLOP-per-dollar trend (finance.price_*), so a glut shows as `unsold_h100e`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def fill(total: np.ndarray, caps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """x_k = min(cap_k, lambda w_k) with sum_k x_k = min(total, sum_k cap_k): water-filling by weight.

    total: [sample] >= 0; caps, weights: [k, sample] >= 0 (a zero weight gets nothing). Returns [k, sample].
    Exact: rounds that give every unsaturated option its weighted share of what is left and saturate those whose
    cap is below it, at most k rounds. This is the numpy rule; the month loop runs the same rule compiled
    (`_fill_sample` inside clear_priced and choice.split_budget), and the tests compare them.
    """
    caps = np.where(weights > 0, caps, 0.0)
    x = np.zeros_like(caps)
    left = np.minimum(total, caps.sum(axis=0))
    active = caps > 0
    for _ in range(caps.shape[0]):
        w = np.where(active, weights, 0.0)
        wsum = w.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(wsum > 0, left / wsum, 0.0)
        room = caps - x
        share = w * lam
        full = active & (room <= share)
        give = np.where(full, room, 0.0)
        x += give
        left = left - give.sum(axis=0)
        active &= ~full
        if not full.any():
            break
    # no unsaturated option's cap binds any more: split what is left by weight
    w = np.where(active, weights, 0.0)
    wsum = w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x += np.where(wsum > 0, w * (np.maximum(left, 0.0) / wsum), 0.0)
    return np.minimum(x, caps)


# ---------------------------------------------------------------- compiled kernels (numba), one sample at a time
def _fill_sample(total, caps, w, out, active):  # pragma: no cover - compiled; `fill` is the tested rule
    """Water-fill one sample: out_j = min(caps_j, lam w_j), sum = min(total, sum of caps with w_j > 0)."""
    k = caps.shape[0]
    cap_sum = 0.0
    for j in range(k):
        out[j] = 0.0
        active[j] = w[j] > 0.0 and caps[j] > 0.0
        if active[j]:
            cap_sum += caps[j]
    left = min(total, cap_sum)
    for _ in range(k):
        wsum = 0.0
        for j in range(k):
            if active[j]:
                wsum += w[j]
        if wsum <= 0.0 or left <= 0.0:
            break
        lam = left / wsum
        saturated = False
        for j in range(k):
            if active[j] and caps[j] - out[j] <= w[j] * lam:
                room = caps[j] - out[j]
                out[j] += room
                left -= room
                active[j] = False
                saturated = True
        if not saturated:
            for j in range(k):
                if active[j]:
                    out[j] += w[j] * lam
            break
    for j in range(k):
        if out[j] > caps[j]:
            out[j] = caps[j]


def _clear_priced_all(supply, demand, bid, list_price, out, unsold, price):  # pragma: no cover - compiled
    """clear + clearing_price for every sample in one pass (the rules of `two_buyers`, `clear`, `clearing_price`)."""
    k, n = demand.shape
    c, w, o, active = np.empty(k), np.empty(k), np.empty(k), np.empty(k, np.bool_)
    for s in range(n):
        sup = max(supply[s], 0.0)
        two = k >= 2
        for j in range(2, k):
            if demand[j, s] > 0.0:
                two = False
        if two:
            for j in range(k):
                out[j, s] = 0.0
            da, db = max(demand[0, s], 0.0), max(demand[1, s], 0.0)
            wsum = bid[0, s] + bid[1, s]
            sa = bid[0, s] / wsum if wsum > 0.0 else 0.5
            xa = min(da, max(sup * sa, sup - db))
            out[0, s], out[1, s] = xa, min(db, sup - xa)
        else:
            zero_weight = False
            for j in range(k):
                c[j], w[j] = max(demand[j, s], 0.0), bid[j, s]
                zero_weight |= w[j] <= 0.0
            _fill_sample(sup, c, w, o, active)
            left = sup
            for j in range(k):
                out[j, s] = o[j]
                left -= o[j]
            if zero_weight and left > 0.0:
                for j in range(k):
                    c[j] = max(demand[j, s], 0.0) - out[j, s]
                    w[j] = 1.0 if bid[j, s] <= 0.0 else 0.0
                _fill_sample(left, c, w, o, active)
                for j in range(k):
                    out[j, s] += o[j]
        total, p = 0.0, list_price[s]
        for j in range(k):
            x = out[j, s]
            total += x
            if x > 0.0 and x < demand[j, s] * (1.0 - 1e-12) and bid[j, s] / x > p:
                p = bid[j, s] / x
        unsold[s] = max(sup - total, 0.0)
        price[s] = p


def _split_all(budget, q, p, w, out):  # pragma: no cover - compiled; choice.split_budget_reference is the rule
    """China's split (model/choice.py) for every sample: x = q where the budget covers every offer, else the
    water-filling of the budget over spending p q with weights p w, back in quantities."""
    k, n = q.shape
    c, ww, o, active = np.empty(k), np.empty(k), np.empty(k), np.empty(k, np.bool_)
    for s in range(n):
        total = 0.0
        for j in range(k):
            c[j] = max(q[j, s], 0.0) * p[j, s]
            total += c[j]
        if total <= budget[s]:
            for j in range(k):
                out[j, s] = max(q[j, s], 0.0)
            continue
        for j in range(k):
            ww[j] = w[j, s] * p[j, s]
        _fill_sample(max(budget[s], 0.0), c, ww, o, active)
        for j in range(k):
            out[j, s] = o[j] / p[j, s]


try:
    import numba

    _jit = numba.njit(cache=True, nogil=True)
    _fill_sample = _jit(_fill_sample)
    _clear_priced_kernel, split_kernel = _jit(_clear_priced_all), _jit(_split_all)
except ImportError:  # pragma: no cover - numba is a dependency; the numpy rules stay correct without it
    _clear_priced_kernel = split_kernel = None


def two_buyers(supply: np.ndarray, d_a: np.ndarray, d_b: np.ndarray, w_a: np.ndarray, w_b: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The rationing rule for two buyers in closed form: x_a = min(D_a, max(W s_a, W - D_b)), x_b = min(D_b, W - x_a).

    s_a = w_a / (w_a + w_b) (1/2 when both weights are zero). A buyer that wants less than its share leaves the
    rest to the other; a zero-weight buyer gets what the other leaves. Arrays [sample] >= 0.
    """
    wsum = w_a + w_b
    s_a = np.divide(w_a, wsum, out=np.full_like(supply, 0.5), where=wsum > 0)
    x_a = np.minimum(d_a, np.maximum(supply * s_a, supply - d_b))
    return x_a, np.minimum(d_b, supply - x_a)


def clearing_price(list_price: np.ndarray, bought: Mapping[str, np.ndarray], demand_h100e: Mapping[str, np.ndarray],
                   bid_usd: Mapping[str, np.ndarray]) -> np.ndarray:
    """p* = max(p, b_i / x_i over buyers rationed below their demand) = max(p, 1 / lambda): USD per H100e. [sample].

    A rationed buyer gets x_i = lambda b_i, so b_i / x_i is the price that clears the month; with no buyer
    rationed, the list price.
    """
    p = np.asarray(list_price, dtype=float).copy()
    for k, x in bought.items():
        rationed = (x < demand_h100e[k] * (1.0 - 1e-12)) & (x > 0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = np.where(rationed, np.maximum(p, bid_usd[k] / np.where(rationed, x, 1.0)), p)
    return p


def clear(supply_h100e: np.ndarray, demand_h100e: Mapping[str, np.ndarray],
          weight: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Clear one month of Western output: ({buyer: H100e bought}, unsold H100e), arrays [sample].

    supply_h100e: W after Taiwan events and after China's licensed parts and smuggled chips (which came out of
    the same output); demand_h100e: {buyer: D_i}; weight: {buyer: the money b_i each brings (USD), the weight
    of the water-filling}. See the module docstring. The numpy rule; the month loop calls clear_priced.
    """
    names = list(demand_h100e)
    supply = np.maximum(supply_h100e, 0.0)
    d = {k: np.maximum(demand_h100e[k], 0.0) for k in names}
    w = {k: np.broadcast_to(weight[k], supply.shape) for k in names}
    x = {k: np.zeros_like(supply) for k in names}
    # Samples where only the first two buyers want anything use the two-buyer closed form; the others the
    # general kernel. The choice is made per sample, so a sample's result never depends on the others in its chunk.
    a, b = names[0], names[min(1, len(names) - 1)]
    two = np.ones(supply.shape, bool)
    for k in names[2:]:
        two &= d[k] <= 0
    if len(names) >= 2 and two.all():  # the common case: no third buyer wants anything this month
        x[a], x[b] = two_buyers(supply, d[a], d[b], w[a], w[b])
        return x, np.maximum(supply - sum(x.values()), 0.0)
    if len(names) >= 2:
        i = np.flatnonzero(two)
        if i.size:
            x[a][i], x[b][i] = two_buyers(supply[i], d[a][i], d[b][i], w[a][i], w[b][i])
    rest = np.flatnonzero(~two) if len(names) >= 2 else np.arange(supply.size)
    if rest.size:
        caps = np.stack([d[k][rest] for k in names])
        ws = np.stack([w[k][rest] for k in names])
        sup = supply[rest]
        xs = fill(sup, caps, ws)
        if (ws <= 0).any():  # buyers with zero weight are served from what the others leave, in equal measure
            xs += fill(np.maximum(sup - xs.sum(axis=0), 0.0), caps - xs, np.where(ws > 0, 0.0, 1.0))
        for j, k in enumerate(names):
            x[k][rest] = xs[j]
    return x, np.maximum(supply - sum(x.values()), 0.0)


def clear_priced(supply_h100e: np.ndarray, demand_h100e: Mapping[str, np.ndarray], bid_usd: Mapping[str, np.ndarray],
                 list_price: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """({buyer: H100e bought}, unsold H100e, clearing price p*): `clear` and `clearing_price` in one compiled pass.

    The same rules (the tests compare the two); the month loop calls this one.
    """
    if _clear_priced_kernel is None:
        bought, unsold = clear(supply_h100e, demand_h100e, bid_usd)
        return bought, unsold, clearing_price(list_price, bought, demand_h100e, bid_usd)
    names = list(demand_h100e)
    shape = np.shape(supply_h100e)
    d = np.stack([np.broadcast_to(demand_h100e[k], shape) for k in names])
    b = np.stack([np.broadcast_to(bid_usd[k], shape) for k in names])
    x, unsold, price = np.empty_like(d), np.empty(shape), np.empty(shape)
    _clear_priced_kernel(np.ascontiguousarray(supply_h100e, dtype=np.float64), d, b,
                         np.ascontiguousarray(np.broadcast_to(list_price, shape), dtype=np.float64), x, unsold, price)
    return {k: x[i] for i, k in enumerate(names)}, unsold, price
