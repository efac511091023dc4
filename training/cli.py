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


# ----------------------------------------------------------------------------- model

def cmd_train(args: argparse.Namespace) -> int:
    from training.train import train

    config = cfg.from_args(cfg.TrainConfig, args)
    result = train(config)
    print(json.dumps({"model": str(result.out_dir), "version": result.version, "validation_macro_f1": round(result.validation.macro_f1, 4),
                      "test_macro_f1": round(result.test.macro_f1, 4), "test_ece": round(result.test.ece, 4),
                      "temperature": round(result.temperature, 4), "needs_review_threshold": round(result.threshold, 4),
                      "seconds": round(result.seconds, 1)}))
    return 0


def _model_dir(value: str | None) -> Path:
    from training.archive import latest_model_dir
    from training.errors import ModelError

    path = Path(value) if value else latest_model_dir(paths.models_dir())
    if not path.exists():
        raise ModelError(f"{path}: model folder not found", "train one with `feedback train`, or pass --model DIR")
    return path


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.data import load_examples
    from training.evaluate import evaluate_predictions, save_plots
    from training.inference import load_model, predict_proba

    loaded = load_model(_model_dir(args.model))
    examples = load_examples(Path(args.data))
    proba = predict_proba(loaded, [e.text for e in examples])
    report = evaluate_predictions([e.label for e in examples], proba, [e.text for e in examples], [e.source for e in examples])
    print(report.table())
    if args.json:
        report.save(args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plots:
        for path in save_plots(report, args.plots, title=Path(args.data).stem):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from training.compare import run_compare

    config = cfg.from_args(cfg.CompareConfig, args)
    result = run_compare(config)
    print(result["table"])
    if args.json:
        Path(args.json).write_text(json.dumps(result["json"], indent=2) + "\n", encoding="utf-8")
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    from training.archive import build_archive

    path = build_archive(cfg.from_args(cfg.ArchiveConfig, args))
    print(path)
    return 0


def _add_model(subparsers) -> None:
    train = _sub(subparsers, "train", "Fine-tune the classifier (transformers Trainer) and calibrate it.")
    cfg.add_arguments(train, cfg.TrainConfig)
    train.set_defaults(func=cmd_train)
    evaluate = _sub(subparsers, "evaluate", "Evaluate a trained model on any JSONL with text and label.")
    evaluate.add_argument("--model", help="trained model folder (default: the highest models/v<N>)")
    evaluate.add_argument("--data", required=True, help="JSONL with text and label (and optional source)")
    evaluate.add_argument("--json", help="write the full report as JSON here")
    evaluate.add_argument("--plots", help="write confusion-matrix and reliability PNGs into this folder")
    evaluate.set_defaults(func=cmd_evaluate)
    compare = _sub(subparsers, "compare", "Compare baselines and the fine-tuned model; writes docs/MODEL_REPORT.md.")
    cfg.add_arguments(compare, cfg.CompareConfig)
    compare.add_argument("--json", help="write the comparison as JSON here")
    compare.set_defaults(func=cmd_compare)
    archive = _sub(subparsers, "archive", "Pack a trained model as model_store/feedback-classifier-v<N>.mar.")
    cfg.add_arguments(archive, cfg.ArchiveConfig)
    archive.set_defaults(func=cmd_archive)


# ----------------------------------------------------------------------------- serving

def cmd_serve(args: argparse.Namespace) -> int:
    from training import serve

    config = cfg.from_args(cfg.ServeConfig, args)
    if args.serve_command == "start":
        inst = serve.start(config)
        for name, url in inst["urls"].items():
            print(f"{name}: {url}")
        print(f"model: {inst['archive']}")
        print(f"key file: {inst['key_file']}")
        return 0
    if args.serve_command == "stop":
        stopped = serve.stop(config)
        print("stopped" if stopped else f"no server running for {config.state_dir}")
        return 0
    info = serve.status(config)
    print(json.dumps(info, indent=2))
    return 0 if info["running"] else 1


def cmd_classify(args: argparse.Namespace) -> int:
    from training.classify import classify_command

    return classify_command(args)


def _add_serving(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="start, stop or inspect the local TorchServe", description="Manage one TorchServe instance.")
    inner = serve.add_subparsers(dest="serve_command", required=True, metavar="{start,stop,status}")
    for name, text in (("start", "Start TorchServe with the default model version and wait until it is READY."),
                       ("stop", "Stop this state directory's TorchServe."),
                       ("status", "Show whether the server runs, its URLs and model versions.")):
        sub = _sub(inner, name, text, f"serve {name}")
        cfg.add_arguments(sub, cfg.ServeConfig)
        sub.set_defaults(func=cmd_serve)
    classify = _sub(subparsers, "classify", "Classify texts or a file against the running server (headless).")
    classify.add_argument("texts", nargs="*", help="texts to classify")
    classify.add_argument("--file", help="CSV (with a text column), JSONL or TXT to classify")
    classify.add_argument("--out", help="write results here (.csv or .jsonl); default: JSON lines on stdout")
    classify.add_argument("--text-column", help="CSV/JSONL column holding the text (default: guessed, e.g. text)")
    classify.add_argument("--url", default=None, help="inference URL (default: from the server's state directory, else http://127.0.0.1:8080)")
    classify.add_argument("--key-file", default=None, help="TorchServe key_file.json (default: in the state directory)")
    classify.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    classify.set_defaults(func=cmd_classify)


REGISTRARS: list[Callable] = [_add_data, _add_model, _add_serving]


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
