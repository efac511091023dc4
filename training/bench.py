"""``feedback bench``: how close each stage comes to what this machine allows.

One run measures, on the same real-length texts: the hardware anchor (peak fp32 matmul),
the model in-process at batch 1/8/32/64 (items/s and the share of the peak its encoder
FLOPs reach), a TorchServe instance of its own built from the model (single texts and
32-item lists at concurrency 1/4/16), the client core's file path on a large file against
the naive one (32-item lists in file order, one request in flight), the worker's memory,
training speed as the model recorded it, and the speed and quality of the int8 and onnx-int8
runtimes; and the ceiling of the served runtime (in-process, every text sorted by length),
which tells how much of a shortfall is the serving path's and how much the machine's.

The top half is pure (FLOP counts, percentiles, ratios, the table); the bottom half
measures (clocks, torch, subprocesses, HTTP to 127.0.0.1 only). Speed goals are read off
the printed figures; nothing here asserts them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.core.errors import ModelError, ServerError
from training import paths
from training.card import read_card
from training.config import RUNTIMES, ArchiveConfig, BenchConfig, BenchSizes, ServeConfig

logger = logging.getLogger(__name__)

BATCHES = (1, 8, 32, 64)
CONCURRENCY = (1, 4, 16)
LIST_SIZE = 32
F1_TOLERANCE_POINTS = 0.5  # issue #12: int8 may become the default only within this loss


# ----------------------------------------------------------------------------- pure parts


@dataclass(frozen=True)
class EncoderShape:
    """What the FLOP count needs from a BERT-style config."""

    hidden: int
    layers: int
    intermediate: int
    labels: int

    @classmethod
    def from_config(cls, config: Any) -> EncoderShape:
        return cls(int(config.hidden_size), int(config.num_hidden_layers), int(config.intermediate_size), int(config.num_labels))


def encoder_flops(shape: EncoderShape, batch: int, length: int) -> float:
    """Multiply-adds x 2 of one forward pass over ``batch`` texts padded to ``length`` tokens.

    Per layer: Q, K, V and output projections (4 x L x H x H), the feed-forward pair
    (2 x L x H x I), attention scores and their weighted sum (2 x L x L x H); then the
    pooler (H x H; a model that reads the mean has none, a rounding error) and the classifier (H x labels) once per text. Embeddings, softmax and
    layer norms are left out (a few percent): this counts what the matmul peak bounds.
    """
    h, i = shape.hidden, shape.intermediate
    per_layer = 4 * length * h * h + 2 * length * h * i + 2 * length * length * h
    return 2.0 * batch * (shape.layers * per_layer + h * h + h * shape.labels)


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def batches_flops(shape: EncoderShape, lengths: Sequence[int], batch: int, sort: bool = False) -> float:
    """FLOPs of running texts of these token ``lengths`` in chunks of ``batch``, each chunk
    padded to its longest text (``sort``: all texts sorted by length first)."""
    ordered = sorted(lengths) if sort else list(lengths)
    return sum(encoder_flops(shape, len(chunk), max(chunk)) for chunk in chunked(ordered, batch))


def percentiles(latencies_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 by the nearest-rank rule (with few samples p99 is the slowest)."""
    ordered = sorted(latencies_ms)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"p50_ms": round(rank(0.50), 1), "p95_ms": round(rank(0.95), 1), "p99_ms": round(rank(0.99), 1)}


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator > 0 else 0.0


def training_figures(card: dict[str, Any], log_texts: Sequence[str]) -> dict[str, float | None]:
    """Training speed from the model card (items x epochs run / seconds) and peak RSS from
    what training recorded: the card's ``peak_rss_mb``, or the ``Maximum resident set size``
    line of a GNU ``time -v`` log kept beside the model. None when nothing recorded it (the
    bench does not train)."""
    items = card.get("split_sizes", {}).get("train")
    epochs = card.get("hyperparameters", {}).get("epochs_run")
    seconds = card.get("training_seconds")
    speed = round(items * epochs / seconds, 2) if items and epochs and seconds else None
    rss = card.get("peak_rss_mb")
    for text in log_texts:
        found = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
        if rss is None and found:
            rss = int(found.group(1)) / 1024
    return {"train_samples_per_s": speed, "train_peak_rss_mb": round(rss, 1) if rss else None}


