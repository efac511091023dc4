"""Where the drift view's figures come from: the served model's card and the server's counters.

I/O at the edge, for the pure ``client.core.drift``:

- the reference: ``model_card.json`` travels inside every archive (``training/archive.py``
  packs it), so the card of the version being served is read from its archive in the
  instance's model store. The instance is the one that owns the key file in the settings
  (TorchServe writes ``key_file.json`` into the state folder beside ``instance.json``), and
  the archive is the one the management API names (``modelUrl``). A remote server (no
  ``instance.json`` beside the key file) has no readable card: then there is no reference
  and no alert, and the dashboard says why, rather than compare with made-up figures.
- the server's Prometheus counters (``FeedbackPredictions`` per label, ``FeedbackLowConfidence``)
  from the metrics address of that same instance, or ``$FEEDBACK_METRICS_URL``.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from client.core import instance
from client.core.corrections import CorrectionsStore
from client.core.drift import (
    CARD_FILE,
    DAY,
    HOUR,
    Alert,
    Confusion,
    Reference,
    Traffic,
    bucket_start,
    buckets,
    check_drift,
    confusion,
    parse_prometheus,
    reference_from_card,
    summarise,
    window_start,
)
from client.core.traffic_history import TrafficHistory

logger = logging.getLogger(__name__)

METRICS_TIMEOUT_S = 5.0


def owning_instance(key_file: Path | None) -> dict[str, Any] | None:
    """The instance description beside ``key_file`` (None for a remote server's key)."""
    return instance.read_instance(Path(key_file).parent) if key_file is not None else None


def read_card_from_archive(archive: Path) -> dict[str, Any] | None:
    """The model card inside a ``.mar`` (a zip) or an unpacked archive folder; None if absent or unreadable."""
    try:
        if archive.is_dir():
            path = archive / CARD_FILE
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        with zipfile.ZipFile(archive) as packed:
            return json.loads(packed.read(CARD_FILE).decode("utf-8"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        logger.warning("no readable model card in %s (%s)", archive, exc)
        return None


def served_reference(key_file: Path | None, archive_name: str | None) -> tuple[Reference | None, str]:
    """The reference of the served archive, and a sentence saying where it came from or why there is none."""
    if not archive_name:
        return None, "No reference: the server did not name the archive it serves."
    inst = owning_instance(key_file)
    if not inst or not inst.get("model_store"):
        return None, "No reference: the model card is only readable for a server started on this machine with `feedback serve start`."
    archive = Path(inst["model_store"]) / Path(archive_name).name
    card = read_card_from_archive(archive)
    if card is None:
        return None, f"No reference: {archive.name} holds no readable {CARD_FILE}."
    reference = reference_from_card(card)
    if reference is None:
        return None, f"No reference: the card in {archive.name} lacks validation figures (retrain to get them)."
    return reference, f"Compared with {reference.describe()}."


def metrics_url(key_file: Path | None) -> str | None:
    """The Prometheus address of the instance that owns ``key_file``, else ``$FEEDBACK_METRICS_URL``."""
    inst = owning_instance(key_file)
    url = (inst or {}).get("urls", {}).get("metrics") or os.environ.get(instance.URL_ENV["metrics"])
    return url.rstrip("/") if isinstance(url, str) and url else None


def server_traffic(url: str | None) -> tuple[Traffic | None, str]:
    """The server's counters since it started, and a sentence saying what they are or why there are none."""
    if url is None:
        return None, "Server counters: the metrics address is unknown (set FEEDBACK_METRICS_URL for a remote server)."
    try:
        response = requests.get(f"{url}/metrics", timeout=METRICS_TIMEOUT_S)
        response.raise_for_status()
    except requests.RequestException as exc:
        return None, f"Server counters: {url}/metrics did not answer ({type(exc).__name__})."
    traffic = parse_prometheus(response.text)
    if traffic is None:
        return None, "Server counters: no prediction counted since the server started."
    return traffic, ""


WINDOWS = {HOUR: 24, DAY: 14}  # buckets shown: the last 24 hours, or the last 14 days


@dataclass(frozen=True)
class DriftSnapshot:
    """Everything the drift view shows, gathered off the GUI thread in one go."""

    period: str
    series: list[Traffic]
    today: Traffic
    reference: Reference | None
    reference_note: str
    alerts: list[Alert]  # today's traffic (this app's history)
    server: Traffic | None
    server_note: str
    server_alerts: list[Alert]  # the server's counters since it started (every client)
    confusion: Confusion


def collect(
    history: TrafficHistory | None,
    period: str,
    key_file: Path | None,
    archive_name: str | None,
    corrections_path: Path | None,
    now: float | None = None,
) -> DriftSnapshot:
    """Read the history, the reference, the server's counters and the corrections store, then
    compare (today's traffic and the server's since its start) with the reference."""
    now = time.time() if now is None else now
    start = window_start(now, period, WINDOWS[period])
    seen = history.since(start) if history is not None else []
    midnight = window_start(now, DAY, 1)
    today = summarise((s for s in seen if s.at >= midnight), bucket_start(now, DAY))
    reference, reference_note = served_reference(key_file, archive_name)
    server, server_note = server_traffic(metrics_url(key_file))
    alerts = check_drift(today, reference, "today") if reference is not None else []
    server_alerts = check_drift(server, reference, "on the server since it started") if reference is not None and server is not None else []
    rows = CorrectionsStore(corrections_path).all() if corrections_path is not None and Path(corrections_path).exists() else []
    return DriftSnapshot(period, buckets(seen, period), today, reference, reference_note, alerts, server, server_note, server_alerts, confusion(rows))
