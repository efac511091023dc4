""""Why this label": the text with the words behind the model's label highlighted.

``ExplanationView`` shows one text and its explanation (HTML from ``client.core.highlight``,
colours mixed here from ``client.ui.palette``'s label colours into the current palette, so
a dark theme stays readable). ``RowExplanation`` is the batch tables' detail pane: it follows
a table's current row and asks the server for that row's explanation once the agent stops
on it (moving through the rows with J/K sends nothing until they pause).
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QEvent, QModelIndex, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from client.core.api import Explanation
from client.core.batch import BatchResult
from client.core.highlight import highlight_html
from client.core.labels import LABELS
from client.ui.palette import LABEL_COLORS, TEXT_CONTRAST, contrast_ratio, mix
from client.ui.results_view import ResultsTable
from client.ui.services import Services
from client.ui.signals import emit
from client.ui.workers import Worker

SETTLE_MS = 300  # the pause on a row before its explanation is asked for
CACHED = 256  # explanations kept per pane, by text (the same text explains the same way)


def highlight_colors(palette: QPalette) -> tuple[dict[str, str], str]:
    """A background per label (its colour mixed into the palette's base, as strong as keeps
    4.5:1 contrast with the palette's text) and the text colour, as ``#rrggbb``."""
    base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
    return {label: _background(base, text, LABEL_COLORS[label]).name() for label in LABELS}, text.name()


def _background(base: QColor, text: QColor, tint: QColor) -> QColor:
    for share in (0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1):
        color = mix(base, tint, share)
        if contrast_ratio(color, text) >= TEXT_CONTRAST:
            return color
    return base


class ExplanationView(QWidget):
    """A read-only text box: the text, then its highlighted explanation once it arrives."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.browser = QTextBrowser()
        self.browser.setAccessibleName("Why this label")
        self.browser.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.browser, 1)
        self.text = ""
        self.explanation: Explanation | None = None

    def show_waiting(self, text: str, note: str = "Finding the words behind the label…") -> None:
        self.text, self.explanation = text, None
        self.browser.setPlainText(text)
        self.status.setText(note)

    def show_explanation(self, text: str, explanation: Explanation) -> None:
        self.text, self.explanation = text, explanation
        self._render()
        self.status.setText("Highlighted: the words that weigh most, coloured by the label they speak for.")

    def show_error(self, exc: object) -> None:
        self.status.setText(f"Not explained: {getattr(exc, 'message', exc)}")

    def clear(self, note: str = "") -> None:
        self.text, self.explanation = "", None
        self.browser.clear()
        self.status.setText(note)

    def _render(self) -> None:
        if self.explanation is None:
            return
        backgrounds, foreground = highlight_colors(self.browser.palette())
        self.browser.setHtml(highlight_html(self.text, self.explanation, backgrounds, foreground))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._render()  # a theme switch recolours the highlights
        super().changeEvent(event)


class RowExplanation(ExplanationView):
    """The detail pane under a batch table: the current row's text and why it got its label."""

    explained = Signal(object, object)  # BatchResult, Explanation: shown in the pane

    def __init__(self, services: Services, table: ResultsTable, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services, self.table = services, table
        self.result: BatchResult | None = None
        self._pending: Worker | None = None
        self._cache: OrderedDict[str, Explanation] = OrderedDict()
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._ask)
        self.clear("Select a row to see its text and the words behind its label.")
        table.selectionModel().currentRowChanged.connect(self._row_changed)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.result = self.table.current_result() if current.isValid() else None
        self._pending = None  # an answer for the row left behind is dropped
        if self.result is None:
            self._settle.stop()
            self.clear("Select a row to see its text and the words behind its label.")
            return
        text = self.result.row.text
        cached = self._cache.get(text)
        if cached is not None:
            self._settle.stop()
            self._shown(self.result, cached)
            return
        self.show_waiting(text)
        self._settle.start()

    def _ask(self) -> None:
        if self.result is None:
            return
        self._pending = Worker(self.services.inference().explain, self.result.row.text).on(returned=self._returned, errored=self._failed)
        self.services.start(self._pending)

    def _is_current(self) -> bool:
        return self._pending is not None and self.sender() is self._pending.signals

    def _returned(self, explanation: Explanation) -> None:
        if not self._is_current() or self.result is None:
            return
        self._cache[self.result.row.text] = explanation
        while len(self._cache) > CACHED:
            self._cache.popitem(last=False)
        self._shown(self.result, explanation)

    def _shown(self, result: BatchResult, explanation: Explanation) -> None:
        self.show_explanation(result.row.text, explanation)
        emit(self.explained, result, explanation)

    def _failed(self, exc: object) -> None:
        if self._is_current():
            self.show_error(exc)
