"""``feedback bench``: the pure parts against hand counts and torch's own FLOP counter, and
one small real run (its own TorchServe) whose JSON has every key of issue #12, each figure
positive. Speed itself is never asserted."""

from __future__ import annotations

import json
import math

import pytest

from training import bench
from training import config as cfg


def test_encoder_flops_match_a_hand_count():
    shape = bench.EncoderShape(hidden=2, layers=1, intermediate=4, labels=3)
    # projections 4*1*2*2 + feed-forward 2*1*2*4 + attention 2*1*1*2 = 36; pooler 4 + classifier 6
    assert bench.encoder_flops(shape, batch=1, length=1) == 2 * (36 + 10)
    assert bench.encoder_flops(shape, batch=5, length=1) == 5 * bench.encoder_flops(shape, batch=1, length=1)


def test_encoder_flops_match_torchs_flop_counter_on_a_bert():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256, num_labels=8)
    config._attn_implementation = "eager"  # the counter does not see the CPU's fused attention kernel
    model = BertForSequenceClassification(config).eval()
    ids = torch.randint(5, 100, (3, 40))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(input_ids=ids, attention_mask=torch.ones_like(ids))
    counted = bench.encoder_flops(bench.EncoderShape.from_config(config), batch=3, length=40)
    assert counted == pytest.approx(counter.get_total_flops(), rel=0.02)


def test_batches_are_padded_to_their_longest_text():
    shape = bench.EncoderShape(hidden=8, layers=1, intermediate=16, labels=2)
    lengths = [10, 3, 10, 3]
    in_order = bench.batches_flops(shape, lengths, batch=2)
    assert in_order == 2 * bench.encoder_flops(shape, 2, 10)
    assert bench.batches_flops(shape, lengths, batch=2, sort=True) == bench.encoder_flops(shape, 2, 3) + bench.encoder_flops(shape, 2, 10)


def test_percentiles_by_nearest_rank():
    assert bench.percentiles([float(v) for v in range(100, 0, -1)]) == {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
    assert bench.percentiles([3.0, 1.0, 2.0])["p99_ms"] == 3.0


def test_training_figures_come_from_the_card_and_a_time_log():
    card = {"split_sizes": {"train": 4989}, "hyperparameters": {"epochs_run": 5.0}, "training_seconds": 642.0}
    log = "\tMaximum resident set size (kbytes): 1990904\n"
    assert bench.training_figures(card, [log]) == {"train_samples_per_s": round(4989 * 5 / 642, 2), "train_peak_rss_mb": round(1990904 / 1024, 1)}
    assert bench.training_figures({**card, "peak_rss_mb": 1500.0}, [log])["train_peak_rss_mb"] == 1500.0
    assert bench.training_figures({}, []) == {"train_samples_per_s": None, "train_peak_rss_mb": None}


def test_int8_may_lose_at_most_half_a_point_on_each_set():
    deltas = bench.quality_deltas({"test": 0.9333, "dev": 0.9238}, {"test": 0.9290, "dev": 0.9240})
    assert deltas == {"test": -0.43, "dev": 0.02}
    assert bench.int8_acceptable(deltas)
    assert not bench.int8_acceptable({"test": -1.16, "dev": 0.3})


def test_steal_share_reads_the_hosts_column_of_proc_stat():
    before = bench.cpu_ticks("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 50 0 25 400 5 0 0 20 0 0\n")
    after = bench.cpu_ticks("cpu  200 0 100 1500 20 0 0 140 0 0\n")
    assert before == (1000, 40) and after == (1960, 140)
    assert bench.steal_share(before, after) == round(100 / 960, 3)
    assert bench.cpu_ticks("") is None and bench.cpu_ticks("cpu 1 2 3\n") is None  # not Linux, or no steal column
    assert bench.steal_share(None, after) is None and bench.steal_share(after, after) is None


def test_ratios_follow_the_issue_definitions():
    figures = {
        "inprocess_items_per_s": {"b1": 50.0, "b8": 80.0, "b32": 100.0, "b64": 110.0},
        "torchserve_items_per_s": {"single": {"c1": 20.0, "c4": 40.0, "c16": 60.0}, "list32": {"c1": 30.0, "c4": 90.0, "c16": 85.0}},
        "client_file_items_per_s": 81.0,
        "naive_items_per_s": 27.0,
    }
    out = bench.summarise(figures, batch_size=8)
    assert out == {"ratio_server_vs_inprocess": {"list32": 0.9, "single_c16": 0.75}, "ratio_client_vs_server": 0.9,
                   "client_speedup_vs_naive": 3.0, "best_vs_naive_fp32": 1.8}
    # The ceiling is the served runtime's own sorted in-process rate, not another runtime's.
    figures.update(runtime="onnx-int8", fp32_sorted_items_per_s={"b8": 50.0, "b32": 60.0}, onnx_int8_sorted_items_per_s={"b8": 108.0, "b32": 90.0})
    out = bench.summarise(figures, batch_size=8)  # the best sorted batch of the served runtime
    assert (out["served_runtime_ceiling_items_per_s"], out["client_speedup_ceiling"], out["ratio_client_vs_ceiling"]) == (108.0, 4.0, 0.75)
    assert bench.summarise(dict(figures, runtime="fp32"), batch_size=8)["client_speedup_ceiling"] == pytest.approx(60 / 27, abs=0.01)


def test_bench_config_presets_and_refusals():
    from training import paths

    quick = cfg.BenchConfig(quick=True)
    assert quick.sizes() == cfg.BenchSizes(128, 128, 4, 1000, 512, None) and quick.texts_file() == paths.dev_file()
    full = cfg.BenchConfig(file_lines=50)
    assert full.sizes().file_lines == 50 and full.sizes().n_texts == 512 and full.texts_file() == paths.external_eval_file()
    with pytest.raises(ValueError, match="requests must be >= 1"):
        cfg.BenchConfig(requests=0)
    with pytest.raises(ValueError, match="runtime must be one of"):
        cfg.BenchConfig(runtime="fp16")
    assert cfg.BenchConfig(runtime="onnx").runtime == "onnx"


# Keys and nesting of issue #12 (figures that must be positive numbers).
LEVELS = {"c1", "c4", "c16"}
SHAPE = {
    "peak_matmul_gflops": None,
    "inprocess_items_per_s": {"b1", "b8", "b32", "b64"},
    "flop_utilization": {"b1", "b8", "b32", "b64"},
    "torchserve_items_per_s": {"single": LEVELS, "list32": LEVELS},
    "p50_ms": {"single": LEVELS, "list32": LEVELS},
    "p95_ms": {"single": LEVELS, "list32": LEVELS},
    "p99_ms": {"single": LEVELS, "list32": LEVELS},
    "ratio_server_vs_inprocess": {"list32", "single_c16"},
    "client_file_items_per_s": None,
    "client_file_unsorted_items_per_s": None,
    "ratio_client_vs_server": None,
    "client_speedup_vs_naive": None,
    "best_vs_naive_fp32": None,
    "served_runtime_ceiling_items_per_s": None,
    "client_speedup_ceiling": None,
    "ratio_client_vs_ceiling": None,
    "train_samples_per_s": None,
    "train_peak_rss_mb": None,
    "worker_rss_mb": None,
    "quantized_speedup": None,
    "onnx_items_per_s": {"b1", "b32"},
    "onnx_speedup": {"b1", "b32"},
    "onnx_int8_items_per_s": {"b1", "b32"},
    "onnx_int8_speedup": {"b1", "b32"},
    "fp32_sorted_items_per_s": {"b8", "b32"},
    "int8_sorted_items_per_s": {"b8", "b32"},
    "onnx_sorted_items_per_s": {"b8", "b32"},
    "onnx_int8_sorted_items_per_s": {"b8", "b32"},
}


def _leaves(value):
    if isinstance(value, dict):
        for inner in value.values():
            yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)
    else:
        yield value


