"""The one reader of a running server instance: its URLs and its key file.

``feedback serve start`` writes ``instance.json`` (URLs, ports, archive) into the state
directory and TorchServe writes ``key_file.json`` there, new at every start. Everything
else (the app, ``feedback classify``, retraining, benchmarks) asks this module.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from client.core import paths

logger = logging.getLogger(__name__)

INSTANCE_FILE = "instance.json"
KEY_FILE = "key_file.json"
DEFAULT_INFERENCE_URL = "http://127.0.0.1:8080"
DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:8081"
DEFAULT_METRICS_URL = "http://127.0.0.1:8082"
DEFAULT_URLS = {"inference": DEFAULT_INFERENCE_URL, "management": DEFAULT_MANAGEMENT_URL, "metrics": DEFAULT_METRICS_URL}
# A remote server (a team's TorchServe, a cluster's gateway) is named by the environment.
# They apply where no state directory is named: the user's server, not a local instance.
URL_ENV = {"inference": "FEEDBACK_INFERENCE_URL", "management": "FEEDBACK_MANAGEMENT_URL", "metrics": "FEEDBACK_METRICS_URL"}
KEY_FILE_ENV = "FEEDBACK_KEY_FILE"


def key_file(state_dir: Path | None = None) -> Path:
    """Where the keys are: ``$FEEDBACK_KEY_FILE`` for the user's server, else the state
    directory's ``key_file.json`` (TorchServe writes it there).

    The file has TorchServe's format, ``{"inference": {"key": ...}, "management": {...}}``;
    behind a gateway it holds the gateway's token under the same names.
    """
    env = os.environ.get(KEY_FILE_ENV)
    if state_dir is None and env:
        return Path(env).expanduser()
    return (state_dir or paths.state_dir()) / KEY_FILE


def instance_file(state_dir: Path | None = None) -> Path:
    return (state_dir or paths.state_dir()) / INSTANCE_FILE


def read_instance(state_dir: Path | None = None) -> dict[str, Any] | None:
    """What ``serve start`` recorded for this state directory, or None if nothing (readable) is there."""
    path = instance_file(state_dir)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.warning("%s is unreadable; using the default server URLs", path)
        return None
    return data if isinstance(data, dict) else None


def write_instance(state_dir: Path, data: dict[str, Any]) -> Path:
    path = instance_file(state_dir)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def server_urls(state_dir: Path | None = None) -> dict[str, str]:
    """The instance's inference, management and metrics URLs; TorchServe's defaults where unknown.

    Without a state directory, ``$FEEDBACK_INFERENCE_URL``, ``$FEEDBACK_MANAGEMENT_URL`` and
    ``$FEEDBACK_METRICS_URL`` override them (https:// works; a private CA goes in
    ``$REQUESTS_CA_BUNDLE``, which requests reads).
    """
    inst = read_instance(state_dir) or {}
    urls = {**DEFAULT_URLS, **inst.get("urls", {})}
    if state_dir is None:
        urls.update({kind: os.environ[var].rstrip("/") for kind, var in URL_ENV.items() if os.environ.get(var)})
    return urls


def _key_entry(key_file: Path | None, kind: str) -> dict[str, Any]:
    if key_file is None or not Path(key_file).exists():
        return {}
    try:
        data = json.loads(Path(key_file).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.warning("key file %s is unreadable", key_file)
        return {}
    entry = data.get(kind) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) else {}


def read_key(key_file: Path | None, kind: str) -> str | None:
    """The ``inference``, ``management`` or ``API`` key from TorchServe's key_file.json, if readable."""
    key = _key_entry(key_file, kind).get("key")
    return key if isinstance(key, str) else None


def key_expiry(key_file: Path | None, kind: str) -> datetime | None:
    """When the key expires (TorchServe writes ``expiration time`` in UTC); None if unknown.

    The API key has no expiry: it is the one that renews the other two.
    """
    stamp = _key_entry(key_file, kind).get("expiration time")
    if not isinstance(stamp, str):
        return None
    # TorchServe writes nanoseconds ("...:40.987605277Z"); Python parses at most microseconds.
    head, dot, rest = stamp.rstrip("Z").partition(".")
    try:
        when = datetime.fromisoformat(head + (dot + rest[:6] if dot else ""))
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc)


def _instance_owning(key_file: Path | None) -> dict[str, Any]:
    """What ``serve start`` recorded beside ``key_file``: TorchServe writes its keys into the
    instance's state directory, next to ``instance.json``. Empty for a key file of a server
    we did not start (a remote one)."""
    return {} if key_file is None else read_instance(Path(key_file).parent) or {}


def key_lifetime(key_file: Path | None) -> float | None:
    """Seconds a key of ``key_file`` lives from its issue (``feedback serve start
    --key-minutes``, recorded beside it in ``instance.json``); None when unknown."""
    seconds = _instance_owning(key_file).get("key_seconds")
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 < seconds < float("inf")
    return float(seconds) if ok else None


def renewal_url(key_file: Path | None) -> str | None:
    """The management URL whose token API renews the keys of ``key_file``; None for a key
    file of a server we did not start (a remote one), whose keys we cannot renew."""
    url = _instance_owning(key_file).get("urls", {}).get("management")
    return url if isinstance(url, str) else None
