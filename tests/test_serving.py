"""Serving estimator: closed forms, monotonicity, the measured rows A and B, the CLI and the figure.

Measured rows come from ../shared/reference/serving_measurements.md (copied with their conditions into
data/models.yaml); each calibration test names its row and source. Tolerance: +-25% (issue 8), because the
estimator is a roofline with two fitted whole-model factors and the rows mix production averages with benchmarks.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from computerace.errors import UserError
from computerace.model import serving
from computerace.model import serving_calibration as cal

CR = shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")
DOCS = Path(__file__).parents[1] / "docs" / "serving.md"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CR, *args], capture_output=True, text=True, timeout=300)


# ----------------------------------------------------------------------------------------------- architectures

def test_deepseek_v3_shape_reproduces_the_published_totals():
    """671B total / 37B activated (DeepSeek-V3 README); 70,272 B of KV per token at BF16 = 61 x 576 x 2
    (ISCA '25 Table 1); 187,105,280 attention parameters per layer (the reference's breakdown)."""
    a = serving.model("deepseek-v3")
    assert a.attention_params_per_layer == 187_105_280
    assert a.kv_values_per_token * 2 == 70_272 == 61 * 576 * 2
    assert a.total_params == pytest.approx(671e9, rel=0.002)
    assert a.active_params == pytest.approx(37e9, rel=0.03)
    assert a.linear_flops_per_token == pytest.approx(7.3e10, rel=0.02)  # reference: ~2 x 36.6B
    assert a.decode_attn_flops_per_context_token == pytest.approx(1.70e7, rel=0.01)  # 2*128*(576+512)*61
    assert a.default_mtp_tokens_per_step() == pytest.approx(1.8)


@pytest.mark.parametrize("mid", list(serving.models()))
def test_every_model_matches_its_published_sizes(mid):
    a = serving.model(mid)
    pub = a.published
    assert pub.get("total_params"), f"{mid} lists no published total to check against"
    assert a.total_params == pytest.approx(pub["total_params"], rel=0.02)
    if "active_params" in pub:
        assert a.active_params == pytest.approx(pub["active_params"], rel=0.03)
    if "kv_bytes_per_token_bf16" in pub:
        assert a.kv_values_per_token * 2 == pub["kv_bytes_per_token_bf16"]


def test_every_cited_source_exists_and_every_new_serving_source_is_cited():
    from computerace import catalog

    cited = serving.cited_source_ids()
    assert cited <= set(catalog.sources())
    for sid in ("deepseek-day6-2025", "lmsys-large-ep-2025", "deepep-2025", "computerace-gpu-microbench-2026",
                "llama3-herd-2024", "qwen3-235b-config", "nvfp4-format", "vllm-gpu-memory-default"):
        assert sid in cited


# ----------------------------------------------------------------------------------------------- closed forms

def test_dense_model_at_batch_1_is_memory_bound_bytes_over_bandwidth_plus_overhead():
    """Llama 3 8B, BF16, one H100 SXM, batch 1, 1,024-token context: every byte of weights (bar the embedding
    table, which is looked up) and of the KV cache crosses HBM once per token."""
    eff = serving.efficiency()
    layers, h, ffn, vocab, kv_heads, hd = 32, 4096, 14336, 128256, 8, 128
    params_read = layers * (2 * h * h + 2 * h * kv_heads * hd + 3 * h * ffn) + vocab * h  # + head, no embedding
    kv_bytes = 1024 * layers * 2 * kv_heads * hd * 2
    memory_s = (2 * params_read + kv_bytes) / (eff.hbm * 3.35e12)
    overhead_s = (eff.host_us_per_sequence * 1 + eff.launch_us_per_layer * layers) * 1e-6
    e = serving.estimate("h100-sxm", "llama-3-8b", "bf16", "decode", 1024, batch=1)
    assert e.bound == "memory"
    assert e.step_ms["compute"] == 0 and e.step_ms["comm"] == 0
    assert e.step_ms["memory"] == pytest.approx(memory_s * 1e3, rel=1e-9)
    assert e.tpot_ms == pytest.approx((memory_s + overhead_s) * 1e3, rel=1e-9)
    assert e.tokens_per_s_per_chip == pytest.approx(1 / (memory_s + overhead_s), rel=1e-9)


def test_weight_streaming_reproduces_the_h100_gemv_microbenchmark():
    """gpu_microbenchmarks.csv: a bf16 8192x8192 product with m=1 on the H100 SXM ran at 2,730 GB/s; the
    estimator's eta_hbm x 3.35 TB/s must give that time within 3% (it is the row the factor was read from)."""
    eff = serving.efficiency()
    nbytes = 8192 * 8192 * 2
    assert nbytes / (eff.hbm * 3.35e12) == pytest.approx(nbytes / 2730e9, rel=0.03)


