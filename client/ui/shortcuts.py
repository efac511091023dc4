"""Every keyboard shortcut of the app, in one table: the actions take their keys from here
and the shortcuts sheet (F1) lists this table, so the two cannot drift apart.

Platform-standard keys (undo, copy, find, help, preferences, open, quit) are Qt's
``QKeySequence.StandardKey``; the sheet shows what they are on the running platform.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from client.core.labels import LABEL_NAMES, LABELS

StandardKey = QKeySequence.StandardKey

# Keys 1-8 give the labels in the contract's order (LABELS.md), the keypad's digits too.
LABEL_KEYS: dict[str, str] = {label: str(i + 1) for i, label in enumerate(LABELS)}
CONFIRM_KEYS = ("Return", "Enter")
NEXT_KEYS = ("J",)  # the arrow keys move too (Qt's own)
PREVIOUS_KEYS = ("K",)
NEXT_REVIEW_KEYS = ("N",)
CLASSIFY_KEYS = ("Ctrl+Return", "Ctrl+Enter")
NEW_TEXT_KEYS = (StandardKey.New,)
SHORTCUTS_SHEET_KEYS = (StandardKey.HelpContents,)
EXPORT_KEYS = ("Ctrl+E",)
# Standard keys with what to use where the platform defines none (Preferences has no
# standard key on Linux and Windows; offscreen and minimal platforms have no Quit key).
PREFERENCES = (StandardKey.Preferences, "Ctrl+,")
QUIT = (StandardKey.Quit, "Ctrl+Q")


def label_key_sequences(label: str) -> list[QKeySequence]:
    digit = LABEL_KEYS[label]
    return [QKeySequence(digit), QKeySequence(Qt.KeyboardModifier.KeypadModifier | Qt.Key(Qt.Key.Key_0.value + int(digit)))]


def sequences(keys: tuple[str | StandardKey, ...]) -> list[QKeySequence]:
    """The key sequences of ``keys`` (text or a standard key), for ``QAction.setShortcuts``."""
    out: list[QKeySequence] = []
    for key in keys:
        out.extend(QKeySequence.keyBindings(key) if isinstance(key, StandardKey) else [QKeySequence(key)])
    return out


def platform_keys(standard: tuple[StandardKey, str]) -> list[QKeySequence]:
    """The platform's standard key, or the fallback where it has none."""
    key, fallback = standard
    return QKeySequence.keyBindings(key) or [QKeySequence(fallback)]


def shown(keys: tuple[str | StandardKey, ...] | list[QKeySequence]) -> str:
    """How the keys read on this platform, e.g. "Ctrl+Z" or "J"."""
    texts = []
    for key in keys:
        sequence_list = sequences((key,)) if isinstance(key, (str, StandardKey)) else [key]
        texts.extend(s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequence_list[:1])
    return ", ".join(t for t in texts if t)


@dataclass(frozen=True)
class Shortcut:
    keys: str  # as the sheet shows them
    action: str
    where: str


TABLES = "Batch results, review queue and spot check"
SINGLE = "Classify tab"
ANYWHERE = "Anywhere"


def shortcut_table() -> list[Shortcut]:
    """The rows of the shortcuts sheet (and of the keyboard table in docs/CLIENT.md)."""
    rows = [Shortcut(LABEL_KEYS[label], f"Label the current item {LABEL_NAMES[label]}", f"{TABLES}; {SINGLE} after a result") for label in LABELS]
    rows += [
        Shortcut(shown(CONFIRM_KEYS[:1]), "Confirm the model's label (the selected rows in a table)", f"{TABLES}; {SINGLE} after a result"),
        Shortcut(f"{shown(NEXT_KEYS)} / {shown(PREVIOUS_KEYS)}, arrows", "Next / previous row", TABLES),
        Shortcut(shown(NEXT_REVIEW_KEYS), "Jump to the next row that needs review and has no verdict", TABLES),
        Shortcut(shown((StandardKey.Copy,)), "Copy the selected rows as text, with their labels", TABLES),
        Shortcut(shown((StandardKey.Find,)), "Search the table", TABLES),
        Shortcut(shown(CLASSIFY_KEYS[:1]), "Classify the text", SINGLE),
        Shortcut(shown(NEW_TEXT_KEYS), "New text: clear the box and type", SINGLE),
        Shortcut(shown((StandardKey.Undo,)), "Undo the last verdict (removed from the store, or the one before restored)", ANYWHERE),
        Shortcut(shown((StandardKey.Open,)), "Open a feedback file", ANYWHERE),
        Shortcut(shown(EXPORT_KEYS), "Export the batch results", ANYWHERE),
        Shortcut(shown(platform_keys(PREFERENCES)), "Settings", ANYWHERE),
        Shortcut(shown(SHORTCUTS_SHEET_KEYS), "This sheet", ANYWHERE),
        Shortcut(shown(platform_keys(QUIT)), "Quit", ANYWHERE),
    ]
    return rows


class ShortcutsSheet(QDialog):
    """The keyboard shortcuts, non-modal so it can stay open beside the queue."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_table()
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Does", "Where"])
        self.table.setAccessibleName("Keyboard shortcuts")
        for i, row in enumerate(rows):
            for column, value in enumerate((row.keys, row.action, row.where)):
                self.table.setItem(i, column, QTableWidgetItem(value))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Triage without the mouse: pick a row, press its label's number, N for the next one."))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(760, 520)

    def keys_listed(self) -> list[str]:
        return [self.table.item(i, 0).text() for i in range(self.table.rowCount())]
