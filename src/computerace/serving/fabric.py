"""Communication per fabric: one dispatch or combine call costs alpha + bytes / (eff x bandwidth).

Fabrics (models.yaml `fabrics:`): InfiniBand 400G from DeepEP's low-latency benchmark on H800 (alpha 12.4 us,
0.8 of 50 GB/s); NVLink 5 (GB200/B200) from TensorRT-LLM blog 18's GB200 NVL72 all-to-all (alpha 21.1 us, 0.74 of
900 GB/s); HCCS / Unified Bus (Ascend, per die) from xDeepServe's XCCL microbenchmark (alpha 25.6 us, 0.71 of
196 GB/s); NVLink 4 from DeepEP's intranode kernels with NVLink 5's call latency; RoCE a stated assumption.
`fabric_fit` is the least-squares fit that derives alpha and eff from serving/data/fabrics.csv rows.
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


def fabric_fit(fabric_rows: list[dict[str, str]], gbps: float, domain_ranks: int, top_k: int = 8
               ) -> tuple[float, float]:
    """(alpha_us, eff) by least squares of latency = alpha + bytes / (eff x gbps) over fabrics.csv rows with a
    latency and a token count, the bytes counted as the step model sends them inside a scale-up domain of
    `domain_ranks`: tokens x hidden x bytes x top_k x (min(N, D) - 1) / N (models.yaml `fabrics:` checks)."""
    import numpy as np

    xs, ys = [], []
    for r in fabric_rows:
        if not (r.get("latency_us") and r.get("tokens_per_rank")):
            continue
        n = int(r["ranks"])
        nbytes = (float(r["tokens_per_rank"]) * float(r["hidden"]) * float(r["bytes_per_elem"]) * top_k
                  * (min(n, domain_ranks) - 1) / n)
        xs.append([1.0, nbytes / (gbps * 1e9) * 1e6])
        ys.append(float(r["latency_us"]))
    if len(ys) < 2:
        raise ValueError("fabric_fit needs at least two rows with a latency and a token count")
    (alpha, slope), *_ = np.linalg.lstsq(np.array(xs), np.array(ys), rcond=None)
    return float(alpha), float(1.0 / slope)
