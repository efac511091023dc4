"""Measure TorchServe's workers x threads x batchSize x maxBatchDelay (and the runtime and the
handler's forward-pass size) on this machine. batchSize 1 is measured at the first delay only:
TorchServe's batch loop (``Model.pollBatch``) waits for batchSize - 1 more requests, so at one
it never waits and the delay cannot matter.

For each setting the model is archived with those values (``feedback archive --workers
--threads --batch-size --max-batch-delay``), served by a TorchServe of its own (free loopback
ports, temporary folder, stopped after), and measured with ``feedback bench``'s own
functions: single texts at concurrency 1 (with the handler's share of that latency, from
TorchServe's own HandlerTime metric) and 16, and 32-item lists at concurrency 2 (what the
client's file path sends). Prints a Markdown table and writes JSON; asserts nothing. The
defaults of ``ArchiveConfig`` come from this table (docs/PERFORMANCE.md).

    python scripts/serving_grid.py --model models/v1 [--texts FILE] [--n-texts 256] \\
        [--grid 2x1,1x2] [--batches 1,8,32] [--delays 5,20] [--runtimes fp32,onnx] \\
        [--inference-batches 16,32] [--in-flight 2,4,8] [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from client.core import instance as inst
from client.core.api import InferenceClient
from training import bench, paths, serve
from training.config import ArchiveConfig

LIST = 32


def handler_ms(state_dir: Path, measured: int, skip: int = 1, seconds: float = 15) -> float:
    """Median of TorchServe's ``HandlerTime`` (ms spent in the handler per batch) over the
    ``measured`` batches logged after the first ``skip`` (the bench's cold warm-up request),
    once they have all been logged (the frontend writes the worker's metric
    lines a moment after the response). With one request in flight every batch is one text,
    so beside the client's p50 it splits one text's latency into the handler's share and what
    TorchServe, the batch wait and HTTP add.

    With ``metrics_mode=prometheus`` the metric is a gauge (its last value only), so the values
    come from the frontend's log, ``ts_log.log``, which records each worker metric line (some
    twice): one value per request id."""
    log = state_dir / "logs" / "ts_log.log"
    deadline = time.monotonic() + seconds
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        values = {request: float(ms) for ms, request in re.findall(r"HandlerTime\.Milliseconds:([0-9.]+)\|.*?,([0-9a-f-]{36})", text)}
        timed = list(values.values())[skip : skip + measured]  # in log order, warm-up first
        if len(timed) >= measured or time.monotonic() > deadline:
            return round(statistics.median(timed), 2) if timed else float("nan")
        time.sleep(0.2)


def measure(model: Path, texts: list[str], workers: int, threads: int, batch: int, delay: int, requests: int,
            in_flight: list[int] = (), file_lines: int = 0, runtime: str = ArchiveConfig.runtime, inference_batch: int = ArchiveConfig.inference_batch_size) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="feedback-grid-"))
    try:
        with bench.own_server(model, runtime, folder, 300, workers=workers, threads=threads, batch_size=batch, max_batch_delay=delay,
                              inference_batch_size=inference_batch) as (instance, config):
            key = inst.key_file(config.state_dir)
            [served] = serve.management_client(config).versions()  # what TorchServe read from the archive

            def make_client() -> InferenceClient:
                return InferenceClient(instance["urls"]["inference"], key, timeout=300, retries=1)

            singles = bench.cycle(texts, requests)
            lists = bench.chunked(bench.cycle(texts, LIST * max(4, requests // LIST)), LIST)
            c1 = bench.served_rate(make_client, singles[: max(16, requests // 4)], 1)
            in_handler = handler_ms(config.state_dir, max(16, requests // 4))
            c16 = bench.served_rate(make_client, singles, 16)
            l2 = bench.served_rate(make_client, lists, 2)
            source = bench.write_texts_file(folder / "file.jsonl", bench.cycle(texts, file_lines))
            files = {f"file_in_flight_{n}_items_per_s": round(bench.file_rate(make_client(), source, in_flight=n), 2) for n in in_flight}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"workers": workers, "threads": threads, "batch_size": batch, "max_batch_delay": delay, "runtime": runtime, "inference_batch_size": inference_batch,
            "served": {"workers": served.workers, "batch_size": served.batch_size, "max_batch_delay": served.max_batch_delay},
            "single_c1_p50_ms": c1["p50_ms"], "single_c1_handler_ms": in_handler, "single_c1_items_per_s": c1["items_per_s"], "single_c16_items_per_s": c16["items_per_s"],
            "single_c16_p95_ms": c16["p95_ms"], "list32_c2_items_per_s": l2["items_per_s"], **files}


def grid_points(runtimes: list[str], forwards: list[int], pairs: list[tuple[int, ...]], batches: list[int], delays: list[int]) -> list[tuple]:
    """Every (runtime, forward pass, workers x threads, batchSize, maxBatchDelay) to measure.
    batchSize 1 only at the first delay: a batch of one never waits for company, so the delay
    cannot change it and another server would only cost minutes."""
    return [point for point in itertools.product(runtimes, forwards, pairs, batches, delays) if point[3] != 1 or point[4] == delays[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--texts", type=Path, default=paths.dev_file())
    parser.add_argument("--n-texts", type=int, default=256)
    parser.add_argument("--requests", type=int, default=256, help="single-text requests at concurrency 16")
    parser.add_argument("--grid", default="2x1,1x2", help="workers x threads per worker, comma-separated")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--delays", default="5,20")
    parser.add_argument("--runtimes", default=ArchiveConfig.runtime, help="archive runtimes to measure, e.g. fp32,onnx")
    parser.add_argument("--inference-batches", default=str(ArchiveConfig.inference_batch_size), help="the handler's items per forward pass, e.g. 16,32")
    parser.add_argument("--in-flight", default="", help="also time the client's file path with these requests in flight, e.g. 2,4,8")
    parser.add_argument("--file-lines", type=int, default=2000, help="lines of the file for --in-flight")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    texts = bench.load_texts(args.texts, args.n_texts)
    pairs = [tuple(int(x) for x in pair.split("x")) for pair in args.grid.split(",")]
    rows = []
    in_flight = [int(n) for n in args.in_flight.split(",") if n.strip()]
    print("| runtime | forward pass | workers x threads | batchSize | maxBatchDelay ms | single c1 p50 ms | of which in the handler | single c16 items/s | single c16 p95 ms | list32 c2 items/s |"
          + "".join(f" file, {n} in flight, items/s |" for n in in_flight))
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(in_flight), flush=True)
    grid = grid_points(args.runtimes.split(","), [int(b) for b in args.inference_batches.split(",")], pairs,
                       [int(b) for b in args.batches.split(",")], [int(d) for d in args.delays.split(",")])
    for runtime, forward, (workers, threads), batch, delay in grid:
        row = measure(args.model, texts, workers, threads, batch, delay, args.requests, in_flight, args.file_lines, runtime, forward)
        rows.append(row)
        files = "".join(f" {row[f'file_in_flight_{n}_items_per_s']:.1f} |" for n in in_flight)
        print(f"| {runtime} | {forward} | {workers}x{threads} | {batch} | {delay} | {row['single_c1_p50_ms']:.0f} | {row['single_c1_handler_ms']:.0f} | {row['single_c16_items_per_s']:.1f} | "
              f"{row['single_c16_p95_ms']:.0f} | {row['list32_c2_items_per_s']:.1f} |{files}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": bench.machine(), "texts": str(args.texts), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
