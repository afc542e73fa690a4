"""Compose the mechanisms month by month: the only module that knows all of them.

The month loop advances every path (production, prices, budgets, power, events) with [sample]
arrays and records each month's budget-capped acquisitions; the cohort stock, retirement and power
caps, which feed nothing back into acquisitions at this stage, are then evaluated for all months at
once. No I/O, no printing, no globals, no randomness: a pure function of the draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..draws import Draws
from . import capability, channels, events, finance, power, supply, yields
from .stock import cohort_stock, generation_stock, life_in_months

ACTORS = ("US", "China", "RoW")
# Flows tracked as cohorts: US, RoW, then China's four channels.
_FLOWS = ("US", "RoW") + tuple(f"China/{c}" for c in channels.CHANNELS)
#: Steps of China's domestic chain reported per calendar year (output china_supply_chain).
CHAIN_STEPS = ("wafers", "gross_dies", "good_dies", "die_packages", "hbm_packages", "packaging_packages",
               "packages", "h100e")


def simulate(d: Draws, progress: Callable[[int], None] | None = None,
             out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Run the model on draws `d`; return arrays keyed by output name.

    Shapes: stock_h100e, operational_h100e, power_gw: [sample, month, actor]; china_stock_h100e:
    [sample, month, channel]; additions_h100e [sample, year, actor] and china_additions_h100e
    [sample, year, channel] and spend_usd [sample, year, actor] (money spent on accelerators) are
    calendar-year totals for the years in `year`; china_remote_h100e:
    [sample, month]; taiwan_event_year, euv_year: [sample]; best_chip_h100e [sample, month, rival US/China];
    tsmc_node_year, smic_node_year [sample, node N7/N5/N3/N2]; run_flop_per_h100e, algorithmic_progress_per_year,
    china_algorithmic_lag_years: [sample]; binding_constraint [sample, year, actor] int8 codes of
    supply.BINDING (the limit that held in most months of the year); china_supply_chain [sample, year, step]
    (CHAIN_STEPS, calendar-year totals, zero under the growth form); stock_by_generation_h100e and
    power_by_generation_gw [sample, year, actor, generation] at each year's last month (stock.GENERATIONS;
    GW needed, before any power cap). `progress(months_done)` is called
    after each month. Stocks are at the end of each month; flows are per month. `out` may hold
    preallocated float32 (binding_constraint: int8) arrays of these shapes to write into (it is returned, completed).
    """
    # Samples are processed ordered by useful life (cohort retirement then works on contiguous
    # blocks) and returned in their original order; every operation is per sample, so the order
    # changes no result.
    life = life_in_months(d.get("stock.useful_life_years"))
    order = np.argsort(life, kind="stable")
    inverse = np.argsort(order, kind="stable")
    d, life = d.take(order), life[order]
    g = d.get
    S, T, t = d.n, len(d.t_years), d.t_years
    nf = len(_FLOWS)

    # --- events (sampled times; effects evaluated month by month)
    taiwan_year = events.first_event_time(d.events["taiwan"], g("events.taiwan_hazard_per_year"),
                                          g("events.hazard_start"))
    tw_dur, tw_sev = g("events.taiwan_duration_months"), g("events.taiwan_severity")
    euv_year, euv_mult, euv_ramp = g("events.euv_year"), g("events.euv_output_multiplier"), g("events.euv_ramp_years")
    shift_year = events.first_event_time(d.events["controls"], g("events.controls_shift_hazard_per_year"),
                                         g("events.controls_shift_start"))
    shift_level, hbm_ban, hbm_end = (g("events.controls_shift_allowed"), g("events.hbm_ban_year"),
                                     g("events.hbm_ban_end_year"))

    # event factors for every month at once, [month, sample]: Taiwan's cut of TSMC output, EUV's gain for China
    tw_t = np.ascontiguousarray(events.disruption_factor(t, taiwan_year, tw_dur, tw_sev).T)
    euv_path = events.euv_factor(t, euv_year, euv_mult, euv_ramp)  # [sample, month]
    euv_t = np.ascontiguousarray(euv_path.T)
    # how EUV's gain splits over China's wafers, H100e per package and defect density, every month: [sample, month]
    euv_wafers, euv_per_package, euv_d0 = events.euv_supply_effects(euv_path)

    # --- state of every compounding path, advanced once a month
    # Western output: the CoWoS/HBM physics (supply.western_model = 1) or AI 2027's growth form (0)
    west_phys = g("supply.western_model") > 0.5
    any_west, all_west = bool(west_phys.any()), bool(west_phys.all())  # fast paths when every sample agrees
    west = g("supply.western_production_2022_h100e_per_month").copy()
    g_area = d.stepper("supply.western_area_growth_per_year", 1 / 12)
    g_eff = d.stepper("supply.chip_efficiency_growth_per_year", 1 / 12)
    if any_west:
        cowos, ppw, hpp, hbm_w, spp_w = (d.stepper(f"supply.{k}") for k in (
            "cowos_wafers_per_month", "western_packages_per_cowos_wafer", "western_h100e_per_package",
            "western_hbm_stacks_per_year", "western_hbm_stacks_per_package"))
    dom_base = g("channels.domestic_2022_h100e_per_month").copy()
    g_dom = d.stepper("channels.domestic_growth_per_year", 1 / 12)
    log_boost = np.log(g("channels.controls_domestic_boost_per_year"))
    boost = np.ones(S)  # cumulative response of domestic supply to controls (the 'backfire' mechanism)
    allowed = d.stepper("channels.legal_import_allowed")
    s_legal, s_smug = g("channels.legal_import_share"), g("channels.smuggled_share")
    us_share = g("channels.us_share_of_western")
    # China's domestic output: the wafer/yield/HBM physics (channels.domestic_model = 1) or the growth ramp (0)
    physics = g("channels.domestic_model") > 0.5
    t_roadmap = supply.roadmap_time(t, g("supply.china_roadmap_slip_years"), g("supply.china_roadmap_slip_from"))
    any_phys, all_phys = bool(physics.any()), bool(physics.all())
    dpp = g("supply.china_dies_per_package")
    proxy_dies = channels.proxy_fab(t, g("channels.proxy_die_bank_dies"), g("channels.proxy_drawdown_start"),
                                    g("channels.proxy_drawdown_months"))  # [S, T] dies delivered per month
    proxy_t = np.ascontiguousarray(proxy_dies.T)
    if any_phys:
        smic, ai_share, hbm_new, pack_cap, hbm_leak = (d.stepper(f"supply.{k}") for k in (
            "smic_advanced_wafers_per_month", "china_ai_wafer_share", "china_domestic_hbm_stacks_per_year",
            "china_packaging_packages_per_month", "china_hbm_leak_stacks_per_year"))
        # H100e per package along the Ascend roadmap, future steps delayed by the sampled slip: [month, sample]
        per_pkg_t = np.ascontiguousarray(supply.path_at(d.path("supply.china_h100e_per_package"), t, t_roadmap).T)
        hbm_stock = g("supply.china_hbm_stockpile_stacks").copy()
        backlog = np.zeros(S)
        phys = {k: g(f"supply.china_{k}") for k in ("die_area_mm2", "gross_dies_per_wafer", "defects_per_cm2_2025",
                                                    "defect_floor_per_cm2", "defect_halving_years",
                                                    "hbm_stacks_per_package")}
        floor = phys["defect_floor_per_cm2"]
        # defect density on the learning curve, then EUV's cut of its excess, and the yields: all months at once
        d0_path = supply.defect_density(t[None, :], phys["defects_per_cm2_2025"][:, None], floor[:, None],
                                        phys["defect_halving_years"][:, None], 2025.0)
        d0_path = floor[:, None] + (d0_path - floor[:, None]) / euv_d0
        yield_t = np.ascontiguousarray(yields.poisson(phys["die_area_mm2"][:, None], d0_path).T)  # [month, sample]
        x_w_t, x_h_t = np.ascontiguousarray(euv_wafers.T), np.ascontiguousarray(euv_per_package.T)
        mature_yield = yields.poisson(phys["die_area_mm2"], floor)
    # growth form: banked dies become H100e at the 910C rate as they arrive (no HBM cap)
    proxy_growth_h100e = supply.PROXY_H100E_PER_PACKAGE / dpp

    price = finance.price_start(g("finance.price_2024_usd_per_h100e"), g("finance.price_decline_per_year"), t[0])
    price_step = g("finance.price_decline_per_year") ** (-1 / 12)
    share = g("finance.compute_share")
    capex = [d.stepper(f"finance.{a}_capex_usd_per_year") for a in ("us", "china", "row")]
    china_mult = np.stack([g("finance.domestic_price_multiplier"), g("finance.legal_import_price_multiplier"),
                           g("finance.smuggled_price_multiplier"), g("finance.domestic_price_multiplier")],
                          axis=1)  # [S, 4]; proxy-fab dies are packaged like domestic chips

    watts = power.watts_start(g("power.watts_per_h100e_2024"), g("power.watts_decline_per_year"), t[0])
    watts_step = g("power.watts_decline_per_year") ** (-1 / 12)
    avail = np.stack([g(f"power.{a}_available_2022_gw") for a in ("us", "china", "row")])  # [US/China/RoW, S]
    g_avail = [d.stepper(f"power.{a}_growth_per_year", 1 / 12) for a in ("us", "china", "row")]

    # --- initial stock (H100e), by flow; pre-2022 Chinese holdings were legal imports
    world0 = g("stock.initial_world_h100e")
    us0, cn0 = world0 * g("stock.initial_us_share"), world0 * g("stock.initial_china_share")
    row0 = world0 - us0 - cn0
    init = np.zeros((nf + 3, S))  # flows, then the power-weighted stock (GW needed) of US, China, RoW
    init[0], init[1], init[3] = us0, row0, cn0
    init[nf:] = np.stack([us0, cn0, row0]) * (watts / 1e9)

    # month-major buffers [month, flow or actor, sample]: contiguous writes in the loop
    adds = np.empty((T, nf + 3, S))
    avail_t = np.empty((T, 3, S))
    spend = np.empty((T, 3, S))  # USD per month by actor (US, China, RoW)
    binding = np.full((T, 3, S), supply.GROWTH, np.int8)  # the step that bound each actor's acquisitions
    years = np.floor(t + 1e-9).astype(int)
    new_year = np.r_[True, years[1:] != years[:-1]]
    starts, year_of = np.flatnonzero(new_year), np.cumsum(new_year) - 1  # first month of each year; year of each month
    chain = np.zeros((len(starts), len(CHAIN_STEPS), S))  # China's domestic chain, calendar-year totals
    # per year: HBM stockpile at the year's start, new stacks, packaging capacity, proxy packages made, and
    # whether any month came before the HBM ban (the yearly caps of China's chain, after the loop)
    hbm_at_start, hbm_new_year, pack_year, proxy_year = (np.zeros((len(starts), S)) for _ in range(4))
    preban_year = np.zeros((len(starts), S), bool)
    mult = np.ascontiguousarray(china_mult.T)  # [4, S]
    m_legal = mult[1].copy()
    w_dom = g("power.domestic_watts_multiplier")
    offers = np.empty((nf, S))
    for m in range(T):
        tw_m = tw_t[m]
        if any_west:
            wm = supply.western_month(cowos.value, ppw.value, hpp.value, hbm_w.value / 12.0, spp_w.value)
            w_raw = wm.h100e if all_west else np.where(west_phys, wm.h100e, west)
            code_w = wm.binding if all_west else np.where(west_phys, wm.binding, supply.GROWTH)
        else:
            w_raw, code_w = west, supply.GROWTH
        w_m = w_raw * tw_m
        a_m = events.controls_after_shift(allowed.value, t[m], shift_year, shift_level)
        offers[3] = channels.legal_import(w_m, s_legal, a_m)
        offers[4] = channels.smuggled(w_m, s_smug, a_m)
        offers[0], offers[1] = channels.allocate_rest(w_m, offers[3] + offers[4], us_share)
        euv_m = euv_t[m]
        delivered = proxy_t[m] * tw_m  # proxy dies come through TSMC: a disruption cuts deliveries
        offers[2] = channels.domestic(dom_base * boost, euv_m)
        offers[5] = delivered * proxy_growth_h100e
        code_c = supply.GROWTH
        if any_phys:
            x_w, x_h = x_w_t[m], x_h_t[m]  # EUV's effect on wafers and H100e per package (on yield: yield_t)
            banned = (t[m] >= hbm_ban) & (t[m] < hbm_end)
            y = year_of[m]
            if m == starts[y]:
                hbm_at_start[y] = hbm_stock
            preban_year[y] |= ~banned
            new_m = (hbm_new.value + np.where(banned, hbm_leak.value, 0.0)) / 12.0
            wafers_m = smic.value * ai_share.value * boost * x_w  # AI wafer starts this month
            cm = supply.china_month(wafers_m, phys["gross_dies_per_wafer"], phys["die_area_mm2"],
                                    None, floor, dpp, phys["hbm_stacks_per_package"], hbm_stock,
                                    new_m, banned, backlog + delivered, pack_cap.value,
                                    die_yield=yield_t[m], mature_yield=mature_yield)
            hbm_stock, backlog = cm.hbm_stockpile, cm.proxy_backlog
            per_pkg = per_pkg_t[m]
            dom_h = cm.packages * per_pkg * x_h
            proxy_h = cm.proxy_packages * np.minimum(per_pkg, supply.PROXY_H100E_PER_PACKAGE)
            offers[2] = dom_h if all_phys else np.where(physics, dom_h, offers[2])
            offers[5] = proxy_h if all_phys else np.where(physics, proxy_h, offers[5])
            code_c = cm.binding if all_phys else np.where(physics, cm.binding, supply.GROWTH)
            c = chain[y]
            for j, v in ((0, wafers_m), (1, cm.gross_dies), (2, cm.good_dies), (3, cm.die_packages),
                         (6, cm.packages), (7, dom_h)):  # the caps (4, 5) are yearly, set after the loop
                c[j] += v if all_phys else np.where(physics, v, 0.0)
            hbm_new_year[y] += new_m
            pack_year[y] += pack_cap.value
            proxy_year[y] += cm.proxy_packages
            for x in (smic, ai_share, hbm_new, pack_cap, hbm_leak):
                x.advance()

        a = adds[m]
        b_us = finance.budget_scale(offers[0] * price, finance.monthly_budget(capex[0].value, share))
        b_row = finance.budget_scale(offers[1] * price, finance.monthly_budget(capex[2].value, share))
        a[0], a[1] = offers[0] * b_us, offers[1] * b_row
        mult[1] = finance.legal_import_price_multiplier(m_legal, a_m)
        cost_cn = (offers[2:] * mult).sum(axis=0) * price  # USD for all China's offers this month
        s_cn = finance.budget_scale(cost_cn, finance.monthly_budget(capex[1].value, share))
        np.multiply(offers[2:], s_cn, out=a[2:nf])
        spend[m, 0], spend[m, 1], spend[m, 2] = a[0] * price, cost_cn * s_cn, a[1] * price
        binding[m, 0] = np.where(b_us < 1.0, supply.BUDGET, code_w)
        binding[m, 1] = np.where(s_cn < 1.0, supply.BUDGET, code_c)
        binding[m, 2] = np.where(b_row < 1.0, supply.BUDGET, code_w)
        kw = watts / 1e9  # GW per H100e of this month's chips
        a[nf] = a[0] * kw
        a[nf + 1] = ((a[2] + a[5]) * w_dom + a[3] + a[4]) * kw
        a[nf + 2] = a[1] * kw
        avail_t[m] = avail

        # advance every path to the next month
        west = supply.western_production_next(west, g_area.value, g_eff.value)
        dom_base = dom_base * g_dom.value
        boost = boost * channels.controls_boost_step(log_boost, a_m)
        for j, x in enumerate(g_avail):
            avail[j] *= x.value
        price = price * price_step
        watts = watts * watts_step
        for x in (g_area, g_eff, g_dom, allowed, *capex, *g_avail):
            x.advance()
        if any_west:
            for x in (cowos, ppw, hpp, hbm_w, spp_w):
                x.advance()
        if progress is not None:
            progress(m + 1)

    st = cohort_stock(adds, life, init)  # [T, flow, S]
    installed = np.stack([st[:, 0], st[:, 2:nf].sum(axis=1), st[:, 1]], axis=1)  # [T, actor, S]
    op, drawn = power.operational(installed, st[:, nf:], avail_t)
    add_actor = np.stack([adds[:, 0], adds[:, 2:nf].sum(axis=1), adds[:, 1]], axis=1)

    if any_phys:  # yearly caps of China's domestic chain: what the year's HBM and packaging allowed its own dies
        spp = phys["hbm_stacks_per_package"]
        hbm_year = np.maximum((hbm_at_start + hbm_new_year) / spp - proxy_year, 0.0)
        chain[:, 4] = np.where(physics, np.where(preban_year, np.inf, hbm_year), 0.0)
        chain[:, 5] = np.where(physics, np.maximum(pack_year - proxy_year, 0.0), 0.0)
    stranded = op < installed * (1.0 - 1e-9)  # power binds: chips installed that power cannot run
    binding[stranded] = supply.POWER
    ends = np.r_[starts[1:] - 1, T - 1]  # each year's last month (December, or the horizon's end)
    per_actor = np.concatenate([add_actor, adds[:, nf:]], axis=1)  # H100e then GW, by actor
    gen = generation_stock(per_actor, life, np.concatenate([np.stack([us0, cn0, row0]), init[nf:]]), t, ends)
    buf = {"stock_h100e": installed, "operational_h100e": op, "power_gw": drawn,
           "china_stock_h100e": st[:, 2:nf],
           "binding_constraint": yearly_mode(binding, starts, len(supply.BINDING)),
           "china_supply_chain": chain,
           "stock_by_generation_h100e": gen[:, :3], "power_by_generation_gw": gen[:, 3:],
           "additions_h100e": np.add.reduceat(add_actor, starts, axis=0),  # calendar-year totals
           "china_additions_h100e": np.add.reduceat(adds[:, 2:nf], starts, axis=0),
           "spend_usd": np.add.reduceat(spend, starts, axis=0)}
    # --- capability paths (chip and node per month; per-sample run and algorithm factors)
    def last_knot(key: str) -> float:
        return d.knots[key][0].times[-1] if key in d.knots else float(t[0])

    euv_chip = euv_per_package  # China's best chip gains what its packages gain
    us_chip = capability.chip_path(d.path("capability.us_frontier_chip_h100e"), t,
                                   last_knot("capability.us_frontier_chip_h100e"),
                                   g("capability.frontier_chip_growth_per_year"))
    cn_chip = capability.chip_path(supply.path_at(d.path("capability.china_best_chip_h100e"), t, t_roadmap), t_roadmap,
                                   last_knot("capability.china_best_chip_h100e"),
                                   g("capability.china_chip_growth_per_year"), euv_chip)
    tsmc = np.stack([g(f"capability.tsmc_{n}_year") for n in ("n7", "n5", "n3", "n2")], axis=1)
    smic = capability.smic_node_years(g("capability.smic_7nm_year"), g("capability.smic_5nm_year"), euv_year,
                                      g("capability.smic_node_years_after_euv"))
    buf["best_chip_h100e"] = np.stack([us_chip.T, cn_chip.T], axis=1)  # [T, rival, S]
    per_sample = {
        "tsmc_node_year": tsmc,  # [S, node]
        "smic_node_year": smic,  # [S, node]
        "run_flop_per_h100e": capability.run_flop_per_h100e(g("capability.cluster_share"), g("capability.run_months"),
                                                            g("capability.mfu")),
        "algorithmic_progress_per_year": g("capability.algorithmic_progress_per_year"),
        "china_algorithmic_lag_years": g("capability.china_algorithmic_lag_years"),
        "china_cluster_share_ratio": g("capability.china_cluster_share_ratio"),
    }

    if out is None:
        out = {}
    for k, v in buf.items():
        dst = out.get(k)
        dtype = np.int8 if k == "binding_constraint" else np.float32
        if dst is None:
            dst = out[k] = np.empty((S, *v.shape[:-1]), dtype)
        np.take(np.moveaxis(v.astype(dtype), -1, 0), inverse, axis=0, out=dst)
    remote = channels.remote(out["stock_h100e"][:, :, 2], g("channels.remote_share_of_row")[inverse][:, None])
    if "china_remote_h100e" in out:
        out["china_remote_h100e"][...] = remote
    else:
        out["china_remote_h100e"] = remote.astype(np.float32)
    for k, v in (("taiwan_event_year", taiwan_year[inverse]), ("euv_year", euv_year[inverse]),
                 *((k2, v2[inverse]) for k2, v2 in per_sample.items())):
        if k in out:
            out[k][...] = v
        else:
            out[k] = v.astype(np.float64)
    out["year"] = years[starts]
    return out


def yearly_mode(codes: np.ndarray, starts: np.ndarray, n_codes: int) -> np.ndarray:
    """The code that held in most months of each calendar year (ties: the lower code).

    codes: [month, actor, sample] small ints; starts: first month index of each year. Returns [year, actor, sample].
    """
    counts = np.stack([np.add.reduceat((codes == k).astype(np.int16), starts, axis=0) for k in range(n_codes)])
    return np.argmax(counts, axis=0).astype(np.int8)
