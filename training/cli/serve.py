"""``feedback serve start|stop|status`` and ``feedback classify`` (headless, against the server)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from client.core.errors import DataError
from training import config as cfg
from training.cli._common import add_command


def serve(args: argparse.Namespace, config: cfg.ServeConfig) -> int:
    from training import serve as lifecycle

    if args.serve_command == "start":
        inst = lifecycle.start(config)
        for name, url in inst["urls"].items():
            print(f"{name}: {url}")
        print(f"model: {inst['archive']}")
        print(f"key file: {inst['key_file']}")
        return 0
    if args.serve_command == "stop":
        print("stopped" if lifecycle.stop(config) else f"no server running for {config.state_dir}")
        return 0
    info = lifecycle.status(config)
    print(json.dumps(info, indent=2))
    return 0 if info["running"] else 1


def classify(args: argparse.Namespace, _config: None) -> int:
    from client.core import instance
    from client.core.api import InferenceClient
    from client.core.classify import classify_file, classify_texts

    if not args.texts and not args.file:
        raise DataError("nothing to classify", "pass texts, or --file IN (CSV, JSONL or TXT)")
    url = args.url or instance.server_urls()["inference"]
    key_file = Path(args.key_file) if args.key_file else instance.key_file()
    client = InferenceClient(url, key_file, timeout=args.timeout)
    if args.texts:
        for record in classify_texts(client, args.texts):
            print(json.dumps(record, ensure_ascii=False))
        return 0

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} classified", end="", file=sys.stderr, flush=True)

    result = classify_file(client, Path(args.file), Path(args.out) if args.out else None, args.text_column, progress)
    print(file=sys.stderr)
    for error in result.skipped:
        print(f"{args.file}:{error.line}: skipped: {error.message}", file=sys.stderr)
    if result.out is not None:
        print(f"wrote {len(result.records)} results to {result.out} ({len(result.skipped)} rows skipped)", file=sys.stderr)
    else:
        for record in result.records:
            print(json.dumps(record, ensure_ascii=False))
    return 0


def positive_seconds(value: str) -> float:
    """argparse type: a number of seconds above zero (a usage error otherwise)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, e.g. 30. But it was: {value!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0 seconds. But it was: {value}")
    return seconds


def register(subparsers: Any) -> None:
    s = subparsers.add_parser("serve", help="start, stop or inspect the local TorchServe", description="Manage one TorchServe instance.")
    inner = s.add_subparsers(dest="serve_command", required=True, metavar="{start,stop,status}")
    for name, text, example in (
        ("start", "Start TorchServe with the default model version and wait until it is READY.", "feedback serve start --port-base 9080 --state-dir /tmp/ts"),
        ("stop", "Stop this state directory's TorchServe.", "feedback serve stop"),
        ("status", "Show whether the server runs, its URLs and model versions.", "feedback serve status"),
    ):
        add_command(inner, name, text, example, serve, cfg.ServeConfig)
    c = add_command(subparsers, "classify", "Classify texts or a file against the running server (headless).", "feedback classify 'The app crashes when I upload a photo'", classify)
    c.add_argument("texts", nargs="*", help="texts to classify")
    c.add_argument("--file", help="CSV (with a text column), JSONL or TXT to classify")
    c.add_argument("--out", help="write results here (.csv or .jsonl); default: JSON lines on stdout")
    c.add_argument("--text-column", help="CSV/JSONL column holding the text (default: guessed, e.g. text)")
    c.add_argument("--url", default=None, help="inference URL (default: $FEEDBACK_INFERENCE_URL, else from the server's state directory, else http://127.0.0.1:8080)")
    c.add_argument("--key-file", default=None, help="TorchServe key_file.json (default: $FEEDBACK_KEY_FILE, else the one in the state directory)")
    c.add_argument("--timeout", type=positive_seconds, default=30.0, help="seconds per request (default: 30)")
