"""Reasoning-serving capacity in the race: how many tokens per second of a large reasoning MoE each actor's
compute can serve at a stated per-user speed (docs/serving.md, "Reasoning-serving capacity in the race").

Compute in small scale-up worlds (8-GPU servers) can pretrain big models but serves large mixture-of-experts
reasoning models slowly; rack-scale NVLink (NVL72) and CloudMatrix-class supernodes serve them fast. So each
actor's operational stock at the end of each year is split by system class (data/system_classes.csv: sourced
shares by actor and year, with a low-high range), and each class serves at the per-H100e rate of a
representative system of that actor, class and year, from the serving estimator (computerace.serving):

    capacity(actor, year) = operational H100e(actor, year) x sum over classes c of share_c x rate_c / h100e_c

with rate_c the decode tokens/s per chip of the reference model (REFERENCE) at the reference per-user speed on
the representative system, and h100e_c its chip's dense BF16 H100e (the unit of the stock). Each sample draws
where it sits in each class's efficiency band (one quantile per software family, FAMILIES, shared by all actors
and years: the same software on the same hardware) and in each actor's share ranges (one quantile per actor and class, shared by the
years), from a random stream of its own (reproducible for any chunk size). A rate piecewise log-linear between
the band's low, central and high; a share triangular between its low, central and high, renormalised to sum to 1.

Years after the file's last year keep its shares, years before its first its first (a stated assumption). A class with no
representative system (older PCIe and small-domain systems) serves zero at the reference speed (assumption: a
671B-parameter MoE does not fit one such domain, and spanning domains over the network is slower than the target).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import xarray as xr
from scipy import special

from ..catalog import CatalogError

#: The reference workload: a large reasoning MoE decoded at a per-user speed (tokens/s per user = 1000 / tpot_ms).
REFERENCE = {"model": "deepseek-r1", "tpot_ms": 20.0, "context_tokens": 4096}
#: System classes by scale-up domain (docs/system-classes.md).
CLASSES = ("hgx8", "nvl72", "supernode", "npu_server", "pod", "pcie_other")
CLASS_NAMES = {"hgx8": "8-GPU NVLink server (HGX)", "nvl72": "NVL72-class rack", "supernode": "CloudMatrix-class supernode",
               "npu_server": "8/16-NPU server", "pod": "TPU/Trainium pod", "pcie_other": "PCIe and other small domains"}
#: Software families: classes on one vendor's chips and serving stack share one efficiency quantile per sample (the
#: serving estimator fits its whole-model factors per software family, docs/serving.md), so a sample that finds Ascend
#: serving efficient finds it so in supernodes and in 8/16-NPU servers alike.
FAMILIES = ("nvidia", "ascend", "tpu")
FAMILY = {"hgx8": "nvidia", "nvl72": "nvidia", "supernode": "ascend", "npu_server": "ascend", "pod": "tpu",
          "pcie_other": "nvidia"}
#: The random stream of the serving draws (a SeedSequence spawn key of its own; see draws.py).
STREAM = (0, 18)
#: Output variables added to a run's Dataset.
VARIABLES = ("reasoning_serving_tokens_per_s", "reasoning_serving_china_no_supernode_tokens_per_s",
             "reasoning_floor_ms")


@dataclass(frozen=True)
class ClassRow:
    actor: str
    cls: str
    year: int
    share: tuple[float, float, float]  # low, central, high
    system: str
    source: str
    status: str


def _path():
    return resources.files("computerace.data").joinpath("system_classes.csv")


@functools.lru_cache(maxsize=1)
def class_rows() -> tuple[ClassRow, ...]:
    """The rows of data/system_classes.csv, checked (a clear error names the line and column)."""
    rows = []
    with _path().open(newline="") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            where = f"src/computerace/data/system_classes.csv line {line}"
            try:
                share = tuple(float(r[k]) for k in ("share_low", "share_central", "share_high"))
                year = int(r["year"])
            except (KeyError, TypeError, ValueError) as e:
                raise CatalogError(f"{where}: bad number ({e}); shares are fractions 0-1, year an integer") from None
            if r["class"] not in CLASSES:
                raise CatalogError(f"{where}: class {r['class']!r} is not one of {', '.join(CLASSES)}")
            if not 0.0 <= share[0] <= share[1] <= share[2] <= 1.0:
                raise CatalogError(f"{where}: shares must satisfy 0 <= low <= central <= high <= 1, got {share}")
            rows.append(ClassRow(r["actor"], r["class"], year, share, (r.get("representative_system") or "").strip(),
                                 r.get("source", ""), r.get("status", "")))
    return tuple(rows)


def cited_source_ids() -> set[str]:
    """Source ids data/system_classes.csv cites (its `source` column: ids separated by ';')."""
    return {sid.strip() for r in class_rows() for sid in r.source.split(";") if sid.strip()}


def _table(actor: str, years: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """Shares [year, class, 3] (low, central, high) and representative systems [year][class] for `actor`,
    years after the file's last year holding its last year's values."""
    rows = [r for r in class_rows() if r.actor == actor]
    if not rows:
        raise CatalogError(f"src/computerace/data/system_classes.csv has no rows for actor {actor!r}")
    have = sorted({r.year for r in rows})
    share = np.zeros((len(years), len(CLASSES), 3))
    systems = [["" for _ in CLASSES] for _ in years]
    for i, y in enumerate(years.tolist()):
        yy = min(max(y, have[0]), have[-1])
        for r in rows:
            if r.year == yy:
                share[i, CLASSES.index(r.cls)] = r.share
                systems[i][CLASSES.index(r.cls)] = r.system
    return share, systems


#: The estimator's answers for the systems data/system_classes.csv names, cached in the package (the estimator
#: takes ~0.2 s per system; a run needs a dozen). Regenerate after a change to the estimator or its data:
#: `python -m computerace.analysis.reasoning > src/computerace/data/reasoning_rates.json` (a test checks it).
RATES_FILE = "reasoning_rates.json"


@functools.cache
def _cached_rates() -> dict[str, Any]:
    import json

    path = resources.files("computerace.data").joinpath(RATES_FILE)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data["systems"] if data.get("reference") == REFERENCE else {}


def estimate_rate(system: str) -> dict[str, Any]:
    """The serving estimator's decode band for the reference workload on `system` (computed, not cached)."""
    from ..serving import reasoning_rate

    return reasoning_rate(system, REFERENCE["model"], tpot_ms=REFERENCE["tpot_ms"],
                          context_tokens=REFERENCE["context_tokens"])


