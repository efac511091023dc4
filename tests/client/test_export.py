"""Export round-trip: the original columns plus label, confidence, every score and the agent's label."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import open_and_run
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from client.ui.results_model import AGENT, CONFIDENCE
from client.ui.signals import emit
from client.core.labels import LABELS
REPO_ROOT = Path(__file__).resolve().parents[2]
from client.core.records import read_records

pytestmark = pytest.mark.server
SAMPLE = REPO_ROOT / "samples" / "support_export.csv"
ORIGINAL = ["ticket_id", "created_at", "channel", "customer_tier", "product_area", "message"]


def test_export_to_csv_and_jsonl_reads_back_with_what_the_table_shows(qtbot, window, tmp_path: Path) -> None:
    open_and_run(qtbot, window, SAMPLE)
    controller, model = window.batch_controller, window.batch_controller.model
    window.batch.table.sortByColumn(CONFIDENCE, Qt.SortOrder.DescendingOrder)
    first = controller.filtered.result(0)  # the most confident row, now at the top
    other = next(label for label in LABELS if label != first.prediction.label)
    window.batch.tabs.setCurrentIndex(1)
    window.batch.table.edit(controller.filtered.index(0, AGENT))  # what a double-click on "Agent label" does
    combo = window.batch.table.viewport().findChild(QComboBox)
    with qtbot.waitSignal(window.services.corrections.saved, timeout=10000):
        combo.setCurrentIndex(combo.findData(other))
        emit(combo.activated, combo.currentIndex())
    assert first.reviewed_label == other

    original = read_records(SAMPLE)
    in_file_order = sorted(controller.run.results, key=lambda r: r.row.line)  # answers arrived shortest first
    for name in ("results.csv", "results.jsonl"):
        with qtbot.waitSignal(controller.exported, timeout=20000):
            controller.export(tmp_path / name)
        back = read_records(tmp_path / name, text_column="message")
        assert back.errors == [] and len(back.rows) == 36
        assert back.columns[: len(ORIGINAL)] == ORIGINAL
        assert {"label", "confidence", "needs_review", "model_version", "reviewed_label", *(f"score_{label}" for label in LABELS)} <= set(back.columns)
        for i, (row, source) in enumerate(zip(back.rows, original.rows)):
            assert {k: str(row.fields[k]) for k in ORIGINAL} == {k: str(source.fields[k]) for k in ORIGINAL}
            result = in_file_order[i]
            assert row.fields["label"] == result.prediction.label
            # The file keeps 4 decimals and the table shows 2, both of the same answer (rounding
            # the file's 0.7050 again would give 0.70 where the table shows 0.71 for 0.70503).
            assert float(row.fields["confidence"]) == pytest.approx(result.prediction.confidence, abs=5e-5)
            assert model.index(model.locate(result), CONFIDENCE).data() == f"{result.prediction.confidence:.2f}"
            assert sum(float(row.fields[f"score_{label}"]) for label in LABELS) == pytest.approx(1.0, abs=1e-3)
        reviewed = {row.fields["ticket_id"]: row.fields["reviewed_label"] for row in back.rows}
        assert reviewed.pop(first.row.id) == other and set(reviewed.values()) == {""}
    assert window.batch.note.text().startswith("Exported to")
    assert not controller.has_unexported_results()
