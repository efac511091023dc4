"""Where the training and serving side keeps its files.

Package files (the dataset, the handler, the TorchServe template) are package data found
beside the installed packages, so they work from a checkout and from a plain ``pip install .``.
Writable places (``models/``, ``model_store/``) are the checkout's folders when the
package runs from a checkout, and the user data directory otherwise; environment
variables override each one. The user-side places (server state, corrections store)
live in ``client.core.paths``.
"""

from __future__ import annotations

import os
from pathlib import Path

from client.core import paths as user_paths

_PACKAGES_ROOT = Path(__file__).resolve().parent.parent


def checkout_root() -> Path | None:
    """The source checkout this package runs from, or None when it is installed elsewhere."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "training" / "paths.py").is_file() else None


def _writable(env: str, name: str) -> Path:
    value = os.environ.get(env)
    if value:
        return Path(value).resolve()
    root = checkout_root()
    return root / name if root is not None else user_paths.user_data_dir() / name


def package_file(package: str, *parts: str) -> Path:
    """A file shipped inside one of our top-level packages, installed or in the checkout.

    Our packages are installed side by side, so they are found beside this one. (Not
    through ``importlib``: pytest puts ``tests/`` on sys.path, whose ``training/`` and
    ``handler/`` folders would make those names namespace packages.)
    """
    return _PACKAGES_ROOT.joinpath(package, *parts)


def shared_dir() -> Path:
    """``../shared`` beside the checkout, or ``$FEEDBACK_SHARED_DIR``."""
    env = os.environ.get("FEEDBACK_SHARED_DIR")
    if env:
        return Path(env).resolve()
    root = checkout_root()
    return (root.parent / "shared").resolve() if root is not None else user_paths.user_data_dir() / "shared"


def eval_dir() -> Path:
    return shared_dir() / "eval"


def external_eval_file() -> Path:
    return eval_dir() / "external_eval.jsonl"


def data_file() -> Path:
    return package_file("training", "data", "feedback.jsonl")


def splits_file() -> Path:
    return package_file("training", "data", "splits.json")


def teacher_targets_file() -> Path:
    """A teacher's logits for our training items (``feedback data teacher-targets``)."""
    return package_file("training", "data", "teacher_logits.json")


def dev_file() -> Path:
    """Our development set: written in another voice than the training data; picks models."""
    return package_file("training", "data", "dev.jsonl")


def long_dev_file() -> Path:
    """Our development set of long texts (over 80 words each), written by authors told nothing
    about where a message's deciding sentence goes: picks how a long text is read."""
    return package_file("training", "data", "dev_long.jsonl")


def holdout_file() -> Path:
    """Our held-back messy set: written by a third hand in inbox voices; measured only, never
    trained on or used to pick a model (``feedback compare``)."""
    return package_file("training", "data", "holdout.jsonl")


def handler_file() -> Path:
    return package_file("handler", "feedback_handler.py")


def config_template() -> Path:
    return package_file("training", "config.properties")


def models_dir() -> Path:
    """The registry of trained versions, ``models/v<N>/``; ``$FEEDBACK_MODELS_DIR`` overrides."""
    return _writable("FEEDBACK_MODELS_DIR", "models")


def model_store_dir() -> Path:
    """The folder of ``.mar`` archives; ``$FEEDBACK_MODEL_STORE`` overrides."""
    return _writable("FEEDBACK_MODEL_STORE", "model_store")


def report_dir() -> Path:
    """Where ``feedback compare`` writes its Markdown report: the checkout's docs/, else the working folder."""
    root = checkout_root()
    return root / "docs" if root is not None else Path.cwd()
