"""Evidence as observations, and a forecast conditioned on them (importance weighting, tempering, resampling).

Each evidence.csv row that measures something the model computes becomes an Observation: a model quantity
(a function of a Run's Dataset, per sample), an observed value y and a likelihood. Intervals (p5-p95, ranges)
become a lognormal with sigma_obs = ln(high / low) / (2 z); a point value carries a stated relative error with
its reasoning. A structural error SIGMA_MODEL is added in quadrature (the model is not the world):

    log L_i = -(ln m_i - ln y_i)^2 / (2 (sigma_obs^2 + SIGMA_MODEL^2))

Rows from the same underlying source are grouped so they are not counted twice: Epoch's cumulative sales at
several dates become yearly increments (different years' sales, not the same sales again), and designers
reported separately for the same year are summed into one observation. Unit conversions are explicit:
Epoch's H100e are on an 8-bit basis (dense 8-bit OP/s / 1,979 TOPS) and the model's on dense BF16
(/ 989 TFLOP/s); for every Western chip whose 8-bit rate is twice its BF16 rate (all NVIDIA, AMD, TPU and
Trainium parts in chips.csv with both rates), the two bases agree, so the factor is 1 (tested on chips.csv).

History is also a constraint: China's installed stock stayed below the US's through the forecast date (Epoch's
owner data put China at ~5% of world compute in April 2026), an indicator likelihood (0 or 1).

Conditioning: w_s = exp(phi sum_i log L_i(s)) over the samples of a Run, normalised; the effective sample size
ESS = 1 / sum w^2. If ESS falls below `min_ess`, the likelihood is tempered: phi in (0, 1] is the largest value
that keeps ESS >= min_ess (bisection), and phi is reported. The posterior is a systematic resample of the
samples by w, with one uniform drawn from SeedSequence(seed, spawn_key=(RESAMPLE_STREAM,)), so the same seed,
scenario and evidence give the same posterior whatever the chunk size.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenario.distributions import z_of_ci

#: Structural error of the model against any observation, 1 sd in log (added in quadrature). Assumption: a
#: month-by-month model of supply, money and power that gets a yearly quantity within about +-15% is as good as
#: its structure allows; smaller would let a few rows decide everything.
SIGMA_MODEL = 0.15
#: Relative error (1 sd, in log) of an estimate given as a point, without a stated interval.
POINT_SIGMA = 0.3
Z90 = z_of_ci(90)
#: Spawn key of the resampling stream (block keys are small integers; this one never collides with them).
RESAMPLE_STREAM = 2**31 - 1
DEFAULT_MIN_ESS_FRACTION = 0.05
#: A row whose period ends more than this many months after it was published is a forecast, not an observation
#: (Bloomberg's September estimate of Huawei's 2025 output is an observation; its plan for 2026 is a forecast).
NOWCAST_MONTHS = 6
#: Share of NVIDIA's China revenue that is data-centre accelerators (the model's legal imports), 90% range.
#: Assumption: NVIDIA's data-centre segment was 78% (FY2024) and 88% (FY2025) of its revenue worldwide; China
#: buys relatively more gaming GPUs (the RTX 4090D), so its share is set lower and wide.
ACCELERATOR_SHARE_OF_CHINA_REVENUE = (0.55, 0.9)
#: H100e per Cambricon Siyuan 590/690 chip (dense BF16). Assumption: Cambricon publishes no rate; the 590 is
#: reported as A100-class (A100: 312 TFLOP/s = 0.32 H100e); the 90% range 0.2-0.5 spans the 590 to the 690.
CAMBRICON_H100E = (0.2, 0.5)


@dataclass(frozen=True)
class Observation:
    """One observation: what the model computes (model(ds) -> [sample]), the observed y and its log sd."""

    name: str
    rows: tuple[str, ...]
    series: str
    period_end: str
    y: float
    sigma_obs: float
    published: str
    why: str
    model: Callable[[Any], np.ndarray]
    #: the scenario parameter whose prior this row measures directly (an input such as capex): a scenario that
    #: already cites the row's source for that parameter has the row in its prior, so it is not counted again
    param: str | None = None

    @property
    def sigma(self) -> float:
        return math.sqrt(self.sigma_obs ** 2 + SIGMA_MODEL ** 2)

    def loglik(self, ds: Any) -> np.ndarray:
        m = np.asarray(self.model(ds), dtype=np.float64)
        with np.errstate(divide="ignore"):
            d = np.log(np.maximum(m, 1e-300)) - math.log(self.y)
        return -0.5 * (d / self.sigma) ** 2


def _year_additions(ds: Any, parts: list[tuple[str, str]], year: int) -> np.ndarray:
    total = np.zeros(ds.sizes["sample"])
    for var, key in parts:
        a = ds[var].sel(year=year)
        a = a.sel(actor=key) if var == "additions_h100e" else a.sel(channel=key)
        total += a.values.astype(np.float64)
    return total


WESTERN = [("additions_h100e", "US"), ("additions_h100e", "RoW"), ("china_additions_h100e", "legal_import"),
           ("china_additions_h100e", "smuggled")]
DESIGNERS = ("nvidia_sales_h100e_cumulative", "google_tpu_sales_h100e_cumulative", "amd_sales_h100e_cumulative",
             "aws_trainium_sales_h100e_cumulative")


def end_date(text: str) -> dt.date:
    """The last day a catalog date can mean: '2025' -> 2025-12-31, '2025-04' -> 2025-04-30."""
    from ..catalog import date_range

    return date_range(text)[1]


def _interval_sigma(low: float, high: float, interval: str) -> float:
    """Log sd of a lognormal from a central interval: p5-p95 -> ln(high / low) / (2 x 1.645)."""
    z = {"p5-p95": Z90, "p10-p90": 1.2815515655446004, "p25-p75": 0.6744897501960817}.get(interval, Z90)
    return math.log(high / low) / (2 * z)


def _increments(rows: list[Any]) -> list[tuple[int, float, float, list[str]]]:
    """Yearly increments of one cumulative series: [(year, increment, log sd, row ids)].

    The cumulative's interval at the year's end sets the increment's log sd (conservative: an increment is at
    least as uncertain in relative terms as the total it completes)."""
    ends = sorted((r for r in rows if end_date(r.period_end).month == 12 and end_date(r.period_end).day == 31),
                  key=lambda r: r.period_end)
    out, prev = [], 0.0
    for r in ends:
        inc = r.central - prev
        if inc > 0:
            out.append((end_date(r.period_end).year, inc, _interval_sigma(r.low, r.high, r.interval), [r.id]))
        prev = r.central
    return out


def observations(as_of: str | dt.date | None = None, rows: list[Any] | None = None) -> list[Observation]:
    """The observations from evidence rows published up to `as_of` (default: all rows of the catalog)."""
    from ..catalog import evidence

    rows = list(evidence()) if rows is None else rows
    if as_of is not None:
        d = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
        rows = [r for r in rows if end_date(r.published) <= d]
    from ..catalog import date_range
    by_metric: dict[str, list[Any]] = {}
    for r in rows:
        by_metric.setdefault(r.metric, []).append(r)
    obs: list[Observation] = []

    # Western accelerators sold each year (Epoch, all designers summed; 8-bit H100e = BF16 H100e, see above)
    yearly: dict[int, list[tuple[float, float, list[str]]]] = {}
    for m in DESIGNERS:
        for year, inc, sig, ids in _increments(by_metric.get(m, [])):
            yearly.setdefault(year, []).append((inc, sig, ids))
    for year, parts in sorted(yearly.items()):
        total = sum(p[0] for p in parts)
        # log sd of a sum: the delta method on independent designers' totals
        sig = math.sqrt(sum((p[0] * p[1]) ** 2 for p in parts)) / total
        ids = tuple(i for p in parts for i in p[2])
        pub = max(r.published for r in rows if r.id in ids)
        obs.append(Observation(f"western_sales_{year}", ids, "western_sales_h100e", f"{year}-12", total, sig, pub,
                               "Western accelerators sold in the year (Epoch, NVIDIA+TPU+AMD+Trainium, yearly "
                               "increments of the cumulative rows) vs the model's Western acquisitions",
                               lambda ds, y=year: _year_additions(ds, WESTERN, y)))
    # NVIDIA chips sold to China each year (Epoch owners; legal imports in the model)
    for year, inc, sig, ids in _increments(by_metric.get("china_legal_nvidia_h100e_cumulative", [])):
        pub = max(r.published for r in rows if r.id in ids)
        obs.append(Observation(f"china_legal_{year}", tuple(ids), "china_legal_h100e", f"{year}-12", inc, sig, pub,
                               "NVIDIA chips sold to China in the year (Epoch) vs the model's legal imports",
                               lambda ds, y=year: _year_additions(ds, [("china_additions_h100e", "legal_import")], y)))
    # China's domestic accelerator output in a year: Huawei's Ascend from estimates made after the year was well
    # under way, the sources disagreeing (Bloomberg: 300k 910C chips; SemiAnalysis: 805k packages incl. TSMC-made
    # dies), so Huawei is their geometric mean with a log sd that spans both (ln(805/300) / 2 = 0.49); packages at
    # the 910C's dense-BF16 rate (chips.csv: 780 TFLOP/s = 0.79 H100e). Cambricon's chips (a row of the same year)
    # are added at CAMBRICON_H100E. The model's counterpart is China's domestic and proxy-fab acquisitions.
    hw: dict[int, list[Any]] = {}
    for r in by_metric.get("huawei_ascend_output", []):
        end = end_date(r.period_end)
        if r.central is not None and r.unit in ("chips", "packages") and is_observation(r):
            hw.setdefault(end.year, []).append(r)
    camb = {end_date(r.period_end).year: r for r in by_metric.get("cambricon_output", [])
            if r.central is not None and is_observation(r)}
    for year, rs in sorted(hw.items()):
        if len(rs) < 2:
            continue
        from .. import catalog

        per = catalog.chip("ascend-910c").h100e("bf16") or 0.79
        vals = [r.central for r in rs]
        gm = math.exp(sum(math.log(v) for v in vals) / len(vals))
        sig = max(math.log(max(vals) / min(vals)) / 2, 0.2)
        y_hw, ids, pub = gm * per, [r.id for r in rs], max(r.published for r in rs)
        total, var = y_hw, (y_hw * sig) ** 2
        if year in camb:
            lo, hi = CAMBRICON_H100E
            y_c = camb[year].central * math.sqrt(lo * hi)
            sig_c = math.sqrt((math.log(hi / lo) / (2 * Z90)) ** 2 + POINT_SIGMA ** 2)  # rate and count
            total, var = total + y_c, var + (y_c * sig_c) ** 2
            ids.append(camb[year].id)
            pub = max(pub, camb[year].published)
        obs.append(Observation(f"china_domestic_output_{year}", tuple(ids), "china_domestic_output_h100e",
                               f"{year}-12", total, math.sqrt(var) / total, pub,
                               "China's domestic accelerator output in the year: Huawei's Ascend (Bloomberg, "
                               "SemiAnalysis; geometric mean, 910C H100e) plus Cambricon's chips (A100-class, "
                               "assumption) vs the model's domestic and proxy-fab acquisitions",
                               lambda ds, y=year: _year_additions(ds, [("china_additions_h100e", "domestic"),
                                                                       ("china_additions_h100e", "proxy_fab")], y)))
    # Huawei's compute made over a stretch of months (RAND: ~1M H100e, January 2024 to May 2025), a point
    for r in by_metric.get("huawei_compute_h100e", []):
        if r.central is None or not is_observation(r):
            continue
        a, b = date_range(r.period_start)[0], end_date(r.period_end)
        start, stop = f"{a.year}-{a.month:02d}", f"{b.year}-{b.month:02d}"
        obs.append(Observation(f"huawei_compute_{stop}", (r.id,), "china_domestic_output_h100e", stop, r.central,
                               POINT_SIGMA, r.published,
                               "Huawei's compute made over the period (RAND, a point: +-30%) vs the growth of China's "
                               "domestic and proxy-fab stock over it",
                               lambda ds, start=start, stop=stop: _stock_growth(ds, ("domestic", "proxy_fab"), start,
                                                                                stop)))
    # NVIDIA's China revenue in a fiscal year (ends late January: FY2025 = calendar 2024), times the accelerator
    # share, vs what China paid for its legal imports in the calendar year
    for r in by_metric.get("nvidia_china_revenue_usd", []):
        a, b = date_range(r.period_start)[0], end_date(r.period_end)
        if r.central is None or not is_observation(r) or (b - a).days < 300:
            continue  # quarters sit inside a fiscal year's row (or do not split accelerators): see row_map
        year = b.year - 1 if b.month == 1 else b.year
        lo, hi = ACCELERATOR_SHARE_OF_CHINA_REVENUE
        sig = math.sqrt((math.log(hi / lo) / (2 * Z90)) ** 2 + POINT_SIGMA ** 2)
        obs.append(Observation(f"nvidia_china_revenue_{year}", (r.id,), "china_imports_usd", f"{year}-12",
                               r.central * math.sqrt(lo * hi), sig, r.published,
                               "NVIDIA's China revenue in the fiscal year (calendar year it mostly covers) x the "
                               "accelerator share (0.55-0.9, assumption; +-30% for billing location) vs what China "
                               "paid for its legal imports",
                               lambda ds, y=year: ds["china_imports_usd"].sel(year=y).sum("part").values))
    # AI capex (an input the model passes through, cut by any bust): US big-4 and China, reported years only
    for metric, actor, param in (("big4_capex_usd", "US", "finance.us_capex_usd_per_year"),
                                 ("china_ai_capex_usd", "China", "finance.china_capex_usd_per_year")):
        for r in by_metric.get(metric, []):
            if not is_observation(r):
                continue
            year = end_date(r.period_end).year
            if r.central is not None:
                y, sig, how = r.central, POINT_SIGMA / 3, "reported (+-10% for what counts as AI capex)"
            else:
                y, sig, how = (math.sqrt(r.low * r.high), max(_interval_sigma(r.low, r.high, "p5-p95"), POINT_SIGMA / 3),
                               "a range read as p5-p95, at least +-10%")
            obs.append(Observation(f"{actor.lower()}_capex_{year}", (r.id,), f"{actor.lower()}_capex_usd",
                                   f"{year}-12", y, sig, r.published, f"{actor}'s AI capex in the year, {how}",
                                   lambda ds, y=year, actor=actor: ds["capex_usd"].sel(year=y, actor=actor).values,
                                   param=param))
    # China's share of world compute, smuggled chips excluded (Epoch's owner data, a point)
    for r in by_metric.get("china_owned_share", []):
        m = end_date(r.period_end)
        month = f"{m.year}-{m.month:02d}"

        def share(ds: Any, month: str = month) -> np.ndarray:
            st = ds["stock_h100e"].sel(month=f"{month}-01").values.astype(np.float64)
            smug = ds["china_stock_h100e"].sel(month=f"{month}-01", channel="smuggled").values.astype(np.float64)
            return (st[:, 1] - smug) / (st.sum(axis=1) - smug)

        obs.append(Observation(f"china_share_{month}", (r.id,), "china_owned_share", month, r.central,
                               POINT_SIGMA, r.published,
                               "China's share of world compute without smuggled chips (Epoch owners, a point: "
                               "+-30% for the attribution of cloud and reseller chips)", share))
    # US AI data-centre power (EPRI/Epoch, a point)
    for r in by_metric.get("ai_power_gw", []):
        m = end_date(r.period_end)
        month = f"{m.year}-{m.month:02d}"
        obs.append(Observation(f"us_ai_power_{month}", (r.id,), "us_ai_power_gw", month, r.central,
                               POINT_SIGMA, r.published,
                               "US AI data-centre power (EPRI/Epoch, a point: +-30% for what counts as AI load)",
                               lambda ds, month=month: ds["power_gw"].sel(month=f"{month}-01", actor="US").values))
    # Chips smuggled into China in 2024 (CNAS: 10k to several 100k, central ~140k; chips ~ H100e in 2024)
    for r in by_metric.get("smuggled_chips", []):
        year = end_date(r.period_end).year
        obs.append(Observation(f"smuggled_{year}", (r.id,), "smuggled_chips", f"{year}-12", r.central,
                               math.log(r.central / r.low) / Z90, r.published,
                               "chips smuggled into China (CNAS range; its low end read as the 5th percentile) vs "
                               "the model's smuggled acquisitions (2024 frontier parts: 1 H100e per chip)",
                               lambda ds, y=year: _year_additions(ds, [("china_additions_h100e", "smuggled")], y)))
    return obs


#: Why a catalog row that is not an observation is not one (by metric). A row of a metric not listed here and not
#: used by an observation is an error in the catalog (tests/test_evidence.py checks every row).
NOT_OBSERVED = {
    "nvidia_sales_units_cumulative": "chips, not H100e: the same sales are observed through Epoch's H100e rows",
    "google_tpu_sales_units_cumulative": "chips: observed through Epoch's H100e rows of the same sales",
    "amd_sales_units_cumulative": "chips: observed through Epoch's H100e rows of the same sales",
    "aws_trainium_sales_units_cumulative": "chips: observed through Epoch's H100e rows of the same sales",
    "china_legal_nvidia_units_cumulative": "chips by part: observed through Epoch's H100e rows of the same sales",
    "china_legal_amd_h100e_cumulative": "AMD MI308X to China, 2024-25 together (10.5k H100e, ~3% of NVIDIA's): "
                                        "inside china_legal's error, and it cannot be split by year",
    "nvidia_stock_h100e": "Epoch's NVIDIA stock: the same underlying data as Epoch's sales rows (grouped there)",
    "a800_orders": "orders, grouped under china_legal (Epoch's China counts compile these reports)",
    "h20_orders": "orders, grouped under china_legal (Epoch's China counts compile these reports)",
    "h20_delivered": "grouped under china_legal (Epoch's China counts compile these reports)",
    "h20_shipments": "grouped under china_legal (Epoch's China counts compile these reports)",
    "h20_orders_usd": "orders in one quarter, not revenue or deliveries",
    "nvidia_china_revenue_share": "a share of NVIDIA's total revenue, which the catalog does not hold",
    "h20_revenue_usd": "one quarter of one part (USD 50M): no constraint on a year's imports",
    "h20_charge_usd": "an inventory write-off, not sales",
    "h20_lost_revenue_usd": "sales that did not happen",
    "huawei_tsmc_dies": "an input (channels.proxy_die_bank_dies): the baseline's die bank is built from these sources",
    "smic_advanced_wpm": "an input (supply.smic_advanced_wafers_per_month): its prior is built from this source",
    "tsmc_cowos_wpm": "an input (supply.cowos_wafers_per_month): its prior is built from this source",
    "ascend_910b_yield": "an input (China's yield parameters): their prior is built from this source",
    "h200_good_dies_per_wafer": "a per-wafer yield, an input of the H200 supply cap",
    "dc_capex_usd": "data-centre capex, not AI capex (the model's finance inputs)",
    "alibaba_capex_cny": "one firm's three-year plan",
    "bytedance_capex_cny": "one firm's plan",
    "dc_power_gw": "all data centres, not the AI accelerators the model powers",
    "ai_dc_power_gw": "world AI power: the model does not sum RoW's sites with the US's on the same basis",
    "kunlun_p800_cluster_chips": "one cluster, not a national quantity",
    "h200_orders": "orders that did not ship (no H200 deliveries by January 2026)",
    "smuggled_usd": "smuggled value in USD: the model reports smuggled H100e, not what they cost",
}


def row_map(rows: list[Any] | None = None, scenario: Any = None) -> list[dict[str, str]]:
    """What became of each evidence row: [{id, metric, published, use, why}], use = an observation's name,
    "in the prior" (the scenario cites its source for the parameter it measures), "forecast" or "not observed"."""
    from ..catalog import evidence

    rows = list(evidence()) if rows is None else rows
    used: dict[str, Observation] = {}
    for o in observations(rows=rows):
        for i in o.rows:
            used[i] = o
    out = []
    for r in rows:
        o = used.get(r.id)
        if o is not None:
            use, why = (("in the prior", f"{o.param} cites its source") if in_prior(o, scenario, rows)
                        else (o.name, o.why))
        elif not is_observation(r):
            use, why = "forecast", f"its period ends over {NOWCAST_MONTHS} months after it was published"
        else:
            use, why = "not observed", NOT_OBSERVED.get(r.metric, "")
            if r.metric in ("nvidia_china_revenue_usd",):
                why = "a quarter: inside the fiscal year's row (or mostly non-accelerator revenue, as in Q3 FY2026)"
            elif r.metric == "huawei_ascend_output" and r.central is None:
                why = ("a bound on SMIC-made dies only (BIS): the model's domestic and proxy-fab channels also take "
                       "TSMC die-bank dies, so it does not bound them")
            elif r.metric in ("huawei_ascend_output", "cambricon_output", "china_legal_nvidia_h100e_cumulative",
                              *DESIGNERS):
                why = "grouped: the same series at a date that is not a year's end, or a single source of a year"
        out.append({"id": r.id, "metric": r.metric, "published": r.published, "use": use, "why": why})
    return out


def is_observation(row: Any) -> bool:
    """Whether a row measures its period (it ends at most NOWCAST_MONTHS after publication), not forecasts it."""
    end, pub = end_date(row.period_end), end_date(row.published)
    return (end.year - pub.year) * 12 + end.month - pub.month <= NOWCAST_MONTHS


def _stock_growth(ds: Any, channels: tuple[str, ...], start: str, stop: str) -> np.ndarray:
    """Growth of China's stock in `channels` from the start of month `start` to the start of month `stop`."""
    st = ds["china_stock_h100e"].sel(channel=list(channels)).sum("channel")
    return (st.sel(month=f"{stop}-01").values - st.sel(month=f"{start}-01").values).astype(np.float64)


