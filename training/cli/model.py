"""``feedback train``, ``evaluate``, ``compare`` and ``archive``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from client.core.errors import ModelError
from training import config as cfg
from training import paths
from training.cli._common import add_command


def train(_args: argparse.Namespace, config: cfg.TrainConfig) -> int:
    from training.train import train as run_training

    result = run_training(config)
    print(json.dumps({"model": str(result.out_dir), "version": result.version, "validation_macro_f1": round(result.validation.macro_f1, 4),
                      "test_macro_f1": round(result.test.macro_f1, 4), "test_ece": round(result.test.ece, 4),
                      "temperature": round(result.temperature, 4), "needs_review_threshold": round(result.threshold, 4),
                      "seconds": round(result.seconds, 1)}))
    return 0


def model_dir(value: str | None) -> Path:
    """``--model`` or the newest trained version, checked to exist."""
    from training.registry import latest_model_dir

    path = Path(value) if value else latest_model_dir(paths.models_dir())
    if not path.exists():
        raise ModelError(f"{path}: model folder not found", "train one with `feedback train`, or pass --model DIR")
    return path


def evaluate(args: argparse.Namespace, _config: None) -> int:
    from training.data import load_examples
    from training.evaluate import evaluate_predictions, save_plots
    from training.inference import load_model, predict_proba

    loaded = load_model(model_dir(args.model))
    examples = load_examples(Path(args.data))
    proba = predict_proba(loaded, [e.text for e in examples])
    report = evaluate_predictions([e.label for e in examples], proba, [e.text for e in examples], [e.source for e in examples],
                                  review_threshold=loaded.card.get("needs_review_threshold"))
    print(report.table())
    if args.json:
        report.save(args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plots:
        for path in save_plots(report, args.plots, title=Path(args.data).stem):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def compare(args: argparse.Namespace, config: cfg.CompareConfig) -> int:
    from training.compare import run_compare

    result = run_compare(config)
    print(result["table"])
    if args.json:
        Path(args.json).write_text(json.dumps(result["json"], indent=2) + "\n", encoding="utf-8")
    return 0


def archive(_args: argparse.Namespace, config: cfg.ArchiveConfig) -> int:
    from training.archive import build_archive

    print(build_archive(config))
    return 0


def register(subparsers: Any) -> None:
    add_command(subparsers, "train", "Fine-tune the classifier (transformers Trainer) and calibrate it.", "feedback train --epochs 4 --out /tmp/model", train, cfg.TrainConfig)
    e = add_command(subparsers, "evaluate", "Evaluate a trained model on any JSONL with text and label.",
                    "feedback evaluate --model models/v1 --data ../shared/eval/external_eval.jsonl --plots /tmp/plots", evaluate)
    e.add_argument("--model", help="trained model folder (default: the highest models/v<N>)")
    e.add_argument("--data", required=True, help="JSONL with text and label (and optional source)")
    e.add_argument("--json", help="write the full report as JSON here")
    e.add_argument("--plots", help="write confusion-matrix and reliability PNGs into this folder")
    c = add_command(subparsers, "compare", "Compare baselines and the fine-tuned model; writes docs/MODEL_REPORT.md.", "feedback compare --json /tmp/compare.json", compare, cfg.CompareConfig)
    c.add_argument("--json", help="write the comparison as JSON here")
    add_command(subparsers, "archive", "Pack a trained model as model_store/feedback-classifier-v<N>.mar.", "feedback archive --model models/v2", archive, cfg.ArchiveConfig)
