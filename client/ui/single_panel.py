"""Classify one text: the text box, the verdict, the eight scores, confirm or correct in one click."""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from client.core.api import Explanation, Prediction
from client.ui.charts import BarChart, label_bars
from client.ui.explanation import ExplanationView
from client.ui.palette import label_swatch
from client.ui.shortcuts import CONFIRM_KEYS, NEW_TEXT_KEYS, label_key_sequences, sequences
from client.ui.services import Services
from client.ui.signals import emit
from client.core.stats import confidence_band
from client.core.verdicts import SINGLE_SOURCE, make_verdict
from client.ui.workers import Worker
from client.core.labels import LABEL_NAMES, LABELS
from client.core.corrections import Correction

BADGE_STYLE = "background: #FFE08A; color: #5C4400; border-radius: 8px; padding: 2px 10px; font-weight: bold;"


class SinglePanel(QWidget):
    shown = Signal(object)  # the Prediction now on screen
    explained = Signal(object)  # the Explanation now highlighted
    verdict_saved = Signal(object)  # the Correction the store saved

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.prediction: Prediction | None = None
        self.verdict: Correction | None = None
        self._text = ""
        self._pending: Worker | None = None
        self._explaining: Worker | None = None

        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("Paste or type a customer message, then press Ctrl+Enter.")
        self.classify_button = QPushButton("Classify  (Ctrl+Enter)")
        self.classify_button.clicked.connect(self.classify)
        self.editor.installEventFilter(self)
        self.status = QLabel()
        self.status.setWordWrap(True)

        self.label_name = QLabel("Nothing classified yet")
        font = self.label_name.font()
        font.setPointSize(font.pointSize() + 8)
        font.setBold(True)
        self.label_name.setFont(font)
        self.label_name.setStyleSheet("color: palette(mid);")
        self.confidence = QLabel()
        self.badge = QLabel("Needs review")
        self.badge.setStyleSheet(BADGE_STYLE)
        self.badge.hide()
        self.chart = BarChart("Scores per label")
        self.confirm_button = QPushButton("Confirm  (Enter)")
        self.confirm_button.setToolTip("The model is right: save it as a confirmation for retraining")
        self.confirm_button.clicked.connect(self.confirm)
        self.correct_button = QToolButton()
        self.correct_button.setText("Correct to…  (1–8)")
        self.correct_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.correct_menu = QMenu(self.correct_button)
        self.correct_button.setMenu(self.correct_menu)
        self.saved_note = QLabel()
        self._set_verdict_buttons(False)
        self.why = ExplanationView()
        self.why_box = QGroupBox("Why this label")
        QVBoxLayout(self.why_box).addWidget(self.why)
        self.why_box.hide()

        top = QHBoxLayout()
        top.addWidget(self.label_name)
        top.addWidget(self.badge)
        top.addStretch(1)
        verdict_row = QHBoxLayout()
        verdict_row.addWidget(self.confirm_button)
        verdict_row.addWidget(self.correct_button)
        verdict_row.addWidget(self.saved_note, 1)
        result_box = QGroupBox("What the model thinks")
        self.result_box = result_box
        # The same keys as in the batch tables, active while the verdict area has focus (it
        # gets it when a result arrives), so digits typed in the text box stay text.
        self.label_actions: dict[str, QAction] = {}
        for label in LABELS:
            action = self._shortcut(LABEL_NAMES[label], label_key_sequences(label), lambda _c=False, chosen=label: self.save_verdict(chosen))
            action.setIcon(label_swatch(label))
            self.label_actions[label] = action
        self._shortcut("Confirm", sequences(CONFIRM_KEYS), self.confirm)
        self.new_text_action = QAction("New text", self)
        self.new_text_action.setShortcuts(sequences(NEW_TEXT_KEYS))
        self.new_text_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.new_text_action.triggered.connect(self.new_text)
        self.addAction(self.new_text_action)
        result_layout = QVBoxLayout(result_box)
        result_layout.addLayout(top)
        result_layout.addWidget(self.confidence)
        result_layout.addWidget(self.chart)
        result_layout.addLayout(verdict_row)

        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.classify_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor, 1)
        layout.addLayout(buttons)
        layout.addWidget(result_box)
        layout.addWidget(self.why_box, 1)
        layout.addStretch(1)
        services.corrections.saved.connect(self._saved)
        services.corrections.undone.connect(self._undone)
        services.corrections.failed.connect(self._not_saved)

    def _shortcut(self, text: str, keys: list, slot) -> QAction:  # noqa: ANN001 - any slot
        action = QAction(text, self.result_box)
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.result_box.addAction(action)
        return action

    def new_text(self) -> None:
        """Ctrl+N: an empty text box with the cursor in it."""
        self.editor.clear()
        self.editor.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+Enter in the text box classifies (a key filter, so it works without an active window)."""
        if watched is self.editor and event.type() == QEvent.Type.KeyPress:
            key_event = cast(QKeyEvent, event)
            if key_event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and key_event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.classify()
                return True
        return super().eventFilter(watched, event)

    def _set_verdict_buttons(self, enabled: bool) -> None:
        self.confirm_button.setEnabled(enabled)
        self.correct_button.setEnabled(enabled)

    def classify(self) -> None:
        text = self.editor.toPlainText()
        if not text.strip():
            self.status.setText("Type or paste a message first.")
            return
        self._text = text
        self._explaining = None  # an explanation of the previous text is not shown
        self.why_box.hide()
        self.status.setText("Classifying…")
        self.classify_button.setEnabled(False)
        self._pending = Worker(self.services.inference().classify, text).on(returned=self._show, errored=self._failed)
        self.services.start(self._pending)

    def _is_current(self) -> bool:
        return self._pending is not None and self.sender() is self._pending.signals

    def _show(self, prediction: Prediction) -> None:
        if not self._is_current():
            return
        self.classify_button.setEnabled(True)
        flagged = self.services.count_predictions([prediction])[0]
        self.prediction, self.verdict = prediction, None
        self.label_name.setText(LABEL_NAMES[prediction.label])
        self.label_name.setStyleSheet("")
        note = "  ·  the text was cut to the model's length" if prediction.truncated else ""
        self.confidence.setText(f"{confidence_band(prediction.confidence)} confidence  ·  {prediction.confidence:.2f}  ·  model v{prediction.model_version}{note}")
        self.badge.setVisible(flagged)
        self.chart.set_bars(label_bars(prediction.scores, ".2f"), maximum=1.0, highlight=prediction.label)
        self.correct_menu.clear()  # the actions belong to the result box, so they survive this
        for label in LABELS:
            if label != prediction.label:
                self.correct_menu.addAction(self.label_actions[label])
        self._set_verdict_buttons(True)
        self.confirm_button.setFocus()  # keys 1-8 and Enter now give the verdict
        self.saved_note.setText("")
        self.status.setText("")
        emit(self.shown, prediction)
        self._explain()

    def _explain(self) -> None:
        """Ask which words carried the label, once the label is on screen (an explanation
        costs the server a few dozen forward passes, so the verdict does not wait for it)."""
        self.why.show_waiting(self._text)
        self.why_box.show()
        self._explaining = Worker(self.services.inference().explain, self._text).on(returned=self._explained, errored=self._not_explained)
        self.services.start(self._explaining)

    def _explained(self, explanation: Explanation) -> None:
        if self._explaining is None or self.sender() is not self._explaining.signals:
            return
        self.why.show_explanation(self._text, explanation)
        emit(self.explained, explanation)

    def _not_explained(self, exc: object) -> None:
        if self._explaining is not None and self.sender() is self._explaining.signals:
            self.why.show_error(exc)

    def _failed(self, exc: object) -> None:
        if not self._is_current():
            return
        self.classify_button.setEnabled(True)
        self.status.setText(f"Not classified: {getattr(exc, 'message', exc)}")

    def confirm(self) -> None:
        if self.prediction is not None:
            self.save_verdict(self.prediction.label)

    def save_verdict(self, label: str) -> None:
        """Save the agent's label for the text on screen; a second verdict replaces the first."""
        if self.prediction is None:
            return
        correction = make_verdict(self._text, self.prediction, label, self.services.settings.agent, SINGLE_SOURCE)
        self.saved_note.setText("Saving…")
        self.services.corrections.save(correction, tag=(self, self.prediction), replaces=self.verdict)

    def _saved(self, saved: Correction, _replaced: object, tag: object) -> None:
        if not (isinstance(tag, tuple) and tag[0] is self and tag[1] is self.prediction):
            return
        self.verdict = saved
        what = "Confirmed" if saved.kind == "confirmation" else "Corrected to"
        self.saved_note.setText(f"{what} {LABEL_NAMES[saved.final_label]} · saved for retraining")
        emit(self.verdict_saved, saved)

    def _undone(self, removed: Correction) -> None:
        if self.verdict is not None and removed.id == self.verdict.id:
            self.verdict = None
            self.saved_note.setText("Verdict undone · removed from the retraining set")

    def _not_saved(self, exc: object) -> None:
        if self.saved_note.text() == "Saving…":
            self.saved_note.setText(f"Not saved: {getattr(exc, 'message', exc)}")