def quality_deltas(fp32: dict[str, float], int8: dict[str, float]) -> dict[str, float]:
    """int8 minus fp32 macro-F1 per dataset, in points (negative: int8 loses)."""
    return {name: round((int8[name] - fp32[name]) * 100, 2) for name in fp32}


def cpu_ticks(stat_text: str) -> tuple[int, int] | None:
    """(all ticks, ticks stolen by the host) from the first line of ``/proc/stat``; None if
    the text does not have one (not Linux, or an old kernel without the steal column)."""
    first = stat_text.splitlines()[0].split() if stat_text.strip() else []
    if len(first) < 9 or first[0] != "cpu":
        return None
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(values), values[7]


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of CPU time the host took from this machine between two readings. A ratio of
    two bench phases means little if this differs between them (a shared host sped up or
    slowed down), so the bench records it for each phase."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    return round((after[1] - before[1]) / (after[0] - before[0]), 3)


def int8_acceptable(deltas: dict[str, float], tolerance: float = F1_TOLERANCE_POINTS) -> bool:
    """Issue #12's rule: int8 becomes the default only if it loses at most ``tolerance``
    macro-F1 points on our test split and on our development set."""
    return all(delta >= -tolerance for delta in deltas.values())


# Where each runtime's in-process rates over all texts sorted by length ({"b8", "b32"}) are recorded.
SORTED_KEY = {runtime: f"{runtime.replace('-', '_')}_sorted_items_per_s" for runtime in RUNTIMES}
SORTED_BATCHES = (8, 32)


