"""Results filters (label, confidence range, needs review, text) and the review queue's order."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import open_and_run
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QComboBox

from client.ui.results_model import AGENT, CONFIDENCE, LABEL, TEXT
from client.ui.signals import emit
from client.core.labels import LABEL_NAMES, LABELS
REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.server
SAMPLE = REPO_ROOT / "samples" / "support_export.csv"


def shown(proxy, column: int) -> list[str]:
    return [proxy.index(row, column).data() for row in range(proxy.rowCount())]


def test_filters_narrow_the_table_and_the_queue_lists_lowest_confidence_first(qtbot, make_window, server, key_file: Path) -> None:
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, review_threshold=0.999)
    open_and_run(qtbot, window, SAMPLE)
    batch, model = window.batch, window.batch_controller.model
    table, queue = window.batch_controller.filtered, window.batch_controller.queue
    total = model.rowCount()
    assert total == 36 and table.rowCount() == total
    assert batch.shown_count.text() == "36 of 36 shown"

    top_label = model.result(0).prediction.label
    batch.filters.label.setCurrentIndex(batch.filters.label.findData(top_label))
    assert 0 < table.rowCount() <= total
    assert set(shown(table, LABEL)) == {LABEL_NAMES[top_label]}
    assert batch.shown_count.text() == f"{table.rowCount()} of 36 shown"
    batch.filters.label.setCurrentIndex(0)

    confidences = sorted(model.result(i).prediction.confidence for i in range(total))
    low, high = confidences[5], confidences[-6]
    batch.filters.minimum.setValue(round(low, 2))
    batch.filters.maximum.setValue(round(high, 2))
    assert all(round(low, 2) <= float(c) <= round(high, 2) + 0.005 for c in shown(table, CONFIDENCE))
    assert table.rowCount() < total
    batch.filters.minimum.setValue(0.0)
    batch.filters.maximum.setValue(1.0)

    qtbot.keyClicks(batch.filters.search, "SYNC")
    texts = shown(table, TEXT)
    assert texts and all("sync" in text.lower() for text in texts)
    batch.filters.search.clear()
    batch.filters.review_only.setChecked(True)
    assert table.rowCount() == total  # the threshold 0.999 sends every item to review

    queued = [float(c) for c in shown(queue, CONFIDENCE)]
    assert len(queued) == total and queued == sorted(queued)
    assert batch.queue_count.text().startswith("36 waiting for review, lowest confidence first")
    lowest = queue.result(0)
    batch.tabs.setCurrentIndex(2)
    batch.queue_table.selectionModel().select(queue.index(0, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    with qtbot.waitSignal(window.services.corrections.saved, timeout=10000):
        qtbot.mouseClick(batch.queue_confirm, Qt.MouseButton.LeftButton)
    assert queue.rowCount() == total - 1 and lowest not in [queue.result(i) for i in range(queue.rowCount())]
    assert lowest.verdict is not None and lowest.verdict.kind == "confirmation"
    assert batch.queue_count.text().startswith("35 waiting")

    # Inline correction in the queue: double-click "Agent label", pick another label.
    second = queue.result(0)
    other = next(label for label in LABELS if label != second.prediction.label)
    batch.queue_table.edit(queue.index(0, AGENT))
    combo = batch.queue_table.viewport().findChild(QComboBox)
    with qtbot.waitSignal(window.services.corrections.saved, timeout=10000):
        combo.setCurrentIndex(combo.findData(other))
        emit(combo.activated, combo.currentIndex())
    assert second.verdict is not None and (second.verdict.kind, second.verdict.final_label) == ("correction", other)
    assert queue.rowCount() == total - 2 and batch.queue_count.text().startswith("34 waiting")
    agent_cells = shown(table, AGENT)
    assert agent_cells.count(LABEL_NAMES[other]) >= 1 and agent_cells.count("") == total - 2
