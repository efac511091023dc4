"""``feedback deploy``: the container context, Kubernetes manifests and KServe layout of one archive."""

from __future__ import annotations

import argparse
import json
from typing import Any

from training import config as cfg
from training.cli._common import add_command


def deploy(_args: argparse.Namespace, config: cfg.DeployConfig) -> int:
    from training.deploy import build

    print(json.dumps(build(config), indent=2))
    return 0


def register(subparsers: Any) -> None:
    add_command(
        subparsers,
        "deploy",
        "Write a TorchServe container build context, Kubernetes manifests and the KServe layout for one archive (docs/DEPLOY.md).",
        "feedback deploy --archive model_store/feedback-classifier-v3.mar --out /tmp/deploy --image registry.example.com/feedback-analyzer",
        deploy,
        cfg.DeployConfig,
    )
