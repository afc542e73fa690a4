"""Claims from the public debate, scored under a scenario: P(claim) and what drives it.

A claim's definition (data/claims.yaml) is a condition on per-sample metrics
(`analysis.metrics.sample_values`); its probability is the share of samples where it holds. A
counterfactual claim runs the named preset with the same seed and samples (common random numbers) and
compares sample by sample. 'What drives it' is the parameter whose sampled quantile has the largest
rank correlation with the claim's per-sample outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml
from scipy import stats

from ..errors import UserError
from . import metrics


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    quote: str
    source: str | None
    reading: str
    definition: dict[str, Any]


@lru_cache(maxsize=1)
def load_claims() -> tuple[Claim, ...]:
    text = resources.files("computerace").joinpath("data", "claims.yaml").read_text(encoding="utf-8")
    return tuple(Claim(**{k: (str(v) if k in ("id", "claim", "quote", "reading") else v) for k, v in c.items()})
                 for c in yaml.safe_load(text)["claims"])


def _date(x: Any) -> str:
    return str(x)


def outcome(defn: dict[str, Any], ds: Any, counterfactual: Any = None) -> np.ndarray:
    """Per-sample boolean: does the definition hold in each sample of `ds`?"""
    if "all" in defn:
        parts = [outcome(d, ds, counterfactual) for d in defn["all"]]
        return np.logical_and.reduce(parts)
    kind = defn["kind"]
    if kind == "between":
        v = metrics.sample_values(ds, defn["metric"], defn.get("key", "China"), _date(defn["date"]))
        return (v >= defn["low"]) & (v <= defn["high"])
    if kind == "growth":
        a = metrics.sample_values(ds, defn["metric"], defn["key"], _date(defn["from"]))
        b = metrics.sample_values(ds, defn["metric"], defn["key"], _date(defn["to"]))
        g = b / a
        return (g >= defn["low"]) & (g <= defn["high"])
    if kind == "overtake":
        first = metrics.first_overtaking_year(ds)
        return (first > defn["after"]) & (first <= defn["by"])
    if kind == "binding":  # the limit that bound an actor's acquisitions in most months of a year
        names = [str(c) for c in ds["constraint"].values]
        wanted = defn["constraint"] if isinstance(defn["constraint"], list) else [defn["constraint"]]
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise ValueError(f"unknown constraint {unknown}; choose from {names}")
        codes = ds["binding_constraint"].sel(actor=defn["actor"], year=int(defn["year"])).values
        return np.isin(codes, [names.index(w) for w in wanted])
    if kind == "event_before":
        return ds[defn["event"]].values < defn["before"]
    if kind == "counterfactual":
        if counterfactual is None:
            raise ValueError("a counterfactual claim needs the counterfactual run")
        a = metrics.sample_values(ds, defn["metric"], defn.get("key", "China"), _date(defn["date"]))
        b = metrics.sample_values(counterfactual, defn["metric"], defn.get("key", "China"), _date(defn["date"]))
        return a > b if defn.get("direction", "higher") == "higher" else a < b
    raise ValueError(f"unknown claim kind {kind!r}")


def driver(ds: Any, hit: np.ndarray) -> tuple[str, float] | None:
    """The parameter whose quantile is most rank-correlated with the outcome, and that correlation."""
    if hit.all() or not hit.any():
        return None
    u = ds["parameter_quantile"].values
    names = [str(p) for p in ds["parameter"].values]
    best, best_r = None, 0.0
    x = hit.astype(float)
    for j, name in enumerate(names):
        col = u[:, j]
        if np.ptp(col) == 0:
            continue
        r = stats.spearmanr(col, x).statistic
        if np.isfinite(r) and abs(r) > abs(best_r):
            best, best_r = name, float(r)
    return (best, best_r) if best else None


def score(scenario: Any, samples: int = 4000, seed: int = 0, claim_ids: list[str] | None = None,
          run: Any = None) -> list[dict[str, Any]]:
    """Probability of each claim under `scenario` (a Scenario, preset name or path), with its driver.

    Pass an existing `run` to score its samples (its seed and sample count are then used).
    """
    import computerace as cr

    from ..catalog import sources

    claims = load_claims()
    if claim_ids:
        known = {c.id for c in claims}
        for cid in claim_ids:
            if cid not in known:
                from ..errors import did_you_mean

                hint = did_you_mean(cid, known)
                raise UserError(f"unknown claim '{cid}'" + (f"; {hint}" if hint else "")
                                + " (run 'computerace claims' to list them)")
        claims = tuple(c for c in claims if c.id in claim_ids)
    if run is None:
        run = cr.run(scenario, samples=samples, seed=seed)
    samples, seed = run.manifest["samples"], run.manifest["seed"]
    ds = run.dataset
    cf_runs: dict[str, Any] = {}
    src = sources()
    out = []
    for c in claims:
        cf = None
        if c.definition.get("kind") == "counterfactual":
            name = c.definition["preset"]
            if name not in cf_runs:
                cf_runs[name] = cr.run(name, samples=samples, seed=seed).dataset
            cf = cf_runs[name]
        hit = outcome(c.definition, ds, cf)
        p = float(hit.mean())
        d = driver(ds, hit)
        drive = "no sample differs: the claim holds in all or none" if d is None else (
            f"driven most by {d[0]} (rank correlation {d[1]:+.2f} with the outcome)")
        s = src.get(c.source) if c.source else None
        out.append({"id": c.id, "claim": c.claim, "probability": p, "reading": c.reading, "quote": c.quote,
                    "source": c.source, "source_title": s.title if s else None, "source_url": s.url if s else None,
                    "driver": drive, "samples": samples, "seed": seed,
                    "scenario": run.manifest["scenario"], "scenario_hash": run.manifest["scenario_hash"]})
    return out
