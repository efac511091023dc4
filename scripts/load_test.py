"""Load test: N single-text requests at concurrency C against a TorchServe of its own.

Starts its own instance (temporary state directory and model store, free loopback ports)
serving ``--archive`` (default: the default model's archive in the model store), sends
``--requests`` texts drawn from our training data through the client's ``InferenceClient``
(which retries 503, the designed back-pressure of a full queue), samples the server's
resident memory (frontend + workers, from /proc) through the run, prints a table, writes
JSON, and stops the server. Bounded in count and in time (``--max-minutes``); loopback only.
Not run in CI (a test runs ``--quick`` on the tiny model and checks the JSON's shape).

    python scripts/load_test.py [--archive model_store/feedback-classifier-v1.mar]
                                [--requests 20000] [--concurrency 32] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

import yaml

from client.core.api import InferenceClient
from client.core.errors import FeedbackError, RequestRejectedError
from training import paths, serve
from training.config import ServeConfig

QUICK_REQUESTS = 500
SAMPLE_SECONDS = 0.5


def free_port_base() -> int:
    """A base whose five derived ports are free, below the kernel's ephemeral range."""
    low = serve.ephemeral_ports().start
    for base in range(low - 1000, 12000, -97):  # deterministic candidates, top down
        ports = serve.Ports.from_base(base).__dict__.values()
        if all(serve.port_free(port) for port in ports):
            return base
    raise SystemExit("no free loopback ports below the ephemeral range; pass --port-base")



def server_rss_kb(config: ServeConfig) -> tuple[int, int, int]:
    """(frontend kB, workers kB, worker count): VmRSS of the Java frontend and its Python workers."""
    frontend = serve.status(config)["pid"]
    if frontend is None:
        return 0, 0, 0
    workers, count = 0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["PPid"]) != frontend or b"model_service_worker" not in (entry / "cmdline").read_bytes():
                continue
            workers += int(fields["VmRSS"].split()[0])
            count += 1
        except (OSError, KeyError, ValueError):
            continue
    try:
        own = dict(line.split(":", 1) for line in Path(f"/proc/{frontend}/status").read_text().splitlines() if ":" in line)
        return int(own["VmRSS"].split()[0]), workers, count
    except (OSError, KeyError, ValueError):
        return 0, workers, count


def archive_settings(archive: Path) -> dict:
    """The frontend settings the archive carries (workers, batching) from its model-config YAML."""
    try:
        with zipfile.ZipFile(archive) as mar:
            config = yaml.safe_load(mar.read("model-config.yaml"))
    except (OSError, KeyError, zipfile.BadZipFile):
        return {}
    return {key: config.get(key) for key in ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "jobQueueSize") if key in config}


