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


# ----------------------------------------------------------------------------- app and run

def cmd_app(args: argparse.Namespace) -> int:
    from client.app import main as app_main

    return app_main(args.qt_args)


def has_display(env: dict[str, str]) -> bool:
    """True when Qt can open a window: an X or Wayland display, or an explicit Qt platform."""
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"))


def cmd_run(args: argparse.Namespace) -> int:
    """What `make run` does: train if needed, archive if needed, start the server, open the app."""
    import os

    from training import serve
    from training.archive import archive_name, build_archive, latest_model_dir
    from training.errors import ModelError
    from training.inference import read_card
    from training.train import train

    try:
        model_dir = latest_model_dir(paths.models_dir())
        print(f"[1/4] model: {model_dir} (already trained)", file=sys.stderr)
    except ModelError:
        print("[1/4] no trained model yet: training the default model (about 10 minutes on 2 cores)", file=sys.stderr)
        model_dir = train(cfg.TrainConfig()).out_dir
    version = read_card(model_dir)["version"]
    store = paths.model_store_dir()
    if (store / archive_name(version)).exists():
        print(f"[2/4] archive: {store / archive_name(version)} (already built)", file=sys.stderr)
    else:
        print(f"[2/4] archiving v{version}", file=sys.stderr)
        build_archive(cfg.ArchiveConfig(model=model_dir, model_store=store))
    config = cfg.ServeConfig()
    if serve.status(config)["running"]:
        print(f"[3/4] TorchServe already running ({config.state_dir})", file=sys.stderr)
    else:
        print("[3/4] starting TorchServe", file=sys.stderr)
        inst = serve.start(config)
        print(f"      inference {inst['urls']['inference']}, key file: {inst['key_file']}", file=sys.stderr)
    if not has_display(dict(os.environ)):
        print(
            "[4/4] no display found (DISPLAY/WAYLAND_DISPLAY unset), so the desktop app is not opened.\n"
            "      The server keeps running. Headless use: `feedback classify 'some text'` or\n"
            "      `feedback classify --file feedback.csv --out results.csv`; stop it with `feedback serve stop`.\n"
            "      To open the app anyway without a screen: QT_QPA_PLATFORM=offscreen feedback app",
            file=sys.stderr,
        )
        return 0
    try:
        from client.app import main as app_main
    except ImportError:
        print(
            "[4/4] the desktop app is not part of this build yet; the server is running.\n"
            "      Use `feedback classify 'some text'` or `feedback classify --file IN --out OUT` meanwhile.",
            file=sys.stderr,
        )
        return 0
    print("[4/4] opening the desktop app", file=sys.stderr)
    return app_main([])


def _add_app(subparsers) -> None:
    app = _sub(subparsers, "app", "Open the desktop app for support agents.")
    app.add_argument("qt_args", nargs=argparse.REMAINDER, help="extra Qt arguments")
    app.set_defaults(func=cmd_app)
    run = _sub(subparsers, "run", "Train if needed, archive, start TorchServe and open the app (what `make run` does).")
    run.set_defaults(func=cmd_run)


# ----------------------------------------------------------------------------- retraining

def cmd_retrain(args: argparse.Namespace) -> int:
    from training.retrain import run_retrain

    config = cfg.from_args(cfg.RetrainConfig, args, **({"start_from": args.from_} if args.from_ else {}))
    report = run_retrain(config)
    print(json.dumps({k: report[k] for k in ("current_version", "new_version", "dry_run", "before", "after", "decision", "paths") if k in report}, indent=2))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from training.registry import list_versions

    rows = list_versions(paths.models_dir(), paths.model_store_dir(), paths.state_dir())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'version':>7}  {'test macro-F1':>13}  {'archive':<32} {'served':<7} {'default':<18} trained")
    for r in rows:
        default = ", ".join(x for x, on in (("server", r.get("server_default")), ("next start", r.get("recorded_default"))) if on)
        f1 = r.get("test_macro_f1")
        print(f"{r['version']:>7}  {'-' if f1 is None else f'{f1:.3f}':>13}  {r.get('archive', '-'):<32} {'yes' if r.get('served') else 'no':<7} {default or '-':<18} {r.get('trained_at', '-')}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from training.registry import rollback

    result = rollback(paths.models_dir(), paths.model_store_dir(), paths.state_dir(), args.to)
    print(json.dumps(result))
    return 0


def _add_retraining(subparsers) -> None:
    retrain = _sub(
        subparsers, "retrain",
        "Merge agents' corrections, train a new version, evaluate, and promote it only if the gate passes (exit 3 when not promoted).",
    )
    cfg.add_arguments(retrain, cfg.RetrainConfig, skip=("start_from",))
    retrain.add_argument("--from", dest="from_", choices=("current", "base"), help="initialise from the current model or the base model (default: current)")
    retrain.set_defaults(func=cmd_retrain)
    models = _sub(subparsers, "models", "List model versions: trained folders, archives, server, defaults.")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(func=cmd_models)
    rollback = _sub(subparsers, "rollback", "Make a previous version the default (now and at the next start).")
    rollback.add_argument("--to", help="version to roll back to (default: the newest one older than the current default)")
    rollback.set_defaults(func=cmd_rollback)


REGISTRARS: list[Callable] = [_add_data, _add_model, _add_serving, _add_app, _add_retraining]


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
