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
