"""Western (TSMC-based) accelerator production in H100e per month.

At this stage production is the growth-rate form of AI 2027's compute forecast: output measured in
H100-die-area equivalents grows with packaging (CoWoS) and HBM capacity, and each unit of area
delivers more H100e as chip efficiency improves. The wafer/yield/HBM physics replace this later.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import yields
from .growth import monthly_step


def western_production_next(p_h100e_per_month: np.ndarray, area_growth_pow_1_12: np.ndarray,
                            efficiency_growth_pow_1_12: np.ndarray) -> np.ndarray:
    """P(t + 1 month) = P(t) * (g_area(t) * g_eff(t))^(1/12).

    p_h100e_per_month: [sample], Western output this month (H100e/month, > 0), starting from
    supply.western_production_2022_h100e_per_month. Growth factors per year, 0.3..6, given here as
    their 1/12 powers. Closed form at constant growth: P(m) = P0 * (g_area * g_eff)^(m/12).
    Source: Dean (2025), AI 2027 Compute Forecast: compute growth = chip efficiency x production.
    """
    return monthly_step(p_h100e_per_month, area_growth_pow_1_12 * efficiency_growth_pow_1_12)


# ----------------------------------------------------------------------------------------------------------
# The physical chain: wafers -> good dies -> packages, capped by HBM and advanced packaging -> H100e.
# Every function is pure and vectorised over [sample] arrays; the month loop (simulate.py) holds the state
# (HBM stockpile, die bank) and calls these once a month. Sourced inputs: docs/supply_inputs.md.
# ----------------------------------------------------------------------------------------------------------

def _nonneg(name: str, x: ArrayLike, hint: str = "") -> np.ndarray:
    a = np.asarray(x, dtype=float)
    bad = ~(a >= 0)
    if np.any(bad):
        value = a[bad].flat[0] if a.ndim else a.item()
        raise ValueError(f"{name} must be >= 0 (and not NaN); got {float(value)!r}. {hint}".rstrip())
    return a


def _positive(name: str, x: ArrayLike, hint: str = "") -> np.ndarray:
    a = np.asarray(x, dtype=float)
    bad = ~(a > 0)
    if np.any(bad):
        value = a[bad].flat[0] if a.ndim else a.item()
        raise ValueError(f"{name} must be > 0 (and not NaN); got {float(value)!r}. {hint}".rstrip())
    return a


def good_dies_per_month(wafers_per_month: ArrayLike, die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike,
                        model: str = "poisson", alpha: ArrayLike | None = None,
                        gross_dies_per_wafer: ArrayLike | None = None, wafer_diameter_mm: ArrayLike = 300.0,
                        edge_exclusion_mm: ArrayLike = 0.0, scribe_mm: ArrayLike = 0.0) -> np.ndarray:
    """Good compute dies per month: G = W x N x Y(A, D0).

    W wafer starts per month devoted to the accelerator (for China: SMIC advanced-node wafers x the AI
    share); N gross dies per wafer, from yields.dies_per_wafer(A, ...) unless a published count is given
    as `gross_dies_per_wafer` (Morgan Stanley: 78 Ascend 910B dies per 300 mm wafer); Y the die yield of
    the named model (yields.MODELS). Keep `model` the one the D0 input was backed out with: the round trip
    reproduces the observed yield at the observed die area whatever the model.
    wafers_per_month: [sample], >= 0 wafers/month.
    die_area_mm2: [sample] or scalar, > 0 mm² (665.61 for the Ascend 910B die).
    defects_per_cm2: [sample], D0 >= 0 per cm² (see defect_density for the learning curve).
    gross_dies_per_wafer: optional [sample] or scalar, >= 0 dies/wafer; overrides the formula.
    Returns good dies/month, >= 0.
    Source: chain of yields.dies_per_wafer (Hennessy & Patterson 2012) and the yield models
    (docs/references.md); inputs from morgan-stanley-smic-2025, semianalysis-smic-2025.
    """
    w = _nonneg("wafers_per_month", wafers_per_month, "Wafer starts per month, e.g. 7000.")
    if gross_dies_per_wafer is None:
        n = yields.dies_per_wafer(die_area_mm2, wafer_diameter_mm, edge_exclusion_mm, scribe_mm)
    else:
        n = _nonneg("gross_dies_per_wafer", gross_dies_per_wafer, "A count of candidate dies per wafer.")
    return w * n * yields.die_yield(die_area_mm2, defects_per_cm2, model, alpha)


def packages_from_dies(good_dies: ArrayLike, compute_dies_per_package: ArrayLike,
                       assembly_yield: ArrayLike = 1.0) -> np.ndarray:
    """Accelerator packages from good compute dies: P = G x y_asm / n.

    Dies are tested before assembly (known-good die), so any n good dies make one package; y_asm is the
    share of assembled packages that pass final test (1 = no assembly loss). A continuous expectation:
    floor it only when reporting a count.
    good_dies: [sample], >= 0 dies (per month, or a stock such as a die bank).
    compute_dies_per_package: [sample] or scalar, > 0; 1 for the Ascend 910B, 2 for the 910C
      (Morgan Stanley: 78 910B or 39 910C dies per wafer; the 910C die count is disputed, so sample it).
    assembly_yield: [sample] or scalar, in (0, 1].
    Returns packages (same unit of time as good_dies), >= 0.
    Source: morgan-stanley-smic-2025 (78 vs 39 per wafer); semianalysis-ascend-2025 (910C = two dies).
    """
    g = _nonneg("good_dies", good_dies)
    n = _positive("compute_dies_per_package", compute_dies_per_package,
                  "Compute dies in one package: 1 (Ascend 910B, H100) or 2 (Ascend 910C, B200).")
    y = np.asarray(assembly_yield, dtype=float)
    if np.any(~((y > 0) & (y <= 1))):
        raise ValueError(f"assembly_yield must be in (0, 1]; got {assembly_yield!r}. Write 95% as 0.95.")
    return g * y / n


def hbm_capped_packages(packages: ArrayLike, hbm_stacks_available: ArrayLike,
                        stacks_per_package: ArrayLike) -> np.ndarray:
    """Packages that the HBM on hand can populate: P_hbm = min(P, S / s).

    packages: [sample], >= 0 packages the dies would allow.
    hbm_stacks_available: [sample], >= 0 HBM stacks available for these packages (this month's draw on the
      stockpile plus domestic output, see hbm_drawdown).
    stacks_per_package: [sample] or scalar, > 0; 8 for the Ascend 910C (SemiAnalysis: ~13M stacks are
      "enough for 1.6M Ascend 910C packages", 13/1.6 = 8.1), 4 for the 910B, 8 for B200.
    Returns packages, <= packages and <= S / s.
    Source: semianalysis-ascend-2025.
    """
    p = _nonneg("packages", packages)
    s = _nonneg("hbm_stacks_available", hbm_stacks_available)
    k = _positive("stacks_per_package", stacks_per_package, "HBM stacks on one package, e.g. 8 for the 910C.")
    return np.minimum(p, s / k)


def packaging_capped(packages: ArrayLike, packaging_capacity: ArrayLike) -> np.ndarray:
    """Packages that advanced-packaging capacity can assemble: P_pkg = min(P, C).

    packages: [sample], >= 0 packages per month. packaging_capacity: [sample], >= 0 packages per month
    (np.inf when packaging does not bind; for CoWoS use wafers/month x packages per wafer).
    Returns packages per month.
    Source: the binding-constraint reading of AI 2027 (ai2027-compute: "bottlenecked by advanced packaging
    and HBM production").
    """
    return np.minimum(_nonneg("packages", packages), _nonneg("packaging_capacity", packaging_capacity))


def h100e_from_packages(packages: ArrayLike, h100e_per_package: ArrayLike) -> np.ndarray:
    """H100-equivalents from packages: H = P x h, h = dense BF16 TFLOP/s of the package / 989.4.

    packages: [sample], >= 0. h100e_per_package: [sample] or scalar, >= 0; Ascend 910C 780/989.4 = 0.79,
    910B ~376/989.4 = 0.38 (FP16), B200 2250/989.4 = 2.27 (chips.csv).
    Returns H100e (same unit of time as packages).
    Source: DESIGN.md H100e basis; per-chip values in data/chips.csv.
    """
    return _nonneg("packages", packages) * _nonneg("h100e_per_package", h100e_per_package)


def defect_density(t_years: ArrayLike, d0_start: ArrayLike, d0_floor: ArrayLike, halving_years: ArrayLike,
                   start_year: ArrayLike) -> np.ndarray:
    """Defect-density learning curve: D0(t) = D_floor + (D_start - D_floor) * 2**(-(t - t0) / T_half).

    D0 falls exponentially toward a floor as a node matures, halving its excess over the floor every
    T_half years; before t0 it stays at D_start (a node does not get worse going back in time here).
    Calibrate from two observed yields with yields.defect_density_from_yield and halving_years_between.
    t_years: [month] or [sample], calendar time as a decimal year (2025.5 = 1 July 2025).
    d0_start: [sample], D0 >= 0 per cm² at start_year. d0_floor: [sample], 0 <= floor (<= d0_start for a
      falling curve; a floor above the start gives a rising curve, allowed but unusual).
    halving_years: [sample], > 0 years. start_year: [sample] or scalar, decimal year.
    Returns D0 per cm², between the floor and d0_start.
    Source: exponential defect learning as in foundry D0 charts (anandtech-tsmc-d0-2020: TSMC N7 at 0.09/cm²
    three quarters after volume production); SMIC calibration points morgan-stanley-smic-2025 (30% end-2025,
    70% by 2027) and csis-smic-yield-2025 (~20%).
    """
    t = np.asarray(t_years, dtype=float)
    d0 = _nonneg("d0_start", d0_start)
    floor = _nonneg("d0_floor", d0_floor)
    half = _positive("halving_years", halving_years, "Years for the excess defect density to halve, e.g. 1.")
    elapsed = np.maximum(t - np.asarray(start_year, dtype=float), 0.0)
    return floor + (d0 - floor) * np.exp2(-elapsed / half)


def halving_years_between(d0_a: ArrayLike, year_a: ArrayLike, d0_b: ArrayLike, year_b: ArrayLike,
                          d0_floor: ArrayLike = 0.0) -> np.ndarray:
    """Halving time of the defect_density curve through two points: T = (t_b - t_a) / log2((a - f)/(b - f)).

    d0_a > d0_b > d0_floor >= 0 per cm² at decimal years year_a < year_b. Returns years, > 0.
    Source: inverse of defect_density.
    """
    a, b, f = (np.asarray(v, dtype=float) for v in (d0_a, d0_b, d0_floor))
    dt = np.asarray(year_b, dtype=float) - np.asarray(year_a, dtype=float)
    if np.any(~(dt > 0)) or np.any(~(a > b)) or np.any(~(b > f)) or np.any(~(f >= 0)):
        raise ValueError("halving_years_between needs year_a < year_b and d0_a > d0_b > d0_floor >= 0")
    return dt / np.log2((a - f) / (b - f))


class HBMDraw(NamedTuple):
    """One month of HBM: stacks used for packages and the stockpile carried into the next month."""

    stacks_used: np.ndarray
    stockpile_stacks: np.ndarray


def hbm_drawdown(stockpile_stacks: ArrayLike, new_stacks_this_month: ArrayLike,
                 stacks_wanted: ArrayLike) -> HBMDraw:
    """One month of an HBM stockpile: used = min(wanted, S + n); S' = S + n - used.

    The stockpile S (stacks imported before the December 2024 HBM controls, SemiAnalysis ~13M incl. Samsung's
    11.4M) plus this month's new stacks n (domestic output, see domestic_hbm_stacks_per_month, plus any
    smuggled or licensed imports) serve the packages that want stacks_wanted = packages x stacks per
    package; unused stacks carry over. Stacks are conserved: S + n = used + S'.
    stockpile_stacks: [sample], >= 0 stacks at the start of the month.
    new_stacks_this_month: [sample], >= 0 stacks/month. stacks_wanted: [sample], >= 0 stacks/month.
    Returns HBMDraw(stacks_used, stockpile_stacks), both [sample], >= 0.
    Source: semianalysis-ascend-2025 (stockpile, "HBM is the bottleneck"); csis-huawei-2025 (stockpile "to
    last for more than a year").
    """
    s = _nonneg("stockpile_stacks", stockpile_stacks)
    n = _nonneg("new_stacks_this_month", new_stacks_this_month)
    want = _nonneg("stacks_wanted", stacks_wanted)
    have = s + n
    used = np.minimum(want, have)
    return HBMDraw(used, have - used)


def domestic_hbm_stacks_per_month(t_years: ArrayLike, start_year: ArrayLike, stacks_per_year_at_start: ArrayLike,
                                  growth_per_year: ArrayLike, max_stacks_per_year: ArrayLike = np.inf
                                  ) -> np.ndarray:
    """Domestic (CXMT, Huawei in-house) HBM output: min(S0 * g**(t - t0), S_max) / 12 stacks/month, 0 before t0.

    t_years: decimal year. start_year: decimal year output starts (CXMT HBM2 volume 2024-2025).
    stacks_per_year_at_start: [sample], >= 0 stacks/year at t0 (SemiAnalysis: ~2M stacks in 2025).
    growth_per_year: [sample], > 0 (x/year). max_stacks_per_year: [sample], >= 0 cap (capacity or DRAM share).
    Returns stacks/month, >= 0.
    Source: semianalysis-cxmt-hbm-2025 (2M stacks in 2025, "enough for 250-300k processors");
    digitimes-cxmt-hbm3-2025 and manifold-cxmt-hbm3-2026 (HBM3 sampling, timeline slipping).
    """
    t = np.asarray(t_years, dtype=float)
    t0 = np.asarray(start_year, dtype=float)
    s0 = _nonneg("stacks_per_year_at_start", stacks_per_year_at_start)
    g = _positive("growth_per_year", growth_per_year, "Yearly growth factor, e.g. 1.5 for +50%/year.")
    cap = _nonneg("max_stacks_per_year", max_stacks_per_year)
    started = t >= t0
    per_year = np.minimum(s0 * np.power(g, np.where(started, t - t0, 0.0)), cap)
    return np.where(started, per_year, 0.0) / 12.0


def western_from_cowos(cowos_wafers_per_month: ArrayLike, packages_per_wafer: ArrayLike,
                       h100e_per_package: ArrayLike, hbm_cap: ArrayLike | None = None) -> np.ndarray:
    """Western output from advanced packaging: H = min(C x p, P_hbm) x h, in H100e/month.

    C CoWoS (and equivalent) wafers per month going to AI accelerators; p packages per CoWoS wafer, which
    falls as interposers grow (~29 H100/H200 but ~16 B200 per wafer); h H100e per package along the vendor
    roadmap; P_hbm the packages per month that the HBM supply can populate (HBM stacks per month / stacks per
    package), None when HBM does not bind.
    cowos_wafers_per_month: [sample], >= 0 (TSMC: 14-15k Dec 2023, 33-35k end-2024, 75-80k end-2025,
      120-130k target end-2026).
    packages_per_wafer: [sample] or scalar, > 0. h100e_per_package: [sample] or scalar, >= 0.
    hbm_cap: optional [sample], >= 0 packages/month.
    Returns H100e/month, >= 0.
    Source: trendforce-cowos-2025, epoch-scaling-2030 (CoWoS capacity); redplanx-cowos-b200
    (packages per wafer). AI 2027's growth-rate form stays available: western_production_next with
    area growth = ai2027_area_growth(raw, difficulty).
    """
    c = _nonneg("cowos_wafers_per_month", cowos_wafers_per_month, "CoWoS wafers per month, e.g. 80000.")
    p = _positive("packages_per_wafer", packages_per_wafer, "Packages per CoWoS wafer, e.g. 16 for B200.")
    h = _nonneg("h100e_per_package", h100e_per_package)
    cap = np.inf if hbm_cap is None else _nonneg("hbm_cap", hbm_cap)
    return western_month(c, p, h, cap, 1.0).h100e  # the month loop's form, with the inputs checked


def ai2027_area_growth(raw_capacity_growth_per_year: ArrayLike = 2.0,
                       difficulty_growth_per_year: ArrayLike = 1.2) -> np.ndarray:
    """AI 2027's production growth in H100-die-area: g_area = g_raw / g_difficulty (2.0 / 1.2 = 1.67x/year).

    raw_capacity_growth_per_year: [sample], > 0, CoWoS/HBM capacity growth (x/year).
    difficulty_growth_per_year: [sample], > 0, growth of packaging area and HBM per unit of chip (x/year).
    Returns x/year, to feed western_production_next (as its 1/12 power).
    Source: ai2027-compute ("raw production capacity grow at 2x/year ... adjust down by 1.2x/year").
    """
    return (_positive("raw_capacity_growth_per_year", raw_capacity_growth_per_year)
            / _positive("difficulty_growth_per_year", difficulty_growth_per_year))


def proxy_packages(die_bank: ArrayLike, compute_dies_per_package: ArrayLike, hbm_stacks_available: ArrayLike,
                   stacks_per_package: ArrayLike, packaging_capacity: ArrayLike = np.inf) -> np.ndarray:
    """Packages from the proxy-fab die bank: P = min(B / n, S / s, C).

    The bank B of TSMC-made compute dies obtained through intermediaries (SemiAnalysis: >2.9M Ascend dies;
    CSIS: >2M) becomes packages only as far as HBM stacks S and packaging capacity C allow. The caller
    carries the state: B' = B - P x n and S' = S - P x s (the same HBM pool also serves domestic dies, so
    pass what is left of it, or a share of it).
    die_bank: [sample], >= 0 dies on hand. compute_dies_per_package: > 0 (2 for the 910C).
    hbm_stacks_available: [sample], >= 0 stacks. stacks_per_package: > 0 (8 for the 910C).
    packaging_capacity: [sample], >= 0 packages (np.inf when it does not bind).
    Returns packages, >= 0.
    Source: semianalysis-ascend-2025 ("more than 2.9M Ascend die"; 13M stacks "enough for 1.6M Ascend 910C
    packages"); csis-huawei-2025.
    """
    from_dies = packages_from_dies(die_bank, compute_dies_per_package)
    return packaging_capped(hbm_capped_packages(from_dies, hbm_stacks_available, stacks_per_package),
                            packaging_capacity)


def roadmap_value(t_years: ArrayLike, launch_years: ArrayLike, values: ArrayLike,
                  slip_years: ArrayLike = 0.0) -> np.ndarray:
    """Value of the newest generation launched by t: v_j for the largest j with launch_j + slip <= t.

    Steps a per-package quantity (H100e per package, die area, stacks per package) along a vendor roadmap,
    with a sampled slip delaying every launch; before the first launch it returns values[0].
    t_years: [sample] or scalar decimal year. launch_years: [gen], increasing decimal years.
    values: [gen] or [sample, gen]. slip_years: [sample] or scalar, years (may be negative for pull-ins).
    Returns [sample] (or the broadcast of t and slip).
    Source: roadmap dates in data/chips.csv (36kr-ascend-roadmap: 950PR Q1 2026, 960 Q4 2027, 970 Q4 2028).
    """
    launch = np.asarray(launch_years, dtype=float)
    vals = np.asarray(values, dtype=float)
    if launch.ndim != 1 or launch.size == 0 or np.any(np.diff(launch) < 0):
        raise ValueError("launch_years must be a non-empty, non-decreasing 1-D list of decimal years")
    if vals.shape[-1] != launch.size:
        raise ValueError(f"values has {vals.shape[-1]} generations but launch_years has {launch.size}")
    shifted = np.asarray(t_years, dtype=float) - np.asarray(slip_years, dtype=float)
    idx = np.clip(np.searchsorted(launch, shifted, side="right") - 1, 0, launch.size - 1)
    if vals.ndim == 1:
        return vals[idx]
    return np.take_along_axis(vals, np.broadcast_to(idx, vals.shape[:-1])[..., None], axis=-1)[..., 0]


# ----------------------------------------------------------------------------------------------------------
# One month of each supply chain, as the month loop (simulate.py) calls them, with the step that bound.
# ----------------------------------------------------------------------------------------------------------

#: Limits that can bind an actor's acquisitions, by code (summary.json `binding_constraint`). "growth form"
#: marks output from a growth-rate stand-in (AI 2027's form), where no physical step is resolved.
BINDING = ("wafers", "yield", "HBM", "packaging", "power", "budget", "growth form")
WAFERS, YIELD, HBM, PACKAGING, POWER, BUDGET, GROWTH = range(len(BINDING))

#: H100e per package of a proxy-fab (TSMC N7) Ascend die pair packaged as a 910C: 780 / 989.4 dense BF16
#: TFLOP/s (chips.csv `ascend-910c`, source winbuzzer-cm384). Banked dies never become later generations.
PROXY_H100E_PER_PACKAGE = 780.0 / 989.4


class WesternMonth(NamedTuple):
    """One month of Western output: H100e, the packages CoWoS and HBM allow, and the step that bound."""

    h100e: np.ndarray
    cowos_packages: np.ndarray
    hbm_packages: np.ndarray
    binding: np.ndarray


def western_month(cowos_wafers_per_month: np.ndarray, packages_per_wafer: np.ndarray, h100e_per_package: np.ndarray,
                  hbm_stacks_per_month: np.ndarray, stacks_per_package: np.ndarray) -> WesternMonth:
    """H = min(C x p, S / s) x h: Western H100e this month, and which cap bound (PACKAGING or HBM).

    Unchecked, for the month loop; western_from_cowos is the same with its inputs checked.
    C CoWoS wafers/month, p good packages per wafer, S HBM stacks/month for Western accelerators, s stacks
    per package, h H100e per package (all [sample], the month's product mix). Ties count as packaging.
    Source: western_from_cowos; the caps are the AI 2027 reading that output is "bottlenecked by advanced
    packaging and HBM production" (ai2027-compute).
    """
    pk_cowos = cowos_wafers_per_month * packages_per_wafer
    pk_hbm = hbm_stacks_per_month / stacks_per_package
    return WesternMonth(np.minimum(pk_cowos, pk_hbm) * h100e_per_package, pk_cowos, pk_hbm,
                        np.where(pk_hbm < pk_cowos, HBM, PACKAGING).astype(np.int8))


class ChinaMonth(NamedTuple):
    """One month of China's domestic chain (per [sample]); stocks carried into the next month."""

    gross_dies: np.ndarray
    good_dies: np.ndarray
    die_packages: np.ndarray        # packages the good domestic dies allow
    hbm_packages: np.ndarray        # domestic dies' share of the packages the HBM allows (inf before the HBM ban)
    packaging_packages: np.ndarray  # domestic dies' share of the packages the packaging capacity allows
    packages: np.ndarray            # domestic packages made: the minimum of the three
    proxy_packages: np.ndarray      # packages made from the proxy-fab die backlog
    hbm_stockpile: np.ndarray       # stacks carried over
    proxy_backlog: np.ndarray       # proxy dies delivered and not yet packaged
    binding: np.ndarray             # WAFERS, YIELD, HBM or PACKAGING (int8)


def china_month(wafers: np.ndarray, gross_dies_per_wafer: np.ndarray, die_area_mm2: np.ndarray,
                defects_per_cm2: np.ndarray, defect_floor_per_cm2: np.ndarray, dies_per_package: np.ndarray,
                stacks_per_package: np.ndarray, hbm_stockpile: np.ndarray, hbm_new: np.ndarray, hbm_banned: np.ndarray,
                proxy_backlog_dies: np.ndarray, packaging_capacity: np.ndarray, *,
                die_yield: np.ndarray | None = None, mature_yield: np.ndarray | None = None) -> ChinaMonth:
    """China's domestic chain for one month: wafers -> good dies -> packages, capped by HBM and packaging.

    gross = W x N; good = gross x Y_poisson(A, D0); domestic die packages D = good / n; proxy-fab packages
    wanted P = B / n from the backlog B of delivered TSMC dies. Both share the caps: H = HBM on hand / s
    (stockpile + this month's new stacks; unlimited before the HBM ban, when China could import HBM) and the
    packaging capacity C. Made in all: M = min(D + P, H, C), split pro rata: domestic D x M / (D + P), proxy
    P x M / (D + P). Equivalently domestic = min(D, H x f, C x f) with f = D / (D + P) its share, which is how
    the caps are reported. After the ban the stockpile carries (stockpile + new) - M s; before it the
    stockpile is untouched (it is the stock held when the ban takes effect). Stacks and dies are conserved.
    Binding step: HBM or packaging when one of them is the smallest cap; when dies are, YIELD if all dies at
    the mature defect density (D_floor) would exceed the next cap, else WAFERS.
    Arrays [sample]; wafers/month, dies/wafer, mm², defects/cm², dies, stacks, packages/month. The month loop
    passes die_yield = poisson(A, D0) and mature_yield = poisson(A, D_floor), computed (and checked) for all
    months at once; by default they are computed here.
    Source: the chain of docs/supply_inputs.md §8 (semianalysis-ascend-2025: die bank and HBM stockpile;
    morgan-stanley-smic-2025: wafers and yields).
    """
    gross = wafers * gross_dies_per_wafer
    if die_yield is None:
        die_yield = yields.poisson(die_area_mm2, defects_per_cm2)
    if mature_yield is None:
        mature_yield = yields.poisson(die_area_mm2, defect_floor_per_cm2)
    good = gross * die_yield
    n, s = dies_per_package, stacks_per_package
    die_pk = good / n
    want_proxy = proxy_backlog_dies / n
    want = die_pk + want_proxy
    have = np.where(hbm_banned, hbm_stockpile + hbm_new, np.inf)
    hbm_cap = have / s
    cap = np.minimum(hbm_cap, packaging_capacity)
    made = np.minimum(want, cap)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(want > 0, die_pk / want, 1.0)  # domestic dies' share of what is packaged
        scale = np.where(want > 0, made / want, 0.0)
    packages, proxy = die_pk * scale, want_proxy * scale
    stockpile = np.where(hbm_banned, np.maximum(have - made * s, 0.0), hbm_stockpile)
    mature = gross * mature_yield / n + want_proxy
    code = np.where(want <= cap, np.where(mature > cap, YIELD, WAFERS),
                    np.where(hbm_cap <= packaging_capacity, HBM, PACKAGING)).astype(np.int8)
    with np.errstate(invalid="ignore"):  # no domestic dies (f = 0): their share of any cap is 0, also of inf
        hbm_share = np.where(f > 0, hbm_cap * f, 0.0)
    return ChinaMonth(gross, good, die_pk, hbm_share, packaging_capacity * f, packages, proxy, stockpile,
                      proxy_backlog_dies - proxy * n, code)


def roadmap_time(t_years: np.ndarray, slip_years: np.ndarray, start_year: np.ndarray) -> np.ndarray:
    """Effective roadmap time under a slip: t' = t before `start`, max(t - slip, start) from it. [sample, month].

    A slip s delays every roadmap step still ahead at `start` (the forecast date) by s years; steps already taken
    stay where history put them. t_years: [month] decimal years; slip_years: [sample] >= 0; start: [sample].
    Evaluate a roadmap path at t' with path_at; feed t' to capability.chip_path for its trend after the roadmap.
    Assumption: one slip per sample for all future steps (announced Huawei dates, 36kr-ascend-roadmap).
    """
    t = np.asarray(t_years, dtype=float)[None, :]
    start = np.asarray(start_year, dtype=float)[:, None]
    return np.where(t >= start, np.maximum(t - np.asarray(slip_years, dtype=float)[:, None], start), t)


def path_at(path: np.ndarray, t_years: np.ndarray, t_eff: np.ndarray) -> np.ndarray:
    """Values of a monthly path [sample, month] at per-sample times t_eff [sample, month] (the month holding t_eff)."""
    idx = np.clip(np.searchsorted(t_years, t_eff + 1e-9, side="right") - 1, 0, len(t_years) - 1)
    return np.take_along_axis(path, idx, axis=1)
