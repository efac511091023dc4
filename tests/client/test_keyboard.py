"""Keyboard-first triage with real key presses on the real window against the real server:
1-8 label, Enter confirms, J/K move, N jumps, Ctrl+Z undoes, Ctrl+C copies, Ctrl+F searches."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import classify, open_and_run, write_csv
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QGuiApplication

from client.core.corrections import read_corrections
from client.core.labels import LABELS
from client.ui.results_view import COPY_COLUMNS

pytestmark = pytest.mark.server
ROWS = 12


@pytest.fixture
def triage(qtbot, make_window, server, key_file: Path, tmp_path: Path):
    """A window whose batch of 12 rows has run, every row needing review (threshold 0.999)."""
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, review_threshold=0.999)
    open_and_run(qtbot, window, write_csv(tmp_path / "export.csv", ROWS))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def focus_row(qtbot, table, row: int) -> None:
    table.window().batch.tabs.setCurrentWidget(table.parentWidget())
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    table.setCurrentIndex(table.proxy.index(row, 0))


def press(qtbot, window, widget, key, modifier=Qt.KeyboardModifier.NoModifier, saved: bool = True) -> None:
    if saved:
        with qtbot.waitSignal(window.services.corrections.saved, timeout=10000):
            qtbot.keyClick(widget, key, modifier)
    else:
        qtbot.keyClick(widget, key, modifier)


def test_number_keys_and_enter_save_verdicts_in_the_store(qtbot, triage, corrections_db: Path) -> None:
    table = triage.batch.table
    focus_row(qtbot, table, 0)
    first = table.current_result()
    press(qtbot, triage, table, Qt.Key.Key_3)  # 3 = praise
    assert table.currentIndex().row() == 1  # the next row is ready for the next key
    second = table.current_result()
    press(qtbot, triage, table, Qt.Key.Key_Return)
    by_text = {c.text: c for c in read_corrections(corrections_db)}
    assert by_text[first.row.text].final_label == LABELS[2] == first.reviewed_label
    assert by_text[second.row.text].kind == "confirmation" and by_text[second.row.text].final_label == second.prediction.label
    assert "3" in [a.shortcut().toString() for a in table.actions()]  # the key is shown in the right-click menu
    assert table.label_actions["praise"].shortcut().toString() == "3"


def test_ctrl_z_restores_the_earlier_verdict_then_removes_it(qtbot, triage, corrections_db: Path) -> None:
    table = triage.batch.table
    focus_row(qtbot, table, 0)
    item = table.current_result()
    press(qtbot, triage, table, Qt.Key.Key_2)
    qtbot.keyClick(table, Qt.Key.Key_K)  # back up to the same row
    assert table.current_result() is item
    press(qtbot, triage, table, Qt.Key.Key_5)  # changed my mind: question
    assert [c.final_label for c in read_corrections(corrections_db)] == ["question"]
    assert triage.undo_action.text() == "Undo verdict (back to Feature request)"

    press(qtbot, triage, table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [c.final_label for c in read_corrections(corrections_db)] == ["feature_request"]
    assert item.reviewed_label == "feature_request"
    with qtbot.waitSignal(triage.services.corrections.undone, timeout=10000):
        qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert read_corrections(corrections_db) == [] and item.reviewed_label is None
    qtbot.waitUntil(lambda: triage.batch_controller.queue.rowCount() == ROWS)  # back in the queue
    assert not triage.undo_action.isEnabled()


def test_n_jumps_over_rows_that_have_a_verdict_and_j_k_move(qtbot, triage) -> None:
    table = triage.batch.table
    focus_row(qtbot, table, 1)
    press(qtbot, triage, table, Qt.Key.Key_1)  # row 1 gets a verdict, row 2 becomes current
    assert table.currentIndex().row() == 2
    qtbot.keyClick(table, Qt.Key.Key_K)
    qtbot.keyClick(table, Qt.Key.Key_K)
    assert table.currentIndex().row() == 0
    qtbot.keyClick(table, Qt.Key.Key_N)
    assert table.currentIndex().row() == 2  # row 1 has its verdict: skipped
    qtbot.keyClick(table, Qt.Key.Key_J)
    assert table.currentIndex().row() == 3


def test_review_queue_keys_label_the_current_item_and_it_leaves_the_queue(qtbot, triage, corrections_db: Path) -> None:
    batch, queue = triage.batch, triage.batch_controller.queue
    focus_row(qtbot, batch.queue_table, 0)
    item = batch.queue_table.current_result()
    press(qtbot, triage, batch.queue_table, Qt.Key.Key_8)
    qtbot.waitUntil(lambda: queue.rowCount() == ROWS - 1)
    assert item not in [queue.result(i) for i in range(queue.rowCount())]
    assert batch.queue_table.current_result() is not None  # the next item moved up under the cursor
    [saved] = read_corrections(corrections_db)
    assert (saved.text, saved.final_label) == (item.row.text, "other")


def test_ctrl_c_copies_the_selected_rows_with_their_labels(qtbot, triage) -> None:
    table = triage.batch.table
    focus_row(qtbot, table, 0)
    for row in (0, 1):
        table.selectionModel().select(table.proxy.index(row, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QGuiApplication.clipboard().text().splitlines()
    assert lines[0].split("\t") == list(COPY_COLUMNS)
    assert len(lines) == 3
    for line, row in zip(lines[1:], (0, 1)):
        result = table.proxy.result(row)
        cells = line.split("\t")
        assert cells[0] == str(result.row.line) and cells[2] == result.prediction.label and cells[-1] == result.row.text


def test_ctrl_f_focuses_the_search_of_the_table_on_screen(qtbot, triage) -> None:
    batch = triage.batch
    focus_row(qtbot, batch.queue_table, 0)
    qtbot.keyClick(batch.queue_table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(batch.queue_bar.search.hasFocus)
    qtbot.keyClicks(batch.queue_bar.search, "#1)")
    assert triage.batch_controller.queue.rowCount() == 1
    focus_row(qtbot, batch.table, 0)
    qtbot.keyClick(batch.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(batch.filters.search.hasFocus)


def test_single_panel_enter_confirms_and_a_number_corrects(qtbot, window, corrections_db: Path) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    prediction = classify(qtbot, window, "Please add a way to share the calendar with my team")
    panel = window.single
    qtbot.waitUntil(panel.confirm_button.hasFocus)  # the verdict area takes the keys once a result is shown
    with qtbot.waitSignal(panel.verdict_saved, timeout=10000):
        qtbot.keyClick(panel.confirm_button, Qt.Key.Key_Return)
    [confirmed] = read_corrections(corrections_db)
    assert confirmed.kind == "confirmation" and confirmed.final_label == prediction.label
    other = next(i for i, label in enumerate(LABELS) if label != prediction.label)
    with qtbot.waitSignal(panel.verdict_saved, timeout=10000):
        qtbot.keyClick(panel.confirm_button, Qt.Key(Qt.Key.Key_1.value + other))
    [corrected] = read_corrections(corrections_db)
    assert corrected.kind == "correction" and corrected.final_label == LABELS[other]
    with qtbot.waitSignal(window.services.corrections.saved, timeout=10000):
        qtbot.keyClick(panel.confirm_button, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    [restored] = read_corrections(corrections_db)
    assert restored.kind == "confirmation"
    assert panel.saved_note.text().startswith("Confirmed")
    qtbot.keyClick(panel.confirm_button, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert panel.editor.hasFocus() and panel.editor.toPlainText() == ""
    qtbot.keyClicks(panel.editor, "123")  # digits typed in the text box stay text
    assert panel.editor.toPlainText() == "123" and len(read_corrections(corrections_db)) == 1
