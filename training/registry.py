"""``feedback models`` and ``feedback rollback``: versions in models/, the store and the server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from training import paths
from training.archive import archive_name
from training.errors import ModelError
from training.inference import read_card
from training.server import connect, record_default, recorded_default


def list_versions(models_dir: Path, model_store: Path, state_dir: Path) -> list[dict[str, Any]]:
    """One row per version known anywhere, with its test metrics and where it is."""
    rows: dict[str, dict[str, Any]] = {}
    for folder in models_dir.glob("v*"):
        if folder.name[1:].isdigit() and (folder / "config.json").exists():
            card = read_card(folder)
            rows[folder.name[1:]] = {
                "version": folder.name[1:],
                "folder": str(folder),
                "test_macro_f1": card.get("test", {}).get("macro_f1"),
                "trained_at": card.get("trained_at"),
                "corrections": card.get("corrections", {}).get("count", 0),
            }
    for mar in model_store.glob(f"{paths.MODEL_NAME}-v*.mar"):
        m = re.search(r"-v(\d+)\.mar$", mar.name)
        if m:
            rows.setdefault(m.group(1), {"version": m.group(1)})["archive"] = mar.name
    recorded = recorded_default(model_store)
    server = connect(state_dir)
    served = {v.version: v for v in server.versions()} if server else {}
    for version, info in served.items():
        rows.setdefault(version, {"version": version}).update(served=True, workers=info.workers, server_default=info.is_default)
    for version, row in rows.items():
        row["recorded_default"] = version == recorded
        row.setdefault("served", False)
    return sorted(rows.values(), key=lambda r: int(r["version"]))


def rollback(models_dir: Path, model_store: Path, state_dir: Path, to: str | None = None) -> dict[str, Any]:
    """Make a previous version the default on the server (registering it if needed) and for the next start."""
    server = connect(state_dir)
    current = (server.default_version() if server else None) or recorded_default(model_store)
    available = sorted(int(m.group(1)) for p in model_store.glob(f"{paths.MODEL_NAME}-v*.mar") if (m := re.search(r"-v(\d+)\.mar$", p.name)))
    if to is None:
        older = [v for v in available if current is None or v < int(current)]
        if not older:
            raise ModelError(f"no archived version older than the current one ({current})", "pass --to VERSION, see `feedback models`")
        to = str(older[-1])
    if int(to) not in available:
        raise ModelError(f"version {to} has no archive {archive_name(to)} in {model_store}", f"archive it with `feedback archive --model {models_dir / ('v' + to)}`")
    if server is not None:
        if to not in {v.version for v in server.versions()}:
            server.register(archive_name(to))
        server.set_default(to)
    record_default(model_store, to)
    return {"from": current, "to": to, "server_updated": server is not None}