def load_texts(data: Path, seed: int) -> list[str]:
    texts = [json.loads(line)["text"] for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(seed).shuffle(texts)
    return texts


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(share * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class Load:
    """Runs the traffic: ``concurrency`` threads, each with its own keep-alive client."""

    def __init__(self, urls: dict, key_file: Path, texts: list[str], requests: int, concurrency: int, deadline: float, timeout: float) -> None:
        self.urls, self.key_file, self.texts = urls, key_file, texts
        self.requests, self.concurrency, self.deadline, self.timeout = requests, concurrency, deadline, timeout
        self.lock = threading.Lock()
        self.next_index = 0
        self.completed = 0
        self.latencies_ms: list[float] = []
        self.failures: Counter = Counter()
        self.attempts: Counter = Counter()
        self.on_complete = lambda completed: None

    def _count_attempt(self, record: dict) -> None:
        with self.lock:
            self.attempts[record["outcome"]] += 1

    def _take(self) -> int | None:
        with self.lock:
            if self.next_index >= self.requests or time.monotonic() > self.deadline:
                return None
            self.next_index += 1
            return self.next_index - 1

    def _thread(self) -> None:
        client = InferenceClient(self.urls["inference"], self.key_file, timeout=self.timeout, on_request=self._count_attempt)
        while (index := self._take()) is not None:
            started = time.perf_counter()
            try:
                client.classify(self.texts[index % len(self.texts)])
            except FeedbackError as exc:
                status = exc.status if isinstance(exc, RequestRejectedError) else None
                kind = f"{type(exc).__name__}{f' {status}' if status else ''}"
                with self.lock:
                    self.failures[kind] += 1
                    self.completed += 1
                    completed = self.completed
            else:
                elapsed = (time.perf_counter() - started) * 1000
                with self.lock:
                    self.latencies_ms.append(elapsed)
                    self.completed += 1
                    completed = self.completed
            self.on_complete(completed)

    def run(self) -> float:
        threads = [threading.Thread(target=self._thread, name=f"load-{i}") for i in range(self.concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


class RssSampler(threading.Thread):
    """Samples server RSS every ``SAMPLE_SECONDS`` and at each quarter boundary of the run."""

    def __init__(self, config: ServeConfig, load: Load) -> None:
        super().__init__(name="rss", daemon=True)
        self.config, self.load = config, load
        self.samples: list[dict] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        quarter = max(1, load.requests // 4)
        self.boundaries = {quarter * q for q in range(1, 4)} | {load.requests}

    def sample(self) -> None:
        frontend, workers, count = server_rss_kb(self.config)
        with self.lock:
            self.samples.append({"completed": self.load.completed, "frontend_kb": frontend, "workers_kb": workers, "workers": count})

    def on_complete(self, completed: int) -> None:
        if completed in self.boundaries or completed == 1:
            self.sample()

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self.sample()

    def quarters(self, requests: int) -> list[dict]:
        out = []
        for q in range(4):
            low, high = requests * q / 4, requests * (q + 1) / 4
            inside = [s for s in self.samples if low < s["completed"] <= high or (q == 0 and s["completed"] == 0)]
            if not inside:
                out.append({"samples": 0})
                continue
            totals = [(s["frontend_kb"] + s["workers_kb"]) / 1024 for s in inside]
            out.append(
                {
                    "samples": len(inside),
                    "total_mb": round(statistics.median(totals), 1),
                    "frontend_mb": round(statistics.median(s["frontend_kb"] for s in inside) / 1024, 1),
                    "workers_mb": round(statistics.median(s["workers_kb"] for s in inside) / 1024, 1),
                    "workers": max(s["workers"] for s in inside),
                }
            )
        return out


def default_archive() -> Path:
    store = paths.model_store_dir()
    try:
        return store / serve.choose_archive(store)
    except FeedbackError as exc:
        raise SystemExit(f"error: {exc.message}\nhint: pass --archive PATH (a feedback-classifier-v<N>.mar); {exc.hint}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=None, help="a feedback-classifier-v<N>.mar (default: the default model's in the model store)")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS} requests (a smoke run)")
    parser.add_argument("--warmup", type=int, default=None, help="uncounted requests first (default: 4 x concurrency)")
    parser.add_argument("--data", type=Path, default=paths.data_file(), help="JSONL whose texts are sent (our training data)")
    parser.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "feedback-load-test.json")
    parser.add_argument("--port-base", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=60.0, help="client timeout per request, seconds")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop sending after this long (the report says so)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = QUICK_REQUESTS
    if args.requests < 4 or args.concurrency < 1:
        parser.error("--requests must be >= 4 and --concurrency >= 1")
    args.archive = (args.archive or default_archive()).resolve()
    if not args.archive.is_file():
        parser.error(f"--archive {args.archive}: no such file")
    return args


def run(args: argparse.Namespace) -> dict:
    texts = load_texts(args.data, args.seed)
    root = Path(tempfile.mkdtemp(prefix="feedback-load-"))
    store = root / "store"
    store.mkdir()
    os.symlink(args.archive, store / args.archive.name)
    config = ServeConfig(state_dir=root / "state", port_base=args.port_base or free_port_base(), model_store=store, timeout=300)
    load_before = os.getloadavg()
    try:
        inst = serve.start(config)
        key_file = Path(inst["key_file"])
        warm = Load(inst["urls"], key_file, texts[::-1], args.warmup if args.warmup is not None else 4 * args.concurrency, args.concurrency, time.monotonic() + 300, args.timeout)
        warm.run()
        load = Load(inst["urls"], key_file, texts, args.requests, args.concurrency, time.monotonic() + args.max_minutes * 60, args.timeout)
        sampler = RssSampler(config, load)
        load.on_complete = sampler.on_complete
        sampler.sample()
        sampler.start()
        wall = load.run()
        sampler.stop.set()
        sampler.join()
        sampler.sample()
    finally:
        serve.stop(config)
        shutil.rmtree(root, ignore_errors=True)
    latencies = sorted(load.latencies_ms)
    quarters = sampler.quarters(args.requests)
    first, last = quarters[0].get("total_mb"), quarters[-1].get("total_mb")
    failed = sum(load.failures.values())
    gave_up = sum(n for kind, n in load.failures.items() if kind == "RequestRejectedError 503")
    return {
        "archive": args.archive.name,
        "server": archive_settings(args.archive),
        "requests": args.requests,
        "sent": load.completed,
        "stopped_early": load.completed < args.requests,
        "concurrency": args.concurrency,
        "wall_s": round(wall, 2),
        "items_per_s": round(len(latencies) / wall, 2) if wall else 0.0,
        "latency_ms": {name: round(percentile(latencies, share), 1) for name, share in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))},
        "ok": len(latencies),
        "failures": {"unexpected": failed - gave_up, "gave_up_after_503": gave_up, "by_kind": dict(load.failures)},
        "back_pressure": {"answers_503_retried": load.attempts.get("503", 0) - gave_up, "attempts": dict(load.attempts)},
        "rss": {"quarters": quarters, "growth_pct": round((last - first) / first * 100, 2) if first and last else None},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_before": [round(v, 2) for v in load_before], "load_avg_after": [round(v, 2) for v in os.getloadavg()]},
    }


def table(report: dict) -> str:
    lat, fail, rss = report["latency_ms"], report["failures"], report["rss"]
    rows = [
        ("archive", f"{report['archive']} {report['server']}"),
        ("requests", f"{report['sent']} of {report['requests']} at concurrency {report['concurrency']}" + (" (stopped at --max-minutes)" if report["stopped_early"] else "")),
        ("wall, items/s", f"{report['wall_s']} s, {report['items_per_s']} items/s"),
        ("latency ms", f"p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}"),
        ("failures", f"unexpected {fail['unexpected']}, gave up after 503 {fail['gave_up_after_503']} {fail['by_kind'] or ''}"),
        ("503 retried", str(report["back_pressure"]["answers_503_retried"])),
        ("RSS MB by quarter", "  ".join(str(q.get("total_mb", "-")) for q in rss["quarters"]) + f"  (growth {rss['growth_pct']} %)"),
        ("machine", f"{report['machine']['cpus']} cpus, load {report['machine']['load_avg_before']} -> {report['machine']['load_avg_after']}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"load test: {args.requests} requests at concurrency {args.concurrency} on {args.archive.name}", file=sys.stderr)
    report = run(args)
    print(table(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 1 if report["failures"]["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