def rate_table() -> dict[str, Any]:
    """RATES_FILE's content: the reference workload and the estimator's answer for every system the classes name."""
    names = sorted({sid for r in class_rows() for sid, _ in mix(r.system)})
    return {"reference": REFERENCE, "systems": {sid: estimate_rate(sid) for sid in names}}


@functools.cache
def system_rate(system: str) -> dict[str, Any]:
    """The serving estimator's decode band for the reference workload on `system`, per chip and per H100e."""
    from .. import catalog

    est = _cached_rates().get(system) or estimate_rate(system)
    chip = catalog.chip(catalog.system(system).chip)
    h100e = chip.h100e_bf16
    if not h100e:
        raise CatalogError(f"system {system!r}: its chip {chip.id!r} has no dense BF16 figure, so its rate per H100e "
                        "is undefined; give the chip a bf16_dense_tflops in data/chips.csv")
    floor = est.get("floor_band_ms") or {k: est["floor_ms"] for k in ("low", "central", "high")}
    return {**est, "h100e_per_chip": h100e, "floor_band_ms": floor,
            "per_h100e": {k: est[k] / h100e for k in ("low", "central", "high")}}


def mix(field: str) -> list[tuple[str, float]]:
    """A representative_system field: one system id, or a mix "id:weight;id:weight" whose weights (shares of the
    class's H100e, summing to 1) weight each system's rate per H100e; empty: the class serves zero."""
    if not field:
        return []
    parts = [p.strip() for p in field.split(";") if p.strip()]
    if len(parts) == 1 and ":" not in parts[0]:
        return [(parts[0], 1.0)]
    out = []
    for p in parts:
        sid, _, w = p.partition(":")
        try:
            out.append((sid.strip(), float(w)))
        except ValueError:
            raise CatalogError(f"src/computerace/data/system_classes.csv: representative_system {field!r}: "
                               f"weight {w!r} of {sid!r} is not a number; write id:weight;id:weight") from None
    if abs(sum(w for _, w in out) - 1.0) > 1e-6:
        raise CatalogError(f"src/computerace/data/system_classes.csv: representative_system {field!r}: weights sum "
                           f"to {sum(w for _, w in out):g}, not 1")
    return out


def class_rate(field: str) -> dict[str, Any]:
    """Per-H100e rate band and floor band of a class's representative system or mix (weights on the rates; the
    floor is the fastest system's: a user can be served on it)."""
    parts = mix(field)
    rates = {k: sum(w * system_rate(sid)["per_h100e"][k] for sid, w in parts) for k in ("low", "central", "high")}
    floors = {k: min(system_rate(sid)["floor_band_ms"][k] for sid, _ in parts) for k in ("low", "central", "high")}
    return {"per_h100e": rates, "floor_band_ms": floors}


