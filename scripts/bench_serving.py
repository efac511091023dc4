"""Benchmark the running TorchServe: single-request latency and concurrent throughput.

Prints figures; asserts nothing (speed goals live here, not in timed tests). Sends only
to the loopback server named by the state directory, bounded in count.

    python scripts/bench_serving.py [--state-dir DIR] [--requests 200] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from client.core.api import InferenceClient
from client.core import instance
from client.core import paths as user_paths

TEXTS = [
    "The export button does nothing since the last update",
    "Could you add a dark theme for the dashboard please",
    "Love the new calendar view, great job team",
    "Why is my subscription 20% more expensive this month?",
    "How do I move a project to another workspace?",
    "Tip: hold shift while dragging to copy a card instead of moving it",
    "The API reference still documents the v1 endpoints only",
    "hello is this the right place",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=user_paths.state_dir())
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    client = InferenceClient(instance.server_urls(args.state_dir)["inference"], instance.key_file(args.state_dir), timeout=60)
    client.classify("warm-up")

    latencies = []
    for i in range(min(args.requests, 100)):
        start = time.perf_counter()
        client.classify(TEXTS[i % len(TEXTS)])
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    print(f"single requests: n={len(latencies)} p50={statistics.median(latencies):.1f} ms p95={latencies[int(len(latencies) * 0.95) - 1]:.1f} ms")

    def one(i: int) -> None:
        client.classify(TEXTS[i % len(TEXTS)])

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        list(pool.map(one, range(args.requests)))
    elapsed = time.perf_counter() - start
    print(f"concurrent: {args.requests} requests, {args.concurrency} clients: {args.requests / elapsed:.1f} req/s")

    items = [(i, TEXTS[i % len(TEXTS)]) for i in range(512)]
    start = time.perf_counter()
    client.classify_many(items)
    print(f"list requests: 512 items in chunks of {client.chunk_size}: {512 / (time.perf_counter() - start):.1f} items/s")


if __name__ == "__main__":
    main()
