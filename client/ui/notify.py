"""Tell the agent that a long task ended while they were in another window.

A desktop notification through the system tray where the platform has one, else a
message in the status bar (and the taskbar entry asks for attention either way). Short
tasks and tasks that end while the window is in front stay silent: the agent saw them.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMainWindow, QStyle, QSystemTrayIcon

from client.ui.signals import emit

logger = logging.getLogger(__name__)

LONG_TASK_SECONDS = 20.0
STATUS_MESSAGE_MS = 60_000
TRAY, STATUS_BAR = "tray", "status bar"


class Notifier(QObject):
    delivered = Signal(str, str)  # how (TRAY or STATUS_BAR), the message

    def __init__(self, window: QMainWindow, long_task_seconds: float = LONG_TASK_SECONDS) -> None:
        super().__init__(window)
        self.window = window
        self.long_task_seconds = long_task_seconds
        self._started: dict[str, float] = {}
        self._tray: QSystemTrayIcon | None = None

    def task_started(self, name: str) -> None:
        self._started[name] = time.monotonic()

    def task_ended(self, name: str, message: str) -> bool:
        """Notify if task ``name`` ran long and the window is not active; True when notified."""
        started = self._started.pop(name, None)
        if started is None or time.monotonic() - started < self.long_task_seconds or self.window.isActiveWindow():
            return False
        self.notify(message)
        return True

    def notify(self, message: str) -> None:
        title = self.window.windowTitle()
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            if self._tray is None:
                icon = self.window.windowIcon()
                if icon.isNull():
                    icon = self.window.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)
                self._tray = QSystemTrayIcon(icon, self)
                self._tray.activated.connect(lambda _reason: self._bring_to_front())
            self._tray.show()
            self._tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information)
            how = TRAY
        else:
            self.window.statusBar().showMessage(message, STATUS_MESSAGE_MS)
            how = STATUS_BAR
        QApplication.alert(self.window)
        logger.info("notified through the %s", how)
        emit(self.delivered, how, message)

    def _bring_to_front(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