def summarise(figures: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """The ratios the issue's targets are stated in, from the measured figures; and the
    reference they sit under: the served runtime's best rate in-process over every text
    sorted by length (no HTTP, no JSON, next to no padding), which a client of that server
    cannot be expected to beat on this machine by more than the noise of one run, so
    ``client_speedup_ceiling`` is about the most the client's file path can gain over the
    naive path here."""
    inproc, served = figures["inprocess_items_per_s"], figures["torchserve_items_per_s"]
    best_list = max(served["list32"].values())
    best_server = max(max(mode.values()) for mode in served.values())
    matched = inproc.get(f"b{batch_size}", inproc["b8"])
    out = {
        "ratio_server_vs_inprocess": {"list32": ratio(best_list, inproc["b32"]), "single_c16": ratio(served["single"]["c16"], matched)},
        "ratio_client_vs_server": ratio(figures["client_file_items_per_s"], best_server),
        "client_speedup_vs_naive": ratio(figures["client_file_items_per_s"], figures["naive_items_per_s"]),
        "best_vs_naive_fp32": ratio(max(best_server, figures["client_file_items_per_s"]), inproc["b1"]),
    }
    sorted_rates = figures.get(SORTED_KEY.get(figures.get("runtime", ""), ""))
    if sorted_rates:
        ceiling = max(sorted_rates.values())
        out.update(served_runtime_ceiling_items_per_s=ceiling, client_speedup_ceiling=ratio(ceiling, figures["naive_items_per_s"]),
                   ratio_client_vs_ceiling=ratio(figures["client_file_items_per_s"], ceiling))
    return out


def format_table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table (what docs/PERFORMANCE.md shows)."""
    m = result["machine"]
    rows = [
        ("machine", f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}, load average {m['load_average_1m']} at the start, {m.get('load_average_1m_end', '?')} at the end"),
        ("model, texts", f"{result['model']} (v{result['version']}, {result['runtime']} on the server), {result['n_texts']} texts of {result['texts']}, {result['mean_tokens_per_text']} tokens read per text in {result['passes_per_text']} forward passes"),
        ("peak fp32 matmul", f"{result['peak_matmul_gflops']:.0f} GFLOP/s ({m['threads']} threads) at the start, "
                             + _or_missing(result.get("peak_matmul_gflops_end"), "{:.0f}") + " at the end"),
        ("CPU time taken by the host", ", ".join(f"{phase} {_or_missing(share, '{:.0%}')}" for phase, share in m.get("steal_share", {}).items()) or "not recorded"),
    ]
    for b in result["inprocess_items_per_s"]:
        rows.append((f"in-process fp32 {b}", f"{result['inprocess_items_per_s'][b]:.1f} items/s, FLOP utilization {result['flop_utilization'][b]:.2f}"))
    rows.append(("in-process fp32 b32, all texts sorted by length", f"{result['inprocess_sorted_b32_items_per_s']:.1f} items/s"))
    if "served_runtime_ceiling_items_per_s" in result:
        rates = result[SORTED_KEY[result["runtime"]]]
        rows.append((f"in-process {result['runtime']}, all texts sorted by length (the served runtime's ceiling: the best)",
                     ", ".join(f"{b} {rate:.1f}" for b, rate in rates.items()) + " items/s"))
    for mode, levels in result["torchserve_items_per_s"].items():
        for c, rate in levels.items():
            rows.append((f"TorchServe {mode} {c}", f"{rate:.1f} items/s, p50 {result['p50_ms'][mode][c]:.0f} / p95 {result['p95_ms'][mode][c]:.0f} / p99 {result['p99_ms'][mode][c]:.0f} ms"))
    rows += [
        ("client file path", f"{result['client_file_items_per_s']:.1f} items/s ({result['file_lines']} lines)"),
        ("client file path without the length sort", _or_missing(result.get("client_file_unsorted_items_per_s"), "{:.1f} items/s")),
        ("naive: 32-item lists in file order, one in flight", f"{result['naive_items_per_s']:.1f} items/s"),
        ("ratio server / in-process", f"list32 {result['ratio_server_vs_inprocess']['list32']:.2f}, single c16 {result['ratio_server_vs_inprocess']['single_c16']:.2f}"),
        ("ratio client / server", f"{result['ratio_client_vs_server']:.2f}"),
        ("client speed-up vs naive", f"{result['client_speedup_vs_naive']:.2f}"
                                     + (f" (ceiling {result['client_speedup_ceiling']:.2f}; client at {result['ratio_client_vs_ceiling']:.0%} of the served runtime's best in-process rate)"
                                        if "client_speedup_ceiling" in result else "")),
        ("best serving path vs naive fp32 batch 1", f"{result['best_vs_naive_fp32']:.2f}"),
        ("training", _or_missing(result["train_samples_per_s"], "{:.1f} samples/s") + ", peak RSS " + _or_missing(result["train_peak_rss_mb"], "{:.0f} MB")),
        ("RSS per TorchServe worker", ", ".join(f"{mb:.0f} MB" for mb in result["worker_rss_mb"])),
        ("int8 vs fp32 in-process (b32)", f"{result['quantized_speedup']:.2f}x"),
        ("int8 - fp32 macro-F1 (points)", ", ".join(f"{k} {v:+.2f}" for k, v in result["quantized_macro_f1_delta"].items())),
        ("onnx vs fp32 in-process", ", ".join(f"{b} {x:.2f}x" for b, x in result["onnx_speedup"].items())),
        ("onnx-int8 vs fp32 in-process", ", ".join(f"{b} {x:.2f}x" for b, x in result["onnx_int8_speedup"].items())),
        ("onnx-int8 - fp32 macro-F1 (points)", ", ".join(f"{k} {v:+.2f}" for k, v in result["onnx_int8_macro_f1_delta"].items())),
    ]
    return "\n".join(["| stage | figure |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])


def _or_missing(value: float | None, fmt: str) -> str:
    return fmt.format(value) if value is not None else "not recorded"


# ----------------------------------------------------------------------------- measurements


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads and put the previous count back (the bench may run
    inside a longer process, a test session say)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def peak_matmul_gflops(hidden: int, repeats: int = 10) -> dict[str, float]:
    """fp32 ``torch.matmul`` of (32*64 x hidden) by (hidden x 4*hidden) and by (hidden x
    hidden): the encoder's two matmul shapes at batch 32 x 64 tokens; best of ``repeats``."""
    import torch

    rows = 32 * 64
    a = torch.randn(rows, hidden)
    out = {}
    for name, cols in (("h_by_4h", 4 * hidden), ("h_by_h", hidden)):
        b = torch.randn(hidden, cols)
        torch.matmul(a, b)
        best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
        out[name] = round(2.0 * rows * hidden * cols / best / 1e9, 1)
    return out


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def inprocess_rate(model: Any, tokenizer: Any, ids: Sequence[Sequence[int]], batch: int, sort: bool = False) -> float:
    """Sequences/s of the model over token ``ids`` in chunks of ``batch`` (file order, or all
    sorted by length), each chunk padded to its longest, after one warm-up chunk."""
    import torch

    ordered = sorted(ids, key=len) if sort else list(ids)
    chunks = chunked(ordered, batch)
    with torch.inference_mode():
        model(**tokenizer.pad({"input_ids": chunks[0]}, return_tensors="pt"))
        started = time.perf_counter()
        for chunk in chunks:
            model(**tokenizer.pad({"input_ids": chunk}, return_tensors="pt"))
    return len(ordered) / (time.perf_counter() - started)


def sorted_rates(model: Any, tokenizer: Any, ids: Sequence[Sequence[int]], per_text: float) -> dict[str, float]:
    """Items/s of a runtime over every sequence sorted by length, at each of ``SORTED_BATCHES``
    (small sorted batches can beat large ones on few cores: less padding still, cache-sized)."""
    return {f"b{b}": round(inprocess_rate(model, tokenizer, ids, b, sort=True) * per_text, 2) for b in SORTED_BATCHES}


def onnx_forward(session: Any) -> Callable[..., Any]:
    """An ONNX Runtime session called like the PyTorch model (``forward(**tokenizer.pad(...))``),
    so ``inprocess_rate`` times both the same way."""
    from handler.feedback_handler import onnx_logits

    def forward(**batch: Any) -> Any:
        return onnx_logits(session, batch)

    return forward


def onnx_figures(model_dir: Path, loaded: Any, texts: Sequence[str], fp32_rates: dict[str, float], fp32_scores: dict[str, float], threads: int,
                 eval_items: int | None) -> dict[str, Any]:
    """The ``onnx`` and ``onnx-int8`` runtimes in-process against fp32 at batch 1 and 32 (texts
    in their order), the graphs exported and quantised as ``feedback archive`` does and run by
    the handler's ``onnx_session``; and onnx-int8's macro-F1 on our sets (against
    ``fp32_scores``)."""
    from handler.feedback_handler import ONNX_FILE, ONNX_INT8_FILE, onnx_session
    from training.inference import predict_logits, served_inputs
    from training.onnx_export import export_onnx, quantize_onnx

    ids, _ = served_inputs(loaded.tokenizer, texts, loaded.max_length, **loaded.reading)
    per_text = len(texts) / len(ids)  # forward passes are timed; texts are what a user counts
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="feedback-bench-onnx-") as tmp:
        graphs = {"onnx": Path(tmp) / ONNX_FILE, "onnx_int8": Path(tmp) / ONNX_INT8_FILE}
        export_onnx(model_dir, graphs["onnx"], loaded.max_length)
        quantize_onnx(model_dir, graphs["onnx"], graphs["onnx_int8"], loaded.max_length)
        sessions = {key: onnx_session(path, threads) for key, path in graphs.items()}  # loaded into memory: the files may go
    for key, session in sessions.items():
        logger.info("in-process %s", key)
        rates = {f"b{b}": round(inprocess_rate(onnx_forward(session), loaded.tokenizer, ids, b) * per_text, 2) for b in (1, 32)}
        result.update({f"{key}_items_per_s": rates, f"{key}_speedup": {b: ratio(rate, fp32_rates[b]) for b, rate in rates.items()},
                       f"{key}_sorted_items_per_s": sorted_rates(onnx_forward(session), loaded.tokenizer, ids, per_text)})
    int8 = sessions["onnx_int8"]
    scores = macro_f1_on_our_sets(loaded, lambda texts: predict_logits(loaded.model, loaded.tokenizer, texts, loaded.max_length, session=int8, **loaded.reading), eval_items)
    deltas = quality_deltas(fp32_scores, scores)
    return {**result, "onnx_int8_macro_f1": scores, "onnx_int8_macro_f1_delta": deltas, "onnx_int8_within_tolerance": int8_acceptable(deltas)}


