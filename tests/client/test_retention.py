"""The retention setting: set in the Settings dialog, applied by the app at start-up."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from client.core.corrections import Correction, CorrectionsStore, now_iso
from client.core.settings import ClientSettings
from client.ui.settings_dialog import SettingsDialog

OLD = "2020-01-02T03:04:05+00:00"


def test_the_app_deletes_learnt_corrections_past_retention_and_keeps_pending_ones(qtbot, make_window, server, key_file, corrections_db):
    store = CorrectionsStore(corrections_db)
    learnt_old = store.add(Correction("the export button crashes", "bug", "praise", created_at=OLD))
    pending_old = store.add(Correction("please add a dark mode", "feature_request", "other", created_at=OLD))
    learnt_new = store.add(Correction("how do I reset my password?", "question", "bug", created_at=now_iso()))
    store.mark_consumed([learnt_old, learnt_new], "2")
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, retention_days=30)
    qtbot.waitUntil(lambda: sorted(c.id for c in CorrectionsStore(corrections_db).all()) == [pending_old, learnt_new], timeout=20000)
    assert window.services.settings.retention_days == 30


def test_zero_keeps_everything(qtbot, make_window, server, key_file, corrections_db):
    store = CorrectionsStore(corrections_db)
    ids = [store.add(Correction("the export button crashes", "bug", "praise", created_at=OLD))]
    store.mark_consumed(ids, "2")
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file)
    with qtbot.waitSignal(window.services.corrections.listed, timeout=20000):
        window.services.corrections.purge(0)
    assert [c.id for c in CorrectionsStore(corrections_db).all()] == ids


def test_the_settings_dialog_sets_and_keeps_the_retention(qtbot, tmp_path):
    settings = ClientSettings(inference_url="http://127.0.0.1:1", management_url="http://127.0.0.1:2", key_file=tmp_path / "k.json", retention_days=90)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.retention_days.value() == 90 and dialog.retention_days.text() == "90 days"
    dialog.retention_days.selectAll()
    qtbot.keyClicks(dialog.retention_days, "14")
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.result_settings is not None and dialog.result_settings.retention_days == 14
    assert dialog.result_settings.chunk_size == settings.chunk_size
