"""Helpers that drive the app the way an agent does, and build test files."""

from __future__ import annotations

import csv
import io
import socket
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from client.core.api import Prediction
from client.ui.window import MainWindow

TOPICS = ("the export button", "sync on my phone", "the invoice page", "search", "the calendar", "dark mode", "the login screen", "attachments")
TEMPLATES = (
    "{topic} crashes every time I open it, error 500",
    "please add a way to share {topic} with my team",
    "I really love {topic}, great work",
    "how do I reset {topic}? I can't find the option",
    "the help article about {topic} is out of date",
    "tip: long-press {topic} to get the hidden menu",
    "you raised the price again and {topic} got worse",
    "my cat says hi",
)


def feedback_texts(count: int) -> list[str]:
    """``count`` distinct, realistic-looking feedback texts."""
    return [f"{TEMPLATES[i % len(TEMPLATES)].format(topic=TOPICS[(i // len(TEMPLATES)) % len(TOPICS)])} (#{i})" for i in range(count)]


def write_csv(path: Path, count: int, bad_lines: dict[int, bytes] | None = None) -> Path:
    """A CSV export (id, channel, message); ``bad_lines`` replaces data rows by raw bytes, keyed by row number."""
    bad_lines = bad_lines or {}
    lines = [b"id,channel,message\n"]
    for i, text in enumerate(feedback_texts(count)):
        if i in bad_lines:
            lines.append(bad_lines[i])
            continue
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([f"C-{i:05d}", "email" if i % 2 else "chat", text])
        lines.append(out.getvalue().encode("utf-8"))
    path.write_bytes(b"".join(lines))
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]



def classify(qtbot, window: MainWindow, text: str) -> Prediction:
    """Type ``text`` in the Classify tab, press Ctrl+Enter, wait for the result on screen."""
    panel = window.single
    panel.editor.setPlainText(text)
    with qtbot.waitSignal(panel.shown, timeout=30000) as shown:
        qtbot.keyClick(panel.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    return shown.args[0]


def drop_file(widget, path: Path) -> None:
    """Drag ``path`` from a file manager and drop it on ``widget``."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(widget.width() / 2, widget.height() / 2)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), f"{widget} refused the drag of {path.name}"
    drop = QDropEvent(point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)


def open_and_run(qtbot, window: MainWindow, path: Path, timeout: int = 60000) -> None:
    """Drop ``path`` on the Batch tab, press Run and wait until the batch has finished."""
    batch = window.batch
    window.tabs.setCurrentWidget(batch)
    with qtbot.waitSignal(window.batch_controller.loaded, timeout=20000):
        drop_file(batch, path)
    assert batch.run_button.isEnabled()
    with qtbot.waitSignal(window.batch_controller.state_changed, timeout=timeout, check_params_cb=lambda state: state == "finished"):
        qtbot.mouseClick(batch.run_button, Qt.MouseButton.LeftButton)
