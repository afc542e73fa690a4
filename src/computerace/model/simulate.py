"""Compose the mechanisms month by month: the only module that knows all of them.

Each month: supply (Western output, China's domestic chain), the policy of the month (frontier access,
licensed parts, smuggling routes), money (budgets, prices), power (what each site can still power), China's
buyers choosing between their options (model/choice.py), and the market clearing Western output between the
US, the rest of the world and China (model/market.py). Every flow is addressed by name. After the loop the
cohort stock, retirement and operational stock are evaluated for all months, sample by sample, straight into the
result arrays (model/tally.py, compiled). No I/O, no printing, no globals, no randomness: a pure function of the
inputs (model/inputs.Inputs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import capability, channels, choice, events, finance, imports, market, power, smuggling, supply, yields
from .inputs import Inputs
from .stock import GENERATION_EDGES, generation_bounds, life_in_months

ACTORS = ("US", "China", "RoW")
#: Sites where chips draw power (US-owned chips abroad draw RoW's power).
SITES = ACTORS
#: Flows tracked as cohorts, by owner and channel. US/abroad: US-owned chips placed in the rest of the world.
FLOWS = ("US", "US/abroad", "RoW") + tuple(f"China/{c}" for c in channels.CHANNELS)
#: Steps of China's domestic chain reported per calendar year (output china_supply_chain).
CHAIN_STEPS = ("wafers", "gross_dies", "good_dies", "die_packages", "hbm_packages", "packaging_packages",
               "packages", "h100e")
#: Who leaves output unsold: Western output nobody bought; China's domestic packages its buyers did not take.
SUPPLIERS = ("Western", "China")
#: China's imported parts reported by volume: the licensed parts, then frontier parts bought on the market.
IMPORT_PARTS = imports.PARTS + ("frontier",)


def _named(buf: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Views of a [month, name, sample] buffer by name: {name: [month, sample]}."""
    return {k: buf[:, i] for i, k in enumerate(names)}


