"""The banner above the tabs: what went wrong, what to do, and Retry / Resume buttons."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class Banner(QFrame):
    retry_clicked = Signal()
    resume_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setStyleSheet("#banner { background: #FDECEA; border: 1px solid #E0A19B; border-radius: 4px; } QLabel { color: #5F2120; }")
        self.message = QLabel()
        self.message.setWordWrap(True)
        font = self.message.font()
        font.setBold(True)
        self.message.setFont(font)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.retry = QPushButton("Retry")
        self.retry.clicked.connect(self.retry_clicked)
        self.resume = QPushButton("Resume batch")
        self.resume.clicked.connect(self.resume_clicked)
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.hide)
        text = QVBoxLayout()
        text.addWidget(self.message)
        text.addWidget(self.hint)
        layout = QHBoxLayout(self)
        layout.addLayout(text, 1)
        for button in (self.retry, self.resume, self.dismiss):
            layout.addWidget(button)
        self.hide()

    def show_problem(self, message: str, hint: str, retry: bool = True, resume: bool = False) -> None:
        """Show ``message`` with the next step; ``hint`` is capitalised as a sentence."""
        self.message.setText(message)
        self.hint.setText(hint[:1].upper() + hint[1:] if hint else "")
        self.hint.setVisible(bool(hint))
        self.retry.setVisible(retry)
        self.resume.setVisible(resume)
        self.show()
