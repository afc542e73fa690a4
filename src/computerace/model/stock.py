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


def cohort_stock(additions: np.ndarray, life_months: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Stock at the end of each month: S(t) = C(t) - C(t - L) + I * max(0, 1 - (t + 1) / L).

    additions: [month, flow, sample], acquisitions in each month (H100e, or GW for power-weighted
    flows); C(t) = sum of additions in months 0..t (C(t) = 0 for t < 0), so a cohort added in month c
    counts in months c .. c + L - 1. life_months: [sample] ints >= 1, sorted ascending (the caller
    orders samples by life so that each life value is one contiguous block). initial: [flow, sample].
    Returns [month, flow, sample].
    """
    T = additions.shape[0]
    life = np.asarray(life_months)
    if np.any(np.diff(life) < 0):
        raise ValueError("cohort_stock needs samples sorted by life_months")
    cum = np.empty_like(additions)
    cum[0] = additions[0]
    for t in range(1, T):  # contiguous [flow, sample] blocks: much faster than a strided cumsum
        np.add(cum[t - 1], additions[t], out=cum[t])
    stock = np.empty_like(cum)
    values, starts = np.unique(life, return_index=True)
    ends = np.r_[starts[1:], len(life)]
    for L, lo, hi in zip(values.tolist(), starts.tolist(), ends.tolist(), strict=True):
        n = min(L, T)
        stock[:n, :, lo:hi] = cum[:n, :, lo:hi]
        if L < T:
            np.subtract(cum[L:, :, lo:hi], cum[:T - L, :, lo:hi], out=stock[L:, :, lo:hi])
        remaining = 1.0 - np.arange(1, n + 1) / L  # the initial stock retires linearly over L months
        stock[:n, :, lo:hi] += remaining[:, None, None] * initial[None, :, lo:hi]
    return stock
