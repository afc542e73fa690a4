"""Capability paths: best chips, process nodes, largest training runs and effective compute.

These feed the 'years behind' axes (analysis/metrics.py): chip, process_node, largest_training_run
and frontier_capability. Chip and node paths are per month; run size and effective compute are
computed from the operational stock with the per-sample factors defined here.
"""

from __future__ import annotations

import numpy as np

H100_BF16_FLOP_S = 989.4e12
SECONDS_PER_MONTH = 365.25 * 86400 / 12


def chip_path(schedule: np.ndarray, t_years: np.ndarray, last_knot_year: float, growth_per_year: np.ndarray,
              multiplier: np.ndarray | None = None) -> np.ndarray:
    """H100e per package: the scheduled releases, then growth g after the last release.

    c(t) = s(t) * g^max(0, t - t_last) [* m(t)]: schedule [sample, month] (step values), growth [sample],
    optional multiplier [sample, month] (e.g. EUV); t_years [month], or [sample, month] effective roadmap
    times (supply.roadmap_time, with a slip). Returns [sample, month].
    Source: vendor specifications (dense BF16 / 989.4 TFLOP/s); Epoch's 1.6x/yr per-chip trend.
    """
    t = t_years if np.ndim(t_years) == 2 else np.asarray(t_years)[None, :]
    extra = np.maximum(t - last_knot_year, 0.0) * np.log(growth_per_year)[:, None]
    out = schedule * np.exp(extra)
    return out if multiplier is None else out * multiplier


NODES = ("N7", "N5", "N3", "N2", "A16", "A14")


def node_tsmc_year(t_years: np.ndarray, tsmc_years: np.ndarray, smic_years: np.ndarray) -> np.ndarray:
    """TSMC's volume date of the best node SMIC has at t (for the process-node axis: lag = t - this).

    tsmc_years: [sample, node] volume dates of the NODES ladder (N7 .. A14); smic_years: [sample, node] SMIC's dates for
    the same node classes, increasing along nodes. Returns [sample, len(t_years)]; NaN before SMIC's first.
    """
    reached = (smic_years[:, None, :] <= t_years[None, :, None]).sum(axis=2)  # nodes reached by t
    out = np.take_along_axis(tsmc_years, np.maximum(reached - 1, 0), axis=1)
    return np.where(reached > 0, out, np.nan)


def smic_node_years(smic_7nm: np.ndarray, smic_5nm: np.ndarray, euv_year: np.ndarray,
                    years_per_node: np.ndarray) -> np.ndarray:
    """SMIC's dates for the NODES ladder: 7 and 5 without EUV; 5 no later than EUV + one node step; 3, 2, A16 and
    A14 one step apart after EUV (or after 5nm, whichever is later). [sample, len(NODES)] years."""
    n5 = np.minimum(smic_5nm, euv_year + years_per_node)
    n3 = np.maximum(euv_year, n5) + years_per_node
    return np.stack([smic_7nm, n5, n3, n3 + years_per_node, n3 + 2 * years_per_node, n3 + 3 * years_per_node],
                    axis=1)


def run_flop_per_h100e(cluster_share: np.ndarray, run_months: np.ndarray, mfu: np.ndarray) -> np.ndarray:
    """FLOP of the largest run per H100e of operational stock: s_cluster * months * s/month * 989.4e12 * MFU.

    Source: Epoch (2024), a lab can muster 10-40% of supply, runs last 2-9 months; AI 2027's 40% MFU.
    """
    return cluster_share * run_months * SECONDS_PER_MONTH * H100_BF16_FLOP_S * mfu


def algorithmic_efficiency(t_years: np.ndarray, progress_per_year: np.ndarray, lag_years: np.ndarray,
                           t_ref: float = 2022.0) -> np.ndarray:
    """A(t) = g^(t - lag - t_ref): effective-compute multiplier of algorithms, [sample, month].

    Source: Epoch (Ho et al. 2024), compute for a fixed performance halves every ~8 months.
    """
    return np.exp(np.log(progress_per_year)[:, None] * (t_years[None, :] - lag_years[:, None] - t_ref))