def test_long_dense_prefill_is_compute_bound_flops_over_peak():
    """A 32K-token prompt of Llama 3 8B on one H100: FLOPs / (eta_mm x eta_model x peak) with FLOPs per token =
    2 x parameters read + 4 x heads x head_dim x layers x mean causal position."""
    eff = serving.efficiency()
    a = serving.model("llama-3-8b")
    p = 32768
    flops = p * (2 * a.read_params_replicated + 4 * 32 * 128 * 32 * (p + 1) / 2)
    e = serving.estimate("h100-sxm", "llama-3-8b", "bf16", "prefill", p, batch=1)
    assert e.bound == "compute" and e.tpot_ms is None
    assert e.step_ms["compute"] == pytest.approx(flops / (eff.matmul_bf16 * eff.compute_model * 989.4e12) * 1e3,
                                                 rel=1e-9)
    assert e.tokens_per_s_per_chip == pytest.approx(p / (e.step_total_ms / 1e3), rel=1e-9)


def test_batch_limit_is_hbm_capacity_minus_weights_over_kv_per_sequence():
    eff = serving.efficiency()
    a = serving.model("llama-3-8b")
    kv_per_seq = 2048 * a.kv_values_per_token * 2
    expected = math.floor((80e9 * (1 - eff.hbm_reserve) - 2 * a.total_params) / kv_per_seq)
    e = serving.estimate("h100-sxm", "llama-3-8b", "bf16", "decode", 2048)
    assert e.max_batch_by_memory == expected == e.batch_per_chip  # no target: the largest batch HBM holds
    assert serving.estimate("h100-sxm", "llama-3-8b", "bf16", "decode", 2048, batch=expected).batch_per_chip == expected
    with pytest.raises(UserError, match="exceeds"):
        serving.estimate("h100-sxm", "llama-3-8b", "bf16", "decode", 2048, batch=expected + 1)


def test_expert_all_to_all_crosses_scale_out_links_beyond_the_domain():
    """Decode dispatch (FP8) + combine (BF16) of T tokens x 8 experts x 7,168: a share 1 - 8/16 of the bytes
    leaves an 8-GPU HGX node when EP = 16, at eta_link x 50 GB/s, plus 4 calls x alpha per MoE layer."""
    eff = serving.efficiency()
    hw = serving.hardware("hgx-h800")
    case = serving.Case(serving.model("deepseek-v3"), hw, serving.precision("fp8"), "bf16", eff,
                        serving.Parallel(ep=16))
    t = np.array([128.0])
    per_layer = 128 * 8 * 7168 * 3 * 0.5 / (eff.link * 50e9)
    expected = 58 * (eff.ep_imbalance * per_layer + 4 * eff.a2a_latency_us * 1e-6)
    assert serving.a2a_s(case, t, "decode")[0] == pytest.approx(expected, rel=1e-9)
    inside = replace(case, par=serving.Parallel(ep=8))  # fits the node: NVLink only, 200 GB/s per direction
    up = 128 * 8 * 7168 * 3 * (7 / 8) / (eff.link * 200e9)
    assert serving.a2a_s(inside, t, "decode")[0] == pytest.approx(
        58 * (eff.ep_imbalance * up + 4 * eff.a2a_latency_us * 1e-6), rel=1e-9)


