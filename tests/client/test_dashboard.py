"""Dashboard: health, versions and workers from the management API, its controls, session statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
from drive import classify
from PySide6.QtCore import Qt

from client.core.api import ManagementClient
from training.registry import archive_name

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


@pytest.fixture
def second_version(server, model_store: Path, tiny_model, as_version, tmp_path: Path):
    """v2 (the tiny model's weights, one worker) registered beside the default v1; afterwards
    the session server and store are as they were: v1 alone and the default."""
    from training.archive import build_archive
    from training.config import ArchiveConfig

    client = ManagementClient(server["urls"]["management"], Path(server["key_file"]))
    assert client.default_version() == "1"
    v2 = as_version(tiny_model.out_dir, tmp_path / "v2", 2)
    build_archive(ArchiveConfig(model=v2, model_store=model_store, archive_format="zip-store", workers=1))
    try:
        client.register(archive_name(2))
        yield client
    finally:
        client.set_default("1")
        if "2" in {v.version for v in client.versions()}:
            client.unregister("2")
        (model_store / archive_name(2)).unlink(missing_ok=True)


def test_make_default_serves_the_selected_version(qtbot, window, second_version) -> None:
    dashboard = window.dashboard
    window.tabs.setCurrentWidget(dashboard)
    with qtbot.waitSignal(dashboard.refreshed, timeout=20000):
        qtbot.mouseClick(dashboard.refresh_button, Qt.MouseButton.LeftButton)
    assert default_row(dashboard)[0] == "1" and dashboard.selected_version() == "1"

    table = dashboard.versions
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "2")
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(row, 0)).center())
    assert dashboard.selected_version() == "2"
    with qtbot.waitSignal(dashboard.refreshed, timeout=60000):
        qtbot.mouseClick(dashboard.default_button, Qt.MouseButton.LeftButton)
    assert dashboard.action_note.text() == "v2 is now the default"
    assert second_version.default_version() == "2"
    assert default_row(dashboard)[0] == "2"


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
