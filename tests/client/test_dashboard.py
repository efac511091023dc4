"""Dashboard: health, versions and workers from the management API, its controls, session statistics."""

from __future__ import annotations

import pytest
from drive import classify
from PySide6.QtCore import Qt

pytestmark = pytest.mark.server


def default_row(dashboard) -> list[str]:
    """The default version's cells (other tests may have registered more versions)."""
    table = dashboard.versions
    rows = [[table.item(row, column).text() for column in range(table.columnCount())] for row in range(table.rowCount())]
    return next(row for row in rows if row[1] == "yes")


def test_dashboard_shows_versions_and_workers_and_scales_them(qtbot, window) -> None:
    dashboard = window.dashboard
    window.tabs.setCurrentWidget(dashboard)
    with qtbot.waitSignal(dashboard.refreshed, timeout=20000):
        qtbot.mouseClick(dashboard.refresh_button, Qt.MouseButton.LeftButton)
    assert dashboard.health.text().startswith("● TorchServe at ")
    version, _default, workers, ready = default_row(dashboard)[:4]
    assert int(ready) >= 1 and dashboard.selected_version() == version
    assert dashboard.workers.value() == int(workers)

    try:
        dashboard.workers.setValue(1 if int(workers) > 1 else 2)
        wanted = dashboard.workers.value()
        with qtbot.waitSignal(dashboard.refreshed, timeout=60000):
            qtbot.mouseClick(dashboard.scale_button, Qt.MouseButton.LeftButton)
        assert dashboard.action_note.text() == f"v{version} now has {wanted} worker(s)"
        assert default_row(dashboard)[2:4] == [str(wanted), str(wanted)]
    finally:
        dashboard.workers.setValue(int(workers))
        with qtbot.waitSignal(dashboard.refreshed, timeout=60000):
            qtbot.mouseClick(dashboard.scale_button, Qt.MouseButton.LeftButton)
    assert default_row(dashboard)[2] == workers

    with qtbot.waitSignal(dashboard.refreshed, timeout=20000):
        qtbot.mouseClick(dashboard.default_button, Qt.MouseButton.LeftButton)
    assert dashboard.action_note.text() == f"v{version} is now the default"


def test_session_statistics_count_items_labels_confidence_and_review(qtbot, window) -> None:
    first = classify(qtbot, window, "Please add a dark mode to the mobile app")
    second = classify(qtbot, window, "The invoice page shows someone else's address")
    stats = window.dashboard.stats
    mean = (first.confidence + second.confidence) / 2
    assert stats.totals.text().startswith(f"2 classified  ·  mean confidence {mean:.2f}  ·  ")
    counts = {bar.key: bar.value for bar in stats.labels.bars()}
    assert sum(counts.values()) == 2 and counts[first.label] >= 1 and counts[second.label] >= 1
    assert sum(stats.histogram.counts()) == 2
    assert window.dashboard.verdicts.text() == "0 correction(s) and 0 confirmation(s) saved this session"