def in_prior(o: Observation, scenario: Any, rows: list[Any] | None = None) -> bool:
    """Whether `scenario` already built the prior of the parameter `o` measures from the rows' sources."""
    if o.param is None or scenario is None or o.param not in scenario.parameters:
        return False
    from ..catalog import evidence

    by_id = {r.id: r for r in (rows if rows is not None else evidence())}
    cited = set(scenario.parameters[o.param].source)
    return any(set(by_id[i].source) & cited for i in o.rows if i in by_id)


def in_horizon(period_end: str, ds: Any) -> bool:
    """Whether a month (YYYY-MM) lies inside a run's horizon, so that an observation of it has a model value."""
    months = ds["month"].values.astype("datetime64[M]")
    return bool(months[0] <= np.datetime64(period_end, "M") <= months[-1])


def history_ok(ds: Any, before: str = "2026-11") -> np.ndarray:
    """[sample] True where China's installed stock stayed below the US's in every month before `before`."""
    months = ds["month"].values.astype("datetime64[M]")
    keep = months < np.datetime64(before, "M")
    st = ds["stock_h100e"].values[:, keep]
    return np.all(st[:, :, 1] < st[:, :, 0], axis=1)


def ess(w: np.ndarray) -> float:
    """Effective sample size of normalised weights: 1 / sum w^2."""
    return float(1.0 / np.sum(w * w))


