"""``feedback app`` and ``python -m client``: QApplication, MainWindow, exec; nothing else."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from client.core.logfile import install_file_log
from client.ui.settings_store import default_qsettings
from client.ui.signals import install_emit_guard
from client.ui.window import MainWindow

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Open the app; ``argv`` are extra Qt arguments (e.g. ``-platform offscreen``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    app.setApplicationName("Feedback Analyzer")
    install_emit_guard()
    handler = install_file_log()
    logger.info("app started (log file %s)", handler.baseFilename)
    window = MainWindow(default_qsettings(), log_file=Path(handler.baseFilename))
    window.show()
    try:
        return int(app.exec())
    finally:
        logger.info("app closed")
        logging.getLogger().removeHandler(handler)
        handler.close()
