"""Where the user-side files live: the server instance's state folder, the corrections
store, the app's log.

Computed on every call (not at import) so tests and users can point each one elsewhere
through environment variables. Nothing here depends on where the project was installed.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "feedback-analyzer"


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var)
    return Path(base) if base else Path.home() / fallback


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/feedback-analyzer`` (``~/.local/share/feedback-analyzer``)."""
    return _xdg("XDG_DATA_HOME", ".local/share") / APP_DIR_NAME


def state_dir() -> Path:
    """The TorchServe instance's state folder: ``$FEEDBACK_STATE_DIR`` or the user state dir."""
    env = os.environ.get("FEEDBACK_STATE_DIR")
    return Path(env).resolve() if env else _xdg("XDG_STATE_HOME", ".local/state") / APP_DIR_NAME


def corrections_db_path() -> Path:
    """The local retraining store: ``$FEEDBACK_CORRECTIONS_DB`` or the user data dir."""
    env = os.environ.get("FEEDBACK_CORRECTIONS_DB")
    return Path(env).resolve() if env else user_data_dir() / "corrections.sqlite3"


def channels_path() -> Path:
    """Calibrations saved per channel from spot checks (``client.core.channels``):
    ``$FEEDBACK_CHANNELS`` or the user data dir, beside the corrections store."""
    env = os.environ.get("FEEDBACK_CHANNELS")
    return Path(env).resolve() if env else user_data_dir() / "channels.json"


def traffic_history_path() -> Path:
    """The app's record of what it classified (time, label, confidence, review flag, model
    version; never the text), for the dashboard's drift view: ``$FEEDBACK_TRAFFIC_DB`` or the
    state folder beside the app's log."""
    env = os.environ.get("FEEDBACK_TRAFFIC_DB")
    return Path(env).resolve() if env else state_dir() / "traffic.sqlite3"


def client_log_path() -> Path:
    """The desktop app's rotating log, beside the server state it talks to."""
    return state_dir() / "client.log"