def served_rate(make_client: Callable[[], Any], payloads: Sequence[str | list[str]], concurrency: int) -> dict[str, float]:
    """Send every payload (one text, or a list sent as one request) with ``concurrency``
    requests in flight; items/s over the wall time and per-request latency percentiles."""
    local = threading.local()

    def send(payload: str | list[str]) -> float:
        client = getattr(local, "client", None) or make_client()
        local.client = client
        started = time.perf_counter()
        if isinstance(payload, str):
            client.classify(payload)
        else:
            client.classify_chunk(list(enumerate(payload)))
        return (time.perf_counter() - started) * 1000

    items = sum(1 if isinstance(p, str) else len(p) for p in payloads)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench") as pool:
        list(pool.map(send, ["warm-up"] * concurrency))  # open the threads' connections first
        started = time.perf_counter()
        latencies = list(pool.map(send, payloads))
        seconds = time.perf_counter() - started
    return {"items_per_s": round(items / seconds, 2), **percentiles(latencies)}


def cycle(texts: Sequence[str], n: int) -> list[str]:
    return [texts[i % len(texts)] for i in range(n)]


def serving_figures(make_client: Callable[[], Any], texts: Sequence[str], sizes: BenchSizes) -> dict[str, Any]:
    """TorchServe at concurrency 1, 4, 16: single texts and 32-item lists (at least one
    list per request in flight)."""
    out: dict[str, Any] = {key: {"single": {}, "list32": {}} for key in ("torchserve_items_per_s", "p50_ms", "p95_ms", "p99_ms")}
    for c in CONCURRENCY:
        singles = cycle(texts, max(sizes.requests, c))
        lists = chunked(cycle(texts, LIST_SIZE * max(sizes.list_requests, c)), LIST_SIZE)
        for mode, payloads in (("single", singles), ("list32", lists)):
            logger.info("TorchServe %s, concurrency %d: %d requests", mode, c, len(payloads))
            measured = served_rate(make_client, payloads, c)
            out["torchserve_items_per_s"][mode][f"c{c}"] = measured["items_per_s"]
            for key in ("p50_ms", "p95_ms", "p99_ms"):
                out[key][mode][f"c{c}"] = measured[key]
    return out


