"""Schema and provenance checks for the serving estimator's data tables (src/computerace/serving/data/).

kernels.csv (kernel-level efficiencies), fabrics.csv (communication kernels) and validation.csv (end-to-end
measurements kept for validation, never fitted) each carry a source id that must resolve in
src/computerace/data/sources.csv and a status of published, derived or assumption.
"""

import csv
from pathlib import Path

import pytest

DATA = Path(__file__).parents[1] / "src" / "computerace" / "serving" / "data"
SOURCES = Path(__file__).parents[1] / "src" / "computerace" / "data" / "sources.csv"

COLUMNS = {
    "kernels.csv": ["id", "chip", "op_class", "dtype", "m", "n", "k", "batch", "context", "achieved_tflops",
                    "achieved_gbps", "peak_tflops", "peak_gbps", "fraction_of_peak", "source", "status", "note",
                    "latency_us"],
    "fabrics.csv": ["id", "fabric", "system", "op", "mode", "ranks", "tokens_per_rank", "hidden", "bytes_per_elem",
                    "latency_us", "achieved_gbps", "source", "status", "note"],
    "validation.csv": ["id", "system", "model", "precision", "phase", "mode", "context_tokens", "output_tokens",
                       "tpot_target_ms", "batch_per_chip", "measured_tokens_per_s_per_chip", "measured_tpot_ms",
                       "tolerance", "regime", "framework", "source", "status", "note"],
}
NUMERIC = {
    "kernels.csv": ["m", "n", "k", "batch", "context", "achieved_tflops", "achieved_gbps", "peak_tflops", "peak_gbps",
                    "fraction_of_peak", "latency_us"],
    "fabrics.csv": ["ranks", "tokens_per_rank", "hidden", "bytes_per_elem", "latency_us", "achieved_gbps"],
    "validation.csv": ["context_tokens", "output_tokens", "tpot_target_ms", "batch_per_chip",
                       "measured_tokens_per_s_per_chip", "measured_tpot_ms", "tolerance"],
}
ENUMS = {
    "kernels.csv": {"op_class": {"gemm", "grouped_gemm", "attention_decode", "attention_prefill", "elementwise",
                                 "hbm_copy", "kernel_launch"}},
    "fabrics.csv": {"op": {"dispatch", "combine", "allreduce", "allgather"}, "mode": {"low_latency", "normal"}},
    "validation.csv": {"phase": {"decode", "prefill"}, "mode": {"disaggregated", "aggregated"},
                       "regime": {"throughput", "latency"},
                       "framework": {"sglang", "vllm", "trtllm", "mindie", "xdeepserve", "other"}},
}
STATUSES = {"published", "derived", "assumption"}


def _rows(name):
    with open(DATA / name, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _source_ids():
    with open(SOURCES, newline="") as f:
        return {r["id"] for r in csv.DictReader(f)}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_columns_are_the_documented_schema(name):
    header, rows = _rows(name)
    assert header == COLUMNS[name]
    assert rows, f"{name} has no rows"
    for r in rows:
        assert None not in r, f"{name} {r.get('id')}: more cells than columns"
        assert all(v is not None for v in r.values()), f"{name} {r.get('id')}: fewer cells than columns"


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_ids_unique_sources_exist_and_statuses_valid(name):
    _, rows = _rows(name)
    known = _source_ids()
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), f"{name}: duplicate ids"
    for r in rows:
        for sid in r["source"].split(";"):
            assert sid.strip() in known, f"{name} {r['id']}: source {sid!r} is not in sources.csv"
        assert r["status"] in STATUSES, f"{name} {r['id']}: status {r['status']!r}"
        if r["status"] in {"derived", "assumption"}:
            assert r["note"].strip(), f"{name} {r['id']}: a {r['status']} row must say how in its note"


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_numbers_positive_and_enums_valid(name):
    _, rows = _rows(name)
    for r in rows:
        for col in NUMERIC[name]:
            if r[col].strip():
                assert float(r[col]) > 0, f"{name} {r['id']}: {col} = {r[col]}"
        for col, allowed in ENUMS[name].items():
            assert r[col] in allowed, f"{name} {r['id']}: {col} = {r[col]!r}"


def test_kernel_fractions_at_most_one_and_consistent_with_the_binding_roof():
    _, rows = _rows("kernels.csv")
    for r in rows:
        if r["fraction_of_peak"]:
            frac = float(r["fraction_of_peak"])
            assert frac <= 1.0, r["id"]
            # the fraction is of whichever roof binds: it must match one of achieved/peak when both are given
            pairs = [(r["achieved_tflops"], r["peak_tflops"]), (r["achieved_gbps"], r["peak_gbps"])]
            ratios = [float(a) / float(p) for a, p in pairs if a and p]
            if ratios:
                assert any(abs(x - frac) <= 0.01 for x in ratios), (r["id"], frac, ratios)
        if r["op_class"] == "kernel_launch":
            assert r["latency_us"] and not r["achieved_gbps"], r["id"]


def test_h200_to_h100_batch1_streaming_ratio_from_the_microbenchmarks():
    """The H200:H100 batch-1 decode ratio hangs on achieved, not datasheet, bandwidth: 3,725 / 2,730 = 1.36,
    below the datasheet 4.8 / 3.35 = 1.43 (gpu_microbenchmarks.csv, bf16 m = 1)."""
    _, rows = _rows("kernels.csv")
    by_id = {r["id"]: r for r in rows}
    ratio = float(by_id["mb-h200-bf16-m1"]["achieved_gbps"]) / float(by_id["mb-h100-bf16-m1"]["achieved_gbps"])
    assert ratio == pytest.approx(1.364, abs=0.005)
    assert ratio < 4.8 / 3.35


def test_validation_tolerances_are_fractions_and_regimes_cover_both():
    _, rows = _rows("validation.csv")
    assert all(0 < float(r["tolerance"]) <= 1 for r in rows)
    assert {r["regime"] for r in rows} == {"throughput", "latency"}
    for r in rows:
        if r["tpot_target_ms"] and r["measured_tpot_ms"]:
            # a measured TPOT may sit at most 15% over its target (targets are rounded, e.g. 'about 50 ms')
            assert float(r["measured_tpot_ms"]) <= 1.15 * float(r["tpot_target_ms"]), r["id"]


def test_loader_lists_cited_sources_and_rejects_unknown_tables():
    from computerace.errors import UserError
    from computerace.serving.data import cited_source_ids, rows

    assert {"deepep-2025", "trtllm-blog18-2026", "huawei-cm384-paper"} <= cited_source_ids()
    assert cited_source_ids() <= _source_ids()
    assert len(rows("fabrics.csv")) == len(_rows("fabrics.csv")[1])
    with pytest.raises(UserError, match="did you mean 'kernels.csv'"):
        rows("kernel.csv")
