"""``feedback data check``, ``feedback data split`` and ``feedback data teacher-targets``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from client.core.errors import DataError
from training import paths
from training.cli._common import add_command


def check(args: argparse.Namespace, _config: None) -> int:
    from training.data import load_splits
    from training.datacheck import check_file

    files = [Path(args.file)] if args.file else [paths.data_file(), paths.dev_file(), paths.long_dev_file(), paths.holdout_file()]
    eval_dir = None if args.no_eval else paths.eval_dir()
    failed = 0
    for path in files:
        if not path.exists():
            if args.file:
                raise DataError(f"{path}: file not found", "pass the path of a JSONL file with {id, text, label} lines")
            continue
        splits = None
        splits_path = Path(args.splits) if args.splits else (paths.splits_file() if path == paths.data_file() else None)
        if splits_path is not None and splits_path.exists():
            splits = load_splits(splits_path)
        # The development sets pick models and the held-back set judges them: none of their
        # items may be in the training data (nor in a set checked before them).
        others = {
            paths.dev_file(): [paths.data_file()],
            paths.long_dev_file(): [paths.data_file(), paths.dev_file()],
            paths.holdout_file(): [paths.data_file(), paths.dev_file(), paths.long_dev_file()],
        }.get(path, []) if not args.file else []
        problems = check_file(path, eval_dir, splits, others=others)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
            failed += 1
            continue
        checked = "schema, labels, length, duplicates, near-duplicates" + (", splits" if splits else "") + (", overlap with " + ", ".join(p.name for p in others) if others else "")
        checked += ", leakage from ../shared/eval" if eval_dir is not None and eval_dir.exists() else " (no ../shared/eval found: leakage not checked)"
        print(f"ok: {path} ({checked})", file=sys.stderr)
    return 1 if failed else 0


def split(args: argparse.Namespace, _config: None) -> int:
    from training.data import load_examples, load_splits, make_splits, save_splits

    data = Path(args.data) if args.data else paths.data_file()
    out = Path(args.splits) if args.splits else paths.splits_file()
    examples = load_examples(data)
    existing = load_splits(out) if out.exists() else None
    splits = make_splits(examples, existing)
    save_splits(out, splits)
    print(json.dumps({name: len(ids) for name, ids in splits.items()}))
    return 0


def teacher_targets(args: argparse.Namespace, _config: None) -> int:
    from training.data import load_examples, load_splits
    from training.distill import write_targets

    examples = load_examples(Path(args.data) if args.data else paths.data_file())
    test = set(load_splits(Path(args.splits) if args.splits else paths.splits_file())["test"])
    out = Path(args.out) if args.out else paths.teacher_targets_file()
    print(json.dumps(write_targets(Path(args.teacher), [e for e in examples if e.id not in test], out)))
    return 0


def register(subparsers: Any) -> None:
    data = subparsers.add_parser("data", help="check the dataset or update its split", description="Dataset tools.")
    inner = data.add_subparsers(dest="data_command", required=True, metavar="{check,split,teacher-targets}")
    c = add_command(inner, "check", "Validate a labelled JSONL: schema, labels, duplicates, near-duplicates, leakage. "
                    "Without FILE: the training data (with its splits), the development sets and the held-back set, and the overlap between them.",
                    "feedback data check training/data/feedback.jsonl", check)
    c.add_argument("file", nargs="?", help="JSONL to check (default: training/data/feedback.jsonl, dev.jsonl, dev_long.jsonl and holdout.jsonl)")
    c.add_argument("--splits", help="split file to check against (default: training/data/splits.json for the default data)")
    c.add_argument("--no-eval", action="store_true", help="skip the leakage check against ../shared/eval")
    s = add_command(inner, "split", "Assign new items to train/validation; existing assignments (and the test split) never move.", "feedback data split", split)
    s.add_argument("--data", help="labelled JSONL (default: training/data/feedback.jsonl)")
    s.add_argument("--splits", help="split file to update (default: training/data/splits.json)")
    t = add_command(inner, "teacher-targets", "Save a fine-tuned teacher's logits for our items outside the test split, for "
                    "`feedback train`, which distils from training/data/teacher_logits.json by default (no teacher needed on the machine).",
                    "feedback data teacher-targets --teacher models/v3", teacher_targets)
    t.add_argument("--teacher", required=True, help="a model folder written by `feedback train` (e.g. a larger base model's)")
    t.add_argument("--data", help="labelled JSONL whose items get targets (default: training/data/feedback.jsonl)")
    t.add_argument("--splits", help="split file; its test items get none (default: training/data/splits.json)")
    t.add_argument("--out", help="where to write (default: training/data/teacher_logits.json)")
