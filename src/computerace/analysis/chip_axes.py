"""China's chip lag on three specifications: dense BF16, 8-bit (FP8) and HBM bandwidth.

The debate's "China's chips are N years behind" depends on the number compared. The 910C nearly matches the H100
on memory bandwidth (3.2 vs 3.35 TB/s) and reaches 0.79 of it in BF16, but has no FP8; the 950 brings FP8 (1
PFLOP/s) at half the H100's dense FP8 rate. Each axis here is the same lag as the model's chip axis
(metrics.chip_years_behind): t minus the date the US frontier trend first reached China's best chip in volume at t,
with the trend log-linear between US volume dates. Unlike the chip axis (per sample, from the scenario's
uncertain roadmap), these read the catalog's specifications and the release tables below, so they are one value
per date: a cross-check on the basis, not a forecast. Measured (December 2024 / 2025 / 2026): BF16 4.1 / 3.6 / 4.6
years (910B, then 910C); 8-bit: none until the 950PR (2026: 5.5 years, its FP8 against the US 8-bit trend); HBM
bandwidth 5.1 / 3.4 / 3.3 years (910B, 910C, 950DT).

Release tables: the US frontier (NVIDIA's volume parts) and China's best part in volume, by the date it shipped
in volume (chips.csv release dates, moved to first volume where the sources say so; the scenario's
capability.china_best_chip_h100e gives the same sequence).
"""

from __future__ import annotations

import math
from typing import Any

#: US frontier parts by first volume (year): chips.csv ids.
US_RELEASES = (("v100-sxm", 2018.2), ("a100", 2020.5), ("h100-sxm", 2022.8), ("h200", 2024.5), ("b200", 2024.95),
               ("gb300", 2025.6))
#: China's best part in volume (year): legal imports until the October 2023 rule, then Ascend (Huawei's roadmap
#: dates: 950PR Q1 2026, 950DT Q4 2026, 960 Q4 2027, 970 Q4 2028; the scenario's roadmap slip is not applied).
CHINA_RELEASES = (("a100", 2022.0, 2022.8), ("h800", 2023.2, 2023.85), ("ascend-910b", 2023.9, None),
                  ("ascend-910c", 2025.2, None), ("ascend-950pr", 2026.25, None), ("ascend-950dt", 2026.8, None))
#: The catalog has the US parts through the GB300 (2025); Rubin's specifications are not published, so these lags
#: stop at the end of 2026 (the chip axis itself runs on the scenario's per-sample roadmap to the horizon).
LAST_YEAR = 2026
SPECS = ("bf16", "8bit", "hbm")


def spec_value(chip_id: str, spec: str) -> float | None:
    """The chip's value on `spec` relative to the H100 SXM (H100e on bf16 or 8bit; bandwidth / 3.35 TB/s)."""
    from .. import catalog

    c = catalog.chip(chip_id)
    if spec == "hbm":
        h = catalog.chip("h100-sxm")
        return c.memory_tbps / h.memory_tbps if c.memory_tbps and h.memory_tbps else None
    v = c.h100e(spec)
    return v if v else None


def _best_so_far(table: tuple[tuple[str, float], ...], spec: str) -> list[tuple[float, float]]:
    """[(date, best value up to that date)] for the parts of a table that have the spec."""
    out: list[tuple[float, float]] = []
    best = 0.0
    for cid, t in table:
        v = spec_value(cid, spec)
        if v and v > best:
            best = v
            out.append((t, v))
    return out


def spec_lag(spec: str, t: float) -> dict[str, Any]:
    """China's lag on `spec` at fractional year t: {"years", "china_part", "china_value", "note"}.

    years = t - T_US(best China value at t); None when China has no part with the spec yet (e.g. FP8 before the
    950)."""
    if spec not in SPECS:
        raise ValueError(f"spec is one of {', '.join(SPECS)}")
    # in volume at t: released by t and not yet cut off by an export-control rule; the best of those on the spec
    china = [(cid, spec_value(cid, spec)) for cid, start, end in CHINA_RELEASES
             if start <= t and (end is None or t < end)]
    china = [c for c in china if c[1]]
    if not china:
        return {"years": None, "china_part": None, "china_value": None,
                "note": f"China has no part in volume with a {spec} rate by then"}
    cid, value = max(china, key=lambda c: c[1])
    us = _best_so_far(US_RELEASES, spec)
    if value <= us[0][1]:
        t_us = us[0][0] - math.log(us[0][1] / value) / math.log(us[1][1] / us[0][1]) * (us[1][0] - us[0][0])
    elif value >= us[-1][1]:  # above the last US part: the US part's trend of its last two steps extends it
        (t1, v1), (t2, v2) = us[-2], us[-1]
        t_us = t2 + math.log(value / v2) / math.log(v2 / v1) * (t2 - t1)
    else:
        for (t1, v1), (t2, v2) in zip(us, us[1:], strict=False):
            if v1 <= value <= v2:
                t_us = t1 + math.log(value / v1) / math.log(v2 / v1) * (t2 - t1)
                break
    return {"years": t - t_us, "china_part": cid, "china_value": value,
            "note": f"{cid} at {value:.2f}x the H100 on {spec}"}


def spec_lags(years: tuple[int, ...] = (2023, 2024, 2025, 2026)) -> dict[str, dict[str, Any]]:
    """{spec: {YYYY-12: spec_lag}} at each December up to LAST_YEAR (summary.json `chip_lag_by_spec`)."""
    if max(years) > LAST_YEAR:
        raise ValueError(f"the catalog's US parts end with the GB300: lags by specification stop at {LAST_YEAR}")
    return {spec: {f"{y}-12": spec_lag(spec, y + 11.5 / 12) for y in years} for spec in SPECS}
