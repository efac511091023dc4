"""``feedback deploy``: one real archive -> a container build context, Kubernetes manifests
and the layout KServe's TorchServe runtime expects.

The templates live in ``deploy/`` (package data, reviewable as they are); this module only
fills in what depends on the archive: its name and version, the workers and batching from
its model-config YAML, the image name, and the pinned serving stack this machine runs.
Everything is written into a new folder; nothing here talks to a cluster or a registry.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from client.core.errors import ModelError
from training import paths
from training.properties import read_properties, set_properties  # noqa: F401 (part of this module's API)
from training.config import ArchiveConfig, DeployConfig
from training.registry import archive_version

logger = logging.getLogger(__name__)

CONTAINER_FILES = ("Dockerfile", "config.properties", "config.token-auth.properties", "ready.py")
MANIFESTS = ("pvc.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "inferenceservice.yaml")
# What the handler is tested with, installed into the image's own venv (see deploy/Dockerfile).
SERVING_STACK = ("torch", "transformers", "torchserve", "onnxruntime")  # onnxruntime: archives built with --runtime onnx
# The KServe v1 envelope (ts/torch_handler/request_envelope/kserve.py) reads only the first
# request of a batch and answers one response, so KServe's TorchServe batches one request.
KSERVE_BATCH_SIZE = 1


@dataclass(frozen=True)
class ArchiveInfo:
    """What the deployment needs to know about one ``.mar``."""

    path: Path
    name: str
    version: str
    model_config: dict[str, Any]

    @property
    def file_name(self) -> str:
        return self.path.name


def read_archive(path: Path) -> ArchiveInfo:
    """Model name and version from the archive's manifest, workers and batching from its YAML."""
    if archive_version(path.name) is None or not path.is_file():
        raise ModelError(f"{path}: not a feedback-classifier-v<N>.mar file", "pass --archive model_store/feedback-classifier-v<N>.mar, or --model DIR")
    try:
        with zipfile.ZipFile(path) as mar:
            manifest = json.loads(mar.read("MAR-INF/MANIFEST.json"))["model"]
            config_name = manifest.get("configFile")
            model_config = yaml.safe_load(mar.read(config_name)) if config_name else {}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: unreadable archive ({exc})", "rebuild it with `feedback archive --force`") from exc
    return ArchiveInfo(path, str(manifest["modelName"]), str(manifest["modelVersion"]), model_config or {})


def model_snapshot(info: ArchiveInfo) -> str:
    """The one-line JSON ``model_snapshot`` with which KServe's runtime loads the archive."""
    config = info.model_config
    entry = {
        "defaultVersion": True,
        "marName": info.file_name,
        "minWorkers": int(config.get("minWorkers", 1)),
        "maxWorkers": int(config.get("maxWorkers", config.get("minWorkers", 1))),
        "batchSize": KSERVE_BATCH_SIZE,
        "maxBatchDelay": int(config.get("maxBatchDelay", ArchiveConfig.max_batch_delay)),
        "responseTimeout": int(config.get("responseTimeout", ArchiveConfig.response_timeout)),
    }
    return json.dumps({"name": "startup.cfg", "modelCount": 1, "models": {info.name: {info.version: entry}}}, separators=(",", ":"))


def requirements(versions: dict[str, str]) -> str:
    lines = ["# The serving stack the handler is tested with (written by `feedback deploy`)."]
    return "\n".join(lines + [f"{name}=={versions[name]}" for name in SERVING_STACK]) + "\n"


def installed_versions() -> dict[str, str]:
    """This machine's serving stack, without local labels (``2.13.0+cpu`` -> ``2.13.0``)."""
    found = {}
    for name in SERVING_STACK:
        try:
            found[name] = importlib.metadata.version(name).split("+", 1)[0]
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(f"{name} is not installed, so the image's versions cannot be pinned to the tested ones", "install the serve extra: pip install '.[serve]'") from None
    return found


def images(config: DeployConfig, info: ArchiveInfo) -> dict[str, str]:
    return {"image": f"{config.image}:v{info.version}", "kserve_image": f"{config.image}-kserve:v{info.version}"}


def render_manifest(template: str, info: ArchiveInfo, image_names: dict[str, str]) -> str:
    return Template(template).substitute(name=info.name, version=info.version, archive=info.file_name, **image_names)


def _place(archive: Path, target: Path) -> None:
    """The archive at ``target``: a hard link where possible (90 MB with --runtime fp32, 137 MB with onnx-int8, the default, 180 MB with onnx), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(archive, target)
    except OSError:
        shutil.copy2(archive, target)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ModelError(f"{out} exists and is not an empty folder", "pass --out with a new or empty folder")


def write_layout(info: ArchiveInfo, out: Path, config: DeployConfig, versions: dict[str, str]) -> dict[str, Path]:
    """Write container/, kserve/ and k8s/ under ``out``; returns the three folders."""
    templates = paths.package_file("deploy")
    container, kserve, k8s = out / "container", out / "kserve", out / "k8s"
    load = {"load_models": f"{info.name}={info.file_name}"}
    for name in CONTAINER_FILES:
        text = (templates / name).read_text(encoding="utf-8")
        (container / name).parent.mkdir(parents=True, exist_ok=True)
        (container / name).write_text(set_properties(text, load) if name.endswith(".properties") else text, encoding="utf-8")
    (container / "requirements.txt").write_text(requirements(versions), encoding="utf-8")
    _place(info.path, container / "model-store" / info.file_name)
    kserve_config = set_properties((templates / "kserve" / "config.properties").read_text(encoding="utf-8"), {"model_snapshot": model_snapshot(info)})
    (kserve / "config").mkdir(parents=True)
    (kserve / "config" / "config.properties").write_text(kserve_config, encoding="utf-8")
    _place(info.path, kserve / "model-store" / info.file_name)
    k8s.mkdir()
    image_names = images(config, info)
    for name in MANIFESTS:
        (k8s / name).write_text(render_manifest((templates / "k8s" / name).read_text(encoding="utf-8"), info, image_names), encoding="utf-8")
    logger.info("deployment of %s v%s written to %s", info.name, info.version, out)
    return {"container": container, "kserve": kserve, "k8s": k8s}


def build(config: DeployConfig) -> dict[str, Any]:
    """Resolve the archive (building it from --model if asked) and write the deployment folder."""
    from training.serve import choose_archive

    out = config.out
    if out is None:
        raise ModelError("no output folder given", "pass --out DIR")
    _check_out(out)
    if not (paths.package_file("deploy") / "Dockerfile").is_file():
        raise ModelError(f"the deployment templates are missing ({paths.package_file('deploy')})", "reinstall Feedback Analyzer, or run from a checkout")
    versions = installed_versions()
    with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
        if config.model is not None:
            from training.archive import build_archive

            archive = build_archive(ArchiveConfig(model=config.model, model_store=Path(tmp)))
        elif config.archive is not None:
            archive = config.archive
        else:
            store = paths.model_store_dir()
            archive = store / choose_archive(store)
        info = read_archive(archive)
        folders = write_layout(info, out, config, versions)
    return {"archive": info.file_name, "version": info.version, **{k: str(v) for k, v in folders.items()}, **images(config, info)}
