"""The Run: an xarray Dataset plus its manifest; summary() and atomic save()."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

FILES = ("summary.json", "run.nc", "quantiles.csv", "manifest.json", "report.html")


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over `path`.

    An interrupted write leaves either the old file or none, never a partial one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finite(obj: Any) -> Any:
    """A JSON-ready copy with every non-finite float as None (strict JSON has no NaN or Infinity); numpy scalars
    become Python numbers. The one helper summary.json, the dashboard and discover.json use."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def strict_json(obj: Any) -> str:
    """JSON that strict parsers accept: non-finite numbers become null (metrics.py documents where they occur)."""
    return json.dumps(finite(obj), indent=1, default=_json_default, allow_nan=False) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


class Run:
    """Results of one scenario run: `dataset` (xarray), `manifest` (dict), `summary()`, `save(dir)`."""

    def __init__(self, dataset: xr.Dataset, manifest: dict[str, Any], scenario: Any = None) -> None:
        self.dataset = dataset
        self.manifest = manifest
        self.scenario = scenario
        # a conditioned run keeps its prior and the observations it was conditioned on (for inference.nc)
        self._prior: Run | None = None
        self._observations: list[Any] = []
        dataset.attrs["manifest"] = json.dumps(manifest, default=_json_default, sort_keys=True)
        dataset.attrs["conventions"] = "computerace run; H100e = dense BF16 relative to H100 SXM"

    @cached_property
    def _summary(self) -> dict[str, Any]:
        from .analysis.metrics import summary

        return summary(self.dataset, self.manifest)

    def summary(self) -> dict[str, Any]:
        """Quantiles of the headline metrics and the probabilities (the summary.json layout)."""
        return self._summary

    def conditioned(self, as_of: str | None = None, observations: Any = None, min_ess: float | None = None) -> Run:
        """The posterior: this run's samples importance-weighted by the evidence published up to `as_of` (default:
        the whole catalog), tempered if the effective sample size collapses, and resampled (systematic, from the
        run's seed). The manifest gains `conditioning` (ESS, tempering, each observation's weight) and the prior's
        headlines beside the posterior's (`shift`); the Dataset gains `prior_sample` (the prior index of each
        posterior sample). analysis/evidence.py documents the likelihoods. A point-mode run is one path with
        nothing to weigh: it is returned as it is."""
        from .analysis.evidence import condition, headline_shift, in_horizon, in_prior
        from .analysis.evidence import observations as make_observations

        if (self.manifest.get("resolved_scenario") or {}).get("mode") == "point":
            return self
        obs = make_observations(as_of) if observations is None else observations
        # rows the scenario's prior was built from (a parameter cites their source) are not counted twice
        known = [in_prior(o, self.scenario) for o in obs]
        prior_rows = [o for o, k in zip(obs, known, strict=True) if k]
        obs = [o for o, k in zip(obs, known, strict=True) if not k]
        idx, report = condition(self.dataset, int(self.manifest["seed"]), obs, min_ess=min_ess,
                                history_before=str(as_of)[:7] if as_of else "2026-11")
        ds = self.dataset.isel(sample=idx)
        ds = ds.assign_coords(sample=np.arange(ds.sizes["sample"]))
        ds["prior_sample"] = ("sample", idx.astype(np.int64))
        ds["prior_sample"].attrs.update(units="1", description="index of the prior sample each posterior sample copies")
        manifest = dict(self.manifest)
        report["as_of"] = as_of or "catalog"
        report["in_prior"] = [{"observation": o.name, "rows": list(o.rows), "parameter": o.param} for o in prior_rows]
        manifest["conditioning"] = report
        post = Run(ds, manifest, self.scenario)
        post._prior, post._observations = self, [o for o in obs if in_horizon(o.period_end, self.dataset)]
        report["shift"] = headline_shift(self.summary(), post.summary())
        post.dataset.attrs["manifest"] = json.dumps(manifest, default=_json_default, sort_keys=True)
        return post

    def years_behind(self) -> tuple[xr.DataArray, xr.DataArray]:
        """Years behind (stock axis) at every December and the last month, with the censoring flags."""
        from .analysis.metrics import report_months, years_behind_stock

        return years_behind_stock(self.dataset, report_months(self.dataset))

    def quantiles_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["metric", "key", "date", "p5", "p50", "p95", "mean", "unit"])
        units = {"stock_h100e": "H100e", "additions_h100e": "H100e/year", "operational_h100e": "H100e",
                 "power_gw": "GW", "remote_h100e": "H100e", "china_share": "fraction", "china_share_with_remote": "fraction",
                 "us_to_china_ratio": "ratio", "years_behind_stock": "years", "years_behind_chip": "years",
                 "years_behind_process_node": "years", "years_behind_largest_training_run": "years",
                 "years_behind_frontier_capability": "years", "watts_per_h100e": "W/H100e",
                 "stock_by_generation_h100e": "H100e", "power_by_generation_gw": "GW",
                 "china_supply_chain": "per year (wafers, dies, packages or H100e)"}
        for metric, keys in self.summary()["metrics"].items():
            for key, dates in keys.items():
                for date, q in dates.items():
                    w.writerow([metric, key, date] + [repr(float(q[k])) for k in ("p5", "p50", "p95", "mean")]
                               + [units.get(metric, "")])
        return buf.getvalue()

    def report_html(self, claims: bool = True, sensitivity: Any = None, backtest: Any = None) -> str:
        """The self-contained HTML report: answers, charts, years behind on every axis, overtaking odds,
        claims (scored on this run's samples), the tornado and backtest panels when given, and the
        parameter appendix."""
        from .analysis.metrics import first_overtaking_year
        from .report import answers as A
        from .report import render_report
        from .report.html import _figure_html

        years = [int(str(m)[:4]) for m in self.dataset["month"].values.astype("datetime64[M]") if str(m).endswith("-12")]
        extra = [("Years behind on every axis",
                  "<p class='note'>Definitions in docs/metrics.md. The chip axis compares the best chip China "
                  "obtains in volume with the date the US frontier first reached it; process node compares "
                  "SMIC's best node with TSMC's date for it.</p>"
                  + _figure_html(A.years_behind_axes_figure(self.summary()), "fig-axes")),
                 ("Overtaking odds over time",
                  _figure_html(A.overtaking_figure(first_overtaking_year(self.dataset), years), "fig-overtake"))]
        if "binding_constraint" in self.summary():
            from .report import supply_figures as SF

            extra.append(("What limits supply: wafers, yield, HBM, packaging, power or money",
                          "<p class='note'>For each actor and year, the limit that bound its new compute in most "
                          "months (docs/metrics.md): power when installed chips are stranded, budget when money "
                          "buys less than the supply offered, otherwise the supply step - CoWoS packaging or HBM "
                          "for Western chips; SMIC wafers, die yield, HBM or packaging for China's domestic chips."
                          "</p>" + _figure_html(SF.binding_figure(self.summary()), "fig-binding")
                          + "<p class='note'>China's domestic chain per year, medians of the samples. The HBM cap is "
                          "what the year's HBM (stockpile at its start plus new stacks) could populate, the "
                          "packaging cap the year's capacity, both after the TSMC-made proxy dies' share; 'binds "
                          "in' is the share of the samples in which a physical step (not money or power) limited "
                          "China that this step did, month by month. Before the December 2024 HBM controls HBM "
                          "has no cap.</p>" + _figure_html(SF.chain_figure(self.summary()), "fig-china-chain")))
        if claims:
            from .analysis.claims import score

            extra.append(("Claims from the debate", A.claims_html(score(None, run=self))))
            from .report.discover_section import TITLE as DISCOVER_TITLE
            from .report.discover_section import discover_section

            extra.append((DISCOVER_TITLE, discover_section(self)))
        from .report import serving_figure as sf

        curves = sf.curves(["hgx-h800", "dgx-b200", "gb200-nvl72", "cloudmatrix-384"])
        extra.append(("Serving a large reasoning model: does the scale-up domain matter?",
                      "<p class='note'>DeepSeek-V3 at a 4K context, 8-bit formats: tokens per second per chip "
                      "against tokens per second per user (serving estimator, docs/serving.md; calibrated on "
                      "H800/H20 measurements, the other systems are extrapolations).</p>"
                      + _figure_html(sf.figure(curves), "fig-serving")))
        from .report.reasoning_section import section as reasoning_section

        rs = reasoning_section(self.summary(), _figure_html)
        if rs is not None:
            extra.append(rs)
        if sensitivity is not None:
            from .report.tornado import tornado_figure

            extra.append(("What drives the answer (Sobol sensitivity)", _figure_html(tornado_figure(sensitivity),
                                                                                     "fig-tornado")))
        if backtest is not None:
            extra.append(("Backtest", A.backtest_html(backtest)))
        if self.scenario is not None:
            extra.append(("Appendix: every parameter and its source", A.appendix_html(self.scenario)))
        return render_report(self.dataset, self.summary(), self.manifest, years_behind=self.years_behind(),
                             answers=A.headline_sentences(self.summary()), extra=extra)

    def save(self, out_dir: str | Path, report: bool = True, sensitivity: Any = None, backtest: Any = None,
             netcdf: bool = True) -> dict[str, Path]:
        """Write summary.json, run.nc, quantiles.csv, manifest.json, report.html (and inference.nc for a conditioned
        run) as one whole: into a staging directory renamed over `out_dir` (outdir.RunDirectory), so `out_dir`
        holds the previous run or this one, never a mix, and a killed run leaves no temporary files."""
        from .outdir import RunDirectory

        out = Path(out_dir)
        with RunDirectory(out) as stage:
            written = self._write(stage, report, sensitivity, backtest, netcdf)
        return {name: out / p.name for name, p in written.items()}

    def _write(self, out: Path, report: bool, sensitivity: Any, backtest: Any, netcdf: bool = True
               ) -> dict[str, Path]:
        paths = {name: out / name for name in FILES}
        atomic_write(paths["summary.json"], strict_json(self.summary()))
        atomic_write(paths["quantiles.csv"], self.quantiles_csv())
        atomic_write(paths["manifest.json"], strict_json(self.manifest))
        if not netcdf:  # only the summary, quantiles, manifest and report (run --no-netcdf)
            paths.pop("run.nc")
        else:
            # Uncompressed: zlib takes seconds and saves ~25% on these random-looking floats.
            ds = self.dataset.copy()
            ds["taiwan_event_year"] = ds["taiwan_event_year"].where(np.isfinite(ds["taiwan_event_year"]), 1e9)
            ds["taiwan_event_year"].attrs["note"] = "1e9 means no disruption within the horizon"
            ds.to_netcdf(paths["run.nc"], engine="netcdf4")
        if self._prior is not None and netcdf:  # a conditioned run: prior, posterior and observations
            from .analysis.evidence import write_inference

            paths["inference.nc"] = out / "inference.nc"
            write_inference(paths["inference.nc"], self._prior.dataset, self.dataset, self._observations,
                            self.manifest["conditioning"])
        if report:
            atomic_write(paths["report.html"], self.report_html(sensitivity=sensitivity, backtest=backtest))
        else:
            paths.pop("report.html")
        return paths
