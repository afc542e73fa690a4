"""Communication per fabric: one dispatch or combine call costs alpha + bytes / (eff x bandwidth).

Fabrics (models.yaml `fabrics:`): InfiniBand 400G from DeepEP's low-latency benchmark on H800 (alpha 12.4 us,
0.8 of 50 GB/s); NVLink 4 from DeepEP's intranode kernels; NVLink 5 (GB200/B200), HCCS / Unified Bus (Ascend) and
RoCE as stated assumptions with wide bands until kernel figures are in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .inputs import _data


@dataclass(frozen=True)
class Fabric:
    id: str
    alpha_us: float
    eff: float
    band: float
    assumed: bool

    def at(self, side: int) -> Fabric:
        """Low (-1): slower links and longer calls; high (+1) the reverse."""
        if side == 0:
            return self
        return replace(self, alpha_us=self.alpha_us * (1 - side * self.band),
                       eff=min(0.95, self.eff * (1 + side * self.band)))

    def call_s(self, nbytes, gbps: float):  # noqa: ANN001, ANN201 - arrays or floats
        """Seconds for one call moving `nbytes` per rank over a link of `gbps` GB/s per direction."""
        return self.alpha_us * 1e-6 + nbytes / (self.eff * gbps * 1e9)


def fabric(fabric_id: str) -> Fabric:
    raw = _data()["fabrics"][fabric_id]
    return Fabric(fabric_id, float(raw["alpha_us"]), float(raw["eff"]), float(raw["band"]), "sources" not in raw)
