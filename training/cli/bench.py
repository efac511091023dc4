"""``feedback bench``: every speed figure of this machine in one run (replaces scripts/bench_serving.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from training import config as cfg
from training.cli._common import add_command


def bench(_args: argparse.Namespace, config: cfg.BenchConfig) -> int:
    from training.bench import format_table, run_bench

    result = run_bench(config)
    print(format_table(result))
    if config.json is not None:
        config.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {config.json}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    add_command(
        subparsers,
        "bench",
        "Measure the model in-process, on a TorchServe of its own and through the client's file path; print a table.",
        "feedback bench --model models/v2 --quick --json /tmp/bench.json",
        bench,
        cfg.BenchConfig,
    )
