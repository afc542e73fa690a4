"""Installed base by cohort, with retirement after a sampled useful life.

A cohort acquired in month c stays in service for L months (L = useful life, per sample, rounded to
whole months) and then retires at once. The initial stock I (installed before the horizon, ages
assumed uniform over [0, L)) retires linearly over L months.
"""

from __future__ import annotations

import numba
import numpy as np

# The equations below are compiled (numba, cached on disk, nogil so chunks run on two threads at once) and are the
# only implementation: the month loop's post-processing (model/tally.py) calls the per-sample functions, and the
# array functions here call them too. Arithmetic is float64 in the order the earlier numpy code used, so results
# are bit-identical to it (tests/test_results_unchanged.py).
_jit = numba.njit(cache=True, nogil=True)
_jit_inline = numba.njit(cache=True, nogil=True, inline="always")  # per-value equations: inlined where called


def life_in_months(useful_life_years: np.ndarray) -> np.ndarray:
    """L = max(1, round(12 * years)): whole months, [sample] int."""
    return np.maximum(np.rint(useful_life_years * 12.0).astype(np.int64), 1)


@_jit_inline
def cohort_value(cum: np.ndarray, t: int, life: int, initial: float) -> float:
    """One sample's stock at the end of month t: S(t) = C(t) - C(t - L) + I * max(0, 1 - (t + 1) / L).

    cum: [month + 1] cumulative additions with cum[0] = 0 and cum[k + 1] = additions in months 0..k (so C(t) =
    cum[t + 1], and C(t - L) = 0 for t < L): a cohort added in month c counts in months c .. c + L - 1. life: L >= 1
    whole months; initial: I, the stock installed before the horizon (ages uniform over [0, L)), retiring linearly.
    """
    v = cum[t + 1] - cum[t + 1 - life] if t >= life else cum[t + 1]
    if t < life:
        v += (1.0 - (t + 1) / life) * initial
    return v


@_jit
def _cohort_stock(additions, life_months, initial, out):  # pragma: no cover - compiled
    T, F, S = additions.shape
    cum = np.empty(T + 1)
    for s in range(S):
        for f in range(F):
            cum[0] = 0.0
            for t in range(T):
                cum[t + 1] = cum[t] + additions[t, f, s]
            for t in range(T):
                out[t, f, s] = cohort_value(cum, t, life_months[s], initial[f, s])


def cohort_stock(additions: np.ndarray, life_months: np.ndarray, initial: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Stock at the end of each month (cohort_value for every month, flow and sample).

    additions: [month, flow, sample], acquisitions in each month (H100e, or GW for power-weighted flows);
    life_months: [sample] ints >= 1; initial: [flow, sample]. Returns [month, flow, sample] float64, written into
    `out` when given (which may be `additions` itself: each sample's cumulative sums are formed first).
    """
    additions = np.asarray(additions, dtype=np.float64)
    stock = np.empty_like(additions) if out is None else out
    _cohort_stock(additions, np.asarray(life_months, dtype=np.int64), np.asarray(initial, dtype=np.float64), stock)
    return stock


#: Chip generations by production date (decimal-year edges): for Western chips roughly A100 and earlier,
#: Hopper (H100/H200), Blackwell (B200/B300), Rubin, then later; for China 910 and earlier, 910B, 910C,
#: 950/960, then later (docs/metrics.md). A cohort belongs to the generation of the month it was acquired in;
#: the stock installed before the horizon belongs to the first.
GENERATION_EDGES = (2023.0, 2025.0, 2027.0, 2029.0, 2033.0)
GENERATIONS = ("before 2023", "2023-2024", "2025-2026", "2027-2028", "2029-2032", "2033 on")


@_jit_inline
def generation_value(cum: np.ndarray, tm: int, life: int, first: int, last: int, initial: float) -> float:
    """One sample's stock at month tm acquired in months first..last (one generation's production months).

    S_g(tm) = C[hi + 1] - C[lo] for lo = max(first, tm - L + 1), hi = min(tm, last) when lo <= hi, else 0; cum as in
    cohort_value. `initial` is the stock installed before the horizon, given for the first generation (it retires
    linearly over L months, as in cohort_value) and 0 for the others. Summed over generations this is
    cohort_value's total.
    """
    lo = max(first, tm - life + 1)
    hi = min(tm, last)
    v = cum[hi + 1] - cum[lo] if lo <= hi else 0.0
    return v + initial * max(0.0, 1.0 - (tm + 1) / life)


def generation_bounds(t_years: np.ndarray, edges: tuple[float, ...] = GENERATION_EDGES) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) month index of each generation on the months `t_years` (decimal years); last < first for a
    generation with no month on the horizon."""
    bounds = np.searchsorted(t_years, np.asarray(edges) - 1e-9)  # first month index of each later generation
    return np.r_[0, bounds].astype(np.int64), (np.r_[bounds, len(t_years)] - 1).astype(np.int64)


@_jit
def _generation_stock(additions, life_months, initial, at, first, last, out):  # pragma: no cover - compiled
    T, K, S = additions.shape
    cum = np.empty(T + 1)
    for s in range(S):
        for k in range(K):
            cum[0] = 0.0
            for t in range(T):
                cum[t + 1] = cum[t] + additions[t, k, s]
            for i in range(at.shape[0]):
                for g in range(first.shape[0]):
                    out[i, k, g, s] = generation_value(cum, at[i], life_months[s], first[g], last[g],
                                                       initial[k, s] if g == 0 else 0.0)


def generation_stock(additions: np.ndarray, life_months: np.ndarray, initial: np.ndarray, t_years: np.ndarray,
                     at: np.ndarray, edges: tuple[float, ...] = GENERATION_EDGES) -> np.ndarray:
    """Stock at months `at` split by generation (generation_value for every series, generation and sample).

    additions: [month, series, sample]; life_months: [sample] ints >= 1; initial: [series, sample]; t_years:
    [month] decimal years; at: month indices to report. Returns [len(at), series, generation, sample].
    """
    first, last = generation_bounds(np.asarray(t_years, dtype=np.float64), edges)
    additions = np.asarray(additions, dtype=np.float64)
    out = np.empty((len(at), additions.shape[1], len(first), additions.shape[2]))
    _generation_stock(additions, np.asarray(life_months, dtype=np.int64), np.asarray(initial, dtype=np.float64),
                      np.asarray(at, dtype=np.int64), first, last, out)
    return out
