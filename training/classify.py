"""``feedback classify``: the headless path to the running server, for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from client.api import DEFAULT_INFERENCE_URL, InferenceClient, ItemError, Prediction
from training import paths
from training.records import read_records, write_records


def server_urls() -> dict[str, str]:
    """The running instance's URLs from its state directory, else TorchServe's defaults."""
    inst = paths.state_dir() / "instance.json"
    if inst.exists():
        return json.loads(inst.read_text(encoding="utf-8")).get("urls", {})
    return {"inference": DEFAULT_INFERENCE_URL}


def result_record(fields: dict, result: Prediction | ItemError) -> dict:
    """The original columns plus label, confidence, needs_review and one score column per label."""
    out = dict(fields)
    if isinstance(result, ItemError):
        out["error"] = result.error
        return out
    out.update(label=result.label, confidence=round(result.confidence, 4), needs_review=result.needs_review, model_version=result.model_version, truncated=result.truncated)
    out.update({f"score_{label}": round(score, 4) for label, score in result.scores.items()})
    return out


def classify_command(args: argparse.Namespace) -> int:
    from training.errors import DataError

    if not args.texts and not args.file:
        raise DataError("nothing to classify", "pass texts, or --file IN (CSV, JSONL or TXT)")
    url = args.url or server_urls().get("inference", DEFAULT_INFERENCE_URL)
    key_file = Path(args.key_file) if args.key_file else paths.state_dir() / "key_file.json"
    client = InferenceClient(url, key_file, timeout=args.timeout)
    if args.texts:
        results = client.classify_many([(i, t) for i, t in enumerate(args.texts)])
        for text, result in zip(args.texts, results):
            print(json.dumps(result_record({"text": text}, result), ensure_ascii=False))
        return 0
    read = read_records(args.file, text_column=args.text_column)
    for error in read.errors:
        print(f"{args.file}:{error.line}: skipped: {error.message}", file=sys.stderr)
    items = [(row.line, row.text) for row in read.rows]

    def progress(done: int, _chunk: list) -> None:
        print(f"\r{done}/{len(items)} classified", end="", file=sys.stderr, flush=True)

    results = client.classify_many(items, progress=progress)
    print(file=sys.stderr)
    records = [result_record(row.fields, result) for row, result in zip(read.rows, results)]
    if args.out:
        write_records(args.out, records)
        print(f"wrote {len(records)} results to {args.out} ({len(read.errors)} rows skipped)", file=sys.stderr)
    else:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
    return 0