def _weights(loglik: np.ndarray, phi: float, ok: np.ndarray) -> np.ndarray:
    lw = np.where(ok, phi * loglik, -np.inf)
    lw = lw - lw[ok].max()
    w = np.exp(lw)
    return w / w.sum()


def temper(loglik: np.ndarray, ok: np.ndarray, min_ess: float) -> tuple[float, np.ndarray]:
    """(phi, weights): phi = 1 if that keeps ESS >= min_ess, else the largest phi that does (bisection)."""
    w = _weights(loglik, 1.0, ok)
    if ess(w) >= min_ess:
        return 1.0, w
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if ess(_weights(loglik, mid, ok)) >= min_ess:
            lo = mid
        else:
            hi = mid
    return lo, _weights(loglik, lo, ok)


def systematic_resample(w: np.ndarray, seed: int) -> np.ndarray:
    """Indices [n] drawn by systematic resampling of weights w (one uniform from the seed's resampling stream)."""
    n = len(w)
    u0 = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(RESAMPLE_STREAM,))).random()
    c = np.cumsum(w)
    c[-1] = 1.0
    return np.minimum(np.searchsorted(c, (u0 + np.arange(n)) / n, side="right"), n - 1)


def condition(ds: Any, seed: int, obs: list[Observation] | None = None, min_ess: float | None = None,
              history_before: str = "2026-11") -> tuple[np.ndarray, dict[str, Any]]:
    """Posterior sample indices [n] and a report: ESS (before and after tempering), phi, each row's weight."""
    obs = observations() if obs is None else obs
    obs = [o for o in obs if in_horizon(o.period_end, ds)]
    n = ds.sizes["sample"]
    min_ess = DEFAULT_MIN_ESS_FRACTION * n if min_ess is None else min_ess
    ok = history_ok(ds, history_before)
    if not ok.any():
        from ..errors import UserError

        raise UserError("no sample of this run agrees with history (China's stock below the US's before "
                        f"{history_before}); conditioning is impossible: check the scenario's 2022-2026 values")
    ll = np.stack([o.loglik(ds) for o in obs], axis=1) if obs else np.zeros((n, 0))
    total = ll.sum(axis=1)
    ess_full = ess(_weights(total, 1.0, ok))
    phi, w = temper(total, ok, min_ess)
    idx = systematic_resample(w, seed)
    # which rows carried the weight: the ESS with each observation left out (lower ESS with it = more weight)
    rows = []
    for i, o in enumerate(obs):
        w_without = _weights(total - ll[:, i], phi, ok)
        m = np.asarray(o.model(ds), dtype=np.float64)
        rows.append({"observation": o.name, "rows": list(o.rows), "series": o.series, "period_end": o.period_end,
                     "observed": o.y, "sigma_log": o.sigma, "published": o.published, "describe": o.why,
                     "prior_p50": float(np.median(m)), "posterior_p50": float(np.median(m[idx])),
                     "ess_without": ess(w_without),
                     "weight_share": float(np.log(ess(w_without) / ess(w))) if ess(w) > 0 else 0.0})
    report = {"samples": int(n), "observations": len(obs), "history_excluded": int((~ok).sum()),
              "ess": ess(w), "ess_untempered": ess_full, "tempering": phi, "min_ess": float(min_ess),
              "sigma_model": SIGMA_MODEL, "rows": sorted(rows, key=lambda r: -r["weight_share"])}
    return idx, report


