"""Serving estimator v2: the calibration protocol and its validation (issue 18, deliverable 7).

Kernel-level parameters come from kernel data (test_serving.py checks them against the microbenchmarks and
DeepEP); here: the shipped software-family factors are the fit, every fitted row is within its tolerance, the
leave-one-system-out errors are reported by regime, and docs/serving.md's residual table is generated.
Tolerance: +-25% per fitted row (one step-time factor per software family over prefill and decode rows that
mix production averages with benchmarks); validate rows (serving/data/validation.csv, never fitted) each at their
own tolerance, with per-system median |log error| bounds citing the published figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from computerace.serving import calibration as cal

DOCS = Path(__file__).parents[1] / "docs" / "serving.md"

ROW_CITATIONS = {
    "A2": "DeepSeek Day 6: ~14.8k output tok/s per H800 node (1,850/GPU) at 20-22 tok/s/user, KV 4,989",
    "A5-prefill": "DeepSeek profile-data: 4K prompts, 16K tokens/GPU, EP32, balanced: 7,839 tok/s/GPU",
    "A5-decode": "DeepSeek profile-data: EP128, 128 requests/GPU, 4K: 2,325 tok/s/GPU (LMSYS re-derivation)",
    "B1-1k": "LMSYS 96 x H100: prefill EP32, 1K prompts: 57,674 tok/s/node",
    "B1-2k": "LMSYS 96 x H100: prefill EP32, 2K prompts: 54,543 tok/s/node",
    "B1-4k": "LMSYS 96 x H100: prefill EP32, 4K prompts: 50,302 tok/s/node",
    "B1-4k-balanced": "LMSYS 96 x H100: 4K prefill with simulated perfect EPLB: 59,337 tok/s/node",
    "B2": "LMSYS 96 x H100: decode EP72, 256 requests/GPU, 2K: 22,282 tok/s/node",
    "B5-prefill": "RTP-LLM on H800 RoCE: two 4K requests per GPU in 1.5 s (5,333 tok/s/GPU)",
    "B5-decode": "RTP-LLM on H800: 1,850 tok/s/GPU at the 20 tok/s/user SLA, EP144",
    "B6-prefill": "LMSYS + Ant on H20-96G: 16.5k input tok/s per node, 4K prompts, TP8",
    "B7-base": "LMSYS + Ant on H20-96G: InferX Base, batch 48, TPOT < 70 ms: 714 tok/s/GPU",
    "B7-pro": "LMSYS + Ant on H20-96G: InferX Pro, batch 32, TPOT < 50 ms: 675 tok/s/GPU",
    "B8-ep32-bs32": "LMSYS + Ant on H20-96G: EP32 at batch 32: 585 tok/s/GPU",
}


def test_every_fitted_row_has_a_citation_here():
    assert {r["id"] for r in cal.measurements("fit")} == set(ROW_CITATIONS)


@pytest.mark.parametrize("row_id", list(ROW_CITATIONS))
def test_fitted_row_within_25_percent(row_id):
    row = cal.measurement(row_id)
    est = cal.estimate_row(row).tokens_per_s_per_chip
    assert est == pytest.approx(row["measured"], rel=0.25), f"{row_id} ({ROW_CITATIONS[row_id]}): {est:,.0f}"


def test_shipped_family_factors_are_the_fit():
    """models.yaml `software:` holds what fit_family_factors returns (grid step 0.02)."""
    fit, shipped = cal.fit_family_factors(), cal.shipped_factors()
    assert set(fit) == set(shipped)
    for fam, f in fit.items():
        assert shipped[fam] == pytest.approx(f, abs=0.021), fam


def test_factors_scale_only_what_engines_orchestrate():
    """A batch-1 dense decode is memory-bound and floor-bound: the software factor does not move it."""
    row = {"id": "x", "use": "validate", "system": "h100-sxm", "model": "llama-3-8b", "precision": "bf16",
           "phase": "decode", "tokens": 1024, "batch": 1, "measured": 1.0, "software": "sglang", "source": "-"}
    a = cal.estimate_row(row, {"sglang": 1.0}).tokens_per_s_per_chip
    b = cal.estimate_row(row, {"sglang": 2.0}).tokens_per_s_per_chip
    assert b == pytest.approx(a / (1 + 0.3 / (1000 / a - 0.3)), rel=0.01)  # only the 0.3 ms host time doubles


def test_leave_one_system_out_by_regime_and_system():
    """Fit Hopper-on-InfiniBand (H800, H100 fit rows), predict H20, the 8-GPU H200, Blackwell, CloudMatrix and
    single-GPU dense; and the reverse (fit the others' rows, predict Hopper-IB). Each split reports per regime and
    per system group; bounds (median |log(estimate / measured)|) as measured at this version, so a regression
    fails: the forward split's throughput rows <= 0.15, latency rows <= 0.25; the reverse <= 0.15."""
    v = cal.leave_one_out()
    got = {(x["split"], x["by"], x["key"]): x for x in v}
    fwd, rev = "fit Hopper-IB, predict others", "fit others, predict Hopper-IB"
    assert got[(fwd, "regime", "throughput")]["median_abs_log_error"] <= 0.15
    assert got[(fwd, "regime", "latency")]["median_abs_log_error"] <= 0.25
    assert got[(rev, "system", "Hopper-IB")]["median_abs_log_error"] <= 0.15
    for key in ("H20", "CloudMatrix", "Blackwell", "single-GPU dense", "H200 8-GPU"):
        assert (fwd, "system", key) in got, key
    for x in v:
        assert x["n"] == len(x["rows"]) > 0


# Held-out systems: median |log error| of the validate rows (validation.csv, never fitted) at the shipped factors.
# Bounds are this version's result plus a margin; the target (0.2 everywhere) is not met on the 8-GPU H200
# DeepSeek rows, and Blackwell sits at it (docs/serving.md says why).
SYSTEM_BOUNDS = {
    "CloudMatrix": (0.20, "huawei-cm384-paper (1,943 tok/s per NPU at TPOT < 50 ms, 538 at 15 ms; 6,688 prefill) "
                          "and xdeepserve-2025 (2,400 tok/s per chip at ~50 ms)"),
    "single-GPU dense": (0.12, "trtllm-perf-overview-v019: Llama-3.1-8B / 70B FP8 on one H100 / H200, "
                               "e.g. 15,270 / 17,591 output tok/s at 1,000/1,000"),
    "Blackwell": (0.25, "lmsys-gb200-part1/part2-2025 (7,583-13,386 decode, 18,471-26,156 prefill tok/s per GPU), "
                        "lmsys-gb300-longctx-2026, inferencex-gb200-b200-2026, trtllm-blog1-2025 (368 tok/s/user on "
                        "8 B200), trtllm-dsr1-best-perf-2025"),
    "H200 8-GPU": (0.65, "trtllm-dsr1-best-perf-2025: 158 tok/s/user at batch 1, 1,436 tok/s per GPU at max "
                         "throughput on 8 H200"),
}


@pytest.mark.parametrize("group", list(SYSTEM_BOUNDS))
def test_held_out_system_median_log_error(group):
    bound, cite = SYSTEM_BOUNDS[group]
    v = cal.validation_summary()["by_system"][group]
    assert v["median_abs_log_error"] <= bound, f"{group} ({cite}): {v}"


def test_validate_rows_overall():
    """All validate rows: at least 70% within their tolerance and a median |log error| <= 0.15."""
    v = cal.validation_summary()
    assert v["within"] / v["n"] >= 0.70 and v["median_abs_log_error"] <= 0.15, v


def test_h200_h100_batch1_ratio_sits_below_the_streaming_ratio():
    """Batch-1 decode of Llama-3-8B: step = floors + host + weights / achieved bandwidth, so the H200:H100 ratio is
    (F + W / B100) / (F + W / B200) with the same F on both: below the m = 1 GEMV ratio 3,725 / 2,730 = 1.364
    (gpu_microbenchmarks) and above 1.2; the estimator's ratio equals that closed form."""
    from computerace.serving import engine

    r = cal.h200_h100_ratio()
    e = {s: engine.estimate(s, "llama-3-8b", "bf16", "decode", 1024, batch=1) for s in ("h200", "h100-sxm")}
    closed = e["h100-sxm"].step_total_ms / e["h200"].step_total_ms
    assert r["batch1"] == pytest.approx(closed, rel=1e-9)
    assert 1.2 < r["batch1"] < r["gemv_measured"] == pytest.approx(1.364, abs=0.001)
    # max-throughput ratios (KV capacity): four of the five perf-overview shapes within 5%; the short-prompt
    # 128/2048 shape (measured 1.059, estimated 1.22: compute-bound on both GPUs in the measurement) within 20%
    close = [x for x in r["shapes"] if x["estimate"] == pytest.approx(x["measured"], rel=0.05)]
    assert len(r["shapes"]) == 5 and len(close) >= 4
    for x in r["shapes"]:
        assert x["estimate"] == pytest.approx(x["measured"], rel=0.20), x


def test_regimes():
    assert cal.regime({"phase": "decode", "regime": "latency", "batch": 500}) == "latency"  # the row's own column
    assert cal.regime({"phase": "prefill"}) == "throughput"
    assert cal.regime({"phase": "decode", "tpot_ms": 30}) == "latency"
    assert cal.regime({"phase": "decode", "batch": 8}) == "latency"
    assert cal.regime({"phase": "decode", "batch": 128}) == "throughput"


def test_fitted_rows_median_log_error():
    errs = [abs(math.log(1 + r["residual"])) for r in cal.residuals(use="fit")]
    assert sorted(errs)[len(errs) // 2] <= 0.15


def test_docs_residual_table_is_up_to_date():
    assert cal.residual_table_markdown() in DOCS.read_text(), (
        "docs/serving.md's residual table is stale: python -m computerace.serving.calibration")


def test_docs_figure_table_is_up_to_date():
    from computerace.report import serving_figure

    assert serving_figure.table_markdown() in DOCS.read_text(), (
        "docs/serving.md's scale-up table is stale: python -m computerace.report.serving_figure")


def test_docs_reasoning_and_device_tables_are_up_to_date():
    from computerace.serving import engine

    text = DOCS.read_text()
    assert engine.reasoning_table_markdown() in text, "docs/serving.md's reasoning-rate table is stale"
    assert engine.device_table_markdown() in text, "docs/serving.md's device table is stale"


def test_validation_csv_rows_are_read_by_column_name():
    text = ("id,system,model,phase,context_tokens,tpot_ms,measured_tokens_per_s_per_chip,software,source\n"
            "V1,gb200-nvl72,deepseek-r1,decode,4096,50,9000,trt-llm,x\n"
            "V2,gb200-nvl72,deepseek-r1,decode,,50,9000,trt-llm,x\n")  # no context: left out
    rows = cal.parse_validation_csv(text)
    assert [r["id"] for r in rows] == ["V1"]
    r = rows[0]
    assert (r["use"], r["tokens"], r["tpot_ms"], r["software"]) == ("validate", 4096, 50.0, "trtllm")
    assert cal.estimate_row(r).tokens_per_s_per_chip > 0  # a family without fit rows runs at the default factor


HEADER = ("id,system,model,precision,phase,mode,context_tokens,output_tokens,tpot_target_ms,batch_per_chip,"
          "measured_tokens_per_s_per_chip,measured_tpot_ms,tolerance,regime,framework,source,status,note\n")


def test_rows_are_interpreted_as_their_sources_measured_them():
    """E2E rows compose prefill and decode chips; min-latency rows compare per-user speed on the TP group; aggregated
    rows carry io_ratio = input / output; batch per chip -> per rank; TPOT target as the constraint; MTP from the
    note; framework -> family."""
    text = HEADER + (
        'e,gb200-nvl72,deepseek-r1,fp4,decode,disaggregated,1024,1024,,,2000,,0.3,throughput,trtllm,s,derived,'
        '"E2E: total over prefill + decode GPUs, narrow EP=4"\n'
        'u,dgx-b200,deepseek-r1,fp4,decode,aggregated,1024,2048,,0.125,46,2.72,0.3,latency,trtllm,s,derived,'
        '"MTP3 (3.10 accepted tokens/step)"\n'
        'a,h100-sxm,llama-3-8b,fp8,decode,aggregated,5000,500,,,3000,,0.25,throughput,trtllm,'
        'trtllm-perf-overview-v019,published,"x"\n'
        'c,cloudmatrix-384,deepseek-r1,int8,decode,disaggregated,4096,256,50,96,1943,49.4,0.25,latency,other,'
        'huawei-cm384-paper,published,"decode EP320"\n'
        'd,hgx-h800,deepseek-v3,fp8,decode,disaggregated,4096,,,128,2325,,0.25,throughput,other,'
        'deepseek-profile-data-2025,derived,"no MTP"\n')
    r = {x["id"]: x for x in cal.parse_validation_csv(text)}
    assert r["e"]["metric"] == "e2e" and r["e"]["ep"] == 4 and r["e"]["tokens"] == 1024 + 512
    assert r["u"]["metric"] == "per_user" and r["u"]["tp"] == 8 and r["u"]["mtp"] == 3
    assert r["u"]["mtp_tokens_per_step"] == 3.10 and r["u"]["measured"] == pytest.approx(1000 / 2.72)
    assert r["a"]["io_ratio"] == 10.0 and r["a"]["kv_precision"] == "fp8" and r["a"]["mode"] == "aggregated"
    assert r["c"]["tpot_ms"] == 50 and r["c"]["batch"] is None and r["c"]["batch_per_chip"] is None
    assert (r["c"]["mtp"], r["c"]["mtp_tokens_per_step"], r["c"]["software"], r["c"]["ep"]) == (1, 1.70, "default", 320)
    assert r["d"]["software"] == "deepseek" and r["d"]["mtp"] == 0 and r["d"]["batch_per_chip"] == 128
    # E2E: 1 / (1 / D + r / P), closed form from the two estimates
    p = cal.predict(r["e"])
    d, pre = p.est.tokens_per_s_per_chip, p.prefill.tokens_per_s_per_chip
    assert p.value == pytest.approx(1 / (1 / d + 1 / pre), rel=1e-9)
    # per user: 1000 / TPOT of one sequence over 8 GPUs = per chip x 8
    q = cal.predict(r["u"])
    assert q.value == pytest.approx(q.est.tokens_per_s_per_chip * 8, rel=1e-6)


def test_validation_rows_repeating_fit_rows_are_not_scored_twice():
    dup = {r["id"]: r["duplicate_of"] for r in cal.measurements("duplicate")}
    assert dup["v-a2-decode"] == "A2" and dup["v-b2-decode"] == "B2"
    assert not {r["id"] for r in cal.measurements("validate")} & set(dup)


def test_every_generated_block_of_the_docs_is_current():
    text = DOCS.read_text()
    assert cal.write_docs(text) == text, (
        "docs/serving.md is stale: python -m computerace.serving.calibration --write-docs docs/serving.md")


for _test in [v for k, v in dict(globals()).items() if k.startswith("test_")]:
    _test.serve = True  # so that `pytest -k serve` selects this module's tests
