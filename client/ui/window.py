"""The main window: the banner, five tabs, the status bar, the menus, and the wiring between them."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from client.ui.about import AboutDialog, about_rows
from client.ui.banner import Banner
from client.ui.batch_panel import BatchPanel
from client.ui.batch_controller import CANCELLED, FINISHED, INTERRUPTED, RUNNING, BatchController
from client.ui.notify import Notifier
from client.ui import settings_store
from client.ui.shortcuts import EXPORT_KEYS, PREFERENCES, QUIT, SHORTCUTS_SHEET_KEYS, ShortcutsSheet, platform_keys, sequences
from client.ui.verdict_history import VerdictHistory
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
        self.history = VerdictHistory(self.services.corrections, self)
        self.notifier = Notifier(self)
        self.log_file = log_file or log_file_path()
        self.shortcuts_sheet: ShortcutsSheet | None = None
        self._close_confirmed = False

        self.banner = Banner()
        self.single = SinglePanel(self.services)
        self.batch = BatchPanel(self.batch_controller)
        self.corrections = CorrectionsPanel(self.services.corrections)
        self.dashboard = DashboardPanel(self.services)
        self.logs = LogsPanel(self.request_log, str(self.log_file))
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
        self.retrain.started.connect(lambda: self.notifier.task_started("retrain"))
        self.history.changed.connect(self._history_changed)
        self.services.corrections.failed.connect(lambda exc: self._problem(exc, retry=False))
        self.banner.retry_clicked.connect(self.services.check_server)
        self.banner.resume_clicked.connect(self._resume)
        self.batch_controller.state_changed.connect(self._batch_state)

        ui = settings_store.load_ui(qsettings)
        if ui.geometry is not None:
            self.restoreGeometry(ui.geometry)
        else:
            self.resize(1100, 760)
        if ui.window_state is not None:
            self.restoreState(ui.window_state)
        self.batch.restore_ui()
        self._history_changed()
        self.services.check_server()
        # The retention setting is applied at every start (the store lists itself afterwards).
        self.services.corrections.purge(self.services.settings.retention_days)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, keys, slot, role in (
            ("&Open feedback file…", sequences((QKeySequence.StandardKey.Open,)), self._open_file, QAction.MenuRole.NoRole),
            ("&Export results…", sequences(EXPORT_KEYS), self.batch.ask_export, QAction.MenuRole.NoRole),
            ("&Settings…", platform_keys(PREFERENCES), self.open_settings, QAction.MenuRole.PreferencesRole),
            ("&Quit", platform_keys(QUIT), self.close, QAction.MenuRole.QuitRole),
        ):
            file_menu.addAction(self._menu_action(text, keys, slot, role))
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._menu_action("Undo verdict", sequences((QKeySequence.StandardKey.Undo,)), self.history.undo)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self._menu_action("&Find…", sequences((QKeySequence.StandardKey.Find,)), self.focus_search))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._menu_action("&Keyboard shortcuts", sequences(SHORTCUTS_SHEET_KEYS), self.show_shortcuts))
        help_menu.addAction(self._menu_action("&About Feedback Analyzer", [], self.show_about, QAction.MenuRole.AboutRole))

    def _menu_action(self, text: str, keys: list[QKeySequence], slot, role: QAction.MenuRole = QAction.MenuRole.NoRole) -> QAction:  # noqa: ANN001
        action = QAction(text, self)
        action.setShortcuts(keys)
        action.setMenuRole(role)
        action.triggered.connect(slot)
        return action

    def _history_changed(self) -> None:
        self.undo_action.setEnabled(self.history.can_undo())
        self.undo_action.setText(self.history.undo_text())

    def focus_search(self) -> None:
        """Ctrl+F: the batch tables' search (the Classify tab has no table to search)."""
        self.tabs.setCurrentWidget(self.batch)
        self.batch.focus_search()

    def show_shortcuts(self) -> None:
        if self.shortcuts_sheet is None:
            self.shortcuts_sheet = ShortcutsSheet(self)
        self.shortcuts_sheet.show()
        self.shortcuts_sheet.raise_()

    def show_about(self) -> None:
        status = self.services.last_status
        rows = about_rows(status.default_version if status else None, self.services.corrections.path, self.log_file, self.services.qsettings.fileName())
        AboutDialog(rows, self).open()

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
        if state == RUNNING:
            self.notifier.task_started("batch")
        elif state in (FINISHED, CANCELLED, INTERRUPTED) and self.batch_controller.run is not None:
            run = self.batch_controller.run
            self.notifier.task_ended("batch", f"Batch {state}: {run.done:,} of {run.total:,} rows of {run.source.name} classified.")

    def _retrained(self, exit_code: int) -> None:
        """A retrain may have promoted a version and consumed corrections: show both."""
        self.notifier.task_ended("retrain", self.retrain.outcome.text() or f"Retraining ended (exit code {exit_code}).")
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
            self.save_layout()
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

    def save_layout(self) -> None:
        """Window geometry, its state and the tables' columns, for the next start."""
        settings_store.save_ui(self.services.qsettings, geometry=self.saveGeometry(), window_state=self.saveState())
        self.batch.save_ui()

    def _close_answered(self, close: bool) -> None:
        if close:
            self._close_confirmed = True
            self.close()