#: Headlines whose prior -> posterior shift every conditioned run reports: (metric, key, date).
SHIFT_HEADLINES = (("stock_h100e", "World", "2025-12"), ("stock_h100e", "China", "2025-12"),
                   ("stock_h100e", "US", "2030-12"), ("stock_h100e", "China", "2030-12"),
                   ("china_share", "China", "2030-12"), ("years_behind_stock", "China", "2030-12"),
                   ("years_behind_stock", "China", "2040-12"))


def headline_shift(prior: dict[str, Any], posterior: dict[str, Any]) -> dict[str, Any]:
    """{headline: {prior: {p5, p50, p95}, posterior: {...}}} and the overtaking probabilities, prior and posterior."""
    out: dict[str, Any] = {}
    for metric, key, date in SHIFT_HEADLINES:
        a = prior["metrics"].get(metric, {}).get(key, {}).get(date)
        b = posterior["metrics"].get(metric, {}).get(key, {}).get(date)
        if a is None or b is None:
            continue
        out[f"{metric}/{key}/{date}"] = {"prior": {k: a[k] for k in ("p5", "p50", "p95")},
                                         "posterior": {k: b[k] for k in ("p5", "p50", "p95")}}
    for name in ("china_overtakes_us_stock_by", "china_overtakes_us_operational_stock_by"):
        if name in prior["probabilities"] and name in posterior["probabilities"]:
            out[name] = {"prior": prior["probabilities"][name], "posterior": posterior["probabilities"][name]}
    return out


