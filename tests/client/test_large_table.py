"""100,000 results: header sorts, filters and new chunks stay correct (no server needed; speed: scripts/bench_table.py)."""

from __future__ import annotations

import random
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


def big_table(rows: int = N, seed: int = 7):
    """A shown results table fed ``rows - CHUNK`` results in chunks, as a batch run feeds it.

    Returns the run, the model, the filter proxy, the view and the random source that made
    the predictions (for the last chunk). ``scripts/bench_table.py`` times the same table.
    """
    rng = random.Random(seed)
    texts = [Row(i + 2, f"feedback number {i} about {'sync' if i % 10 == 0 else 'billing'}", f"T{i}", {}) for i in range(rows)]
    run = BatchRun(Path("big.csv"), ReadResult(texts, [], ["text"], "text", None), 0.3)
    model = ResultsTableModel()
    proxy = ResultsFilter()
    proxy.setSourceModel(model)
    table = ResultsTable(proxy)
    table.resize(900, 600)
    table.show()
    for _ in range(0, rows - CHUNK, CHUNK):
        model.add_results(run.add(predictions(rng, CHUNK)))
    return run, model, proxy, table, rng


def test_sorting_and_filtering_100k_rows_keeps_every_row_in_order(qtbot) -> None:
    """Behaviour only; how long each step takes is measured by scripts/bench_table.py."""
    run, model, proxy, table, rng = big_table()
    qtbot.addWidget(table)
    assert proxy.rowCount() == N - CHUNK

    table.sortByColumn(CONFIDENCE, Qt.SortOrder.DescendingOrder)
    qtbot.wait(1)  # let the view process what the model announced
    shown = [float(proxy.index(row, CONFIDENCE).data()) for row in range(50)]
    assert shown == sorted(shown, reverse=True) and shown[0] >= 0.99

    # The last chunk arrives while the table is sorted: each row goes where it belongs.
    model.add_results(run.add(predictions(rng, CHUNK)))
    qtbot.wait(1)
    confidences = [proxy.result(row).prediction.confidence for row in range(N)]
    assert len(confidences) == N and confidences == sorted(confidences, reverse=True)

    proxy.set_filters(label="bug", search="SYNC")
    assert 0 < proxy.rowCount() < N // 10
    assert {proxy.index(row, LABEL).data() for row in range(proxy.rowCount())} == {LABEL_NAMES["bug"]}
    assert all("sync" in proxy.result(row).row.text for row in range(proxy.rowCount()))
    proxy.set_filters()
    assert proxy.rowCount() == N