def test_link_factors_reproduce_deepeps_low_latency_benchmark():
    """DeepEP (V1 tables, H800, CX7 400 Gb/s IB, 128 tokens, top-8, FP8 dispatch / BF16 combine): bytes x
    (1 - 8/EP) / (eta_link x 50 GB/s) + alpha within 12% of every internode latency."""
    eff = serving.efficiency()
    table = {16: (118, 195), 32: (155, 273), 64: (173, 314), 128: (192, 369), 256: (194, 360)}
    for ep, (dispatch_us, combine_us) in table.items():
        for nbytes, measured in ((128 * 8 * 7168, dispatch_us), (128 * 8 * 7168 * 2, combine_us)):
            est = nbytes * (1 - 8 / ep) / (eff.link * 50e9) * 1e6 + eff.a2a_latency_us
            assert est == pytest.approx(measured, rel=0.12), (ep, nbytes)


def test_mtp_multiplies_tokens_per_step_and_defaults_from_the_model():
    one = serving.estimate("hgx-h800", "deepseek-v3", "fp8", "decode", 4096, batch=64, ep=144,
                           mtp_tokens_per_step=1)
    two = serving.estimate("hgx-h800", "deepseek-v3", "fp8", "decode", 4096, batch=64, ep=144)
    assert one.tokens_per_step == 1 and two.tokens_per_step == pytest.approx(1.8)
    assert two.step_ms["compute"] > one.step_ms["compute"]  # two tokens verified per sequence
    assert two.tpot_ms == pytest.approx(two.step_total_ms / 1.8)
    assert serving.estimate("h100-sxm", "llama-3-8b", "bf16", "decode", 1024, batch=4).tokens_per_step == 1


# ----------------------------------------------------------------------------------------------- monotonicity

def test_more_hbm_bandwidth_is_never_slower():
    hw = serving.hardware("hgx-h800")
    for factor in (1.25, 2.0):
        fast = replace(hw, hbm_tbps=hw.hbm_tbps * factor)
        for b in (1, 16, 64):
            slow_e = serving.estimate(hw, "deepseek-v3", "fp8", "decode", 4096, batch=b, ep=144)
            fast_e = serving.estimate(fast, "deepseek-v3", "fp8", "decode", 4096, batch=b, ep=144)
            assert fast_e.step_total_ms <= slow_e.step_total_ms + 1e-12
        assert (serving.estimate(fast, "deepseek-v3", "fp8", "decode", 4096, tpot_ms=50).tokens_per_s_per_chip
                >= serving.estimate(hw, "deepseek-v3", "fp8", "decode", 4096, tpot_ms=50).tokens_per_s_per_chip)


def test_a_tighter_latency_target_never_gives_more_throughput():
    for system, mid in (("hgx-h800", "deepseek-v3"), ("hgx-h100", "llama-3-70b"), ("h100-sxm", "llama-3-8b")):
        rates = [serving.estimate(system, mid, None, "decode", 2048, tpot_ms=t).tokens_per_s_per_chip
                 for t in (200, 100, 50, 30, 20)]
        assert rates == sorted(rates, reverse=True), (system, rates)
        assert rates[0] > rates[-1]


def test_a_bigger_scale_up_domain_never_slows_expert_parallel_decode():
    """Same chip and links, only the number of chips per NVLink domain grows."""
    hw = serving.hardware("hgx-h800")
    rates, steps = [], []
    for d in (8, 16, 72, 144):
        big = replace(hw, domain_chips=d)
        rates.append(serving.estimate(big, "deepseek-v3", "fp8", "decode", 4989, tpot_ms=50).tokens_per_s_per_chip)
        steps.append(serving.estimate(big, "deepseek-v3", "fp8", "decode", 4989, batch=64, ep=144).step_total_ms)
    assert rates == sorted(rates) and rates[-1] > rates[0]
    assert steps == sorted(steps, reverse=True) and steps[-1] < steps[0]


