"""Sampled events and how they change supply and policy.

- Taiwan disruption (first_event_time, disruption_factor): from a sampled date (a Poisson process with a
  sampled annual hazard), TSMC-based output (CoWoS packaging included, so all Western accelerators) and the
  delivery of proxy-fab dies through intermediaries fall by a sampled severity for a sampled duration.
  A zero severity leaves every output bit-identical to no event.
- EUV breakthrough (euv_factor, euv_supply_effects): from a sampled date, China's domestic supply gains a
  factor f(t) ramping linearly to M: sqrt(f) more AI wafers (capacity), sqrt(f) more H100e per package
  (a denser node), and defect density excess over its floor divided by f (yield). SMIC's node dates follow
  in capability.smic_node_years.
- Export-control shift (controls_after_shift): at a sampled date (Poisson, from a start date) the legal-
  import access changes to a sampled level and holds, replacing the enacted schedule from then on.
- HBM-ban enforcement: from events.hbm_ban_year China's HBM is its stockpile, domestic output and a
  sampled leak of Western stacks (supply.china_hbm_leak_stacks_per_year); before it HBM never binds.
- Taiwan conflict (taiwan_output_factor): beyond the disruption window, a sampled share of capacity is lost for
  good and rebuilt elsewhere over a sampled number of years, and Western price-performance is set back; from the
  event on, sanctions cut a sampled share of China's legal imports, smuggling routes, proxy-fab dies and the
  Western HBM that leaks to it after the HBM ban.
- Export-control regimes (controls_regime): the shift's level picks the regime - 0 tightens (licensed parts
  closed too, smuggling routes cut, tool controls), 1 lifts the controls (the HBM ban ends), anything between
  loosens partially (frontier access at that level, a B30A-class part allowed).
- US AI-capex bust (the disruption window applied to capex): capex falls by a sampled depth for a sampled
  duration, then returns to its path; RoW loses a share of that depth.
- China centralises compute (AI 2027's CDZ): from a sampled date its largest run's share of its compute rises.
- Coupled leaps (euv_couplings): the EUV factor also multiplies domestic HBM and packaging and cuts cost.
Every effect starts at its event's month: nothing before it changes.
"""

from __future__ import annotations

import numpy as np

from .growth import month_overlap


def first_event_time(u: np.ndarray, hazard_per_year: np.ndarray, start_year: np.ndarray) -> np.ndarray:
    """Time of the first event of a Poisson process with annual probability h, from `start_year`.

    t = start - ln(1 - u) / r, with rate r = -ln(1 - h) per year, so P(event within 1 year) = h.
    u: [sample] uniform in (0, 1); hazard_per_year: [sample] in [0, 1). Returns fractional years
    (inf when h = 0).
    """
    rate = -np.log1p(-np.minimum(hazard_per_year, 1 - 1e-12))
    with np.errstate(divide="ignore"):
        return start_year - np.log1p(-u) / rate


def disruption_factor(t_years: np.ndarray, event_year: np.ndarray, duration_months: np.ndarray,
                      severity: np.ndarray) -> np.ndarray:
    """Output multiplier f(t) = 1 - severity while event <= t < event + duration, else 1.

    t_years: [month]; event_year, duration_months, severity: [sample]. Returns [sample, month].
    A month partly inside the window is cut in proportion to the overlap.
    """
    return 1.0 - severity[:, None] * month_overlap(t_years, event_year, duration_months)


def euv_factor(t_years: np.ndarray, euv_year: np.ndarray, multiplier: np.ndarray,
               ramp_years: np.ndarray) -> np.ndarray:
    """f(t) = 1 + (M - 1) * clip((t - t_euv) / ramp, 0, 1): [sample, month], dimensionless."""
    frac = np.clip((t_years[None, :] - euv_year[:, None]) / ramp_years[:, None], 0.0, 1.0)
    return 1.0 + (multiplier[:, None] - 1.0) * frac


