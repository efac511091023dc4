"""Settings: defaults from the running instance, edits saved in QSettings and used at the next start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drive import closed_port
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from client.core.settings import ClientSettings
from client.ui.settings_store import load_settings
from client.ui.settings_dialog import SettingsDialog


def test_defaults_come_from_the_local_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("FEEDBACK_STATE_DIR", str(state))
    assert ClientSettings.defaults().inference_url == "http://127.0.0.1:8080"
    (state / "instance.json").write_text(json.dumps({"urls": {"inference": "http://127.0.0.1:9180", "management": "http://127.0.0.1:9181"}}))
    defaults = ClientSettings.defaults()
    assert (defaults.inference_url, defaults.management_url) == ("http://127.0.0.1:9180", "http://127.0.0.1:9181")
    assert defaults.key_file == state / "key_file.json" and defaults.review_threshold == 0.0


def test_settings_dialog_checks_values_and_saves_them_for_the_next_start(qtbot, make_window, tmp_path: Path) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    window = make_window(url, url, tmp_path / "key_file.json")
    seen = {}

    def edit_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
        dialog.inference_url.setText("localhost:8080")
        save.click()
        seen["error"] = dialog.error.text()
        dialog.inference_url.setText(url)
        dialog.agent.setText("Dana")
        dialog.review_threshold.setValue(0.65)
        save.click()

    QTimer.singleShot(0, edit_dialog)
    with qtbot.waitSignal(window.services.server_checked, timeout=20000):
        window.open_settings()
    assert seen["error"].startswith("inference_url must start with http:// or https://")
    assert window.services.settings.agent == "Dana" and window.services.settings.review_threshold == 0.65

    # What the next start reads (MainWindow -> Services -> load_settings).
    reloaded = load_settings(QSettings(str(tmp_path / "settings-0.ini"), QSettings.Format.IniFormat))
    assert (reloaded.agent, reloaded.review_threshold, reloaded.inference_url) == ("Dana", 0.65, url)
