"""A trained model folder -> ``feedback-classifier-v<N>.mar`` via ``torch-model-archiver``."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from training import paths
from training.config import ArchiveConfig
from training.errors import ModelError
from training.inference import CARD, read_card

logger = logging.getLogger(__name__)
HANDLER_FILE = paths.REPO_ROOT / "handler" / "feedback_handler.py"
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", CARD)


def archive_name(version: int | str) -> str:
    return f"{paths.MODEL_NAME}-v{version}.mar"


def latest_model_dir(models_dir: Path) -> Path:
    versions = sorted((int(p.name[1:]), p) for p in models_dir.glob("v*") if p.name[1:].isdigit() and (p / "config.json").exists())
    if not versions:
        raise ModelError(f"no trained model in {models_dir}", "train one with `feedback train`")
    return versions[-1][1]


def setup_config(card: dict, config: ArchiveConfig) -> dict:
    """What the handler needs besides the weights; read once in its ``initialize``."""
    return {
        "version": str(card["version"]),
        "labels": card["labels"],
        "max_length": int(card["hyperparameters"]["max_length"]),
        "temperature": float(card["temperature"]),
        "needs_review_threshold": float(card["needs_review_threshold"]),
        "threads": config.threads,
        "max_items": config.max_items,
        "inference_batch_size": 32,
    }


def build_archive(config: ArchiveConfig) -> Path:
    model_dir = config.model or latest_model_dir(paths.models_dir())
    card = read_card(model_dir)
    if not (model_dir / "config.json").exists() or not card:
        raise ModelError(f"{model_dir}: not a model folder written by `feedback train` (config.json or {CARD} missing)", "train one with `feedback train`")
    version = str(card["version"])
    if not version.isdigit() or int(version) < 1:
        raise ModelError(f"{model_dir}/{CARD}: version must be a positive integer, got {version!r}", "retrain with `feedback train`")
    config.model_store.mkdir(parents=True, exist_ok=True)
    target = config.model_store / (archive_name(version) if config.archive_format != "no-archive" else f"{paths.MODEL_NAME}-v{version}")
    if target.exists() and not config.force:
        raise ModelError(f"{target} already exists", "pass --force to rebuild it, or train a new version")
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise ModelError(f"{model_dir}: model.safetensors missing", "retrain with `feedback train`")
    with tempfile.TemporaryDirectory(prefix="archive-") as tmp:
        tmp_path = Path(tmp)
        setup = tmp_path / "setup_config.json"
        setup.write_text(json.dumps(setup_config(card, config), indent=2), encoding="utf-8")
        extra = [str(model_dir / name) for name in MODEL_FILES if (model_dir / name).exists()] + [str(setup)]
        export = tmp_path / "export"
        export.mkdir()
        command = [
            str(Path(sys.executable).with_name("torch-model-archiver")),
            "--model-name", paths.MODEL_NAME,
            "--version", version,
            "--handler", str(HANDLER_FILE),
            "--serialized-file", str(weights),
            "--extra-files", ",".join(extra),
            "--export-path", str(export),
            "--archive-format", config.archive_format,
            "--force",
        ]
        logger.info("archiving %s as version %s (%s)", model_dir, version, config.archive_format)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ModelError(f"torch-model-archiver failed: {result.stderr.strip()[-500:]}", "check that the model folder is complete")
        produced = next(export.iterdir())
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        shutil.move(str(produced), target)
    logger.info("wrote %s", target)
    return target
