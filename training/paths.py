"""Where things live: repository, shared folder, user directories.

All locations are computed here so tests can point every one of them at a temporary
directory through environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_NAME = "feedback-classifier"


def shared_dir() -> Path:
    """``../shared`` beside the repository, or ``$FEEDBACK_SHARED_DIR``."""
    env = os.environ.get("FEEDBACK_SHARED_DIR")
    return Path(env).resolve() if env else (REPO_ROOT.parent / "shared").resolve()


def eval_dir() -> Path:
    return shared_dir() / "eval"


def external_eval_file() -> Path:
    return eval_dir() / "external_eval.jsonl"


def data_file() -> Path:
    return REPO_ROOT / "training" / "data" / "feedback.jsonl"


def splits_file() -> Path:
    return REPO_ROOT / "training" / "data" / "splits.json"


def models_dir() -> Path:
    """The registry of trained versions, ``models/v<N>/``; ``$FEEDBACK_MODELS_DIR`` overrides."""
    env = os.environ.get("FEEDBACK_MODELS_DIR")
    return Path(env).resolve() if env else REPO_ROOT / "models"


def model_store_dir() -> Path:
    env = os.environ.get("FEEDBACK_MODEL_STORE")
    return Path(env).resolve() if env else REPO_ROOT / "model_store"


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var)
    return Path(base) if base else Path.home() / fallback


def state_dir() -> Path:
    """The TorchServe instance's state folder: ``$FEEDBACK_STATE_DIR`` or the user state dir."""
    env = os.environ.get("FEEDBACK_STATE_DIR")
    return Path(env).resolve() if env else _xdg("XDG_STATE_HOME", ".local/state") / "feedback-analyzer"


def corrections_db_path() -> Path:
    """The local retraining store: ``$FEEDBACK_CORRECTIONS_DB`` or the user data dir."""
    env = os.environ.get("FEEDBACK_CORRECTIONS_DB")
    if env:
        return Path(env).resolve()
    return _xdg("XDG_DATA_HOME", ".local/share") / "feedback-analyzer" / "corrections.sqlite3"
