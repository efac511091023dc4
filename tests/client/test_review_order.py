"""What to correct first, on real predictions: the queue ordered by margin and "most useful",
the reason beside each item, and items with a verdict never coming back, even in a new window."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import open_and_run, write_csv
from PySide6.QtCore import Qt

from client.core.review_queue import MARGIN, USEFUL, margin, review_reasons, useful_order
from client.ui.results_model import REVIEW

pytestmark = pytest.mark.server
ROWS = 24


def queued(window) -> list:
    queue = window.batch_controller.queue
    return [queue.result(i) for i in range(queue.rowCount())]


def test_queue_orders_by_margin_and_most_useful_and_says_why(qtbot, make_window, server, key_file: Path, tmp_path: Path) -> None:
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file, review_threshold=0.999)
    open_and_run(qtbot, window, write_csv(tmp_path / "export.csv", ROWS))
    bar, controller = window.batch.queue_bar, window.batch_controller
    window.batch.tabs.setCurrentIndex(2)

    with qtbot.waitSignal(controller.review_order.ordered, timeout=10000, check_params_cb=lambda order: order == MARGIN):
        bar.order.setFocus()
        bar.order.setCurrentIndex(bar.order.findData(MARGIN))
    margins = [margin(r.prediction.scores) for r in queued(window)]
    assert len(margins) == ROWS and margins == sorted(margins)
    assert window.batch.queue_count.text() == f"{ROWS} waiting for review, smallest margin first"
    reasons = controller.queue.index(0, REVIEW).data()
    first = queued(window)[0]
    assert reasons == " · ".join(review_reasons(first.prediction, True)) and reasons.startswith("low confidence")

    with qtbot.waitSignal(controller.review_order.ordered, timeout=20000, check_params_cb=lambda order: order == USEFUL):
        bar.order.setCurrentIndex(bar.order.findData(USEFUL))
    shown = queued(window)
    in_model = controller.queue_model.results()
    expected = useful_order([r.row.text for r in in_model], [r.prediction for r in in_model])
    assert shown == [in_model[i] for i in expected]
    labels = {r.prediction.label for r in shown}
    assert {r.prediction.label for r in shown[: len(labels)]} == labels  # every predicted label before any repeats


def test_items_with_a_verdict_never_come_back_to_the_queue(qtbot, make_window, server, key_file: Path, tmp_path: Path, corrections_db: Path) -> None:
    urls = server["urls"]
    path = write_csv(tmp_path / "export.csv", 8)
    first = make_window(urls["inference"], urls["management"], key_file, review_threshold=0.999)
    open_and_run(qtbot, first, path)
    table = first.batch.queue_table
    first.activateWindow()
    qtbot.waitUntil(first.isActiveWindow)
    first.batch.tabs.setCurrentIndex(2)
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    table.setCurrentIndex(table.proxy.index(0, 0))
    judged = table.current_result().row.text
    with qtbot.waitSignal(first.services.corrections.saved, timeout=10000):
        qtbot.keyClick(table, Qt.Key.Key_4)
    qtbot.waitUntil(lambda: first.batch_controller.queue.rowCount() == 7)
    first.shutdown()

    # A new window on the same store, the same file: the judged text stays out of the queue.
    second = make_window(urls["inference"], urls["management"], key_file, review_threshold=0.999)
    open_and_run(qtbot, second, path)
    qtbot.waitUntil(lambda: second.batch_controller.queue.rowCount() == 7, timeout=10000)
    assert judged not in [r.row.text for r in queued(second)]
    assert second.batch_controller.model.rowCount() == 8  # the results table still shows every row
