"""Session fixtures: one tiny real fine-tune, its real .mar, one real TorchServe.

Every location the code reads from the environment is pointed at a temporary folder
before any test runs, so tests never touch the user's state, models or corrections, nor
the repository's ``models/`` and ``model_store/``.
"""

from __future__ import annotations

import itertools
import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share two cores: OpenMP threads that spin while they wait for work would take
    # the other worker's core (a training run beside another has been seen to slow tenfold).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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

# The session's model sees text through the whole pipeline (inbox clean-up, head and tail,
# long texts read in windows), so the serving tests exercise it. It does not mask tokens: 4
# epochs on 480 items learn too little with masking for the tests that need an obvious
# answer (the top words of an obvious bug report); masking has tests of its own
# (tests/training/test_masking.py).
TINY = {"epochs": 4.0, "max_length": 64, "max_train_items": 480, "batch_size": 16, "learning_rate": 2e-4, "patience": 4, "clean_inbox": True, "head_share": 0.75,
        "window_step": 1.0, "token_mask": 0.0}


# Fixtures that start a real TorchServe: any test that uses one (directly or through another
# fixture) is marked ``server``. ``slow`` marks tests that fine-tune a model of their own
# (beyond the session's tiny model), so ``pytest -m "not slow"`` still runs the server tests.
SERVER_FIXTURES = {"server", "loop"}


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    item.stash[_CALL_STARTED] = time.monotonic()
    return (yield)


_CALL_STARTED = pytest.StashKey[float]()


def _time_limit(item) -> float:
    """pytest-timeout's limit for this test: its ``timeout`` marker, else the ini option."""
    marker = item.get_closest_marker("timeout")
    if marker and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


@pytest.fixture(autouse=True)
def close_modal_dialogs_at_the_time_limit(request):
    """pytest-timeout's signal cannot end a modal dialog's event loop: Python only runs its
    handler when Python code runs, and a dialog left open (say, by an assertion that failed in
    the timer meant to fill it in) runs none. This timer runs a little Python every half
    second, so the handler fires (its failure is reported with the test), and after the limit
    it closes whatever modal dialog is open, so the test returns instead of holding the suite.
    """
    limit = _time_limit(request.node)
    if "qtbot" not in request.fixturenames or limit <= 0:
        yield
        return
    request.getfixturevalue("qapp")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    def tick() -> None:
        started = request.node.stash.get(_CALL_STARTED, None)
        if started is None or time.monotonic() < started + limit + 1:
            return
        for _ in range(10):
            dialog = QApplication.activeModalWidget()
            if dialog is None:
                break
            dialog.done(QDialog.DialogCode.Rejected) if isinstance(dialog, QDialog) else dialog.close()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(500)
    yield
    timer.stop()


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_SESSION_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def load_script() -> Callable[[str], object]:
    """A file of ``scripts/`` as a module, for the tests of its pure parts (scripts are run, not installed)."""
    import importlib.util

    def load(name: str) -> object:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def session_root() -> Path:
    return _SESSION_ROOT


@pytest.fixture(scope="session")
def tiny_model(session_root: Path):
    """A real fine-tune of the default base model on a few hundred of our items (once per session)."""
    from filelock import FileLock

    from training.config import TrainConfig
    from training.train import train

    out = session_root / "tiny-model"
    cached = _tiny_cache_dir()
    if cached is None:
        return train(TrainConfig(out=out, version=1, **TINY))
    cached.parent.mkdir(parents=True, exist_ok=True)
    # The suite runs in two pytest-xdist workers: one trains, the other waits for its copy
    # rather than training the same model beside it on the same two cores.
    with FileLock(str(cached) + ".lock"):
        if not (cached / "result.pickle").exists():
            _store_tiny(train(TrainConfig(out=out, version=1, **TINY)), cached)
            shutil.rmtree(out)
    shutil.copytree(cached / "model", out)
    return dataclasses.replace(pickle.loads((cached / "result.pickle").read_bytes()), out_dir=out)


