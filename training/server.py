"""TorchServe's management API: list, register, scale, set default, unregister.

A thin wrapper over ``client.api.Session`` (the one HTTP client) with the management key.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from client.api import DEFAULT_MANAGEMENT_URL, RequestRejectedError, Session, error_message
from training import paths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelVersion:
    version: str
    is_default: bool
    workers: int
    ready_workers: int
    batch_size: int
    max_batch_delay: int
    url: str


class ManagementClient:
    def __init__(self, base_url: str = DEFAULT_MANAGEMENT_URL, key_file: Path | None = None, timeout: float = 120.0, retries: int = 2) -> None:
        self.session = Session(base_url, "management", key_file, timeout, retries)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise RequestRejectedError(
                f"management API {method} {path.split('?')[0]} failed ({response.status_code}): {error_message(response)}",
                "see the server log in the state directory's logs/ folder",
                response.status_code,
            )
        return response.json() if response.content else None

    def models(self) -> list[str]:
        return [m["modelName"] for m in self._call("GET", "/models").get("models", [])]

    def versions(self, model: str = paths.MODEL_NAME) -> list[ModelVersion]:
        """Every registered version of ``model`` with its workers (empty if not registered)."""
        try:
            described = self._call("GET", f"/models/{model}/all")
        except RequestRejectedError as exc:
            if exc.status == 404:
                return []
            raise
        out = []
        for entry in described:
            workers = entry.get("workers", [])
            out.append(
                ModelVersion(
                    version=str(entry.get("modelVersion")),
                    is_default=False,
                    workers=len(workers),
                    ready_workers=sum(1 for w in workers if w.get("status") == "READY"),
                    batch_size=int(entry.get("batchSize", 1)),
                    max_batch_delay=int(entry.get("maxBatchDelay", 0)),
                    url=str(entry.get("modelUrl", "")),
                )
            )
        default = self.default_version(model)
        return [ModelVersion(**{**v.__dict__, "is_default": v.version == default}) for v in out]

    def default_version(self, model: str = paths.MODEL_NAME) -> str | None:
        try:
            described = self._call("GET", f"/models/{model}")
        except RequestRejectedError as exc:
            if exc.status == 404:
                return None
            raise
        return str(described[0].get("modelVersion")) if described else None

    def register(self, archive: str, batch_size: int = 8, max_batch_delay: int = 20, initial_workers: int = 1) -> None:
        query = f"url={quote(archive, safe='')}&batch_size={batch_size}&max_batch_delay={max_batch_delay}&initial_workers={initial_workers}&synchronous=true"
        self._call("POST", f"/models?{query}")

    def set_default(self, version: str, model: str = paths.MODEL_NAME) -> None:
        self._call("PUT", f"/models/{model}/{version}/set-default")

    def scale(self, min_worker: int, max_worker: int | None = None, version: str | None = None, model: str = paths.MODEL_NAME) -> None:
        target = f"/models/{model}" + (f"/{version}" if version else "")
        query = f"min_worker={min_worker}&max_worker={max_worker if max_worker is not None else min_worker}&synchronous=true"
        self._call("PUT", f"{target}?{query}")

    def unregister(self, version: str, model: str = paths.MODEL_NAME) -> None:
        self._call("DELETE", f"/models/{model}/{version}")


def record_default(model_store: Path, version: str) -> Path:
    """Remember which version ``serve start`` loads next time."""
    path = model_store / "default.json"
    path.write_text(json.dumps({"model": paths.MODEL_NAME, "version": str(version)}) + "\n", encoding="utf-8")
    return path


def recorded_default(model_store: Path) -> str | None:
    path = model_store / "default.json"
    if not path.exists():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["version"])
    except (json.JSONDecodeError, KeyError):
        logger.warning("%s is unreadable; falling back to the newest archive", path)
        return None


def connect(state_dir: Path, timeout: float = 120.0) -> ManagementClient | None:
    """A client for the TorchServe instance of ``state_dir`` if it answers, else None."""
    from training.errors import ServerError

    inst = state_dir / "instance.json"
    if not inst.exists():
        return None
    client = ManagementClient(json.loads(inst.read_text(encoding="utf-8"))["urls"]["management"], state_dir / "key_file.json", timeout=timeout, retries=0)
    try:
        client.models()
    except ServerError:
        return None
    return client
