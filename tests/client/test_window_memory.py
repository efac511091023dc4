"""The window remembers its size, columns, queue order and last folder across a restart, and
tells the agent when a long batch ends while they are in another window."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import drop_file, open_and_run, write_csv
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QWidget

from client.core.review_queue import MARGIN
from client.ui import settings_store
from client.ui.notify import STATUS_BAR
from client.ui.results_model import ID
from client.ui.window import MainWindow


def window_on(qtbot, settings_file: Path, tmp_path: Path) -> MainWindow:
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    settings.setValue("inference_url", "http://127.0.0.1:9")  # no server needed for the layout
    settings.setValue("management_url", "http://127.0.0.1:9")
    window = MainWindow(settings, tmp_path / "corrections.sqlite3", tmp_path / "client.log")
    qtbot.addWidget(window)
    window.show()
    return window


def test_layout_columns_order_and_folder_survive_a_new_window(qtbot, tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.ini"
    first = window_on(qtbot, settings_file, tmp_path)
    # Offscreen, the screen is 800 x 800 and restoring fits the window into it: stay inside.
    first.resize(first.minimumSizeHint().width(), 700)
    size = first.size()
    id_column = next(a for a in first.batch.table.horizontalHeader().actions() if a.text() == "ID")
    id_column.trigger()  # the header's right-click menu: hide "ID"
    assert first.batch.table.isColumnHidden(ID)
    first.batch.queue_bar.order.setCurrentIndex(first.batch.queue_bar.order.findData(MARGIN))
    folder = tmp_path / "exports"
    folder.mkdir()
    path = write_csv(folder / "export.csv", 3)
    with qtbot.waitSignal(first.batch_controller.loaded, timeout=10000):
        drop_file(first.batch, path)
    first.close()
    assert not first.isVisible()

    second = window_on(qtbot, settings_file, tmp_path)
    assert second.size() == size and size.height() == 700
    assert second.batch.table.isColumnHidden(ID)
    assert not next(a for a in second.batch.table.horizontalHeader().actions() if a.text() == "ID").isChecked()
    assert second.batch.queue_bar.order.currentData() == MARGIN and second.batch_controller.review_order.order == MARGIN
    assert settings_store.last_folder(second.services.qsettings) == folder
    second.shutdown()


@pytest.mark.server
def test_a_batch_that_ends_in_the_background_is_announced(qtbot, make_window, server, key_file: Path, tmp_path: Path) -> None:
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file)
    window.notifier.long_task_seconds = 0.0  # every batch counts as long here
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow())
    with qtbot.waitSignal(window.notifier.delivered, timeout=60000) as told:
        open_and_run(qtbot, window, write_csv(tmp_path / "export.csv", 5))
    how, message = told.args
    assert message == "Batch finished: 5 of 5 rows of export.csv classified."
    if how == STATUS_BAR:  # no system tray here (offscreen): the status bar says it
        assert window.statusBar().currentMessage() == message

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    with qtbot.assertNotEmitted(window.notifier.delivered):
        open_and_run(qtbot, window, write_csv(tmp_path / "again.csv", 5))
