"""Shared by the engine tests: every mechanism switched off, and a runner with point overrides.

OFF gives no Western or domestic output, no events and no caps, with the growth forms selected (whose closed
forms tests/test_engine.py checks); a test switches on what it examines. run_with(**over) runs the 'baseline'
scenario with OFF and `over` (keys use `__` or `.`) on a few samples.
"""

from __future__ import annotations

import computerace as cr

BIG = 1e13  # USD/year or GW that never binds

# Everything off: no Western or domestic output, no events, no caps. Cases switch mechanisms on.
OFF = {
    "finance.china_compute_share_ratio": 1.0,  # China's budget is capex x compute_share, as the others'
    "supply.western_production_2022_h100e_per_month": 0.0,
    "supply.western_area_growth_per_year": 1.0,
    "supply.chip_efficiency_growth_per_year": 1.0,
    "channels.legal_import_allowed": 0.0,  # China buys no frontier parts (cases open the market to it)
    "channels.controls_domestic_boost_per_year": 1.0,  # and controls add nothing to domestic growth
    "smuggling.route_capacity_chips_per_year": 0.0,
    "imports.a800_chips_per_month": 0.0,
    "imports.h800_chips_per_month": 0.0,
    "imports.h20_chips_per_month": 0.0,
    "imports.h200_chips_per_month": 0.0,
    "imports.b30a_chips_per_month": 0.0,
    "power.us_abroad_share": 0.0,
    "channels.domestic_2022_h100e_per_month": 0.0,
    "channels.domestic_growth_per_year": 1.0,
    "channels.proxy_die_bank_dies": 0.0,
    "supply.western_model": 0.0,  # the growth forms: their closed forms are tested here
    "channels.domestic_model": 0.0,
    "finance.us_capex_usd_per_year": BIG,
    "finance.china_capex_usd_per_year": BIG,
    "finance.row_capex_usd_per_year": 0.0,  # RoW buys nothing: the US takes all Western output
    "power.us_available_2022_gw": 1e4,
    "power.china_available_2022_gw": 1e4,
    "power.row_available_2022_gw": 1e4,
    "power.us_growth_per_year": 1.0,
    "power.china_growth_per_year": 1.0,
    "power.row_growth_per_year": 1.0,
    "stock.initial_world_h100e": 0.0,
    "stock.initial_us_share": 0.7,
    "stock.initial_china_share": 0.1,
    "stock.useful_life_years": 20.0,  # longer than the 19-year horizon: nothing retires
    "events.taiwan_hazard_per_year": 0.0,
    "events.euv_year": 2100.0,
    "events.controls_shift_hazard_per_year": 0.0,
    "events.capex_bust_hazard_per_year": 0.0,
    "events.china_centralise_hazard_per_year": 0.0,
    "events.taiwan_capacity_lost": 0.0,  # a disruption is a window only, without sanctions, unless a case says so
    "events.taiwan_sanctions": 0.0,
    "events.taiwan_tech_setback_years": 0.0,
    "events.euv_hbm_exponent": 0.0,  # an EUV breakthrough relaxes nothing beyond wafers, density and yield
    "events.euv_packaging_exponent": 0.0,
    "events.euv_cost_exponent": 0.0,
    "supply.china_packaging_packages_per_month": 1e9,
    "supply.china_hbm_leak_stacks_per_year": 0.0,
}


def run_with(samples: int = 4, **over: float) -> cr.results.Run:
    """The baseline with OFF, then `over`, on `samples` samples (seed 0)."""
    sets = dict(OFF)
    sets.update({k.replace("__", "."): v for k, v in over.items()})
    return cr.run(cr.load_scenario("baseline", sets), samples=samples, seed=0)
