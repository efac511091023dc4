"""Session fixtures: one tiny real fine-tune, its real .mar, one real TorchServe.

Every location the code reads from the environment is pointed at a temporary folder
before any test runs, so tests never touch the user's state, models or corrections, nor
the repository's ``models/`` and ``model_store/``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_SESSION_ROOT = Path(tempfile.mkdtemp(prefix="feedback-tests-"))
for var, sub in (
    ("FEEDBACK_STATE_DIR", "state"),
    ("FEEDBACK_MODELS_DIR", "models"),
    ("FEEDBACK_MODEL_STORE", "model_store"),
    ("FEEDBACK_CORRECTIONS_DB", "corrections.sqlite3"),
    ("XDG_CONFIG_HOME", "config"),
    ("XDG_DATA_HOME", "data"),
    ("XDG_STATE_HOME", "xdg-state"),
):
    os.environ[var] = str(_SESSION_ROOT / sub)

# The session's model sees text through the whole pipeline (inbox clean-up, head and tail),
# so the serving tests exercise it.
TINY = {"epochs": 4.0, "max_length": 64, "max_train_items": 480, "batch_size": 16, "learning_rate": 2e-4, "patience": 4, "clean_inbox": True, "head_share": 0.75}


# Fixtures that start a real TorchServe: any test that uses one (directly or through another
# fixture) is marked ``server``. ``slow`` marks tests that fine-tune a model of their own
# (beyond the session's tiny model), so ``pytest -m "not slow"`` still runs the server tests.
SERVER_FIXTURES = {"server", "loop"}


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_SESSION_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def session_root() -> Path:
    return _SESSION_ROOT


@pytest.fixture(scope="session")
def tiny_model(session_root: Path):
    """A real fine-tune of the default base model on a few hundred of our items (once per session)."""
    from training.config import TrainConfig
    from training.train import train

    config = TrainConfig(out=session_root / "tiny-model", version=1, **TINY)
    return train(config)


def copy_as_version(model_dir: Path, target: Path, version: int) -> Path:
    """The same weights under another version number (a second archive without a second fine-tune)."""
    shutil.copytree(model_dir, target)
    card_path = target / "model_card.json"
    card = json.loads(card_path.read_text())
    card["version"] = version
    card_path.write_text(json.dumps(card))
    return target


@pytest.fixture(scope="session")
def as_version():
    return copy_as_version


@pytest.fixture(scope="session")
def model_store(session_root: Path, tiny_model) -> Path:
    from training.archive import build_archive
    from training.config import ArchiveConfig

    store = session_root / "served-store"
    build_archive(ArchiveConfig(model=tiny_model.out_dir, model_store=store, archive_format="zip-store"))
    return store


def free_port_base() -> int:
    """A base whose five derived ports (base..base+2, base-1010, base-1009) are free."""
    from training.serve import Ports

    for _ in range(200):
        base = random.randint(21000, 39000)
        ports = Ports.from_base(base).__dict__.values()
        ok = True
        for port in ports:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports found")


@pytest.fixture
def port_base() -> int:
    return free_port_base()


@pytest.fixture(scope="session")
def new_port_base():
    """For module-scoped servers: a function returning a free port base."""
    return free_port_base


@pytest.fixture(scope="session")
def server(session_root: Path, model_store: Path):
    """A real TorchServe on free loopback ports, serving the tiny model's archive."""
    from training import serve
    from training.config import ServeConfig

    config = ServeConfig(state_dir=session_root / "ts-state", port_base=free_port_base(), model_store=model_store, timeout=180)
    instance = serve.start(config)
    instance["config"] = config
    yield instance
    serve.stop(config)
