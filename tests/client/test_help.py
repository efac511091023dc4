"""Help: F1 opens the shortcuts sheet (the same table the docs show); About says where files live."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt

from client.ui.about import AboutDialog
from client.ui.shortcuts import ShortcutsSheet, shortcut_table
from client.ui.window import MainWindow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "CLIENT.md"


def offline_window(qtbot, tmp_path: Path) -> MainWindow:
    """A window whose server does not answer: help needs none."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("inference_url", "http://127.0.0.1:9")
    settings.setValue("management_url", "http://127.0.0.1:9")
    window = MainWindow(settings, tmp_path / "corrections.sqlite3", tmp_path / "client.log")
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # window shortcuts answer in the active window only
    return window


def test_f1_opens_the_shortcuts_sheet_listing_every_shortcut(qtbot, tmp_path: Path) -> None:
    window = offline_window(qtbot, tmp_path)
    qtbot.keyClick(window.tabs, Qt.Key.Key_F1)
    sheet = window.shortcuts_sheet
    assert isinstance(sheet, ShortcutsSheet) and sheet.isVisible()
    listed = sheet.keys_listed()
    assert listed == [row.keys for row in shortcut_table()]
    assert {"1", "8", "Return", "N", "Ctrl+Z", "Ctrl+C", "Ctrl+F", "F1"} <= {k for keys in listed for k in keys.replace(" / ", ", ").split(", ")} | set(listed)
    window.shutdown()


def test_every_shortcut_is_in_the_docs_keyboard_table() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    table = docs[docs.index("## Keyboard") :]
    for row in shortcut_table():
        assert f"| {row.keys} |" in table, f"docs/CLIENT.md's keyboard table lacks {row.keys!r} ({row.action})"


def test_about_names_versions_and_where_files_live(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FEEDBACK_STATE_DIR", str(tmp_path / "state"))
    window = offline_window(qtbot, tmp_path)
    window.show_about()
    [dialog] = window.findChildren(AboutDialog)
    rows = dict(dialog.rows)
    assert rows["App version"] and rows["Model version"].startswith("unknown")
    assert rows["Corrections store"] == str(tmp_path / "corrections.sqlite3")
    assert rows["App log"] == str(tmp_path / "client.log") and rows["Server state folder"] == str((tmp_path / "state").resolve())
    assert rows["Settings file"].endswith("settings.ini")
    assert "CLIENT.md" in dialog.text.text()
    window.shutdown()
