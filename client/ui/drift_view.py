"""The dashboard's Drift group: today's traffic against what the served model was checked on.

Shows the alerts (plain sentences), the share needing review and the mean confidence per
hour or day against the validation band, the label mix today beside the training mix, the
server's own counters, and the agents' final label against the predicted one from the
corrections store. The figures come from ``client.core.drift_sources.collect`` on a pool
thread; nothing here computes them.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from client.core.drift import DAY, HOUR, MIN_ITEMS, Confusion, Traffic
from client.core.drift_sources import WINDOWS, DriftSnapshot, collect
from client.core.labels import LABEL_NAMES, LABELS
from client.ui.charts import Bar, BarChart, Point, SeriesChart
from client.ui.palette import alert_color, label_swatch
from client.ui.services import Services
from client.ui.signals import emit
from client.ui.workers import Worker

logger = logging.getLogger(__name__)

PERIOD_CHOICES = ((HOUR, f"Per hour (last {WINDOWS[HOUR]} hours)"), (DAY, f"Per day (last {WINDOWS[DAY]} days)"))
BUCKET_FORMAT = {HOUR: "%H:00", DAY: "%b %d"}
LIVE_DELAY_MS = 2000  # new predictions or verdicts: refresh at most every 2 s while the group is shown
CORRECTED = "Corrected"


def share_bars(shares: dict[str, float]) -> list[Bar]:
    return [Bar(label, LABEL_NAMES[label], shares.get(label, 0.0), f"{shares.get(label, 0.0):.0%}") for label in LABELS]


def traffic_line(name: str, traffic: Traffic | None) -> str:
    if traffic is None or not traffic.items:
        return f"{name}: nothing classified."
    parts = [f"{traffic.items:,} classified", f"{traffic.review_share:.0%} need review"]
    if traffic.mean_confidence is not None:
        parts.insert(1, f"mean confidence {traffic.mean_confidence:.2f}")
    return f"{name}: " + ", ".join(parts) + "."


class DriftView(QGroupBox):
    refreshed = Signal(object)  # the DriftSnapshot shown

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__("Drift", parent)
        self.services = services
        self.snapshot: DriftSnapshot | None = None
        self._worker: Worker | None = None
        self.period = QComboBox()
        for period, text in PERIOD_CHOICES:
            self.period.addItem(text, period)
        self.period.setAccessibleName("Drift period")
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        self.alerts = QLabel("Not checked yet.")
        self.alerts.setWordWrap(True)
        self.alerts.setAccessibleName("Drift alerts")
        self.alerts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reference_note = QLabel()
        self.reference_note.setWordWrap(True)
        self.today = QLabel()
        self.server = QLabel()
        self.server.setWordWrap(True)
        self.review_chart = SeriesChart("Share needing review over time", above=True)
        self.confidence_chart = SeriesChart("Mean confidence over time", above=False)
        self.mix_today = BarChart("Label mix today")
        self.mix_training = BarChart("Label mix in training")
        self.confusion = QTableWidget(len(LABELS), len(LABELS) + 1)
        self.confusion.setAccessibleName("Predicted label against the agents' final label")
        self.confusion.setHorizontalHeaderLabels([LABEL_NAMES[label] for label in LABELS] + [CORRECTED])
        self.confusion.setVerticalHeaderLabels([LABEL_NAMES[label] for label in LABELS])
        for i, label in enumerate(LABELS):
            self.confusion.horizontalHeaderItem(i).setIcon(label_swatch(label))
            self.confusion.verticalHeaderItem(i).setIcon(label_swatch(label))
        self.confusion.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion.setToolTip("Rows: the model's label. Columns: the label agents kept. Off the diagonal: corrections.")
        self.worst = QLabel()
        self.worst.setWordWrap(True)
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_DELAY_MS)
        self._live.timeout.connect(self.refresh)

        top = QHBoxLayout()
        top.addWidget(self.period)
        top.addWidget(self.reference_note, 1)
        charts = QGridLayout()
        for column, (title, chart) in enumerate((("Share needing review", self.review_chart), ("Mean confidence", self.confidence_chart))):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(chart)
            charts.addWidget(box, 0, column)
        for column, (title, chart) in enumerate((("Label mix today", self.mix_today), ("Label mix in training", self.mix_training))):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(chart)
            charts.addWidget(box, 1, column)
        confusion_box = QGroupBox("Predicted label against the agents' final label (corrections store)")
        confusion_layout = QVBoxLayout(confusion_box)
        confusion_layout.addWidget(self.worst)
        confusion_layout.addWidget(self.confusion)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.alerts)
        layout.addWidget(self.today)
        layout.addWidget(self.server)
        layout.addLayout(charts)
        layout.addWidget(confusion_box)

        services.stats_changed.connect(self.refresh_soon)
        services.corrections.saved.connect(self.refresh_soon)
        services.corrections.undone.connect(self.refresh_soon)

    # ------------------------------------------------------------------ gathering

    def refresh(self) -> Worker | None:
        """Gather the figures on a pool thread; one gathering at a time (a newer request waits for the next tick)."""
        if self._worker is not None:
            self.refresh_soon()
            return None
        status = self.services.last_status
        default = next((v for v in status.versions if v.is_default), None) if status is not None else None
        worker = Worker(
            collect, self.services.history, self.period.currentData(), self.services.settings.key_file,
            default.url if default is not None else None, self.services.corrections.path,
        )
        self._worker = worker.on(returned=self.show_snapshot, errored=self._failed)
        return self.services.start(worker)

    @property
    def gathering(self) -> bool:
        """True while figures are being gathered on the pool."""
        return self._worker is not None

    def refresh_soon(self, *_args: object) -> None:
        if self.isVisible() and not self._live.isActive():
            self._live.start()

    def showEvent(self, event: QEvent) -> None:
        super().showEvent(event)
        self.refresh_soon()

    def _failed(self, exc: object) -> None:
        self._worker = None
        self.alerts.setText(f"Drift figures unavailable: {getattr(exc, 'message', exc)}")
        logger.warning("drift figures unavailable: %s", exc)

    # ------------------------------------------------------------------ showing

    def show_snapshot(self, snap: DriftSnapshot) -> None:
        self._worker = None
        self.snapshot = snap
        self.reference_note.setText(snap.reference_note)
        self._show_alerts(snap)
        self.today.setText(traffic_line("Today", snap.today))
        self._show_server(snap)
        fmt = BUCKET_FORMAT[snap.period]
        ref = snap.reference
        self.review_chart.set_series(
            [Point(b.start.strftime(fmt), b.review_share or 0.0, f"{b.review_share:.0%} of {b.items}") for b in snap.series],
            band=(ref.review_share, ref.review_share) if ref else None, limit=ref.review_limit if ref else None,
        )
        self.confidence_chart.set_series(
            [Point(b.start.strftime(fmt), b.mean_confidence or 0.0, f"{b.mean_confidence:.2f} over {b.items}") for b in snap.series],
            band=(ref.confidence_low, ref.confidence_high) if ref else None, limit=ref.confidence_floor if ref else None,
        )
        self.mix_today.set_bars(share_bars(snap.today.label_share), maximum=1.0)
        self.mix_training.set_bars(share_bars(ref.label_share) if ref else [], maximum=1.0)
        self._show_confusion(snap.confusion)
        emit(self.refreshed, snap)

    def _show_alerts(self, snap: DriftSnapshot) -> None:
        if snap.alerts:
            text = "\n".join(f"⚠ {alert.message}" for alert in snap.alerts)
            self.alerts.setStyleSheet(f"color: {alert_color(self.palette()).name()}; font-weight: bold;")
        else:
            self.alerts.setStyleSheet("")
            if snap.reference is None:
                text = "No drift check: there is no reference to compare with (see beside)."
            elif snap.today.items < MIN_ITEMS:
                text = f"No drift alert: {snap.today.items} of the {MIN_ITEMS} items needed today to judge."
            else:
                text = "No drift: today's traffic is within the range seen on validation."
        self.alerts.setText(text)
        self.alerts.setAccessibleDescription(text)

    def _show_server(self, snap: DriftSnapshot) -> None:
        if snap.server is None:
            self.server.setText(snap.server_note)
        else:
            line = traffic_line("Server since it started (all clients)", snap.server)
            self.server.setText("\n".join([line, *(f"⚠ {alert.message}" for alert in snap.server_alerts)]))
        self.server.setStyleSheet(f"color: {alert_color(self.palette()).name()};" if snap.server_alerts else "")

    def _show_confusion(self, table: Confusion) -> None:
        bold = QFont(self.confusion.font())
        bold.setBold(True)
        for row, predicted in enumerate(LABELS):
            for column, final in enumerate(LABELS):
                count = table.counts[predicted][final]
                item = QTableWidgetItem(str(count) if count else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if count and predicted != final:
                    item.setFont(bold)
                self.confusion.setItem(row, column, item)
            rate = table.error_rate(predicted)
            item = QTableWidgetItem(f"{rate:.0%} of {table.total(predicted)}" if rate is not None else "")
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.confusion.setItem(row, len(LABELS), item)
        worst = table.worst()
        self.worst.setText(
            "Most corrected: " + "; ".join(f"{LABEL_NAMES[p]} → {LABEL_NAMES[f]} ({n})" for p, f, n in worst)
            if worst else "No corrections with a predicted label yet."
        )