def _log_interp(low: np.ndarray, mid: np.ndarray, high: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Piecewise log-linear from low (u=0) through mid (u=0.5) to high (u=1); zero where mid is zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(u < 0.5, low, mid)
        hi = np.where(u < 0.5, mid, high)
        f = np.where(u < 0.5, u / 0.5, (u - 0.5) / 0.5)
        out = np.where((lo > 0) & (hi > 0), lo * (hi / np.where(lo > 0, lo, 1.0)) ** f, lo + (hi - lo) * f)
    return np.where(mid > 0, out, 0.0)


def _triangular(low: np.ndarray, mode: np.ndarray, high: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of the triangular distribution (low, mode, high) at u (a point where low == high)."""
    width = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = np.where(width > 0, (mode - low) / width, 0.5)
        left = low + np.sqrt(u * width * (mode - low))
        right = high - np.sqrt((1 - u) * width * (high - mode))
    return np.where(width > 0, np.where(u < cut, left, right), mode)


def uniforms(seed: int, n: int, width: int) -> np.ndarray:
    """[n, width] uniforms from the serving stream, block by block (the same for any chunk size)."""
    from ..draws import _normals

    return special.ndtr(_normals(seed, 0, n, width, STREAM))


@dataclass
class Capacity:
    """Per-sample capacity [sample, year, actor] (tokens/s), China's without supernodes [sample, year], and the
    floor [sample, year] of China's fastest class outside supernodes (ms per output token)."""
    tokens_per_s: np.ndarray
    china_no_supernode: np.ndarray
    china_floor_ms: np.ndarray


def capacity(operational: np.ndarray, years: np.ndarray, actors: list[str], seed: int) -> Capacity:
    """Reasoning-serving capacity from operational stock [sample, year, actor] (H100e at each year's end)."""
    S = operational.shape[0]
    nc = len(CLASSES)
    nf = len(FAMILIES)
    u = uniforms(seed, S, nf + nc * len(actors))
    u_rate = u[:, [FAMILIES.index(FAMILY[c]) for c in CLASSES]]  # [S, class]: one quantile per software family
    u_share = u[:, nf:].reshape(S, len(actors), nc)
    out = np.zeros(operational.shape)
    no_sn = np.zeros((S, len(years)))
    floor = np.full((S, len(years)), np.inf)
    for a, actor in enumerate(actors):
        share_tab, systems = _table(actor, years)
        for i in range(len(years)):
            sh = _triangular(share_tab[i, :, 0], share_tab[i, :, 1], share_tab[i, :, 2], u_share[:, a])  # [S, class]
            sh = sh / np.where(sh.sum(axis=1, keepdims=True) > 0, sh.sum(axis=1, keepdims=True), 1.0)
            rate = np.zeros((S, nc))
            for c in range(nc):
                sid = systems[i][c]
                if sid:
                    band = class_rate(sid)["per_h100e"]
                    rate[:, c] = _log_interp(np.float64(band["low"]), np.float64(band["central"]),
                                             np.float64(band["high"]), u_rate[:, c])
            out[:, i, a] = operational[:, i, a] * (sh * rate).sum(axis=1)
            if actor == "China":
                sn, ns = CLASSES.index("supernode"), CLASSES.index("npu_server")
                moved = sh.copy()
                moved[:, ns] += moved[:, sn]
                moved[:, sn] = 0.0
                alt = rate.copy()
                if systems[i][ns]:
                    alt[:, sn] = 0.0
                no_sn[:, i] = operational[:, i, a] * (moved * alt).sum(axis=1)
                for c in range(nc):
                    sid = systems[i][c]
                    if sid and CLASSES[c] != "supernode" and share_tab[i, c, 2] > 0:
                        f = class_rate(sid)["floor_band_ms"]  # keyed by the throughput case: "high" is the
                        # optimistic case, the lowest floor; the same quantile as the class's rate
                        floor[:, i] = np.minimum(floor[:, i], _log_interp(
                            np.float64(f["low"]), np.float64(f["central"]), np.float64(f["high"]), u_rate[:, c]))
    return Capacity(out, no_sn, floor)


def attach(ds: xr.Dataset, seed: int) -> xr.Dataset:
    """Add the capacity variables (VARIABLES) to a run's Dataset, computed from its operational stock."""
    from .metrics import report_months

    idx = report_months(ds)
    years = ds["year"].values.astype(int)
    actors = [str(a) for a in ds["actor"].values]
    op = ds["operational_h100e"].values[:, idx].astype(np.float64)
    cap = capacity(op, years, actors, seed)
    note = (f"{REFERENCE['model']} decoded at {1000 / REFERENCE['tpot_ms']:.0f} tokens/s per user "
            f"({REFERENCE['context_tokens']}-token context), from operational stock split by system class "
            "(analysis/reasoning.py; docs/serving.md)")
    ds["reasoning_serving_tokens_per_s"] = (("sample", "year", "actor"), cap.tokens_per_s.astype(np.float32), {
        "units": "tokens/s", "description": "reasoning-serving capacity: " + note})
    ds["reasoning_serving_china_no_supernode_tokens_per_s"] = (("sample", "year"),
                                                                cap.china_no_supernode.astype(np.float32), {
        "units": "tokens/s", "description": "China's capacity had its CloudMatrix-class supernodes been 8/16-NPU "
                                            "servers of the same chips: " + note})
    ds["reasoning_floor_ms"] = (("sample", "year"), cap.china_floor_ms.astype(np.float32), {
        "units": "ms", "description": "the minimum time per output token of the reference model on China's "
                                      "fastest system class outside supernodes (no batch or chip count goes below it)"})
    return ds


def years_behind(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Years China's reasoning-serving capacity trails the US's at each year's end [sample, year] (negative when
    ahead) and censoring flags (China below the US's first year: the value is a lower bound)."""
    from .metrics import _years_behind

    cap = ds["reasoning_serving_tokens_per_s"].values.astype(np.float64)
    actors = [str(a) for a in ds["actor"].values]
    us, cn = cap[:, :, actors.index("US")], cap[:, :, actors.index("China")]
    yb, cens = _years_behind(us, cn, np.arange(us.shape[1]))
    return yb * 12.0, cens  # _years_behind counts path steps as months; here a step is a year


#: summary.json metrics this module adds (layout of every metric: {key: {"YYYY-MM": {p5, p50, p95, mean}}}, at each
#: year's last month like the stock metrics).
METRICS = ("reasoning_serving_tokens_per_s", "years_behind_reasoning_serving",
           "reasoning_serving_without_supernodes_ratio", "reasoning_floor_ms")


def metrics_block(ds: xr.Dataset, table: Any, labels: list[str]) -> dict[str, Any]:
    """summary.json `metrics` entries (METRICS) at `labels` (each year's last month, one per year);
    `table(values [sample, k], labels[, censored])` tabulates."""
    cap = ds["reasoning_serving_tokens_per_s"].values.astype(np.float64)
    if len(labels) != cap.shape[1]:
        raise ValueError("reasoning-serving metrics need one label per year")
    actors = [str(a) for a in ds["actor"].values]
    by_actor = {a: table(cap[:, :, i], labels) for i, a in enumerate(actors)}
    by_actor["World"] = table(cap.sum(axis=2), labels)
    yb, cens = years_behind(ds)
    cn = cap[:, :, actors.index("China")]
    alt = ds["reasoning_serving_china_no_supernode_tokens_per_s"].values.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cn > 0, alt / np.where(cn > 0, cn, 1.0), 1.0)
    return {"reasoning_serving_tokens_per_s": by_actor,
            "years_behind_reasoning_serving": {"China": table(yb, labels, cens)},
            "reasoning_serving_without_supernodes_ratio": {"China": table(ratio, labels)},
            "reasoning_floor_ms": {"China": table(ds["reasoning_floor_ms"].values.astype(np.float64), labels)}}


def block(ds: xr.Dataset) -> dict[str, Any]:
    """summary.json's `reasoning_serving` block: the reference workload, each actor's classes (shares,
    representative systems, per-H100e rates) by year to 2030, the method, and the names of the metrics."""
    years = ds["year"].values.astype(int)
    rates = {}
    for actor in [str(a) for a in ds["actor"].values]:
        share_tab, systems = _table(actor, years)
        rates[actor] = {str(y): {c: {"system": systems[i][k] or None,
                                     "share": dict(zip(("low", "central", "high"), share_tab[i, k].tolist(), strict=True)),
                                     **({"tokens_per_s_per_h100e": class_rate(systems[i][k])["per_h100e"]}
                                        if systems[i][k] else {"tokens_per_s_per_h100e": None})}
                                 for k, c in enumerate(CLASSES) if share_tab[i, k, 2] > 0}
                         for i, y in enumerate(years.tolist()) if y <= 2030}
    return {
        "model": REFERENCE["model"], "tpot_ms": REFERENCE["tpot_ms"],
        "tokens_per_s_per_user": 1000.0 / REFERENCE["tpot_ms"], "context_tokens": REFERENCE["context_tokens"],
        "units": "tokens/s", "metrics": list(METRICS),
        "classes": rates,
        "method": ("operational stock at each year's end x shares by system class (data/system_classes.csv) x each "
                   "class's decode rate per H100e on a representative system (serving estimator band: low, central, "
                   "high), drawn per sample; docs/reasoning-serving.md"),
    }


if __name__ == "__main__":  # python -m computerace.analysis.reasoning > src/computerace/data/reasoning_rates.json
    import json

    print(json.dumps(rate_table(), indent=1, sort_keys=True))