#: Evidence metrics that become observations (a user's evidence file may add rows of these).
SUPPORTED_METRICS = (*DESIGNERS, "china_legal_nvidia_h100e_cumulative", "china_owned_share", "ai_power_gw",
                     "smuggled_chips", "huawei_ascend_output", "cambricon_output", "huawei_compute_h100e",
                     "nvidia_china_revenue_usd", "big4_capex_usd", "china_ai_capex_usd")


def read_evidence_file(path: str | Any) -> list[Any]:
    """A user's evidence rows: a CSV with evidence.csv's columns. Every problem is a UserError naming the file,
    the line, the column and the fix; rows of metrics the model cannot compare with are refused, not ignored."""
    import csv
    from pathlib import Path

    from ..catalog import Evidence, date_range
    from ..errors import UserError

    p = Path(path)
    if not p.is_file():
        raise UserError(f"evidence file {p} does not exist or is not a file; give a CSV with evidence.csv's columns")
    text = p.read_text(encoding="utf-8", errors="replace")
    fields = list(Evidence.__dataclass_fields__)
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != fields:
        raise UserError(f"{p}, line 1: the header must be evidence.csv's: {','.join(fields)} "
                        "(run 'computerace data evidence' to see rows in that layout)")
    rows = []
    for raw in reader:
        line = reader.line_num
        if None in raw or None in raw.values():
            raise UserError(f"{p}, line {line}: {len(fields)} columns expected; quote any field that holds a comma")
        where = f"{p}, line {line}"
        if raw["metric"] not in SUPPORTED_METRICS:
            raise UserError(f"{where}, column 'metric': '{raw['metric']}' is not compared with the model; use one of "
                            + ", ".join(SUPPORTED_METRICS))
        vals: dict[str, float | None] = {}
        for k in ("low", "central", "high"):
            v = raw[k].strip()
            try:
                vals[k] = float(v) if v else None
            except ValueError:
                raise UserError(f"{where}, column '{k}': '{v}' is not a number") from None
            if vals[k] is not None and not (math.isfinite(vals[k]) and vals[k] > 0):  # type: ignore[arg-type]
                raise UserError(f"{where}, column '{k}': {v} must be a positive finite number")
        if vals["central"] is None:
            raise UserError(f"{where}, column 'central': a central value is needed to compare with the model")
        if raw["interval"] == "p5-p95" and (vals["low"] is None or vals["high"] is None
                                             or not vals["low"] < vals["central"] < vals["high"]):  # type: ignore[operator]
            raise UserError(f"{where}, columns low/central/high: a p5-p95 row needs low < central < high")
        if raw["metric"] == "smuggled_chips" and (vals["low"] is None or vals["low"] >= vals["central"]):  # type: ignore[operator]
            raise UserError(f"{where}, column 'low': a smuggled_chips row needs a low end below its central value")
        for k in ("period_start", "period_end", "published"):
            try:
                date_range(raw[k])
            except Exception:
                raise UserError(f"{where}, column '{k}': '{raw[k]}' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)") from None
        kw: dict[str, Any] = {**{k: raw[k] for k in fields}, **vals,
                              "source": tuple(s.strip() for s in raw["source"].replace(";", ",").split(",") if s.strip())}
        rows.append(Evidence(**kw))
    if not rows:
        raise UserError(f"{p}: no evidence rows after the header")
    return rows


