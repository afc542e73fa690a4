"""After the month loop: stocks, operational stock, power drawn, stock by generation, yearly additions and binding
codes, one sample at a time, written straight into the result arrays (compiled).

The month loop records each month's additions by flow, the GW they need by site, the power available and the code
that bound each actor ([month, ., sample] float64 buffers). For each sample this pass forms the cumulative
additions once (in a few kB that stay in cache) and evaluates stock.cohort_value, stock.generation_value and
power.drawn_and_running from them, so no [month, flow, sample] temporaries are made and nothing is reordered
afterwards. The arithmetic is float64 in the order of the numpy code it replaced (bit-identical results:
tests/test_results_unchanged.py); values are rounded to float32 once, when stored.
"""

from __future__ import annotations

import numba
import numpy as np

from .power import drawn_and_running
from .stock import cohort_value, generation_value

# Buffer layouts (simulate.FLOWS, simulate.SITES, simulate.ACTORS): flows US, US/abroad, RoW, then China's four
# channels; sites and owners US, China, RoW.
US, ABROAD, ROW, CHINA0, N_FLOWS = 0, 1, 2, 3, 7
SITE_US, SITE_CN, SITE_ROW = 0, 1, 2
BLOCK = 8  # samples per pass: one 64-byte cache line of a float64 buffer


@numba.njit(cache=True, nogil=True)
def year_total(x: np.ndarray, n: int) -> float:
    """x[0] + x[1] + ... + x[n - 1] summed as numpy's add.reduceat sums a year of months (the first month plus the
    pairwise sum of the rest: eight partial sums from 8 values on), so yearly totals stay bit-identical."""
    if n <= 1:
        return x[0]
    m = n - 1
    if m < 8:
        r = 0.0
        for i in range(m):
            r += x[1 + i]
        return x[0] + r
    a0, a1, a2, a3, a4, a5, a6, a7 = x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8]
    i = 8
    while i + 8 <= m:
        a0 += x[1 + i]
        a1 += x[2 + i]
        a2 += x[3 + i]
        a3 += x[4 + i]
        a4 += x[5 + i]
        a5 += x[6 + i]
        a6 += x[7 + i]
        a7 += x[8 + i]
        i += 8
    r = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    while i < m:
        r += x[1 + i]
        i += 1
    return x[0] + r


