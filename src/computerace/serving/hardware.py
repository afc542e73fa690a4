"""Hardware as devices: what one rank (one GPU, or one die of a package the software exposes as k dies) has.

A package of k dies (Ascend 910C: k = 2) is k ranks, each with 1/k of the package's HBM capacity and bandwidth,
peak throughput and links; a scale-up domain of D packages is D k ranks. Kernel-level fractions (achieved HBM
bandwidth, matrix-product fractions by format and shape, attention-core fractions, the smallest kernel's time)
come from models.yaml `devices:` (gpu_microbenchmarks.csv for the H100 and H200, FlashMLA for the MLA core;
stated assumptions with a wide band elsewhere). Scale-up bandwidth is per direction (half the catalog's
bidirectional figure); scale-out is per direction already.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import UserError
from .inputs import _data

PEAK_FIELD = {"bf16": "dense16_tflops", "fp8": "fp8_dense_tflops", "int8": "int8_dense_tops",
              "fp4": "fp4_dense_tflops"}
SIDES = {"low": -1, "central": 0, "high": 1}


@dataclass(frozen=True)
class Kernels:
    """Kernel-level fractions of one chip (models.yaml `devices:`)."""

    hbm_eff: float
    mm_eff: dict[str, float]
    core_bw_eff: float
    core_mm_eff: float
    floor_us: float
    band: float
    floor_band: tuple[float, float]
    tile_m: float = 64.0
    sustained_clock: float = 1.0
    assumed: bool = False  # True where no kernel-level measurement exists for this chip
    core_prefill_mm_eff: float | None = None  # prefill attention's compute fraction where it differs from decode's

    @property
    def prefill_core_mm_eff(self) -> float:
        return self.core_mm_eff if self.core_prefill_mm_eff is None else self.core_prefill_mm_eff

    def at(self, side: int) -> Kernels:
        """The low (-1), central (0) or high (+1) setting: fractions x (1 +- band), capped at 0.97; floors at the
        high (low side) or low (high side) end of floor_band."""
        if side == 0:
            return self
        f = 1.0 + side * self.band
        cap = lambda x: min(0.97, x * f)  # noqa: E731
        floor = self.floor_us * (self.floor_band[1] if side < 0 else self.floor_band[0])
        return replace(self, hbm_eff=cap(self.hbm_eff), mm_eff={k: cap(v) for k, v in self.mm_eff.items()},
                       core_bw_eff=cap(self.core_bw_eff), core_mm_eff=cap(self.core_mm_eff), floor_us=floor,
                       core_prefill_mm_eff=None if self.core_prefill_mm_eff is None else cap(self.core_prefill_mm_eff))

    def matmul_eff(self, fmt: str, rows: Any) -> Any:
        """eta(m) = sustained_clock x mm_eff[fmt] x m / (tile_m ceil(m / tile_m)): the largest-shape fraction of
        gpu_microbenchmarks.csv, lowered by the padding of the last row tile (a product of m rows runs ceil(m /
        tile_m) tiles of tile_m rows) and by the clock a chip sustains under a whole-model load."""
        e = self.mm_eff.get(fmt, self.mm_eff.get("bf16", 0.6))
        m = np.asarray(rows, dtype=float)
        pad = m / (self.tile_m * np.ceil(np.maximum(m, 1e-9) / self.tile_m))
        return self.sustained_clock * e * pad


def _device_entry(chip_id: str) -> tuple[dict[str, Any], bool]:
    devs = _data()["devices"]
    raw = dict(devs.get(chip_id) or devs["default"])
    assumed = chip_id not in devs or "assumption" in raw or "like" in raw
    while "like" in raw:
        base = dict(devs[raw.pop("like")])
        base.update(raw)
        raw = base
    if chip_id not in devs:
        assumed = True
    return raw, assumed


def kernels(chip_id: str) -> Kernels:
    raw, assumed = _device_entry(chip_id)
    return Kernels(float(raw["hbm_eff"]), {k: float(v) for k, v in raw["mm_eff"].items()},
                   float(raw["core_bw_eff"]), float(raw["core_mm_eff"]), float(raw["floor_us"]), float(raw["band"]),
                   (float(raw["floor_band"][0]), float(raw["floor_band"][1])), float(raw.get("tile_m", 64)),
                   float(raw.get("sustained_clock", 1.0)), assumed,
                   None if raw.get("core_prefill_mm_eff") is None else float(raw["core_prefill_mm_eff"]))


@dataclass(frozen=True)
class Device:
    """One rank of a system and what its package and domain give it (per die where the package has k dies)."""

    system_id: str
    chip_id: str
    dies: int  # ranks per package
    domain_ranks: int  # ranks in one scale-up domain
    hbm_gb: float
    hbm_tbps: float
    peak_tflops: dict[str, float | None]
    scaleup_gbps: float | None  # per rank, per direction
    scaleout_gbps: float | None  # per rank, per direction
    fabric_up: str
    fabric_out: str
    kernels: Kernels
    fill_ins: tuple[str, ...] = field(default=(), compare=False)

    @property
    def domain_chips(self) -> int:
        return self.domain_ranks // self.dies

    def peak(self, fmt: str) -> float:
        """Peak FLOP/s of one rank in a format (a UserError if the chip lacks it)."""
        v = self.peak_tflops.get(fmt)
        if not v:
            have = ", ".join(p for p in PEAK_FIELD if self.peak_tflops.get(p))
            raise UserError(f"{fmt} is not supported by {self.chip_id} in the catalog (no dense {fmt} throughput); "
                            f"use one of: {have}")
        return v * 1e12

    def has(self, fmt: str) -> bool:
        return bool(self.peak_tflops.get(fmt))


def device(system_id: str) -> Device:
    """A catalog system as the rank its software sees, with models.yaml's documented fill-ins."""
    from .. import catalog

    s = catalog.system(system_id)
    c = catalog.chip(s.chip)
    raw, _ = _device_entry(c.id)
    k = int(raw.get("dies", 1))
    peaks: dict[str, float | None] = {p: getattr(c, f) for p, f in PEAK_FIELD.items()}
    notes: list[str] = []
    for fld, spec in (_data().get("hardware_assumptions") or {}).get(c.id, {}).items():
        prec = next(p for p, f in PEAK_FIELD.items() if f == fld)
        fp16 = c.fp16_dense_tflops or c.dense16_tflops
        if peaks[prec] is None and "times_fp16" in spec and fp16:
            peaks[prec] = spec["times_fp16"] * fp16
            notes.append(f"{c.id} {prec} peak = {spec['times_fp16']:g} x FP16 (models.yaml hardware_assumptions)")
    missing = [n for n, v in (("memory_gb", c.memory_gb), ("memory_tbps", c.memory_tbps)) if v is None]
    if missing:
        raise UserError(f"system '{system_id}': its chip '{c.id}' has no {' or '.join(missing)} in the catalog, "
                        "which the serving estimator needs")
    domain = int(s.chips_per_domain or 1)
    up = s.scaleup_gbps_per_chip if s.scaleup_gbps_per_chip is not None else (c.scaleup_gbps if domain > 1 else None)
    fab = _data()["fabric_of"].get(c.id, _data()["fabric_of"]["default"])
    if k > 1:
        notes.append(f"{c.id}: {k} dies per package, each a rank with 1/{k} of HBM, bandwidth, peak and links")
    return Device(s.id, c.id, k, domain * k, float(c.memory_gb) / k, float(c.memory_tbps) / k,
                  {p: (v / k if v else None) for p, v in peaks.items()},
                  None if up is None else up / 2.0 / k, None if s.scaleout_gbps_per_chip is None else
                  s.scaleout_gbps_per_chip / k, fab["up"], fab["out"], kernels(c.id), tuple(notes))
