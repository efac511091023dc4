"""Model versions: trained folders ``models/v<N>/``, archives ``feedback-classifier-v<N>.mar``,
the default recorded for the next start, and ``feedback models`` / ``feedback rollback``.

The one place that knows how a version is named and found.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from client.core.api import MODEL_NAME, connect
from client.core.errors import ModelError
from training.card import read_card

logger = logging.getLogger(__name__)

_ARCHIVE = re.compile(rf"^{re.escape(MODEL_NAME)}-v(\d+)\.mar$")
DEFAULT_FILE = "default.json"


def archive_name(version: int | str) -> str:
    return f"{MODEL_NAME}-v{version}.mar"


def archive_version(name: str) -> int | None:
    """The version number in an archive's file name, or None if it is not one of ours."""
    m = _ARCHIVE.match(Path(name).name)
    return int(m.group(1)) if m else None


def archived_versions(model_store: Path) -> dict[int, str]:
    """Version -> archive file name, for every archive in the store."""
    found = {archive_version(p.name): p.name for p in Path(model_store).glob(f"{MODEL_NAME}-v*.mar")}
    return {v: name for v, name in sorted((k, n) for k, n in found.items() if k is not None)}


def model_dir(models_dir: Path, version: int | str) -> Path:
    """Where version ``version`` lives: ``models/v<N>``."""
    return Path(models_dir) / f"v{version}"


def version_folders(models_dir: Path, complete: bool = True) -> dict[int, Path]:
    """Version -> ``models/v<N>`` folder; ``complete`` keeps only folders with a saved model."""
    found = {int(p.name[1:]): p for p in Path(models_dir).glob("v*") if p.name[1:].isdigit()}
    return {v: p for v, p in sorted(found.items()) if not complete or (p / "config.json").exists()}


def latest_model_dir(models_dir: Path) -> Path:
    versions = version_folders(models_dir)
    if not versions:
        raise ModelError(f"no trained model in {models_dir}", "train one with `feedback train`")
    return versions[max(versions)]


def next_version(models_dir: Path, at_least: int = 0) -> int:
    """One above every version folder (finished or not) and above ``at_least``."""
    return max([*version_folders(models_dir, complete=False), at_least]) + 1


def record_default(model_store: Path, version: str) -> Path:
    """Remember which version ``serve start`` loads next time."""
    path = Path(model_store) / DEFAULT_FILE
    path.write_text(json.dumps({"model": MODEL_NAME, "version": str(version)}) + "\n", encoding="utf-8")
    return path


def recorded_default(model_store: Path) -> str | None:
    path = Path(model_store) / DEFAULT_FILE
    if not path.exists():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["version"])
    except (json.JSONDecodeError, KeyError):
        logger.warning("%s is unreadable; falling back to the newest archive", path)
        return None


def list_versions(models_dir: Path, model_store: Path, state_dir: Path) -> list[dict[str, Any]]:
    """One row per version known anywhere, with its test metrics and where it is."""
    rows: dict[str, dict[str, Any]] = {}
    for number, folder in version_folders(models_dir).items():
        card = read_card(folder)
        rows[str(number)] = {
            "version": str(number),
            "folder": str(folder),
            "test_macro_f1": card.get("test", {}).get("macro_f1"),
            "trained_at": card.get("trained_at"),
            "corrections": card.get("corrections", {}).get("count", 0),
        }
    for number, name in archived_versions(model_store).items():
        rows.setdefault(str(number), {"version": str(number)})["archive"] = name
    recorded = recorded_default(model_store)
    server = connect(state_dir)
    served = {v.version: v for v in server.versions()} if server else {}
    for version, info in served.items():
        rows.setdefault(version, {"version": version}).update(served=True, workers=info.workers, server_default=info.is_default)
    for version, row in rows.items():
        row["recorded_default"] = version == recorded
        row.setdefault("served", False)
    return sorted(rows.values(), key=lambda r: int(r["version"]))


def rollback(models_dir: Path, model_store: Path, state_dir: Path, to: int | str | None = None) -> dict[str, Any]:
    """Make a previous version the default on the server (registering it if needed) and for the next start."""
    server = connect(state_dir)
    current = (server.default_version() if server else None) or recorded_default(model_store)
    available = list(archived_versions(model_store))
    if to is None:
        older = [v for v in available if current is None or v < int(current)]
        if not older:
            raise ModelError(f"no archived version older than the current one ({current})", "pass --to VERSION, see `feedback models`")
        to = older[-1]
    to = str(to)
    if int(to) not in available:
        raise ModelError(f"version {to} has no archive {archive_name(to)} in {model_store}", f"archive it with `feedback archive --model {models_dir / ('v' + to)}`")
    if server is not None:
        if to not in {v.version for v in server.versions()}:
            server.register(archive_name(to))
        server.set_default(to)
    record_default(model_store, to)
    return {"from": current, "to": to, "server_updated": server is not None}