def update(scenario: Any, rows: list[Any], samples: int, seed: int, as_of: str | None = None) -> dict[str, Any]:
    """What changed and why: the forecast conditioned on the catalog, then on the catalog plus `rows`, and for
    each added row the change in every headline when it alone is left out (its leave-one-out influence)."""
    import computerace as cr

    from ..catalog import evidence

    base_rows = list(evidence(as_of) if as_of else evidence())
    ids = {r.id for r in base_rows}
    clash = [r.id for r in rows if r.id in ids]
    if clash:
        from ..errors import UserError

        raise UserError(f"evidence ids already in the catalog: {', '.join(clash[:5])}; give your rows new ids")
    prior = cr.run(scenario, samples=samples, seed=seed)
    before = prior.conditioned(as_of=as_of, observations=observations(rows=base_rows))
    after = prior.conditioned(as_of=as_of, observations=observations(rows=base_rows + rows))
    moved = headline_shift(before.summary(), after.summary())
    influence = []
    for r in rows:
        rest = [x for x in rows if x.id != r.id]
        without = prior.conditioned(as_of=as_of, observations=observations(rows=base_rows + rest))
        d = headline_shift(without.summary(), after.summary())
        influence.append({"row": r.id, "metric": r.metric, "period_end": r.period_end, "change": d})
    return {"samples": samples, "seed": seed, "rows": [r.id for r in rows], "moved": moved, "influence": influence,
            "ess_before": before.summary()["conditioning"]["ess"], "ess_after": after.summary()["conditioning"]["ess"]}


