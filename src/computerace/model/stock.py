"""Installed base by cohort, with retirement after a sampled useful life.

A cohort acquired in month c stays in service for L months (L = useful life, per sample, rounded to
whole months) and then retires at once. The initial stock I (installed before the horizon, ages
assumed uniform over [0, L)) retires linearly over L months.
"""

from __future__ import annotations

import numpy as np


def life_in_months(useful_life_years: np.ndarray) -> np.ndarray:
    """L = max(1, round(12 * years)): whole months, [sample] int."""
    return np.maximum(np.rint(useful_life_years * 12.0).astype(np.int64), 1)


def cohort_stock(additions: np.ndarray, life_months: np.ndarray, initial: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Stock at the end of each month: S(t) = C(t) - C(t - L) + I * max(0, 1 - (t + 1) / L).

    additions: [month, flow, sample], acquisitions in each month (H100e, or GW for power-weighted
    flows); C(t) = sum of additions in months 0..t (C(t) = 0 for t < 0), so a cohort added in month c
    counts in months c .. c + L - 1. life_months: [sample] ints >= 1, sorted ascending (the caller
    orders samples by life so that each life value is one contiguous block). initial: [flow, sample].
    Returns [month, flow, sample], written into `out` when given (which may be `additions` itself: the
    cumulative sums are formed in place and differenced from the last month back, so one buffer suffices).
    """
    T = additions.shape[0]
    life = np.asarray(life_months)
    if np.any(np.diff(life) < 0):
        raise ValueError("cohort_stock needs samples sorted by life_months")
    cum = np.empty_like(additions) if out is None else out
    if cum is not additions:
        cum[0] = additions[0]
    for t in range(1, T):  # contiguous [flow, sample] blocks: much faster than a strided cumsum
        np.add(cum[t - 1], additions[t], out=cum[t])
    stock = cum  # S(t) = C(t) - C(t - L), formed from the last month back so C(t - L) is still intact
    values, starts = np.unique(life, return_index=True)
    ends = np.r_[starts[1:], len(life)]
    for L, lo, hi in zip(values.tolist(), starts.tolist(), ends.tolist(), strict=True):
        n = min(L, T)
        if L < T:
            for t in range(T - 1, L - 1, -1):
                np.subtract(cum[t, :, lo:hi], cum[t - L, :, lo:hi], out=stock[t, :, lo:hi])
        remaining = 1.0 - np.arange(1, n + 1) / L  # the initial stock retires linearly over L months
        stock[:n, :, lo:hi] += remaining[:, None, None] * initial[None, :, lo:hi]
    return stock


#: Chip generations by production date (decimal-year edges): for Western chips roughly A100 and earlier,
#: Hopper (H100/H200), Blackwell (B200/B300), Rubin, then later; for China 910 and earlier, 910B, 910C,
#: 950/960, then later (docs/metrics.md). A cohort belongs to the generation of the month it was acquired in;
#: the stock installed before the horizon belongs to the first.
GENERATION_EDGES = (2023.0, 2025.0, 2027.0, 2029.0, 2033.0)
GENERATIONS = ("before 2023", "2023-2024", "2025-2026", "2027-2028", "2029-2032", "2033 on")


def generation_stock(additions: np.ndarray | tuple[np.ndarray, ...], life_months: np.ndarray, initial: np.ndarray,
                     t_years: np.ndarray, at: np.ndarray, edges: tuple[float, ...] = GENERATION_EDGES) -> np.ndarray:
    """Stock at months `at` split by generation: S_g(t) = sum of additions in g's months c with t - L < c <= t.

    With C the cumulative additions (C[0] = 0, C[k] = sum of months < k), S_g(t) = C[hi + 1] - C[lo] for
    lo = max(first month of g, t - L + 1), hi = min(t, last month of g), when lo <= hi; the initial stock
    (retiring linearly over L months, as in cohort_stock) is added to the first generation. Summed over
    generations this is cohort_stock's total exactly.
    additions: [month, series, sample], or a tuple of such arrays whose series are taken in order (no
    concatenated copy); life_months: [sample] ints >= 1; initial: [series, sample]; t_years: [month] decimal years;
    at: month indices to report. Returns [len(at), series, generation, sample].
    """
    parts = additions if isinstance(additions, tuple) else (additions,)
    T, S = parts[0].shape[0], parts[0].shape[2]
    K = sum(p.shape[1] for p in parts)
    cum = np.empty((T + 1, K, S))
    cum[0] = 0.0
    lo_k = 0
    for p in parts:  # contiguous [series, sample] blocks month by month: faster than a strided cumsum
        hi_k = lo_k + p.shape[1]
        for t in range(T):
            np.add(cum[t, lo_k:hi_k], p[t], out=cum[t + 1, lo_k:hi_k])
        lo_k = hi_k
    bounds = np.searchsorted(t_years, np.asarray(edges) - 1e-9)  # first month index of each later generation
    first = np.r_[0, bounds]
    last = np.r_[bounds, T] - 1
    life = np.asarray(life_months)
    out = np.zeros((len(at), K, len(first), S))
    cols = np.arange(S)
    for i, tm in enumerate(np.asarray(at).tolist()):
        oldest = tm - life + 1  # [S]
        for j, (a, b) in enumerate(zip(first.tolist(), last.tolist(), strict=True)):
            lo = np.maximum(a, oldest)
            hi = min(tm, b)
            ok = lo <= hi
            lo_c = np.clip(lo, 0, T)
            val = cum[hi + 1] - cum[lo_c, :, cols].T if hi >= 0 else np.zeros((K, S))
            out[i, :, j] = np.where(ok, val, 0.0)
        out[i, :, 0] += initial * np.maximum(0.0, 1.0 - (tm + 1) / life)
    return out
