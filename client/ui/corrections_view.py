"""The corrections view: every saved verdict, with undo and export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from client.ui.corrections_service import CorrectionsService
from client.ui.table_model import Index, ListTableModel
from client.core.labels import LABEL_NAMES
from client.core.corrections import Correction

COLUMNS = ("Saved", "Text", "Predicted", "Final label", "Kind", "Confidence", "Model", "Agent", "Source", "Used by")


def _cell(correction: Correction, column: int) -> Any:
    c = correction
    values = (
        c.created_at.replace("T", " ")[:19],
        " ".join(c.text[:200].split()),
        LABEL_NAMES.get(c.predicted_label or "", c.predicted_label or ""),
        LABEL_NAMES[c.final_label],
        c.kind,
        "" if c.confidence is None else f"{c.confidence:.2f}",
        c.model_version or "",
        c.agent or "",
        c.source or "",
        c.consumed_by or "not yet",
    )
    return values[column]


class CorrectionsModel(ListTableModel[Correction]):
    """Newest first: the verdict an agent most likely wants to undo is at the top."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)

    def set_corrections(self, corrections: list[Correction]) -> None:
        self.beginResetModel()
        self._rows = list(reversed(corrections))
        self.endResetModel()

    def correction(self, row: int) -> Correction:
        return self._rows[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        correction = self.row_at(index)
        if correction is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(correction, index.column())
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 1:
            return correction.text[:2000]
        return None


class CorrectionsPanel(QWidget):
    def __init__(self, service: CorrectionsService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.model = CorrectionsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.pending = QLabel()
        self.store_path = QLabel(f"Store: {service.path}")
        self.store_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        self.undo_button = QPushButton("Undo selected")
        self.undo_button.setToolTip("Remove the selected verdicts from the retraining set (not possible once a model used them)")
        self.undo_button.clicked.connect(self.undo_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._ask_export)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pending, 1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.store_path)
        service.listed.connect(self._listed)
        service.pending_changed.connect(lambda n: self.pending.setText(f"{n} not yet used for training"))
        service.saved.connect(lambda *_: service.refresh())
        service.undone.connect(self._undone)
        service.exported.connect(lambda path: self.note.setText(f"Exported to {path}"))
        service.failed.connect(lambda exc: self.note.setText(str(exc)))
        self._selection_changed()

    def _listed(self, corrections: list[Correction]) -> None:
        self.model.set_corrections(corrections)
        self._selection_changed()

    def _undone(self, correction: Correction) -> None:
        self.note.setText(f"Undone: {correction.kind} to {LABEL_NAMES[correction.final_label]}")
        self.service.refresh()

    def _selected(self) -> list[Correction]:
        return [self.model.correction(index.row()) for index in self.table.selectionModel().selectedRows()]

    def _selection_changed(self) -> None:
        self.undo_button.setEnabled(any(c.consumed_by is None for c in self._selected()))

    def undo_selected(self) -> None:
        for correction in self._selected():
            if correction.consumed_by is None:
                self.service.undo(correction)

    def _ask_export(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(self, "Export corrections", "corrections.jsonl", "JSON Lines (*.jsonl);;CSV (*.csv)")
        if chosen:
            self.service.export(Path(chosen))