def euv_supply_effects(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the EUV factor f >= 1 of one month over the domestic chain: (wafer x, H100e/package x, D0 excess /).

    wafers x sqrt(f) (capacity), H100e per package x sqrt(f) (node density) and the defect-density excess
    over its floor divided by f (EUV replaces DUV multi-patterning, the main yield loss). With perfect yield
    the output gain is f, as in the growth form (channels.domestic x f). f = 1 (no breakthrough) changes nothing.
    Assumption: the even split between capacity and density mirrors capability.china_best_chip_h100e, which
    takes sqrt(f) of the gain through better chips.
    """
    r = np.sqrt(f)
    return r, r, f


def controls_after_shift(allowed: np.ndarray, t_year: float, shift_year: np.ndarray, level: np.ndarray) -> np.ndarray:
    """a'(t) = level once t >= the shift's date, else the enacted a(t). Arrays [sample]; a in [0, 1].

    shift_year from first_event_time(u, events.controls_shift_hazard_per_year, events.controls_shift_start)
    (inf: no shift within the horizon). The shift is one change that then holds.
    Assumption: four changes to China's access in 2022-2026 (Oct 2022, Oct 2023, Apr/Jul 2025 H20, Jan 2026
    H200 licences; export_controls.yaml) show how often policy moves; what it moves to is sampled.
    """
    return np.where(t_year >= shift_year, level, allowed)


def taiwan_output_factor(t_years: np.ndarray, event_year: np.ndarray, duration_months: np.ndarray,
                         severity: np.ndarray, lost: np.ndarray, rebuild_years: np.ndarray) -> np.ndarray:
    """Western output multiplier f(t) = 1 - max(severity x in-window, lost x (1 - rebuilt(t))): [sample, month].

    rebuilt(t) = clip((t - event) / rebuild_years, 0, 1) from the event's date: capacity destroyed or stranded
    is rebuilt elsewhere on a linear ramp (reference: TSMC Arizona and Kumamoto took ~3-4 years from
    groundbreaking to volume). lost = 0 is disruption_factor exactly (a blockade that ends).
    """
    cut = severity[:, None] * month_overlap(t_years, event_year, duration_months)
    after = np.clip((t_years[None, :] - event_year[:, None]) / rebuild_years[:, None], 0.0, 1.0)
    gone = np.where(t_years[None, :] >= event_year[:, None], lost[:, None] * (1.0 - after), 0.0)
    return 1.0 - np.maximum(cut, gone)


def after_event(t_year: float, event_year: np.ndarray, share: np.ndarray) -> np.ndarray:
    """1 - share once t >= the event's date, else 1: [sample] (sanctions cut a share of a channel for good)."""
    return np.where(t_year >= event_year, 1.0 - share, 1.0)


#: Regimes an export-control shift can move to (events.controls_shift_allowed picks one; see controls_regime).
TIGHTEN, PARTIAL, LIFT = 0, 1, 2


def controls_regime(level: np.ndarray) -> np.ndarray:
    """The regime a shift moves to, from its sampled level: 0 TIGHTEN, 1 (full access) LIFT, else PARTIAL. [sample] int8.

    The menu follows IFP's export scenarios (Oct 2025): from tighter controls (no licensed parts, HBM,
    subsystem and tool controls) through licensed Blackwell-class exports (B30A) to lifting the controls.
    """
    return np.where(level <= 1e-9, TIGHTEN, np.where(level >= 1.0 - 1e-9, LIFT, PARTIAL)).astype(np.int8)


def ramp(t_year: float, start: np.ndarray, years: float) -> np.ndarray:
    """clip((t - start) / years, 0, 1): [sample] share of an effect in force (0 before its start)."""
    return np.clip((t_year - start) / years, 0.0, 1.0)


def euv_couplings(f: np.ndarray, hbm_exponent: np.ndarray, packaging_exponent: np.ndarray,
                  cost_exponent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What an EUV factor f >= 1 (one month, [sample]) also relaxes: (HBM x, packaging x, domestic price x).

    HBM output x f^c_h (CXMT's HBM is limited by DRAM nodes that need the same lithography), packaging capacity
    x f^c_p, the domestic price multiplier x f^-c_c (fewer multi-patterning steps, higher yields). Exponents 0:
    no coupling; f = 1 changes nothing.
    """
    lf = np.log(f)
    return np.exp(hbm_exponent * lf), np.exp(packaging_exponent * lf), np.exp(-cost_exponent * lf)


def centralised_share_ratio(t_years: np.ndarray, base_ratio: np.ndarray, centralise_year: np.ndarray,
                            centralised_ratio: np.ndarray) -> np.ndarray:
    """China's largest-run share relative to the US's at each month: [sample, month].

    The base ratio (fragmentation) until China centralises (AI 2027's CDZ), then the larger of the two.
    """
    after = t_years[None, :] >= centralise_year[:, None]
    return np.where(after, np.maximum(base_ratio, centralised_ratio)[:, None], base_ratio[:, None])
