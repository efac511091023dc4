"""Client fixtures: a real MainWindow on the session's real TorchServe, with its own settings and store.

Every window gets a QSettings on a temporary INI file and a temporary corrections store,
so no test reads or writes the user's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from client.ui.signals import install_emit_guard
from client.ui.window import MainWindow


@pytest.fixture(autouse=True)
def emit_guard(qapp) -> None:
    """What the app's start-up does before any window exists."""
    install_emit_guard()


def _user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, name: str) -> Path:
    """A user-side file of the app (see client.core.paths) moved into the test's own folder."""
    path = tmp_path / name
    monkeypatch.setenv(variable, str(path))
    return path


@pytest.fixture
def corrections_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _user_file(tmp_path, monkeypatch, "FEEDBACK_CORRECTIONS_DB", "corrections.sqlite3")


@pytest.fixture
def history_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _user_file(tmp_path, monkeypatch, "FEEDBACK_TRAFFIC_DB", "traffic.sqlite3")


@pytest.fixture
def channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _user_file(tmp_path, monkeypatch, "FEEDBACK_CHANNELS", "channels.json")


@pytest.fixture
def key_file(server, tmp_path: Path) -> Path:
    """A copy of the server's key file that a test may spoil and restore."""
    return Path(shutil.copy(server["key_file"], tmp_path / "key_file.json"))


@pytest.fixture
def make_window(qtbot, tmp_path: Path, corrections_db: Path):
    """Build a shown MainWindow with the given settings; waits for its first server check."""
    windows = []

    def make(inference: str, management: str, key: Path, **settings: object) -> MainWindow:
        qsettings = QSettings(str(tmp_path / f"settings-{len(windows)}.ini"), QSettings.Format.IniFormat)
        for name, value in {"inference_url": inference, "management_url": management, "key_file": str(key), **settings}.items():
            qsettings.setValue(name, value)
        window = MainWindow(qsettings, corrections_db, tmp_path / "client.log")
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        qtbot.waitUntil(lambda: window.services.last_status is not None, timeout=20000)
        return window

    yield make
    for window in windows:
        window.shutdown()


@pytest.fixture
def window(make_window, server, key_file: Path) -> MainWindow:
    """The app pointed at the session's TorchServe."""
    urls = server["urls"]
    return make_window(urls["inference"], urls["management"], key_file)