def _keys(value):
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return {k: _keys(v) for k, v in value.items()}
    return set(value) if isinstance(value, dict) else None


@pytest.mark.server
def test_a_small_bench_run_reports_every_figure(tiny_model, tmp_path, capsys):
    from training.cli import main

    out = tmp_path / "bench.json"
    args = ["bench", "--model", str(tiny_model.out_dir), "--quick", "--json", str(out), "--n-texts", "16", "--requests", "16",
            "--list-requests", "1", "--file-lines", "64", "--naive-items", "32", "--eval-items", "24"]
    assert main(args) == 0
    result = json.loads(out.read_text())
    for key, nested in SHAPE.items():
        assert key in result, key
        assert _keys(result[key]) == nested, key
    assert result["not_recorded"] == []  # the card records the training process's peak RSS
    for key in SHAPE:
        if key in result["not_recorded"]:
            assert result[key] is None
            continue
        leaves = list(_leaves(result[key]))
        assert leaves and all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in leaves), (key, result[key])
    assert len(result["worker_rss_mb"]) == cfg.ArchiveConfig.workers
    assert set(result["quantized_macro_f1_delta"]) == {"test", "dev"}
    assert all(math.isfinite(v) and abs(v) <= 100 for v in result["quantized_macro_f1_delta"].values())
    assert result["int8_within_tolerance"] == bench.int8_acceptable(result["quantized_macro_f1_delta"])
    fp32 = result["quantized_macro_f1"]["fp32"]  # both quantised runtimes are scored against the same fp32 figures
    for delta, scores in ((result["quantized_macro_f1_delta"], result["quantized_macro_f1"]["int8"]), (result["onnx_int8_macro_f1_delta"], result["onnx_int8_macro_f1"])):
        assert delta == {k: round((scores[k] - fp32[k]) * 100, 2) for k in ("test", "dev")}
    assert result["onnx_int8_within_tolerance"] == bench.int8_acceptable(result["onnx_int8_macro_f1_delta"])
    assert result["peak_matmul_gflops_end"] > 0  # the anchor measured again after the server phase
    assert set(result["machine"]["steal_share"]) == {"inprocess", "serving"}
    assert all(share is None or 0 <= share <= 1 for share in result["machine"]["steal_share"].values())
    table = capsys.readouterr().out
    assert "| CPU time taken by the host |" in table
    assert "| TorchServe list32 c16 |" in table and "| client file path |" in table and "| onnx vs fp32 in-process |" in table
    assert "| onnx-int8 - fp32 macro-F1 (points) |" in table
