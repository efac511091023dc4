"""Verdicts land in the local retraining store at once, are read back by retraining, and can be undone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from drive import classify
from PySide6.QtCore import QItemSelectionModel, Qt

from client.core.labels import LABEL_NAMES
from client.core.corrections import Correction, CorrectionsStore, read_corrections
from client.ui.corrections_service import CorrectionsService

pytestmark = pytest.mark.server
TEXT = "It would be great if I could export my notes as PDF"


def test_one_click_correction_is_saved_and_read_back_by_retraining(qtbot, window, corrections_db: Path) -> None:
    prediction = classify(qtbot, window, TEXT)
    panel = window.single
    target = next(action for action in panel.correct_menu.actions())
    with qtbot.waitSignal(panel.verdict_saved, timeout=10000):
        target.trigger()
    [saved] = read_corrections(corrections_db)
    assert saved.text == TEXT and saved.kind == "correction"
    assert saved.predicted_label == prediction.label and LABEL_NAMES[saved.final_label] == target.text()
    assert saved.confidence == pytest.approx(prediction.confidence) and saved.model_version == prediction.model_version
    assert saved.source == "single" and saved.agent == window.services.settings.agent and saved.consumed_by is None
    assert panel.saved_note.text().startswith(f"Corrected to {target.text()}")
    qtbot.waitUntil(lambda: window.pending.text() == "1 correction(s) not yet used for training")
    assert window.dashboard.verdicts.text().startswith("1 correction(s) and 0 confirmation(s)")

    with qtbot.waitSignal(panel.verdict_saved, timeout=10000):
        panel.confirm_button.click()
    [confirmed] = read_corrections(corrections_db)
    assert confirmed.kind == "confirmation" and confirmed.final_label == prediction.label
    assert window.dashboard.verdicts.text().startswith("0 correction(s) and 1 confirmation(s)")


def test_undo_in_the_corrections_view_removes_it_from_the_store(qtbot, window, corrections_db: Path) -> None:
    classify(qtbot, window, TEXT)
    with qtbot.waitSignal(window.single.verdict_saved, timeout=10000):
        window.single.confirm_button.click()
    view = window.corrections
    qtbot.waitUntil(lambda: view.model.rowCount() == 1)
    assert view.model.index(0, 4).data() == "confirmation" and view.model.index(0, 9).data() == "not yet"
    view.table.selectionModel().select(view.model.index(0, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    assert view.undo_button.isEnabled()
    with qtbot.waitSignal(window.services.corrections.undone, timeout=10000):
        qtbot.mouseClick(view.undo_button, Qt.MouseButton.LeftButton)
    assert read_corrections(corrections_db) == []
    qtbot.waitUntil(lambda: view.model.rowCount() == 0 and window.pending.text().startswith("0 correction(s)"))
    assert view.note.text().startswith("Undone: confirmation")


def test_two_quick_verdicts_on_one_item_leave_only_the_last_in_the_store(qtbot, corrections_db: Path) -> None:
    service = CorrectionsService(corrections_db)
    first = CorrectionsStore(corrections_db).add(Correction("the export hangs", "question", "question", "confirmation"))
    earlier = replace(CorrectionsStore(corrections_db).all()[0], id=first)
    # Both name the earlier verdict: the second is given before the first is saved (one writer thread, in order).
    with qtbot.waitSignals([service.saved, service.saved], timeout=10000):
        service.save(Correction("the export hangs", "bug", "question"), replaces=earlier)
        service.save(Correction("the export hangs", "complaint", "question"), replaces=earlier)
    assert [c.final_label for c in CorrectionsStore(corrections_db).all()] == ["complaint"]
    service.pool.shutdown()