def test_more_scale_out_bandwidth_is_never_slower():
    hw = serving.hardware("hgx-h800")
    base = serving.estimate(hw, "deepseek-v3", "fp8", "decode", 4989, tpot_ms=50).tokens_per_s_per_chip
    more = serving.estimate(replace(hw, scaleout_gbps=100), "deepseek-v3", "fp8", "decode", 4989,
                            tpot_ms=50).tokens_per_s_per_chip
    assert more >= base


# ----------------------------------------------------------------------------------------------- calibration rows

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


def test_decode_rows_meet_their_latency_targets():
    """The TPOT-targeted rows (A2: 20-22 tok/s/user; B5: 20 tok/s/user SLA) and the H20 SLA tiers (B7) come out
    at or under their targets."""
    for rid, target in (("A2", 47.6), ("B5-decode", 50), ("B7-base", 70), ("B7-pro", 50)):
        assert cal.estimate_row(cal.measurement(rid)).tpot_ms <= target, rid


def test_ep_size_study_direction_on_h20():
    """B8 (LMSYS + Ant, H20): at batch 32, EP16 (675) beats EP32 (585) because half, not three quarters, of the
    expert traffic stays on NVLink."""
    ep16 = cal.estimate_row(cal.measurement("B7-pro")).tokens_per_s_per_chip
    ep32 = cal.estimate_row(cal.measurement("B8-ep32-bs32")).tokens_per_s_per_chip
    assert ep16 > ep32


