"""``feedback retrain``, ``feedback models`` and ``feedback rollback``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from client.core import paths as user_paths
from training import config as cfg
from training import paths
from training.cli._common import add_command


def retrain(_args: argparse.Namespace, config: cfg.RetrainConfig) -> int:
    from training.retrain import run_retrain

    report = run_retrain(config)
    print(json.dumps({k: report[k] for k in ("current_version", "new_version", "dry_run", "before", "after", "decision", "paths") if k in report}, indent=2))
    return 0


def adapt_curve(_args: argparse.Namespace, config: cfg.AdaptConfig) -> int:
    from training.adapt import curve_plot, curve_table, load_points, run_adapt_curve

    points = load_points([Path(f.strip()) for f in config.from_json.split(",") if f.strip()]) if config.from_json else run_adapt_curve(config)
    print(curve_table(points))
    if config.plot:
        print(f"plot: {curve_plot(points, config.plot)}")
    return 0


def models(args: argparse.Namespace, _config: None) -> int:
    from training.registry import list_versions

    rows = list_versions(paths.models_dir(), paths.model_store_dir(), user_paths.state_dir())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'version':>7}  {'test macro-F1':>13}  {'archive':<32} {'served':<7} {'default':<18} trained")
    for r in rows:
        default = ", ".join(x for x, on in (("server", r.get("server_default")), ("next start", r.get("recorded_default"))) if on)
        f1 = r.get("test_macro_f1")
        print(f"{r['version']:>7}  {'-' if f1 is None else f'{f1:.3f}':>13}  {r.get('archive', '-'):<32} {'yes' if r.get('served') else 'no':<7} {default or '-':<18} {r.get('trained_at', '-')}")
    return 0


def rollback(args: argparse.Namespace, _config: None) -> int:
    from training.registry import rollback as do_rollback

    print(json.dumps(do_rollback(paths.models_dir(), paths.model_store_dir(), user_paths.state_dir(), args.to)))
    return 0


def register(subparsers: Any) -> None:
    r = add_command(
        subparsers, "retrain",
        "Merge agents' corrections, train a new version, evaluate, and promote it only if the gate passes (exit 3 when not promoted).",
        "feedback retrain --dry-run", retrain, cfg.RetrainConfig, skip=("start_from",),
    )
    r.add_argument("--from", dest="start_from", choices=("current", "base"), default=None,
                   help="initialise from the current model or the base model (default: current)")
    add_command(
        subparsers, "adapt-curve",
        "Simulate agents correcting k items of each source and the fast retrain learning from them (temporary folders; measures only).",
        "feedback adapt-curve --data training/data/dev.jsonl --ks 25,50,100 --seeds 1 --out /tmp/curve.json", adapt_curve, cfg.AdaptConfig,
    )
    m = add_command(subparsers, "models", "List model versions: trained folders, archives, server, defaults.", "feedback models", models)
    m.add_argument("--json", action="store_true", help="print JSON")
    b = add_command(subparsers, "rollback", "Make a previous version the default (now and at the next start).", "feedback rollback --to 1", rollback)
    b.add_argument("--to", type=int, help="version to roll back to (default: the newest one older than the current default)")