def write_texts_file(path: Path, texts: Sequence[str]) -> Path:
    """A JSONL file of ``{"id", "text"}`` lines, as a help desk would export it."""
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    return path


def file_rate(client: Any, source: Path, out: Path | None = None, **options: Any) -> float:
    """Items/s of the client core's file path (``classify_file``: read, classify with
    ``options`` such as ``by_length`` or ``in_flight``, write ``out``) on ``source``."""
    from client.core.classify import classify_file

    started = time.perf_counter()
    result = classify_file(client, source, out, **options)
    return len(result.records) / (time.perf_counter() - started)


def file_figures(make_client: Callable[[], Any], texts: Sequence[str], sizes: BenchSizes, folder: Path) -> dict[str, float]:
    """The client core's file path (``classify_file``: read, sort by length, several requests
    in flight, write) on a ``file_lines`` JSONL file; the same without the length sort; and
    32-item lists in file order with one request in flight on its first ``naive_items`` lines."""
    lines = cycle(texts, sizes.file_lines)
    source = write_texts_file(folder / "bench_file.jsonl", lines)
    client = make_client()
    client.classify("warm-up")
    rates = {by_length: file_rate(client, source, folder / "bench_out.jsonl", by_length=by_length) for by_length in (False, True)}
    naive = make_client()
    naive.chunk_size = LIST_SIZE
    items = list(enumerate(lines[: sizes.naive_items]))
    started = time.perf_counter()
    naive.classify_many(items)
    return {
        "client_file_items_per_s": round(rates[True], 2),
        "client_file_unsorted_items_per_s": round(rates[False], 2),
        "naive_items_per_s": round(len(items) / (time.perf_counter() - started), 2),
    }


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def worker_rss_mb(frontend_pid: int) -> list[float]:
    """Resident memory of each TorchServe Python worker (children of the Java frontend running
    ``model_service_worker``), from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _ppid(int(entry.name)) != frontend_pid:
            continue
        try:
            if b"model_service_worker" not in (entry / "cmdline").read_bytes():
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            out.append(round(int(found.group(1)) / 1024, 1))
    return sorted(out)


def free_port_base(attempts: int = 200) -> int:
    """A port base whose five TorchServe ports (``Ports.from_base``) are free now, below the
    kernel's ephemeral range (where outgoing connections take their local ports)."""
    from training.serve import Ports, ephemeral_ports, port_free

    ephemeral_low = ephemeral_ports().start
    for _ in range(attempts):
        base = random.randrange(11_000, ephemeral_low - 3)
        if all(port_free(port) for port in Ports.from_base(base).__dict__.values()):
            return base
    raise ServerError("no free ports found for the bench's own TorchServe", "stop other servers, or try again")


