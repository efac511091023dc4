"""``feedback``: the one command-line entry point.

Errors become exit codes here and only here: 0 done, 1 a ``FeedbackError`` (printed as
``error:`` plus ``hint:``, no traceback unless ``--verbose``), 2 usage (argparse), and 3
"retrained but not promoted". Progress and logs go to stderr; results go to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from training import config as cfg
from training import paths
from training.errors import FeedbackError

logger = logging.getLogger("feedback")

EPILOG_EXAMPLES = {
    "data check": "example: feedback data check training/data/feedback.jsonl",
    "data split": "example: feedback data split",
    "train": "example: feedback train --epochs 4 --out /tmp/model",
    "evaluate": "example: feedback evaluate --model models/v1 --data ../shared/eval/external_eval.jsonl --plots /tmp/plots",
    "compare": "example: feedback compare --json /tmp/compare.json",
    "archive": "example: feedback archive --model models/v2",
    "serve start": "example: feedback serve start --port-base 9080 --state-dir /tmp/ts",
    "serve stop": "example: feedback serve stop",
    "serve status": "example: feedback serve status",
    "classify": "example: feedback classify 'The app crashes when I upload a photo'",
    "app": "example: feedback app",
    "retrain": "example: feedback retrain --dry-run",
    "models": "example: feedback models",
    "rollback": "example: feedback rollback --to 1",
    "run": "example: feedback run",
}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _sub(subparsers, name: str, help_text: str, full: str | None = None) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name, help=help_text, description=help_text, epilog=EPILOG_EXAMPLES.get(full or name), formatter_class=_Formatter
    )


# ----------------------------------------------------------------------------- data

def cmd_data_check(args: argparse.Namespace) -> int:
    from training.data import load_splits
    from training.datacheck import check_file

    path = Path(args.file) if args.file else paths.data_file()
    if not path.exists():
        raise FeedbackError(f"{path}: file not found", "pass the path of a JSONL file with {id, text, label} lines")
    splits = None
    splits_path = Path(args.splits) if args.splits else (paths.splits_file() if not args.file else None)
    if splits_path is not None and splits_path.exists():
        splits = load_splits(splits_path)
    eval_dir = None if args.no_eval else paths.eval_dir()
    problems = check_file(path, eval_dir, splits)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    checked = "schema, labels, length, duplicates, near-duplicates" + (", splits" if splits else "")
    checked += ", leakage from ../shared/eval" if eval_dir is not None and eval_dir.exists() else " (no ../shared/eval found: leakage not checked)"
    print(f"ok: {path} ({checked})", file=sys.stderr)
    return 0


def cmd_data_split(args: argparse.Namespace) -> int:
    from training.data import load_examples, load_splits, make_splits, save_splits

    data = Path(args.data) if args.data else paths.data_file()
    out = Path(args.splits) if args.splits else paths.splits_file()
    examples = load_examples(data)
    existing = load_splits(out) if out.exists() else None
    splits = make_splits(examples, existing)
    save_splits(out, splits)
    print(json.dumps({name: len(ids) for name, ids in splits.items()}))
    return 0


def _add_data(subparsers) -> None:
    data = subparsers.add_parser("data", help="check the dataset or update its split", description="Dataset tools.")
    inner = data.add_subparsers(dest="data_command", required=True, metavar="{check,split}")
    check = _sub(inner, "check", "Validate a labelled JSONL: schema, labels, duplicates, near-duplicates, leakage.", "data check")
    check.add_argument("file", nargs="?", help="JSONL to check (default: training/data/feedback.jsonl with its splits)")
    check.add_argument("--splits", help="split file to check against (default: training/data/splits.json for the default data)")
    check.add_argument("--no-eval", action="store_true", help="skip the leakage check against ../shared/eval")
    check.set_defaults(func=cmd_data_check)
    split = _sub(inner, "split", "Assign new items to train/validation; existing assignments (and the test split) never move.", "data split")
    split.add_argument("--data", help="labelled JSONL (default: training/data/feedback.jsonl)")
    split.add_argument("--splits", help="split file to update (default: training/data/splits.json)")
    split.set_defaults(func=cmd_data_split)


REGISTRARS: list[Callable] = [_add_data]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedback",
        description="Feedback Analyzer: train, serve and use a customer-feedback classifier.",
        epilog="Run `feedback COMMAND --help` for a command's options and an example.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in REGISTRARS:
        register(subparsers)
    return parser


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except FeedbackError as exc:
        if args.verbose:
            logger.exception("failed")
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # config validation (__post_init__)
        if args.verbose:
            logger.exception("failed")
        print(f"error: {exc}", file=sys.stderr)
        print(f"hint: see `feedback {args.command} --help`", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