def test_the_outside_check_command_reproduces_row_a2():
    """`serve-estimate --system hgx-h800 --model deepseek-v3 --precision fp8 --phase decode --tokens 4989
    --tpot-ms 50` (the contract's command) against DeepSeek Day 6's 1,850 tok/s per GPU (row A2)."""
    p = cli("serve-estimate", "--system", "hgx-h800", "--model", "deepseek-v3", "--precision", "fp8", "--phase",
            "decode", "--tokens", "4989", "--tpot-ms", "50", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for f in ("tokens_per_s_per_chip", "batch_per_chip", "tpot_ms", "step_ms", "bound", "max_batch_by_memory"):
        assert f in d
    assert set(d["step_ms"]) == {"memory", "compute", "comm", "overhead"}
    assert d["tpot_ms"] <= 50 and d["batch_per_chip"] <= d["max_batch_by_memory"]
    assert d["tokens_per_s_per_chip"] == pytest.approx(1850, rel=0.25)
    assert d["bound"] in d["step_ms"] and d["step_ms"][d["bound"]] == max(d["step_ms"].values())


def test_shipped_factors_are_the_fit_optimum():
    """Moving either fitted factor by one grid step does not lower the RMS log error on the fitted rows."""
    eff = serving.efficiency()
    best = cal.rms_log_error(eff)
    for dc, do in ((0.01, 0), (-0.01, 0), (0, 0.05), (0, -0.05)):
        c, o = round(eff.compute_model + dc, 2), round(eff.a2a_overlap + do, 2)
        if 0 <= o <= 1 and 0 < c <= 1:
            assert cal.rms_log_error(replace(eff, compute_model=c, a2a_overlap=o)) >= best - 1e-12, (c, o)


def test_docs_residual_table_is_up_to_date():
    assert cal.residual_table_markdown() in DOCS.read_text(), (
        "docs/serving.md's residual table is stale: python -m computerace.model.serving_calibration")


def test_docs_figure_table_is_up_to_date():
    from computerace.report import serving_figure

    assert serving_figure.table_markdown() in DOCS.read_text(), (
        "docs/serving.md's scale-up table is stale: python -m computerace.report.serving_figure")


# ----------------------------------------------------------------------------------------------- errors, CLI, figure

@pytest.mark.parametrize("kwargs, words", [
    ({"system": "hgx-h800", "model_id": "deepseek-v3", "precision_name": "fp4"}, "fp4 is not supported by h800"),
    ({"system": "cloudmatrix-384", "model_id": "deepseek-v3", "precision_name": "fp8"}, "use one of: bf16, int8"),
    ({"system": "h100-sxm", "model_id": "deepseek-v3"}, "GB of weights per chip"),
    ({"system": "hgx-h800", "model_id": "deepsek-v3"}, "Did you mean 'deepseek-v3'"),
    ({"system": "h100-sxm", "model_id": "llama-3-8b", "tpot_ms": 1.0}, "fastest TPOT"),
    ({"system": "h100-sxm", "model_id": "llama-3-8b", "phase": "prefill", "tpot_ms": 50.0}, "applies to decode"),
    ({"system": "gb200-nvl72", "model_id": "deepseek-v3", "ep": 144}, "no scale-out bandwidth"),
])
def test_user_errors_say_what_is_wrong(kwargs, words):
    with pytest.raises(UserError, match=words):
        serving.estimate(**kwargs)


def test_cli_contract_commands_and_a_clean_user_error():
    p = cli("serve-estimate", "--system", "h100-sxm", "--model", "llama-3-8b", "--precision", "bf16", "--phase",
            "decode", "--tokens", "1024", "--batch", "8", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["batch_per_chip"] == 8
    p = cli("serve-estimate", "--system", "cloudmatrix-384", "--model", "deepseek-v3", "--precision", "int8",
            "--phase", "prefill", "--tokens", "4096", "--json")
    d = json.loads(p.stdout)
    assert p.returncode == 0 and d["tokens_per_s_per_chip"] > 0 and d["tpot_ms"] is None
    p = cli("serve-estimate", "--system", "hgx-h800", "--model", "deepseek-v3", "--precision", "fp4")
    assert p.returncode == 2 and "Traceback" not in p.stderr and "fp4 is not supported by h800" in p.stderr


def test_curve_and_scaleup_figure(tmp_path):
    out = tmp_path / "scaleup.html"
    p = cli("serve-estimate", "--curve", "--system", "hgx-h800,gb200-nvl72", "--figure", str(out), "--json")
    assert p.returncode == 0, p.stderr
    curves = json.loads(p.stdout)["curves"]
    assert set(curves) == {"hgx-h800", "gb200-nvl72"}
    for c in curves.values():
        speeds = [q["tokens_per_s_per_user"] for q in c["points"]]
        rates = [q["tokens_per_s_per_chip"] for q in c["points"]]
        assert speeds == sorted(speeds) and rates == sorted(rates, reverse=True)
    html = out.read_text()
    assert "<script src=" not in html and "plotly" in html.lower()


def test_scaleup_domain_matters_more_at_higher_per_user_speed():
    """The figure's claim: GB200 NVL72 over DGX B200 (same Blackwell GPU; 72- vs 8-GPU NVLink domain) grows
    with the per-user speed, and HGX H800 cannot reach speeds NVL72 still serves."""
    from computerace.report import serving_figure as sf

    c = sf.curves(["gb200-nvl72", "dgx-b200", "hgx-h800"])
    low, high = sf.ratio_at(c, "gb200-nvl72", "dgx-b200", 20), sf.ratio_at(c, "gb200-nvl72", "dgx-b200", 100)
    assert low is not None and high is not None and high > 2 * low
    fastest = {sid: max(q["tokens_per_s_per_user"] for q in cur["points"]) for sid, cur in c.items()}
    assert fastest["gb200-nvl72"] > fastest["hgx-h800"]


def test_reasoning_rate_per_chip_for_the_race_metric():
    h800 = serving.reasoning_tokens_per_s_per_chip("h800")
    h20 = serving.reasoning_tokens_per_s_per_chip("h20")
    assert h800 and h20 and h800 > h20 > 0
    assert serving.reasoning_tokens_per_s_per_chip("a100") is None  # no catalog system holds the model in HBM