@contextmanager
def own_server(model_dir: Path, runtime: str, folder: Path, timeout: float, **archive: Any) -> Iterator[tuple[dict, ServeConfig]]:
    """A TorchServe of the bench's own: the model archived into a temporary store (default
    workers, batching and threads unless ``archive`` names other ``ArchiveConfig`` values, the
    given runtime), started on free ports, stopped after."""
    from training import serve
    from training.archive import build_archive

    store = folder / "model_store"
    build_archive(ArchiveConfig(model=model_dir, model_store=store, archive_format="zip-store", runtime=runtime, **archive))
    for attempt in range(3):
        config = ServeConfig(state_dir=folder / f"state{attempt}", port_base=free_port_base(), model_store=store, timeout=timeout)
        try:
            instance = serve.start(config)
            break
        except ServerError as exc:
            if attempt == 2 or "already in use" not in exc.message:
                raise
    try:
        yield instance, config
    finally:
        serve.stop(config)


def load_texts(path: Path, n: int) -> list[str]:
    """The first ``n`` texts of a JSONL file (``text`` per line)."""
    if not path.exists():
        raise ModelError(f"{path}: text file for the bench not found", "pass --texts with a JSONL file, or --quick to use our development set")
    texts = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and len(texts) < n:
                texts.append(json.loads(line)["text"])
    if not texts:
        raise ModelError(f"{path}: no texts", "pass --texts with a JSONL file of {\"text\": ...} lines")
    return texts


def macro_f1_on_our_sets(loaded: Any, logits_of: Callable[[Sequence[str]], Any] | None, eval_items: int | None) -> dict[str, float]:
    """Macro-F1 on our test split and our development set (the first ``eval_items`` of each),
    scored as ``feedback compare`` scores them, from ``logits_of(texts)`` (default: the
    loaded PyTorch model)."""
    from training.calibration import probabilities
    from training.data import load_examples, load_splits, split_examples
    from training.evaluate import evaluate_predictions
    from training.inference import predict_logits

    if logits_of is None:
        logits_of = lambda texts: predict_logits(loaded.model, loaded.tokenizer, texts, loaded.max_length, **loaded.reading)  # noqa: E731
    sets = {"test": split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))["test"], "dev": load_examples(paths.dev_file())}
    scores = {}
    for name, items in sets.items():
        items = items[:eval_items] if eval_items else items
        texts = [e.text for e in items]
        report = evaluate_predictions([e.label for e in items], probabilities(logits_of(texts), loaded.temperature), texts)
        scores[name] = round(report.macro_f1, 4)
    return scores


def quantized_figures(loaded: Any, quantized: Any, eval_items: int | None) -> dict[str, Any]:
    """Macro-F1 of fp32 and (PyTorch) int8 on our test split and our development set."""
    from training.inference import predict_logits

    scores = {"fp32": macro_f1_on_our_sets(loaded, None, eval_items),
              "int8": macro_f1_on_our_sets(loaded, lambda texts: predict_logits(quantized, loaded.tokenizer, texts, loaded.max_length, **loaded.reading), eval_items)}
    deltas = quality_deltas(scores["fp32"], scores["int8"])
    return {"quantized_macro_f1": scores, "quantized_macro_f1_delta": deltas, "int8_within_tolerance": int8_acceptable(deltas)}


def inprocess_figures(loaded: Any, quantized: Any, texts: Sequence[str], peak_gflops: float) -> dict[str, Any]:
    """In-process items/s and FLOP utilization at each batch size (texts in their order),
    the length-sorted b32 path, and int8 against fp32 at b32."""
    from training.inference import served_inputs

    # The sequences the server reads (a long text's windows too), so that these anchors and
    # the server's items/s count the same work; rates are of texts.
    ids, _ = served_inputs(loaded.tokenizer, texts, loaded.max_length, **loaded.reading)
    per_text = len(texts) / len(ids)
    shape = EncoderShape.from_config(loaded.model.config)
    lengths = [len(i) for i in ids]
    rates, utilization = {}, {}
    for b in BATCHES:
        logger.info("in-process fp32, batch %d", b)
        rate = inprocess_rate(loaded.model, loaded.tokenizer, ids, b)  # sequences/s
        rates[f"b{b}"] = round(rate * per_text, 2)
        utilization[f"b{b}"] = round(batches_flops(shape, lengths, b) / len(ids) * rate / (peak_gflops * 1e9), 3)
    fp32_sorted = sorted_rates(loaded.model, loaded.tokenizer, ids, per_text)
    int8_rate = inprocess_rate(quantized, loaded.tokenizer, ids, 32) * per_text
    return {
        "inprocess_items_per_s": rates,
        "flop_utilization": utilization,
        "inprocess_sorted_b32_items_per_s": fp32_sorted["b32"],
        "fp32_sorted_items_per_s": fp32_sorted,
        "int8_sorted_items_per_s": sorted_rates(quantized, loaded.tokenizer, ids, per_text),
        "mean_tokens_per_text": round(sum(lengths) / len(texts), 1),
        "passes_per_text": round(len(ids) / len(texts), 2),
        "quantized_speedup": ratio(int8_rate, rates["b32"]),
    }


