"""The main window: the banner, five tabs, the status bar, the menus, and the wiring between them."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from client.ui.banner import Banner
from client.ui.batch_panel import BatchPanel
from client.ui.batch_controller import INTERRUPTED, RUNNING, BatchController
from client.ui.corrections_view import CorrectionsPanel
from client.ui.retrain_panel import RetrainPanel
from client.ui.dashboard_panel import DashboardPanel
from client.core.health import ServerStatus
from client.core.logfile import log_file_path
from client.ui.logs_view import LogsPanel, RequestLogModel
from client.ui.services import Services
from client.ui.settings_dialog import SettingsDialog
from client.ui.single_panel import SinglePanel
from client.core import paths

logger = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, qsettings: QSettings, store_path: Path | None = None, log_file: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Feedback Analyzer")
        self.services = Services(qsettings, store_path or paths.corrections_db_path(), self)
        self.request_log = RequestLogModel(self)
        self.services.request_logged.connect(self.request_log.add)
        self.batch_controller = BatchController(self.services, self)
        self._close_confirmed = False

        self.banner = Banner()
        self.single = SinglePanel(self.services)
        self.batch = BatchPanel(self.batch_controller)
        self.corrections = CorrectionsPanel(self.services.corrections)
        self.dashboard = DashboardPanel(self.services)
        self.logs = LogsPanel(self.request_log, str(log_file or log_file_path()))
        self.retrain = RetrainPanel(store_path or paths.corrections_db_path())
        self.tabs = QTabWidget()
        for widget, title in (
            (self.single, "Classify"),
            (self.batch, "Batch"),
            (self.corrections, "Corrections"),
            (self.dashboard, "Dashboard"),
            (self.retrain, "Retrain"),
            (self.logs, "Logs"),
        ):
            self.tabs.addTab(widget, title)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.server_state = QLabel("Server: checking…")
        self.pending = QLabel("Corrections: …")
        self.statusBar().addPermanentWidget(self.server_state)
        self.statusBar().addPermanentWidget(self.pending)
        self._build_menus()

        self.services.server_checked.connect(self._server_checked)
        self.services.server_failed.connect(self._server_failed)
        self.services.settings_changed.connect(self.services.check_server)
        self.services.corrections.pending_changed.connect(self._pending_changed)
        self.services.corrections.pending_changed.connect(self.retrain.set_pending)
        self.retrain.finished.connect(self._retrained)
        self.services.corrections.failed.connect(lambda exc: self._problem(exc, retry=False))
        self.banner.retry_clicked.connect(self.services.check_server)
        self.banner.resume_clicked.connect(self._resume)
        self.batch_controller.state_changed.connect(self._batch_state)

        geometry = qsettings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 760)
        self.services.check_server()
        self.services.corrections.refresh()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, keys, slot in (
            ("&Open feedback file…", QKeySequence.StandardKey.Open, self._open_file),
            ("&Export results…", QKeySequence("Ctrl+E"), self.batch.ask_export),
            ("&Settings…", QKeySequence("Ctrl+,"), self.open_settings),
            ("&Quit", QKeySequence.StandardKey.Quit, self.close),
        ):
            action = QAction(text, self)
            action.setShortcut(keys)
            action.triggered.connect(slot)
            file_menu.addAction(action)

    def _open_file(self) -> None:
        self.tabs.setCurrentWidget(self.batch)
        self.batch.ask_open()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.services.settings, self)
        if dialog.exec() and dialog.result_settings is not None:
            self.services.apply_settings(dialog.result_settings)

    # ------------------------------------------------------------------ server state and problems

    def _server_checked(self, status: ServerStatus) -> None:
        self.server_state.setText(f"Server: model v{status.default_version} ready" if status.ok else "Server: not usable")
        if status.ok:
            self.banner.hide()
        else:
            self._problem(status, retry=True)

    def _server_failed(self, exc: object) -> None:
        self.server_state.setText("Server: not usable")
        self._problem(exc, retry=True)

    def _problem(self, problem: object, retry: bool) -> None:
        message = getattr(problem, "message", str(problem))
        hint = getattr(problem, "hint", "")
        logger.warning("banner: %s", message)
        self.banner.show_problem(message, hint, retry=retry, resume=self.batch_controller.state == INTERRUPTED)

    def _resume(self) -> None:
        self.banner.hide()
        self.batch_controller.resume()

    def _batch_state(self, state: str) -> None:
        self.banner.resume.setVisible(state == INTERRUPTED and self.banner.isVisible())
        if state == RUNNING and self.banner.isVisible():
            self.banner.hide()

    def _retrained(self, _exit_code: int) -> None:
        """A retrain may have promoted a version and consumed corrections: show both."""
        self.dashboard.refresh()
        self.services.corrections.refresh()

    def _pending_changed(self, count: int) -> None:
        self.pending.setText(f"{count} correction(s) not yet used for training")

    # ------------------------------------------------------------------ closing

    def shutdown(self) -> None:
        """Stop background work; afterwards the window closes without asking."""
        self._close_confirmed = True
        self.batch_controller.cancel()
        self.retrain.stop()
        if not self.services.shutdown():
            logger.warning("background work did not stop in time")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask before dropping batch results that were never exported (corrections are saved already)."""
        if self._close_confirmed or not self.batch_controller.has_unexported_results():
            self.services.qsettings.setValue("window/geometry", self.saveGeometry())
            self.shutdown()
            event.accept()
            return
        event.ignore()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Close Feedback Analyzer?",
            "The batch results are not exported and will be lost. Corrections are already saved.\nClose anyway?",
            QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.buttonClicked.connect(lambda button: self._close_answered(box.standardButton(button) == QMessageBox.StandardButton.Close))
        box.open()

    def _close_answered(self, close: bool) -> None:
        if close:
            self._close_confirmed = True
            self.close()
