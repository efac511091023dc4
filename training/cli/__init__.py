"""``feedback``: the one command-line entry point.

Errors become exit codes here and only here: 0 done, 1 a ``FeedbackError`` (printed as
``error:`` plus ``hint:``, no traceback unless ``--verbose``), 2 usage (argparse, and an
option value that the command's config refuses), and 3 "retrained but not promoted"
(``NotPromotedError.exit_code``). Progress and logs go to stderr; results go to stdout.

Each command group lives in its own module (``data``, ``model``, ``serve``, ``app``,
``retrain``, ``deploy``, ``corrections``, ``bench``) and registers its sub-commands; heavy imports (torch, Qt) happen inside the
command functions, so ``feedback classify`` runs on an install without them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from client.core.errors import FeedbackError
from training import config as cfg
from training.cli import app, bench, corrections, data, deploy, model, retrain, serve

logger = logging.getLogger("feedback")

COMMAND_GROUPS = (data, model, serve, app, retrain, deploy, corrections, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedback",
        description="Feedback Analyzer: train, serve and use a customer-feedback classifier.",
        epilog="Run `feedback COMMAND --help` for a command's options and an example.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
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
    config = None
    if args.config_cls is not None:
        try:
            config = cfg.from_args(args.config_cls, args)
        except ValueError as exc:  # the config's __post_init__ refused a value: a usage error
            parser.error(f"{args.command}: {exc}")
    setup_logging(args.verbose)
    try:
        return int(args.func(args, config) or 0)
    except FeedbackError as exc:
        if args.verbose:
            logger.exception("failed")
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)
        return 1
