"""What every command module shares: sub-parser creation with help, defaults and one example."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from training import config as cfg


def add_command(
    subparsers: Any,
    name: str,
    help_text: str,
    example: str,
    func: Callable[..., int],
    config: type | None = None,
    skip: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    """A sub-command whose options come from ``config``'s fields (when given) and whose
    ``--help`` ends with ``example``. ``func(args, config)`` runs it; the config is built and
    validated by ``main`` right after parsing, so a bad value is a usage error (exit 2)."""
    parser = subparsers.add_parser(
        name, help=help_text, description=help_text, epilog=f"example: {example}", formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if config is not None:
        cfg.add_arguments(parser, config, skip=skip)
    parser.set_defaults(func=func, config_cls=config)
    return parser
