"""The Retrain tab runs the real `feedback retrain` in its own process and shows its report."""

from __future__ import annotations

import pytest

import json
import shutil
from pathlib import Path

from client.ui.retrain_panel import outcome_text, report_path
from client.core.corrections import Correction, CorrectionsStore

TINY = ["--epochs", "1", "--max-length", "32", "--max-train-items", "64", "--f1-tolerance", "100", "--recall-drop", "100"]


@pytest.mark.slow
def test_dry_run_streams_the_log_shows_the_report_and_refreshes_the_dashboard(qtbot, window, tiny_model, corrections_db: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_model.out_dir, models / "v1")
    store = CorrectionsStore(corrections_db)
    for text, label in [("The export button greys out after the update", "bug"), ("Please add a weekly digest email", "feature_request")]:
        store.add(Correction(text, label, "other", "correction", 0.4, "1", agent="test", source="single"))
    window.services.corrections.refresh()
    panel = window.retrain
    qtbot.waitUntil(lambda: panel.pending.text() == "Pending corrections: 2", timeout=10000)
    panel.extra_args = ["--models-dir", str(models), "--model-store", str(tmp_path / "store"), "--state-dir", str(tmp_path / "no-server"), *TINY]
    panel.dry_run.setChecked(True)
    with qtbot.waitSignal(window.dashboard.refreshed, timeout=300000):
        with qtbot.waitSignal(panel.finished, timeout=300000) as done:
            panel.start_button.click()
            assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    assert done.args == [0]
    assert "retraining from v1 with 2 corrections" in panel.log.toPlainText()
    assert panel.outcome.text().startswith("Dry run: v2 would be promoted")
    assert "Retrain v1 -> v2" in panel.report.toPlainText()
    assert not (models / "v2").exists() and store.pending_count() == 2
    assert panel.start_button.isEnabled()


def test_outcome_and_report_path_for_each_ending(tmp_path: Path) -> None:
    summary = {"new_version": 4, "decision": {"promote": True}, "paths": {"markdown": str(tmp_path / "r.md")}}
    assert outcome_text(0, False, summary) == "Promoted: v4 is now the default version."
    assert outcome_text(3, False, None).startswith("Not promoted")
    assert outcome_text(1, False, None) == "Retraining failed (exit code 1); see the log above."
    assert report_path(json.dumps(summary), "") == tmp_path / "r.md"
    refused = "error: v4 was not promoted: ...\nhint: nothing changed; see /x/reports/retrain-v4-1.md\n"
    assert report_path("", refused) == Path("/x/reports/retrain-v4-1.md")
