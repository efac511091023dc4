"""``feedback app`` and ``feedback run``: the only commands that import the desktop UI (lazily)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from client.core import paths as user_paths
from client.core.errors import ModelError
from training import config as cfg
from training import paths
from training.cli._common import add_command


def app(args: argparse.Namespace, _config: None) -> int:
    from client.ui.app import main as app_main

    return app_main(args.qt_args)


def has_display(env: dict[str, str]) -> bool:
    """True when Qt can open a window: an X or Wayland display, or an explicit Qt platform."""
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"))


def run(_args: argparse.Namespace, _config: None) -> int:
    """What `make run` does: train if needed, archive if needed, start the server, open the app."""
    from training import serve
    from training.archive import build_archive
    from training.card import read_card
    from training.registry import archive_name, latest_model_dir
    from training.train import train

    try:
        model_dir = latest_model_dir(paths.models_dir())
        print(f"[1/4] model: {model_dir} (already trained)", file=sys.stderr)
    except ModelError:
        print("[1/4] no trained model yet: training the default model (about 15 minutes on 2 cores)", file=sys.stderr)
        model_dir = train(cfg.TrainConfig()).out_dir
    version = read_card(model_dir)["version"]
    store = paths.model_store_dir()
    if (store / archive_name(version)).exists():
        print(f"[2/4] archive: {store / archive_name(version)} (already built)", file=sys.stderr)
    else:
        print(f"[2/4] archiving v{version}", file=sys.stderr)
        build_archive(cfg.ArchiveConfig(model=model_dir, model_store=store))
    config = cfg.ServeConfig(state_dir=user_paths.state_dir(), model_store=store)
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
    from client.ui.app import main as app_main

    print("[4/4] opening the desktop app", file=sys.stderr)
    return app_main([])


def register(subparsers: Any) -> None:
    a = add_command(subparsers, "app", "Open the desktop app for support agents.", "feedback app", app)
    a.add_argument("qt_args", nargs=argparse.REMAINDER, help="extra Qt arguments")
    add_command(subparsers, "run", "Train if needed, archive, start TorchServe and open the app (what `make run` does).", "feedback run", run)
