"""The dashboard: server health, model versions and workers (with controls), session statistics, drift."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from client.core.health import ServerStatus
from client.ui.drift_view import DriftView
from client.ui.palette import alert_color, ok_color
from client.ui.services import Services
from client.ui.signals import emit
from client.ui.summary import StatsCharts
from client.ui.workers import Worker

VERSION_COLUMNS = ("Version", "Default", "Workers", "Ready", "Batch size", "Max batch delay (ms)")


class DashboardPanel(QWidget):
    refreshed = Signal(object)  # ServerStatus shown
    action_done = Signal(str)  # what the management API did

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.health = QLabel("Not checked yet.")
        self.health.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.versions = QTableWidget(0, len(VERSION_COLUMNS))
        self.versions.setHorizontalHeaderLabels(VERSION_COLUMNS)
        self.versions.horizontalHeader().setStretchLastSection(True)
        self.versions.verticalHeader().hide()
        self.versions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.versions.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.versions.itemSelectionChanged.connect(self._selection_changed)
        self.versions.setMaximumHeight(150)
        self.workers = QSpinBox()
        self.workers.setRange(1, 8)
        self.scale_button = QPushButton("Set workers")
        self.scale_button.setToolTip("Start or stop workers of the selected version (waits until they are ready)")
        self.scale_button.clicked.connect(self.scale)
        self.default_button = QPushButton("Make default")
        self.default_button.setToolTip("Serve the selected version at /predictions/feedback-classifier")
        self.default_button.clicked.connect(self.make_default)
        self.action_note = QLabel()
        self.stats = StatsCharts()
        self.verdicts = QLabel()
        self.drift = DriftView(services)

        server_box = QGroupBox("Server")
        server = QVBoxLayout(server_box)
        top = QHBoxLayout()
        top.addWidget(self.health, 1)
        top.addWidget(self.refresh_button)
        server.addLayout(top)
        server.addWidget(self.versions)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Workers for the selected version"))
        controls.addWidget(self.workers)
        controls.addWidget(self.scale_button)
        controls.addWidget(self.default_button)
        controls.addWidget(self.action_note, 1)
        server.addLayout(controls)
        stats_box = QGroupBox("This session")
        stats = QVBoxLayout(stats_box)
        stats.addWidget(self.verdicts)
        stats.addWidget(self.stats)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(stats_box)
        lower_layout.addWidget(self.drift)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(lower)
        layout = QVBoxLayout(self)
        layout.addWidget(server_box)
        layout.addWidget(scroll, 1)

        services.server_checked.connect(self.show_status)
        services.stats_changed.connect(self.show_stats)
        self._selection_changed()
        self.show_stats()

    def selected_version(self) -> str | None:
        rows = self.versions.selectionModel().selectedRows()
        return self.versions.item(rows[0].row(), 0).text() if rows else None

    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        self.services.check_server()

    def show_status(self, status: ServerStatus) -> None:
        self.refresh_button.setEnabled(True)
        selected = self.selected_version()
        self.health.setText(("● " if status.ok else "○ ") + status.message + (f". {status.hint[:1].upper()}{status.hint[1:]}" if status.hint else ""))
        self.health.setStyleSheet(f"color: {(ok_color if status.ok else alert_color)(self.palette()).name()};")
        self.versions.setRowCount(len(status.versions))
        for row, version in enumerate(status.versions):
            values = (version.version, "yes" if version.is_default else "", version.workers, version.ready_workers, version.batch_size, version.max_batch_delay)
            for column, value in enumerate(values):
                self.versions.setItem(row, column, QTableWidgetItem(str(value)))
            if version.version == selected or (selected is None and version.is_default):
                self.versions.selectRow(row)
        self._selection_changed()
        self.drift.refresh()  # the served version may have changed, and with it the reference
        emit(self.refreshed, status)

    def _selection_changed(self) -> None:
        version = self.selected_version()
        self.scale_button.setEnabled(version is not None)
        self.default_button.setEnabled(version is not None)
        if version is not None:
            rows = self.versions.selectionModel().selectedRows()
            self.workers.setValue(max(1, int(self.versions.item(rows[0].row(), 2).text())))

    def scale(self) -> None:
        version, count = self.selected_version(), self.workers.value()
        if version is not None:
            self._manage(f"v{version} now has {count} worker(s)", self.services.management().scale, count, None, version)

    def make_default(self) -> None:
        version = self.selected_version()
        if version is not None:
            self._manage(f"v{version} is now the default", self.services.management().set_default, version)

    def _manage(self, done_text: str, call: Callable[..., None], *args: object) -> None:
        self.scale_button.setEnabled(False)
        self.default_button.setEnabled(False)
        self.action_note.setText("Working…")
        worker = Worker(call, *args).on(
            returned=lambda _none: self._managed(done_text), errored=lambda exc: self._managed(f"Failed: {getattr(exc, 'message', exc)}")
        )
        self.services.start(worker)

    def _managed(self, text: str) -> None:
        self.action_note.setText(text)
        emit(self.action_done, text)
        self.refresh()

    def show_stats(self) -> None:
        stats = self.services.stats
        self.verdicts.setText(f"{stats.corrections} correction(s) and {stats.confirmations} confirmation(s) saved this session")
        self.stats.show_stats(stats)
