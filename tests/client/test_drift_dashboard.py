"""The dashboard's Drift group on the real window and the real session server: shifted traffic
(customers writing in other languages) sent through the batch raises the alert; history
survives a restart; the label mix, the per-day series and the server's Prometheus counters
show; predicted-vs-final fills from a real corrections store; a remote key has no reference.

Each test has its own traffic history (``FEEDBACK_TRAFFIC_DB``) and corrections store. The
window uses the session server's own key file (read, never changed): the instance beside it
is how the app finds the served archive's model card.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from drive import classify, open_and_run
from PySide6.QtCore import Qt

from client.core.corrections import Correction, CorrectionsStore
from client.core.drift import MIN_ITEMS, Seen
from client.core.labels import LABEL_NAMES, LABELS
from client.core.traffic_history import TrafficHistory
from client.ui.palette import alert_color

pytestmark = pytest.mark.server
NON_ENGLISH = Path(__file__).parents[1] / "handler" / "data" / "non_english.jsonl"


@pytest.fixture
def open_window(make_window, server, history_db: Path):
    """A window on the session server with its real key file (the instance beside it names the model store)."""
    urls = server["urls"]
    return lambda **settings: make_window(urls["inference"], urls["management"], Path(server["key_file"]), **settings)


def show_drift(qtbot, window):
    """Open the dashboard, press Refresh, wait for the drift figures."""
    dashboard = window.dashboard
    window.tabs.setCurrentWidget(dashboard)
    qtbot.waitUntil(lambda: not dashboard.drift.gathering, timeout=30000)  # figures asked for now, not earlier
    with qtbot.waitSignal(dashboard.drift.refreshed, timeout=30000) as shown:
        qtbot.mouseClick(dashboard.refresh_button, Qt.MouseButton.LeftButton)
    return dashboard.drift, shown.args[0]


def seen_now(labels: list[str], confidence: float, flagged: int, ago: float = 60.0) -> list[Seen]:
    """Items seen ``ago`` seconds back; under a day back, never before local midnight (just
    after midnight they would fall on yesterday and "today" would be empty)."""
    if ago < 86400:
        local = datetime.now().astimezone()
        ago = min(ago, (local - local.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 2)
    now = time.time() - ago
    return [Seen(now + i * 0.001, label, confidence, i < flagged, "1") for i, label in enumerate(labels)]


def spread(count: int) -> list[str]:
    return [LABELS[i % len(LABELS)] for i in range(count)]


def test_shifted_traffic_through_the_batch_raises_the_review_alert(qtbot, open_window, tmp_path: Path) -> None:
    texts = [json.loads(line)["text"] for line in NON_ENGLISH.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [f"{texts[i % len(texts)]} (#{i})" for i in range(MIN_ITEMS + 10)]
    path = tmp_path / "other-languages.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([["message"], *([text] for text in rows)])
    window = open_window()
    drift, _ = show_drift(qtbot, window)
    assert not drift.alerts.text().startswith("⚠")  # a fresh history: nothing to judge yet

    open_and_run(qtbot, window, path)
    drift, snap = show_drift(qtbot, window)
    assert snap.today.items == len(rows) and snap.today.review_share >= snap.reference.review_limit
    assert drift.alerts.accessibleName() == "Drift alerts" and drift.alerts.isVisible()
    first = drift.alerts.text().splitlines()[0]
    assert first.startswith("⚠ Share needing review ") and "today" in first and f"the {snap.reference.review_share:.0%} seen on validation" in first
    assert alert_color(drift.palette()).name() in drift.alerts.styleSheet()
    assert "(past the alert limit)" in drift.review_chart.accessibleDescription()
    assert drift.reference_note.text().startswith("Compared with model v1, validation split")


def test_traffic_like_validation_shows_no_alert_and_the_reference_band(qtbot, open_window, history_db: Path) -> None:
    TrafficHistory(history_db).record(seen_now(spread(MIN_ITEMS + 10), 0.85, flagged=4))
    window = open_window()
    drift, snap = show_drift(qtbot, window)
    assert snap.alerts == [] and drift.alerts.text() == "No drift: today's traffic is within the range seen on validation."
    ref = snap.reference
    assert f"validation band {ref.confidence_low:.2f} to {ref.confidence_high:.2f}" in drift.confidence_chart.accessibleDescription()
    assert drift.today.text() == f"Today: {MIN_ITEMS + 10} classified, mean confidence 0.85, 10% need review."


def test_label_mix_shift_alerts_and_the_charts_show_today_beside_training(qtbot, open_window, history_db: Path) -> None:
    TrafficHistory(history_db).record(seen_now(["bug"] * MIN_ITEMS, 0.9, flagged=0))
    window = open_window()
    drift, snap = show_drift(qtbot, window)
    assert [a.kind for a in snap.alerts] == ["labels"]
    assert "'bug' is 100% of the traffic" in drift.alerts.text()
    today = {bar.key: bar.text for bar in drift.mix_today.bars()}
    training = {bar.key: bar.value for bar in drift.mix_training.bars()}
    assert today["bug"] == "100%" and today["praise"] == "0%"
    assert sum(training.values()) == pytest.approx(1.0) and training == pytest.approx(snap.reference.label_share)
    assert drift.mix_today.accessibleName() == "Label mix today" and f"{LABEL_NAMES['bug']} 100%" in drift.mix_today.accessibleDescription()


def test_history_survives_a_restart_of_the_app(qtbot, open_window, history_db: Path) -> None:
    first = open_window()
    prediction = classify(qtbot, first, "The export button crashes the app every time since the update")
    first.shutdown()
    [kept] = TrafficHistory(history_db).since(0)
    assert (kept.label, kept.confidence, kept.needs_review) == (prediction.label, prediction.confidence, prediction.needs_review)

    second = open_window()
    drift, snap = show_drift(qtbot, second)
    assert snap.today.items == 1 and drift.today.text().startswith("Today: 1 classified")
    assert drift.alerts.text() == f"No drift alert: 1 of the {MIN_ITEMS} items needed today to judge."


def test_per_day_view_shows_one_bar_per_day(qtbot, open_window, history_db: Path) -> None:
    history = TrafficHistory(history_db)
    history.record(seen_now(spread(16), 0.8, flagged=2, ago=3 * 86400))
    history.record(seen_now(spread(8), 0.7, flagged=4))
    window = open_window()
    drift, _ = show_drift(qtbot, window)
    drift.period.setFocus()
    with qtbot.waitSignal(drift.refreshed, timeout=30000, check_params_cb=lambda snap: snap.period == "day") as shown:
        qtbot.keyClick(drift.period, Qt.Key.Key_Down)
    assert shown.args[0].period == "day" and drift.period.currentText().startswith("Per day")
    assert [p.text for p in drift.review_chart.points()] == ["12% of 16", "50% of 8"]
    assert drift.review_chart.accessibleName() == "Share needing review over time"


def test_predicted_vs_final_fills_from_the_corrections_store_and_a_new_correction(qtbot, open_window, corrections_db: Path) -> None:
    store = CorrectionsStore(corrections_db)
    store.add_many([Correction("a", "complaint", "bug"), Correction("b", "complaint", "bug"), Correction("c", "bug", "bug", "confirmation")])
    window = open_window()
    drift, _ = show_drift(qtbot, window)
    bug, complaint = LABELS.index("bug"), LABELS.index("complaint")
    assert drift.confusion.item(bug, complaint).text() == "2" and drift.confusion.item(bug, bug).text() == "1"
    assert drift.confusion.item(bug, len(LABELS)).text() == "67% of 3"
    assert drift.worst.text() == f"Most corrected: {LABEL_NAMES['bug']} → {LABEL_NAMES['complaint']} (2)"

    window.tabs.setCurrentWidget(window.single)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    prediction = classify(qtbot, window, "How do I reset my password?")
    other = next(i for i, label in enumerate(LABELS) if label not in (prediction.label, "complaint"))
    panel = window.single
    qtbot.waitUntil(panel.confirm_button.hasFocus)
    with qtbot.waitSignal(panel.verdict_saved, timeout=10000):
        qtbot.keyClick(panel.confirm_button, Qt.Key(Qt.Key.Key_1.value + other))
    drift, snap = show_drift(qtbot, window)
    assert snap.confusion.counts[prediction.label][LABELS[other]] >= 1
    assert drift.confusion.item(LABELS.index(prediction.label), other).text() == str(snap.confusion.counts[prediction.label][LABELS[other]])


def test_server_counters_come_from_prometheus(qtbot, open_window) -> None:
    window = open_window()
    classify(qtbot, window, "Please add a dark mode to the mobile app")
    drift, snap = show_drift(qtbot, window)
    deadline = time.monotonic() + 30  # TorchServe counts from the workers' log lines, a moment after the answer
    while snap.server is None and time.monotonic() < deadline:
        drift, snap = show_drift(qtbot, window)
    assert snap.server is not None and snap.server.items >= 1 and snap.server.mean_confidence is None
    assert drift.server.text().startswith(f"Server since it started (all clients): {snap.server.items:,} classified, ")
    assert all(f"⚠ {alert.message}" in drift.server.text() for alert in snap.server_alerts)  # other tests' traffic may have shifted it


def test_a_remote_key_has_no_reference_and_no_alert(qtbot, make_window, server, key_file: Path, history_db: Path) -> None:
    TrafficHistory(history_db).record(seen_now(["bug"] * (MIN_ITEMS + 5), 0.3, flagged=MIN_ITEMS))
    urls = server["urls"]
    window = make_window(urls["inference"], urls["management"], key_file)  # a copy: no instance.json beside it
    drift, snap = show_drift(qtbot, window)
    assert snap.reference is None and snap.alerts == [] and snap.today.items == MIN_ITEMS + 5
    assert "only readable for a server started on this machine" in drift.reference_note.text()
    assert drift.alerts.text().startswith("No drift check") and drift.mix_training.bars() == []
