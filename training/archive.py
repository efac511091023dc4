"""A trained model folder -> ``feedback-classifier-v<N>.mar`` via ``torch-model-archiver``."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from client.core.api import MODEL_NAME
from client.core.errors import ModelError
from training import paths
from training.card import CARD, card_reading, read_card, serving_temperature
from training.config import ArchiveConfig
from training.registry import archive_name, latest_model_dir

logger = logging.getLogger(__name__)
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", CARD)


def model_config(card: dict, config: ArchiveConfig) -> dict:
    """TorchServe's model-config YAML: what the frontend reads (workers, batching, timeout)
    and, under ``handler:``, what the handler reads in ``initialize``.

    It travels inside the archive, so every way of loading it (``load_models`` at start,
    a register call, another cluster) serves it with the same settings.
    """
    return {
        "minWorkers": config.workers,
        "maxWorkers": config.workers,
        "batchSize": config.batch_size,
        "maxBatchDelay": config.max_batch_delay,
        "responseTimeout": config.response_timeout,
        "handler": {
            "version": str(card["version"]),
            "labels": list(card["labels"]),
            "max_length": int(card["hyperparameters"]["max_length"]),
            **card_reading(card),
            "temperature": serving_temperature(card),
            "needs_review_threshold": float(card["needs_review_threshold"]),
            "threads": config.threads,
            "max_items": config.max_items,
            "inference_batch_size": config.inference_batch_size,
            "runtime": config.runtime,
        },
    }


# ArchiveConfig fields and the model-config YAML keys that carry them (top level or `handler:`).
SERVING_SETTINGS = {"workers": "minWorkers", "batch_size": "batchSize", "max_batch_delay": "maxBatchDelay", "response_timeout": "responseTimeout",
                    "threads": "handler.threads", "max_items": "handler.max_items", "inference_batch_size": "handler.inference_batch_size",
                    "runtime": "handler.runtime"}


def serving_settings(archive: Path) -> dict:
    """The serving settings an existing archive was built with (``ArchiveConfig`` keyword
    arguments), so a retrain archives the new version the way the team chose to serve the
    current one (say ``--runtime onnx`` or two workers) rather than with the defaults.
    Empty when the archive or its YAML cannot be read (then the defaults apply)."""
    import zipfile

    try:
        if archive.is_dir():
            text = (archive / "model-config.yaml").read_text(encoding="utf-8")
        else:
            with zipfile.ZipFile(archive) as mar:
                text = mar.read("model-config.yaml").decode("utf-8")
        loaded = yaml.safe_load(text) or {}
    except (OSError, KeyError, zipfile.BadZipFile, yaml.YAMLError, UnicodeDecodeError):
        logger.warning("%s: no readable model-config.yaml; the new archive gets the default serving settings", archive)
        return {}
    found = {}
    for field, key in SERVING_SETTINGS.items():
        section, _, name = key.rpartition(".")
        value = (loaded.get(section) or {}).get(name) if section else loaded.get(name)
        if value is not None:
            found[field] = value
    return found


def build_archive(config: ArchiveConfig) -> Path:
    model_dir = config.model or latest_model_dir(paths.models_dir())
    card = read_card(model_dir)
    if not (model_dir / "config.json").exists() or not card:
        raise ModelError(f"{model_dir}: not a model folder written by `feedback train` (config.json or {CARD} missing)", "train one with `feedback train`")
    version = str(card["version"])
    if not version.isdigit() or int(version) < 1:
        raise ModelError(f"{model_dir}/{CARD}: version must be a positive integer, got {version!r}", "retrain with `feedback train`")
    config.model_store.mkdir(parents=True, exist_ok=True)
    target = config.model_store / (archive_name(version) if config.archive_format != "no-archive" else archive_name(version).removesuffix(".mar"))
    if target.exists() and not config.force:
        raise ModelError(f"{target} already exists", "pass --force to rebuild it, or train a new version")
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise ModelError(f"{model_dir}: model.safetensors missing", "retrain with `feedback train`")
    with tempfile.TemporaryDirectory(prefix="archive-") as tmp:
        tmp_path = Path(tmp)
        yaml_file = tmp_path / "model-config.yaml"
        yaml_file.write_text(yaml.safe_dump(model_config(card, config), sort_keys=False), encoding="utf-8")
        extra = [str(model_dir / name) for name in MODEL_FILES if (model_dir / name).exists()]
        from handler.feedback_handler import ONNX_FILE, ONNX_FILES

        if config.runtime in ONNX_FILES:  # the graph the handler will look for is packed
            from training.onnx_export import export_onnx, quantize_onnx

            max_length = int(card["hyperparameters"]["max_length"])
            graph = tmp_path / "fp32" / ONNX_FILE
            graph.parent.mkdir()
            export_onnx(model_dir, graph, max_length)
            if config.runtime == "onnx-int8":  # only the quantised graph is packed
                quantize_onnx(model_dir, graph, tmp_path / ONNX_FILES["onnx-int8"], max_length)
                graph = tmp_path / ONNX_FILES["onnx-int8"]
            extra.append(str(graph))
        export = tmp_path / "export"
        export.mkdir()
        command = [
            str(Path(sys.executable).with_name("torch-model-archiver")),
            "--model-name", MODEL_NAME,
            "--version", version,
            "--handler", str(paths.handler_file()),
            "--serialized-file", str(weights),
            "--extra-files", ",".join(extra),
            "--config-file", str(yaml_file),
            "--export-path", str(export),
            "--archive-format", config.archive_format,
            "--force",
        ]
        logger.info("archiving %s as version %s (%s)", model_dir, version, config.archive_format)
        # The archiver stages the files in $TMPDIR/<model name>, the same folder for every
        # build on the machine: two builds at once (two test sessions) would empty each other's.
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
        if result.returncode != 0:
            raise ModelError(f"torch-model-archiver failed: {result.stderr.strip()[-500:]}", "check that the model folder is complete")
        produced = next(export.iterdir())
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        shutil.move(str(produced), target)
    logger.info("wrote %s", target)
    return target