#: Headline quantities stored per sample in inference.nc's prior and posterior groups: (name, var, sel).
INFERENCE_HEADLINES = (("stock_us_2030", "stock_h100e", {"actor": "US", "month": "2030-12-01"}),
                       ("stock_china_2030", "stock_h100e", {"actor": "China", "month": "2030-12-01"}),
                       ("stock_world_2025", "stock_h100e", {"month": "2025-12-01"}),
                       ("stock_china_2040", "stock_h100e", {"actor": "China", "month": "2040-12-01"}),
                       ("stock_us_2040", "stock_h100e", {"actor": "US", "month": "2040-12-01"}))


def _group(ds: Any, obs: list[Observation]) -> Any:
    """One InferenceData group: (chain=1, draw=sample) variables: each observation's model value and headlines."""
    import xarray as xr

    data = {}
    for o in obs:
        data[f"obs_{o.name}"] = (("chain", "draw"), np.asarray(o.model(ds), dtype=np.float64)[None, :])
    months = ds["month"].values.astype("datetime64[M]")
    for name, var, sel in INFERENCE_HEADLINES:
        m = np.datetime64(sel["month"][:7], "M")
        if not months[0] <= m <= months[-1]:
            continue
        x = ds[var].sel(**sel).values.astype(np.float64)
        data[name] = (("chain", "draw"), (x.sum(axis=-1) if x.ndim == 2 else x)[None, :])
    n = ds.sizes["sample"]
    return xr.Dataset(data, coords={"chain": [0], "draw": np.arange(n)})


