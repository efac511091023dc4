"""100,000 results: header sorts, filters and new chunks stay quick and correct (no server needed)."""

from __future__ import annotations

import random
import time
from pathlib import Path

from PySide6.QtCore import Qt

from client.core.api import Prediction
from client.core.batch import BatchRun
from client.ui.results_model import CONFIDENCE, LABEL, ResultsFilter, ResultsTableModel
from client.ui.results_view import ResultsTable
from client.core.labels import LABEL_NAMES, LABELS
from client.core.records import ReadResult, Row

N = 100_000
CHUNK = 1000


def predictions(rng: random.Random, count: int) -> list[Prediction]:
    out = []
    for _ in range(count):
        label, confidence = LABELS[rng.randrange(len(LABELS))], rng.random()
        out.append(Prediction(label, confidence, dict.fromkeys(LABELS, (1 - confidence) / 7) | {label: confidence}, False, "1"))
    return out


def timed(qtbot, action) -> float:  # noqa: ANN001
    start = time.perf_counter()
    action()
    qtbot.wait(1)  # let the view process what the model announced
    return time.perf_counter() - start


def test_sorting_and_filtering_100k_rows_stays_under_a_few_seconds(qtbot) -> None:
    rng = random.Random(7)
    rows = [Row(i + 2, f"feedback number {i} about {'sync' if i % 10 == 0 else 'billing'}", f"T{i}", {}) for i in range(N)]
    run = BatchRun(Path("big.csv"), ReadResult(rows, [], ["text"], "text", None), 0.3)
    model = ResultsTableModel()
    proxy = ResultsFilter()
    proxy.setSourceModel(model)
    table = ResultsTable(proxy)
    qtbot.addWidget(table)
    table.resize(900, 600)
    table.show()
    for _ in range(0, N - CHUNK, CHUNK):
        model.add_results(run.add(predictions(rng, CHUNK)))
    assert proxy.rowCount() == N - CHUNK

    assert timed(qtbot, lambda: table.sortByColumn(CONFIDENCE, Qt.SortOrder.DescendingOrder)) < 3.0
    shown = [float(proxy.index(row, CONFIDENCE).data()) for row in range(50)]
    assert shown == sorted(shown, reverse=True) and shown[0] >= 0.99

    # The last chunk arrives while the table is sorted: each row goes where it belongs.
    assert timed(qtbot, lambda: model.add_results(run.add(predictions(rng, CHUNK)))) < 3.0
    confidences = [proxy.result(row).prediction.confidence for row in range(N)]
    assert len(confidences) == N and confidences == sorted(confidences, reverse=True)

    assert timed(qtbot, lambda: proxy.set_filters(label="bug", search="SYNC")) < 3.0
    assert 0 < proxy.rowCount() < N // 10
    assert {proxy.index(row, LABEL).data() for row in range(proxy.rowCount())} == {LABEL_NAMES["bug"]}
    assert timed(qtbot, proxy.set_filters) < 3.0
    assert proxy.rowCount() == N