def simulate(inp: Inputs, progress: Callable[[int], None] | None = None,
             out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Run the model on inputs `inp`; return arrays keyed by output name (api.run lays out their dims and units).

    Stocks are at the end of each month; flows are per month, reported as calendar-year totals for the
    years in `year`. `progress(months_done)` is called after each month. `out` may hold preallocated arrays
    of the output shapes to write into (it is returned, completed).
    """
    from .tally import tally  # compiled (numba): loaded when a model runs, not when the package is imported

    life = life_in_months(inp.scalar("stock.useful_life_years"))
    g, ser = inp.scalar, inp.series
    S, t = inp.n, inp.t_years
    T = len(t)
    cols = np.arange(S)

    # --- events (sampled times; effects evaluated month by month)
    taiwan_year = events.first_event_time(inp.events["taiwan"], g("events.taiwan_hazard_per_year"),
                                          g("events.hazard_start"))
    tw_sanc = g("events.taiwan_sanctions")
    tw_setback = g("events.taiwan_capacity_lost") * g("events.taiwan_tech_setback_years")
    p_decl, w_decl = g("finance.price_decline_per_year"), g("power.watts_decline_per_year")
    tw_t = np.ascontiguousarray(events.taiwan_output_factor(
        t, taiwan_year, g("events.taiwan_duration_months"), g("events.taiwan_severity"), g("events.taiwan_capacity_lost"),
        g("events.taiwan_rebuild_years")).T)  # [month, sample]
    bust_year = events.first_event_time(inp.events["bust"], g("events.capex_bust_hazard_per_year"),
                                        g("events.capex_bust_start"))
    bust_depth, bust_months = g("events.capex_bust_depth"), g("events.capex_bust_duration_months")
    bust_t = {"US": np.ascontiguousarray(events.disruption_factor(t, bust_year, bust_months, bust_depth).T),
              "RoW": np.ascontiguousarray(events.disruption_factor(t, bust_year, bust_months,
                                                                   bust_depth * g("events.capex_bust_row_share")).T)}
    # the first date any sample's event happens (effects are skipped before it)
    first = {"taiwan": float(taiwan_year.min()), "bust": float(bust_year.min()), "euv": float(g("events.euv_year").min())}
    cdz_year = events.first_event_time(inp.events["cdz"], g("events.china_centralise_hazard_per_year"),
                                       g("events.hazard_start"))
    euv_year = g("events.euv_year")
    euv_path = events.euv_factor(t, euv_year, g("events.euv_output_multiplier"), g("events.euv_ramp_years"))
    euv_t = np.ascontiguousarray(euv_path.T)
    euv_wafers, euv_per_package, euv_d0 = events.euv_supply_effects(euv_path)
    shift_year = events.first_event_time(inp.events["controls"], g("events.controls_shift_hazard_per_year"),
                                         g("events.controls_shift_start"))
    shift_level, hbm_ban, hbm_end = g("events.controls_shift_allowed"), g("events.hbm_ban_year"), g("events.hbm_ban_end_year")
    regime = events.controls_regime(shift_level)
    tight_enf, tight_cut = g("events.controls_tighten_enforcement"), g("events.controls_tighten_wafer_cut")
    euv_c = (g("events.euv_hbm_exponent"), g("events.euv_packaging_exponent"), g("events.euv_cost_exponent"))

    # --- capability paths (they feed smuggling: routes move the frontier chip of the month)
    t_roadmap = supply.roadmap_time(t, g("supply.china_roadmap_slip_years"), g("supply.china_roadmap_slip_from"))
    us_chip = capability.chip_path(inp.path("capability.us_frontier_chip_h100e"), t,
                                   inp.last_knot("capability.us_frontier_chip_h100e"),
                                   g("capability.frontier_chip_growth_per_year"))
    cn_chip = capability.chip_path(supply.path_at(inp.path("capability.china_best_chip_h100e"), t, t_roadmap), t_roadmap,
                                   inp.last_knot("capability.china_best_chip_h100e"),
                                   g("capability.china_chip_growth_per_year"), euv_per_package)
    us_chip_t = np.ascontiguousarray(us_chip.T)

    # --- Western output: the CoWoS/HBM physics (supply.western_model = 1) or AI 2027's growth form (0)
    west_phys = g("supply.western_model") > 0.5
    any_west, all_west = bool(west_phys.any()), bool(west_phys.all())
    west_growth = g("supply.western_production_2022_h100e_per_month").copy()
    g_area = ser("supply.western_area_growth_per_year", 1 / 12)
    g_eff = ser("supply.chip_efficiency_growth_per_year", 1 / 12)
    cowos, ppw, hpp, hbm_w, spp_w = (ser(f"supply.{k}") for k in (
        "cowos_wafers_per_month", "western_packages_per_cowos_wafer", "western_h100e_per_package",
        "western_hbm_stacks_per_year", "western_hbm_stacks_per_package"))

    # --- China's domestic output: the wafer/yield/HBM physics (channels.domestic_model = 1) or the growth ramp (0)
    physics = g("channels.domestic_model") > 0.5
    any_phys, all_phys = bool(physics.any()), bool(physics.all())
    dom_growth = g("channels.domestic_2022_h100e_per_month").copy()
    g_dom = ser("channels.domestic_growth_per_year", 1 / 12)
    log_boost = np.log(g("channels.controls_domestic_boost_per_year"))
    boost = np.ones(S)  # cumulative response of domestic supply to controls (the 'backfire' mechanism)
    dpp = g("supply.china_dies_per_package")
    proxy_t = np.ascontiguousarray(channels.proxy_fab(t, g("channels.proxy_die_bank_dies"), g("channels.proxy_drawdown_start"),
                                                      g("channels.proxy_drawdown_months")).T)  # dies per month
    proxy_growth_h100e = supply.PROXY_H100E_PER_PACKAGE / dpp  # growth form: banked dies at the 910C rate
    smic, ai_share, hbm_new, pack_cap, hbm_leak = (ser(f"supply.{k}") for k in (
        "smic_advanced_wafers_per_month", "china_ai_wafer_share", "china_domestic_hbm_stacks_per_year",
        "china_packaging_packages_per_month", "china_hbm_leak_stacks_per_year"))
    phys = {k: g(f"supply.china_{k}") for k in ("die_area_mm2", "gross_dies_per_wafer", "defects_per_cm2_2025",
                                                "defect_floor_per_cm2", "defect_halving_years", "hbm_stacks_per_package")}
    floor = phys["defect_floor_per_cm2"]
    hbm_stock, backlog = g("supply.china_hbm_stockpile_stacks").copy(), np.zeros(S)
    if any_phys:
        per_pkg_t = np.ascontiguousarray(supply.path_at(inp.path("supply.china_h100e_per_package"), t, t_roadmap).T)
        d0_path = supply.defect_density(t[None, :], phys["defects_per_cm2_2025"][:, None], floor[:, None],
                                        phys["defect_halving_years"][:, None], 2025.0)
        d0_path = floor[:, None] + (d0_path - floor[:, None]) / euv_d0
        yield_t = np.ascontiguousarray(yields.poisson(phys["die_area_mm2"][:, None], d0_path).T)
        x_w_t, x_h_t = np.ascontiguousarray(euv_wafers.T), np.ascontiguousarray(euv_per_package.T)
        mature_yield = yields.poisson(phys["die_area_mm2"], floor)

    # --- policy: frontier access a(t), licensed parts, smuggling routes
    allowed = ser("channels.legal_import_allowed")
    part_h100e = {k: imports.part_specs()[k][0] for k in imports.PARTS}
    part_watts = {k: imports.part_specs()[k][1] for k in imports.PARTS}
    part_avail = {k: ser(f"imports.{k}_chips_per_month") for k in imports.PARTS}
    part_price = {k: g(f"imports.{k}_price_usd") for k in imports.PARTS}
    part_cap = {k: (ser(f"imports.{k}_rule_cap_chips_per_month") if f"imports.{k}_rule_cap_chips_per_month" in
                    inp.scalars or f"imports.{k}_rule_cap_chips_per_month" in inp.knots else None) for k in imports.PARTS}
    # access per part: open + licence-conditional x the shipped share (rules engine, [month]); parts a scenario
    # allows beyond the enacted rules are open from their date
    closed = np.zeros(T)
    sched = {k: inp.access.get(k, (closed, closed)) for k in imports.PARTS}
    cond_share = g("channels.conditional_licence_share")
    allowed_from = {k: g(key) for k, key in imports.SCENARIO_ALLOWED.items()}
    part_live = {k: (o > 0) | (c > 0) for k, (o, c) in sched.items()}  # [month]: open to some sample
    for k, frm in allowed_from.items():
        part_live[k] |= t >= frm.min()
    partial = regime == events.PARTIAL
    if partial.any():  # a partial loosening allows the B30A-class part from the shift's date
        part_live["b30a"] |= t >= shift_year[partial].min()
    part_usd_per_h100e = {k: part_price[k] / part_h100e[k] for k in imports.PARTS}
    routes = ser("smuggling.route_capacity_chips_per_year")
    enforcement, enforced_from = g("smuggling.enforcement"), g("smuggling.enforcement_from")
    lv_year, lv_cut = g("smuggling.location_verification_year"), g("smuggling.location_verification_cut")
    beta, dom_pref = g("imports.choice_price_exponent"), ser("imports.domestic_preference")

    # --- money
    price = finance.price_start(g("finance.price_2024_usd_per_h100e"), g("finance.price_decline_per_year"), t[0])
    price_step = g("finance.price_decline_per_year") ** (-1 / 12)
    share = g("finance.compute_share")
    # "leaky pipes": the share of China's AI capex that reaches accelerators, relative to the other actors'
    share_cn = share * g("finance.china_compute_share_ratio")
    capex = {a: ser(f"finance.{a.lower()}_capex_usd_per_year") for a in ACTORS}
    # the domestic multiplier is a path (it widens as Western chips improve faster); the grey-market one a scalar
    m_dom_path, m_smug = ser("finance.domestic_price_multiplier"), g("finance.smuggled_price_multiplier")
    # China's logit weights (model/choice.py) relative to the frontier price: (p_j / p)^-beta
    w_smug = choice.logit_weight(m_smug, beta)
    w_part = {k: choice.logit_weight(part_price[k] / part_h100e[k], beta) for k in imports.PARTS}  # x price^beta
    one = np.ones(S)

    # --- power: GW available by site, GW per H100e of each month's chips
    watts = power.watts_start(g("power.watts_per_h100e_2024"), g("power.watts_decline_per_year"), t[0])
    watts_step = g("power.watts_decline_per_year") ** (-1 / 12)
    avail = {a: g(f"power.{a.lower()}_available_2022_gw").copy() for a in SITES}
    g_avail = {a: ser(f"power.{a.lower()}_growth_per_year", 1 / 12) for a in SITES}
    w_dom, s_abroad = g("power.domestic_watts_multiplier"), g("power.us_abroad_share")
    cn_watts = {**part_watts, "frontier": 1.0, "smuggled": 1.0, "domestic": w_dom}  # W per H100e vs Western chips
    zero = np.zeros(S)

    # --- initial stock (H100e) by flow; pre-2022 Chinese holdings were legal imports
    world0 = g("stock.initial_world_h100e")
    us0, cn0 = world0 * g("stock.initial_us_share"), world0 * g("stock.initial_china_share")
    init = np.zeros((len(FLOWS), S))
    init_flow = _named(init[None], FLOWS)
    init_flow["US"][0], init_flow["RoW"][0], init_flow["China/legal_import"][0] = us0, world0 - us0 - cn0, cn0
    init_gw = np.stack([us0, cn0, world0 - us0 - cn0]) * (watts / 1e9)  # [site, sample]: GW the initial stock needs

    # --- month-major buffers [month, name, sample], addressed by name
    adds_buf = np.zeros((T, len(FLOWS), S))
    adds = _named(adds_buf, FLOWS)
    gw_site_buf = np.zeros((T, len(SITES), S))  # GW the month's new chips need, by the site they sit at
    gw_site = _named(gw_site_buf, SITES)
    kw_buf = np.empty((T, S))  # GW per H100e of each month's Western chips
    avail_buf = np.empty((T, len(SITES), S))
    binding_buf = np.full((T, len(ACTORS), S), supply.GROWTH, np.int8)
    binding = _named(binding_buf, ACTORS)
    years = np.floor(t + 1e-9).astype(int)
    new_year = np.r_[True, years[1:] != years[:-1]]
    starts, year_of = np.flatnonzero(new_year), np.cumsum(new_year) - 1
    # calendar-year totals, accumulated month by month [year, name, sample] (small: no monthly buffers)
    Y = len(starts)
    spend_buf, unpowered_buf = np.zeros((Y, len(ACTORS), S)), np.zeros((Y, len(ACTORS), S))
    spend, unpowered = _named(spend_buf, ACTORS), _named(unpowered_buf, ACTORS)
    capex_buf = np.zeros((Y, len(ACTORS), S))  # each actor's AI capex, beside what it spent on accelerators
    capex_y = _named(capex_buf, ACTORS)
    unsold_buf = np.zeros((Y, len(SUPPLIERS), S))
    unsold = _named(unsold_buf, SUPPLIERS)
    parts_h_buf, parts_chips_buf = np.zeros((Y, len(IMPORT_PARTS), S)), np.zeros((Y, len(IMPORT_PARTS), S))
    parts_h, parts_chips = _named(parts_h_buf, IMPORT_PARTS), _named(parts_chips_buf, IMPORT_PARTS)
    parts_usd_buf = np.zeros((Y, len(IMPORT_PARTS), S))  # what China paid for them (the sellers' China revenue)
    parts_usd = _named(parts_usd_buf, IMPORT_PARTS)
    chain_buf = np.zeros((len(starts), len(CHAIN_STEPS), S))
    chain = _named(chain_buf, CHAIN_STEPS)
    hbm_at_start, hbm_new_year, pack_year, proxy_year = (np.zeros((len(starts), S)) for _ in range(4))
    preban_year = np.zeros((len(starts), S), bool)
    in_service = {a: np.zeros(S) for a in SITES}  # GW of cohorts still in service, before this month's purchases

    for m in range(T):
        tw_m, y = tw_t[m], year_of[m]
        # --- supply: Western output after Taiwan events
        if any_west:
            wm = supply.western_month(cowos.at(m), ppw.at(m), hpp.at(m), hbm_w.at(m) / 12.0, spp_w.at(m))
            w_raw = wm.h100e if all_west else np.where(west_phys, wm.h100e, west_growth)
            code_w = wm.binding if all_west else np.where(west_phys, wm.binding, supply.GROWTH)
        else:
            w_raw, code_w = west_growth, supply.GROWTH
        # --- policy regime of the month: an unscheduled shift (tighten / partial / lift) and Taiwan sanctions
        shifted = t[m] >= shift_year
        lift, tight = shifted & (regime == events.LIFT), shifted & (regime == events.TIGHTEN)
        # (each effect is evaluated only once its event has happened in some sample: before that it is 1)
        sanc_m = events.after_event(t[m], taiwan_year, tw_sanc) if t[m] >= first["taiwan"] else one
        a_m = events.controls_after_shift(allowed.at(m), t[m], shift_year, shift_level) * sanc_m
        tools_m = np.where(tight, 1.0 - tight_cut * events.ramp(t[m], shift_year, 2.0), 1.0) if tight.any() else one
        hbm_x, pack_x, cost_x = events.euv_couplings(euv_t[m], *euv_c) if t[m] >= first["euv"] else (one, one, one)

        # --- supply: China's domestic chain (SMIC dies and proxy-fab dies under one HBM and packaging cap)
        delivered = proxy_t[m] * tw_m * sanc_m  # proxy dies come through TSMC: a disruption or sanctions cut them
        dom_h = dom_growth * boost * euv_t[m] * tools_m
        proxy_h = delivered * proxy_growth_h100e
        code_c = supply.GROWTH
        if any_phys:
            banned = (t[m] >= hbm_ban) & (t[m] < hbm_end) & ~lift
            if m == starts[y]:
                hbm_at_start[y] = hbm_stock
            preban_year[y] |= ~banned
            # Western HBM leaking through intermediaries after the ban is cut by sanctions too
            new_m = (hbm_new.at(m) * hbm_x + np.where(banned, hbm_leak.at(m) * sanc_m, 0.0)) / 12.0
            wafers_m = smic.at(m) * ai_share.at(m) * boost * x_w_t[m] * tools_m
            pack_m = pack_cap.at(m) * pack_x
            cm = supply.china_month(wafers_m, phys["gross_dies_per_wafer"], phys["die_area_mm2"], None, floor, dpp,
                                    phys["hbm_stacks_per_package"], hbm_stock, new_m, banned, backlog + delivered,
                                    pack_m, die_yield=yield_t[m], mature_yield=mature_yield)
            hbm_stock, backlog = cm.hbm_stockpile, cm.proxy_backlog
            per_pkg = per_pkg_t[m]
            dom_p = cm.packages * per_pkg * x_h_t[m]
            proxy_p = cm.proxy_packages * np.minimum(per_pkg, supply.PROXY_H100E_PER_PACKAGE)
            dom_h = dom_p if all_phys else np.where(physics, dom_p, dom_h)
            proxy_h = proxy_p if all_phys else np.where(physics, proxy_p, proxy_h)
            code_c = cm.binding if all_phys else np.where(physics, cm.binding, supply.GROWTH)
            for step, v in (("wafers", wafers_m), ("gross_dies", cm.gross_dies), ("good_dies", cm.good_dies),
                            ("die_packages", cm.die_packages), ("packages", cm.packages), ("h100e", dom_p)):
                chain[step][y] += v if all_phys else np.where(physics, v, 0.0)  # the caps are yearly, set after
            hbm_new_year[y] += new_m
            pack_year[y] += pack_m
            proxy_year[y] += cm.proxy_packages

        # --- money: monthly budgets (USD) and the price of the month's Western chips
        capex_m = {a: capex[a].at(m) for a in ACTORS}
        if t[m] + 1 / 12 > first["bust"]:  # a bust cuts US capex and part of RoW's (China's is state-directed)
            capex_m["US"], capex_m["RoW"] = capex_m["US"] * bust_t["US"][m], capex_m["RoW"] * bust_t["RoW"][m]
        budget = {a: finance.monthly_budget(capex_m[a], share_cn if a == "China" else share) for a in ACTORS}
        for a in ACTORS:
            capex_y[a][y] += capex_m[a] / 12.0
        # a Taiwan conflict sets Western price-performance and energy efficiency back by lost x setback years
        # (the next-best fabs, Samsung and Intel, trail TSMC's leading node); the trends resume from there
        sb = np.where(t[m] >= taiwan_year, tw_setback, 0.0) if t[m] >= first["taiwan"] else None
        px, sbw = (price * p_decl ** sb, w_decl ** sb) if sb is not None and sb.any() else (price, one)
        kw = kw_buf[m] = watts / 1e9 * sbw  # GW per H100e of this month's Western chips

        # --- power: what each site can still power this month (GW), before purchases
        if m > 0:
            old = m - life  # cohorts bought in month m - L retired at the end of month m - 1
            ok = old >= 0
            for j, a in enumerate(SITES):
                in_service[a] = power.in_service_next(
                    in_service[a], gw_site_buf[m - 1, j], np.where(ok, gw_site_buf[np.maximum(old, 0), j, cols], 0.0))
        room = {a: power.headroom_gw(avail[a], in_service[a], init_gw[j], m, life) for j, a in enumerate(SITES)}
        for j, a in enumerate(SITES):
            avail_buf[m, j] = avail[a]
        cap_home, cap_abroad = room["US"] / kw, s_abroad * room["RoW"] / kw  # H100e the US can power
        cap_row = (1.0 - s_abroad) * room["RoW"] / kw
        d_us, d_row = np.minimum(budget["US"] / px, cap_home + cap_abroad), np.minimum(budget["RoW"] / px, cap_row)
        # Western output after Taiwan events. A disruption removes a share of the capacity that serves buyers:
        # output beyond what they could take at most (the US, RoW, all of China's budget) is capacity the
        # exogenous paths project but foundries would not have built, so it cannot cushion the loss. (Budgets, not
        # power: power left idle during a disruption would otherwise make the lost capacity reappear at once.)
        if t[m] + 1 / 12 > first["taiwan"]:  # tw_m is 1 in every sample before the first event's month
            west_m = np.where(tw_m < 1.0, np.minimum(w_raw, (budget["US"] + budget["RoW"] + budget["China"]) / px) * tw_m,
                              w_raw)
        else:
            west_m = w_raw

        # --- China's options: licensed parts, smuggled chips, frontier parts, domestic chips
        live = [k for k in imports.PARTS if part_live[k][m]]  # parts some sample may buy this month
        chips = {k: imports.offered_chips(part_avail[k].at(m), _regime_access(
            imports.access_at(sched[k], m, cond_share, t[m], allowed_from.get(k)), k, shifted, regime) * sanc_m,
            part_cap[k].at(m) if part_cap[k] is not None else np.inf, a_m) for k in live}
        offer = {k: chips[k] * part_h100e[k] for k in live}
        parts_h100e = sum(offer.values()) if live else zero
        if live:  # parts come out of Western output too
            over = np.divide(west_m, parts_h100e, out=np.ones(S), where=parts_h100e > west_m)
            offer = {k: v * over for k, v in offer.items()}
            parts_h100e = parts_h100e * over
        verified = np.where(t[m] >= lv_year, lv_cut, 0.0)
        enforced = np.where(t[m] >= enforced_from, enforcement, 0.0)
        enforced = np.where(tight, 1.0 - (1.0 - enforced) * (1.0 - tight_enf), enforced)
        smug_q = np.minimum(smuggling.route_offer_h100e(routes.at(m) * sanc_m, enforced, verified, a_m, us_chip_t[m]),
                            west_m - parts_h100e)  # smuggled chips are diverted Western output
        # frontier parts: China may put any part of its budget into orders; the market below rations them by money
        offer["frontier"] = np.where(a_m > 0, budget["China"] / px, 0.0)
        offer["smuggled"], offer["domestic"] = smug_q, dom_h + proxy_h
        m_dom = m_dom_path.at(m)
        w_dom_base = choice.logit_weight(m_dom, beta)
        p_cn = {**{k: part_usd_per_h100e[k] for k in live}, "frontier": px, "smuggled": px * m_smug,
                "domestic": price * m_dom * cost_x}
        # logit weights relative to the frontier price: constant for the options priced as multiples of it
        to_beta = np.exp(beta * np.log(px)) if live else zero  # price^beta: parts have prices of their own
        w_cn = {**{k: w_part[k] * to_beta for k in live}, "frontier": one, "smuggled": w_smug,
                "domestic": w_dom_base * dom_pref.at(m) * (
                    one if cost_x is one and px is price else choice.logit_weight(cost_x * price / px, beta))}
        bought = choice.split_budget(budget["China"], offer, p_cn, w_cn)
        # power limits China's purchases: what it buys outright first, then its frontier orders get what is left
        cn_w = cn_watts if sbw is one else {**cn_watts, "domestic": w_dom / sbw}  # domestic chips: no setback
        need_cn = sum(bought[k] * cn_w[k] for k in bought if k != "frontier") * kw
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(need_cn > room["China"], room["China"] / need_cn, 1.0)
        unpowered["China"][y] += sum(bought[k] for k in bought if k != "frontier") * (1.0 - fit)
        bought = {k: v if k == "frontier" else v * fit for k, v in bought.items()}
        # China's frontier orders ship in the share a(t) its licences allow, within the power it has left
        ordered = a_m * bought["frontier"]
        d_cn = np.minimum(ordered, np.maximum(room["China"] - need_cn * fit, 0.0) / kw)
        unpowered["China"][y] += ordered - d_cn
        cn_power_bound = (fit < 1.0) | (ordered > d_cn * (1 + 1e-9))

        # --- the market: Western output (after China's parts and smuggled chips) cleared between buyers
        licensed = sum(bought[k] for k in live) if live else zero
        # money each buyer brings (USD)
        bid = {"US": budget["US"], "RoW": budget["RoW"], "China": d_cn * px}
        demand = {"US": d_us, "RoW": d_row, "China": d_cn}
        got, left, p_clear = market.clear_priced(np.maximum(west_m - licensed - bought["smuggled"], 0.0), demand, bid,
                                                 px)
        home = np.minimum(got["US"], cap_home)
        adds["US"][m], adds["US/abroad"][m], adds["RoW"][m] = home, got["US"] - home, got["RoW"]
        dom_share = np.divide(dom_h, dom_h + proxy_h, out=np.ones(S), where=(dom_h + proxy_h) > 0)
        adds["China/domestic"][m] = bought["domestic"] * dom_share
        adds["China/proxy_fab"][m] = bought["domestic"] * (1.0 - dom_share)
        adds["China/legal_import"][m] = licensed + got["China"]
        adds["China/smuggled"][m] = bought["smuggled"]
        unsold["Western"][y] += left
        unsold["China"][y] += np.maximum(offer["domestic"] - bought["domestic"], 0.0)
        paid = {k: bought[k] * p_cn[k] for k in bought if k != "frontier"}  # USD per channel, this month
        paid_frontier = got["China"] * p_clear
        for k in live:
            parts_h[k][y] += bought[k]
            parts_chips[k][y] += bought[k] / part_h100e[k]
            parts_usd[k][y] += paid[k]
        parts_h["frontier"][y] += got["China"]
        parts_chips["frontier"][y] += got["China"] / us_chip_t[m]
        parts_usd["frontier"][y] += paid_frontier
        spend_cn = sum(paid.values()) + paid_frontier
        spend["US"][y] += got["US"] * p_clear
        spend["RoW"][y] += got["RoW"] * p_clear
        spend["China"][y] += spend_cn
        unpowered["US"][y] += np.maximum(budget["US"] / px - cap_home - cap_abroad, 0.0)
        unpowered["RoW"][y] += np.maximum(budget["RoW"] / px - cap_row, 0.0)

        # --- power the new chips draw, by site and by owner
        cn_gw = sum(bought[k] * cn_w[k] for k in bought if k != "frontier") * kw + got["China"] * kw
        gw_site["US"][m], gw_site["RoW"][m], gw_site["China"][m] = home * kw, (got["RoW"] + got["US"] - home) * kw, cn_gw

        # --- what limited each actor this month
        for a, d_a, cap_a in (("US", d_us, cap_home + cap_abroad), ("RoW", d_row, cap_row)):
            met = got[a] >= d_a * (1 - 1e-9)
            by_power = budget[a] / px > cap_a
            binding[a][m] = np.where(met, np.where(by_power, supply.POWER, supply.BUDGET), code_w)
        binding["China"][m] = np.where(cn_power_bound, supply.POWER,
                                       np.where(spend_cn >= budget["China"] * (1 - 1e-9), supply.BUDGET, code_c))

        # --- advance the compounding paths to the next month
        west_growth = supply.western_production_next(west_growth, g_area.at(m), g_eff.at(m))
        dom_growth = dom_growth * g_dom.at(m)
        boost = boost * channels.controls_boost_step(log_boost, a_m)
        for a in SITES:
            avail[a] = avail[a] * g_avail[a].at(m)
        price = price * price_step
        watts = watts * watts_step
        if progress is not None:
            progress(m + 1)

    # --- stocks, power drawn, generations, yearly additions and binding codes, straight into the result arrays
    if any_phys:  # yearly caps of China's domestic chain: what the year's HBM and packaging allowed its own dies
        spp = phys["hbm_stacks_per_package"]
        hbm_year = np.maximum((hbm_at_start + hbm_new_year) / spp - proxy_year, 0.0)
        chain["hbm_packages"][...] = np.where(physics, np.where(preban_year, np.inf, hbm_year), 0.0)
        chain["packaging_packages"][...] = np.where(physics, np.maximum(pack_year - proxy_year, 0.0), 0.0)
    if out is None:
        out = {}
    Y, G = len(starts), len(GENERATION_EDGES) + 1

    def dst(name: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        if name not in out:
            out[name] = np.empty(shape, dtype)
        return out[name]

    ends = np.r_[starts[1:] - 1, T - 1]  # each year's last month (December, or the horizon's end)
    first_m, last_m = generation_bounds(t)
    init_owner = np.stack([us0, cn0, world0 - us0 - cn0])
    tally(adds_buf, gw_site_buf, kw_buf, avail_buf, binding_buf, init, init_gw, init_owner, life,
          year_of.astype(np.int64), starts.astype(np.int64), ends.astype(np.int64), first_m, last_m,
          len(supply.BINDING), supply.POWER, dst("stock_h100e", (S, T, 3)), dst("operational_h100e", (S, T, 3)),
          dst("power_gw", (S, T, 3)), dst("china_stock_h100e", (S, T, len(channels.CHANNELS))),
          dst("us_abroad_h100e", (S, T)), dst("binding_constraint", (S, Y, 3), np.int8), dst("additions_h100e", (S, Y, 3)),
          dst("china_additions_h100e", (S, Y, len(channels.CHANNELS))),
          dst("stock_by_generation_h100e", (S, Y, 3, G)), dst("power_by_generation_gw", (S, Y, 3, G)))
    del adds, gw_site, binding, adds_buf, gw_site_buf, kw_buf, avail_buf, binding_buf  # free before the copies below
    yearly = {"china_supply_chain": chain_buf, "spend_usd": spend_buf, "capex_usd": capex_buf,
              "unsold_h100e": unsold_buf, "unpowered_h100e": unpowered_buf, "china_imports_h100e": parts_h_buf,
              "china_imports_chips": parts_chips_buf, "china_imports_usd": parts_usd_buf}  # [year, name, sample]
    for k, v in yearly.items():
        dst(k, (S, *v.shape[:-1]))[...] = np.moveaxis(v, -1, 0)
    best = dst("best_chip_h100e", (S, T, 2))
    best[:, :, 0], best[:, :, 1] = us_chip, cn_chip
    tsmc = np.stack([g(f"capability.tsmc_{n.lower()}_year") for n in capability.NODES], axis=1)
    smic_nodes = capability.smic_node_years(g("capability.smic_7nm_year"), g("capability.smic_5nm_year"), euv_year,
                                            g("capability.smic_node_years_after_euv"))
    per_sample = {
        "taiwan_event_year": taiwan_year, "euv_year": euv_year, "taiwan_capacity_lost": g("events.taiwan_capacity_lost"),
        "capex_bust_year": bust_year, "controls_shift_year": shift_year, "controls_regime": regime.astype(np.float64),
        "china_centralise_year": cdz_year, "china_centralised_share_ratio": g("events.china_centralised_share_ratio"),
        "western_model": (g("supply.western_model") > 0.5).astype(np.float64),
        "domestic_model": (g("channels.domestic_model") > 0.5).astype(np.float64),
        "tsmc_node_year": tsmc, "smic_node_year": smic_nodes,
        "run_flop_per_h100e": capability.run_flop_per_h100e(g("capability.cluster_share"), g("capability.run_months"),
                                                            g("capability.mfu")),
        "algorithmic_progress_per_year": g("capability.algorithmic_progress_per_year"),
        "china_algorithmic_lag_years": g("capability.china_algorithmic_lag_years"),
        "china_cluster_share_ratio": g("capability.china_cluster_share_ratio"),
    }

    remote = channels.remote(out["stock_h100e"][:, :, 2], g("channels.remote_share_of_row")[:, None])
    if "china_remote_h100e" in out:
        out["china_remote_h100e"][...] = remote
    else:
        out["china_remote_h100e"] = remote.astype(np.float32)
    for k, v in per_sample.items():
        if k in out:
            out[k][...] = v
        else:
            out[k] = v.astype(np.float64)
    out["year"] = years[starts]
    return out


def _regime_access(access: np.ndarray | float, part: str, shifted: np.ndarray, regime: np.ndarray
                   ) -> np.ndarray | float:
    """A licensed part's access after an unscheduled shift: closed by a tightening, the B30A-class part open in a
    partial loosening (a lift opens frontier parts, which replace the licensed ones); else the enacted access."""
    if not shifted.any():
        return access
    out = np.where(shifted & (regime == events.TIGHTEN), 0.0, access)
    if part == "b30a":
        out = np.where(shifted & (regime == events.PARTIAL), 1.0, out)
    return out