def write_inference(path: Any, prior_ds: Any, post_ds: Any, obs: list[Observation], report: dict[str, Any]) -> None:
    """inference.nc in ArviZ's InferenceData layout (NetCDF groups `prior`, `posterior`, `observed_data`; dims
    chain x draw): `arviz.from_netcdf(path)` or `xarray.open_dataset(path, group="posterior")` open it. The prior
    and posterior hold each observation's model value (`obs_<name>`) and a few headlines per sample; observed_data
    holds each observation's value with its evidence rows and log sd. Written to a temporary file, then renamed."""
    import json
    import os
    import tempfile
    from pathlib import Path

    import xarray as xr

    path = Path(path)
    obs_data = xr.Dataset({f"obs_{o.name}": ((), o.y, {"rows": ",".join(o.rows), "sigma_log": o.sigma,
                                                        "published": o.published, "describe": o.why})
                           for o in obs})
    summary = {k: v for k, v in report.items() if k not in ("rows", "shift")}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".inference.nc.", suffix=".tmp")
    os.close(fd)
    try:
        for i, (name, ds) in enumerate((("posterior", _group(post_ds, obs)), ("prior", _group(prior_ds, obs)),
                                        ("observed_data", obs_data))):
            ds.attrs["conditioning"] = json.dumps(summary, default=str)
            ds.to_netcdf(tmp, group=name, mode="w" if i == 0 else "a", engine="netcdf4")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would differ from the run's other files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def row_table(scenario: Any = None) -> str:
    """docs/evidence-rows.md: what became of every row of the catalog (for the baseline)."""
    if scenario is None:
        from ..api import resolve

        scenario = resolve("baseline")
    rows = row_map(scenario=scenario)
    counts: dict[str, int] = {}
    for r in rows:
        k = r["use"] if r["use"] in ("in the prior", "forecast", "not observed") else "observation"
        counts[k] = counts.get(k, 0) + 1
    out = ["# What became of each evidence row", "",
           "Generated by `python -m computerace.analysis.evidence > docs/evidence-rows.md` (tests check it is "
           "current). For the baseline: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + ". "
           "docs/evidence.md explains the rules: a row is an observation if it measures something the model "
           "computes, its period ends at most six months after it was published, and no other row of the same "
           "underlying source already carries it; a row whose source the scenario cites for the parameter it "
           "measures is already in the prior.", "",
           "| row | metric | published | use | why |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['id']} | `{r['metric']}` | {r['published']} | {r['use']} | {r['why']} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(row_table(), end="")