@numba.njit(cache=True, nogil=True)
def tally(adds, gw_site, kw, avail, binding, init, init_gw, init_owner, life, year_of, starts, ends, gen_first,
          gen_last, n_codes, power_code, stock, operational, power_gw, china_stock, us_abroad, binding_year, additions,
          china_additions, gen_h100e, gen_gw):  # pragma: no cover - compiled; tested through simulate
    """Fill the result arrays ([sample, ...] float32; binding_year int8) from the month loop's buffers.

    adds [month, flow, sample] H100e; gw_site [month, site, sample] GW the month's chips need; kw [month, sample]
    GW per H100e of the month's Western chips; avail [month, site, sample] GW available; binding [month, actor,
    sample] codes (model/supply.BINDING); init [flow, sample], init_gw [site, sample], init_owner [actor, sample]
    the stock installed before the horizon; life [sample] months; year_of [month]; starts, ends [year] first and
    last month of each year; gen_first, gen_last [generation] (stock.generation_bounds).

    Stock by flow is cohort_value of its cumulative additions; an actor's stock sums its flows (China's four
    channels in order); power each site needs is cohort_value of the GW its chips need, drawn and running share
    from power.drawn_and_running; operational = stock x the running share of the site the chips sit at (US-owned
    chips abroad run on RoW's power). Where operational < installed power bound that month. The yearly code is the
    one that held in most months (ties: the lower code). Generations split each owner's stock and the GW it needs
    at each year's last month (US-owned chips abroad count as the US's).
    """
    T, _, S = adds.shape
    G = gen_first.shape[0]
    B = BLOCK
    cum = np.empty((B, N_FLOWS + 3 + 6, T + 1))  # flows, GW by site, then H100e and GW by owner
    st = np.empty(N_FLOWS)
    need, drawn, runs, inst, oper = np.empty(3), np.empty(3), np.empty(3), np.empty(3), np.empty(3)
    counts = np.zeros((B, 3, n_codes), np.int64)
    month_add = np.empty((B, 7, 12))  # one year's monthly additions by owner (3) and China's channel (4)
    owner_init = np.empty(6)
    for s0 in range(0, S, B):  # a block of samples shares each cache line (and page) of the [month, ., sample] buffers
        nb = min(B, S - s0)
        cum[:, :, 0] = 0.0
        for t in range(T):
            y = year_of[t]
            i = t - starts[y]
            for b in range(nb):
                s = s0 + b
                for f in range(N_FLOWS):
                    cum[b, f, t + 1] = cum[b, f, t] + adds[t, f, s]
                for j in range(3):
                    cum[b, N_FLOWS + j, t + 1] = cum[b, N_FLOWS + j, t] + gw_site[t, j, s]
                cn = adds[t, CHINA0, s]
                for c in range(1, 4):
                    cn += adds[t, CHINA0 + c, s]
                owner = (adds[t, US, s] + adds[t, ABROAD, s], cn, adds[t, ROW, s])
                abroad_gw = adds[t, ABROAD, s] * kw[t, s]
                owner_gw = (gw_site[t, SITE_US, s] + abroad_gw, gw_site[t, SITE_CN, s],
                            gw_site[t, SITE_ROW, s] - abroad_gw)
                for a in range(3):
                    cum[b, N_FLOWS + 3 + a, t + 1] = cum[b, N_FLOWS + 3 + a, t] + owner[a]
                    cum[b, N_FLOWS + 6 + a, t + 1] = cum[b, N_FLOWS + 6 + a, t] + owner_gw[a]
                    month_add[b, a, i] = owner[a]
                for c in range(4):
                    month_add[b, 3 + c, i] = adds[t, CHINA0 + c, s]
                if t == ends[y]:
                    for a in range(3):
                        additions[s, y, a] = year_total(month_add[b, a], i + 1)
                    for c in range(4):
                        china_additions[s, y, c] = year_total(month_add[b, 3 + c], i + 1)
        for t in range(T):
            y = year_of[t]
            for b in range(nb):
                s = s0 + b
                L = life[s]
                if t == starts[y]:
                    counts[b, :, :] = 0
                for f in range(N_FLOWS):
                    st[f] = cohort_value(cum[b, f], t, L, init[f, s])
                inst[0] = st[US] + st[ABROAD]
                inst[1] = ((st[CHINA0] + st[CHINA0 + 1]) + st[CHINA0 + 2]) + st[CHINA0 + 3]
                inst[2] = st[ROW]
                for j in range(3):
                    need[j] = cohort_value(cum[b, N_FLOWS + j], t, L, init_gw[j, s])
                    drawn[j], runs[j] = drawn_and_running(need[j], avail[t, j, s])
                oper[0] = st[US] * runs[SITE_US] + st[ABROAD] * runs[SITE_ROW]
                oper[1] = inst[1] * runs[SITE_CN]
                oper[2] = st[ROW] * runs[SITE_ROW]
                for a in range(3):
                    stock[s, t, a] = inst[a]
                    operational[s, t, a] = oper[a]
                    power_gw[s, t, a] = drawn[a]
                    code = power_code if oper[a] < inst[a] * (1.0 - 1e-9) else binding[t, a, s]
                    counts[b, a, code] += 1
                for c in range(4):
                    china_stock[s, t, c] = st[CHINA0 + c]
                us_abroad[s, t] = st[ABROAD]
                if t == ends[y]:
                    for a in range(3):
                        owner_init[a] = init_owner[a, s]
                        owner_init[3 + a] = init_gw[a, s]
                    for a in range(3):
                        best = 0
                        for k in range(1, n_codes):
                            if counts[b, a, k] > counts[b, a, best]:
                                best = k
                        binding_year[s, y, a] = best
                        for g in range(G):
                            gen_h100e[s, y, a, g] = generation_value(cum[b, N_FLOWS + 3 + a], t, L, gen_first[g],
                                                                     gen_last[g], owner_init[a] if g == 0 else 0.0)
                            gen_gw[s, y, a, g] = generation_value(cum[b, N_FLOWS + 6 + a], t, L, gen_first[g],
                                                                  gen_last[g], owner_init[3 + a] if g == 0 else 0.0)