def read_cpu_ticks() -> tuple[int, int] | None:
    try:
        return cpu_ticks(Path("/proc/stat").read_text())
    except OSError:
        return None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    return {"cpu": cpu, "cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(), "torch": torch.__version__}


def run_bench(config: BenchConfig) -> dict[str, Any]:
    """Every figure of issue #12 for one model on this machine (see the module docstring)."""
    import torch

    from handler.feedback_handler import apply_runtime
    from training import serve
    from training.inference import load_model
    from training.registry import latest_model_dir

    from client.core import instance as inst
    from client.core.api import InferenceClient

    model_dir = config.model or latest_model_dir(paths.models_dir())
    sizes = config.sizes()
    texts = load_texts(config.texts_file(), sizes.n_texts)
    card = read_card(model_dir)
    result: dict[str, Any] = {"model": str(model_dir), "version": card.get("version"), "quick": config.quick, "texts": str(config.texts_file()),
                              "n_texts": len(texts), "file_lines": sizes.file_lines, "runtime": config.runtime, "machine": {**machine(), "threads": config.threads}}
    loaded = load_model(model_dir)
    quantized, _ = apply_runtime(loaded.model, "int8", torch.device("cpu"))
    ticks = read_cpu_ticks()
    with torch_threads(config.threads):
        peak = peak_matmul_gflops(loaded.model.config.hidden_size)
        result.update(peak_matmul_gflops=max(peak.values()), peak_matmul_gflops_by_shape=peak)
        result.update(inprocess_figures(loaded, quantized, texts, result["peak_matmul_gflops"]))
        result.update(quantized_figures(loaded, quantized, sizes.eval_items))
        result.update(onnx_figures(model_dir, loaded, texts, result["inprocess_items_per_s"], result["quantized_macro_f1"]["fp32"], config.threads, sizes.eval_items))
    logs = [p.read_text(errors="replace") for p in (model_dir / "train.log", model_dir.with_name(model_dir.name + ".log")) if p.is_file()]
    result.update(training_figures(card, logs))
    now = read_cpu_ticks()
    steal = {"inprocess": steal_share(ticks, now)}
    ticks = now
    hidden = loaded.model.config.hidden_size
    del loaded, quantized
    folder = Path(tempfile.mkdtemp(prefix="feedback-bench-"))
    try:
        with own_server(model_dir, config.runtime, folder, config.timeout) as (instance, serve_config):
            make_client = lambda: InferenceClient(instance["urls"]["inference"], inst.key_file(serve_config.state_dir), timeout=300, retries=1)  # noqa: E731
            result.update(serving_figures(make_client, texts, sizes))
            result.update(file_figures(make_client, texts, sizes, folder))
            frontend = int((serve_config.state_dir / "tmp" / ".model_server.pid").read_text().strip())
            result["worker_rss_mb"] = worker_rss_mb(frontend)
            batch_size = max(v.batch_size for v in serve.management_client(serve_config).versions())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    steal["serving"] = steal_share(ticks, read_cpu_ticks())
    with torch_threads(config.threads):  # the anchor again: did the machine change under the run?
        result["peak_matmul_gflops_end"] = max(peak_matmul_gflops(hidden).values())
    result["machine"]["steal_share"] = steal
    result.update(summarise(result, batch_size))
    result["not_recorded"] = [key for key in ("train_samples_per_s", "train_peak_rss_mb") if result[key] is None]
    result["machine"]["load_average_1m_end"] = round(os.getloadavg()[0], 2)  # others' work depresses every figure
    return result
