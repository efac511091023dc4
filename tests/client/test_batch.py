"""Batch mode: a file with malformed rows still runs; progress, errors, summary; cancel keeps what is done."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import drop_file, open_and_run, write_csv
from PySide6.QtCore import Qt

pytestmark = pytest.mark.server

BAD_ROWS = {
    # A good row in UTF-8 beyond ASCII: the file reads as UTF-8, so the Latin-1 row below is an
    # error (a file of ASCII and Latin-1 bytes alone would be read as Windows-1252).
    3: "C-00003,email,The caf\u00e9 menu in the app shows yesterday's prices\n".encode("utf-8"),
    57: b'C-00057,chat,"The sync button "does nothing" on my phone"\n',  # broken quotes
    211: b"C-00211,email,\n",  # missing text
    402: b"C-00402,chat,Pr\xe9f\xe9rences perdues apr\xe8s la mise \xe0 jour\n",  # Latin-1, not UTF-8
}


def test_500_rows_with_3_malformed_give_497_results_and_3_listed_errors(qtbot, window, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", 500, BAD_ROWS)
    open_and_run(qtbot, window, path)
    batch = window.batch
    assert window.batch_controller.model.rowCount() == 497
    assert batch.progress.value() == batch.progress.maximum() == 497
    assert batch.errors.rowCount() == 3
    lines = [int(batch.errors.item(row, 0).text()) for row in range(3)]
    assert lines == [59, 213, 404]  # header is line 1, data row i is line i + 2
    messages = [batch.errors.item(row, 1).text() for row in range(3)]
    assert "unbalanced quote" in messages[0] and messages[1] == "empty text" and "UTF-8" in messages[2]
    assert batch.tabs.tabText(batch.tabs.indexOf(batch.errors)) == "Errors (3)"
    assert batch.summary.totals.text().startswith("497 classified") and "3 rows skipped" in batch.summary.totals.text()
    assert sum(bar.value for bar in batch.summary.labels.bars()) == 497
    assert sum(batch.summary.histogram.counts()) == 497
    assert batch.note.text().startswith("Done: 497 classified")
    assert "items/s" in batch.rate.text()


def test_cancel_midway_keeps_the_finished_results(qtbot, make_window, server, key_file: Path, tmp_path: Path) -> None:
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, chunk_size=8)
    path = write_csv(tmp_path / "big.csv", 400)
    controller, batch = window.batch_controller, window.batch
    window.tabs.setCurrentWidget(batch)
    with qtbot.waitSignal(controller.loaded, timeout=20000):
        drop_file(batch, path)
    with qtbot.waitSignal(controller.progressed, timeout=30000):
        qtbot.mouseClick(batch.run_button, Qt.MouseButton.LeftButton)
    assert batch.cancel_button.isEnabled()
    with qtbot.waitSignal(controller.state_changed, timeout=30000, check_params_cb=lambda state: state == "cancelled"):
        qtbot.mouseClick(batch.cancel_button, Qt.MouseButton.LeftButton)
    kept = controller.model.rowCount()
    assert 0 < kept < 400
    assert batch.progress.value() == kept
    assert batch.resume_button.isVisible() and not batch.cancel_button.isEnabled()
    assert batch.note.text().startswith(f"Cancelled after {kept} of 400 rows")
    # Rows are sent shortest first (less padding), so the kept ones are any rows of the file,
    # each once; the resume has exactly the others.
    lines = {controller.model.result(i).row.line for i in range(kept)}
    assert len(lines) == kept and lines <= set(range(2, 402))
    assert {controller.run.read.rows[i].line for i, _ in controller.run.pending()} == set(range(2, 402)) - lines