def _tiny_cache_dir() -> Path | None:
    """Where a developer's earlier sessions keep the tiny model, keyed by all that shapes it.

    Training it takes one to two minutes alone and far longer beside other test runs. The key
    hashes the settings, our data, the handler and the training modules that shape the model,
    so a change there trains it afresh. Of ``config.py`` (every command's config lives there)
    only TrainConfig's plain defaults count, so a changed default trains it afresh too. A
    clean machine, like CI, has no cache and always trains.
    """
    from training.config import TrainConfig

    if os.environ.get("FEEDBACK_TEST_CACHE", "1") == "0":
        return None
    root = Path(__file__).parents[1]
    defaults = {f.name: repr(f.default) for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    digest = hashlib.sha256(json.dumps([TINY, defaults], sort_keys=True).encode())
    shaping = ("train.py", "averaging.py", "distill.py", "masking.py", "data.py", "calibration.py", "inference.py", "evaluate.py", "card.py")
    sources = [root / "handler" / "feedback_handler.py", *(root / "training" / name for name in shaping), *sorted((root / "training" / "data").glob("*.json*"))]
    for path in sources:
        digest.update(path.name.encode() + path.read_bytes())
    return Path(os.environ.get("FEEDBACK_TEST_CACHE_DIR", Path.home() / ".cache" / "feedback-analyzer-tests")) / f"tiny-{digest.hexdigest()[:16]}"


def _store_tiny(result, cached: Path) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=cached.name + ".", dir=cached.parent))
    shutil.copytree(result.out_dir, staging / "model")
    (staging / "result.pickle").write_bytes(pickle.dumps(result))
    try:
        os.rename(staging, cached)  # atomic; another session that got there first wins
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


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
    # onnx, not the default onnx-int8: the session's tests check scores against PyTorch and
    # explanations' arithmetic to 1e-4, which only an fp32 runtime keeps (quantised activations
    # depend on the other texts of a forward pass); tests/handler/test_runtime.py serves and
    # checks the default runtime, and the other tests that archive use the default.
    # Batches of 8 requests, not the default 1: the session's tests prove that TorchServe's
    # batching keeps each request's answer its own (a bad request fails alone, 64 singles share
    # calls), which a team archiving with --batch-size 8 relies on.
    build_archive(ArchiveConfig(model=tiny_model.out_dir, model_store=store, archive_format="zip-store", runtime="onnx", **SHARED_BATCHING))
    return store


SHARED_BATCHING = {"batch_size": 8, "max_batch_delay": 5}


@pytest.fixture(scope="session")
def shared_batching() -> dict[str, int]:
    """How the session's shared server batches requests (``model_store``)."""
    return dict(SHARED_BATCHING)


# Bases are drawn from the pid and this counter, not from ``random``: pytest-randomly reseeds
# ``random`` for every test, so every test would probe the same ports, and two test sessions
# on one machine would too.
_PORT_CANDIDATES = itertools.count()
_LOWEST_PORT = 10_000  # above the well-known and most registered service ports


def port_base_candidates() -> Iterator[int]:
    """Port bases whose five ports (``Ports.from_base``) all lie outside the ephemeral range."""
    from training.serve import Ports, ephemeral_ports

    ephemeral = ephemeral_ports()
    span = 65_000 - _LOWEST_PORT  # ServeConfig's highest base
    start = (os.getpid() * 7919) % span
    for _ in range(span):
        base = _LOWEST_PORT + (start + next(_PORT_CANDIDATES) * 1237) % span
        ports = Ports.from_base(base).__dict__.values()
        if min(ports) >= _LOWEST_PORT and all(port not in ephemeral for port in ports):
            yield base


def free_port_base() -> int:
    """A base whose five derived ports are free now (another process may still take one first:
    ``start_server`` retries that case)."""
    from training.serve import Ports, port_free

    for base, _ in zip(port_base_candidates(), range(200)):
        if all(port_free(port) for port in Ports.from_base(base).__dict__.values()):
            return base
    raise RuntimeError("no free ports found outside the ephemeral range")


def _lost_port_race(config, exc: Exception) -> bool:
    """Did this start fail because another process bound one of its ports first?"""
    if "already in use" in str(exc):
        return True
    logs = Path(config.state_dir) / "logs"
    return any("Address already in use" in log.read_text(errors="replace") for log in logs.glob("*.log")) if logs.exists() else False


def start_server(make_config: Callable[[int], object], attempts: int = 3) -> tuple[object, dict]:
    """``serve.start(make_config(base))`` on free ports; a start that loses a port to another
    process between the check and the bind is retried on other ports.

    Returns the config that started and the instance description."""
    from client.core.errors import ServerError
    from training import serve

    for attempt in range(attempts):
        config = make_config(free_port_base())
        try:
            return config, serve.start(config)
        except ServerError as exc:
            if attempt + 1 == attempts or not _lost_port_race(config, exc):
                raise
            shutil.rmtree(Path(config.state_dir) / "logs", ignore_errors=True)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session", name="start_server")
def start_server_fixture():
    """For tests with a server of their own: ``config, instance = start_server(lambda base: ServeConfig(..., port_base=base))``."""
    return start_server


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

    config, instance = start_server(lambda base: ServeConfig(state_dir=session_root / "ts-state", port_base=base, model_store=model_store, timeout=180))
    instance["config"] = config
    yield instance
    serve.stop(config)
