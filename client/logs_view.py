"""The request log: one row per HTTP request the app made (never the key, never the text)."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

COLUMNS = ("Time", "Request", "Items", "Latency (ms)", "Outcome")
MAX_ROWS = 10_000
Index = QModelIndex | QPersistentModelIndex


def _cells(record: dict[str, Any]) -> tuple[str, ...]:
    return (
        time.strftime("%H:%M:%S", time.localtime(record["time"])),
        f"{record['method']} {record['path'].split('?')[0]}",
        str(record["items"]),
        f"{record['ms']:.0f}",
        record["outcome"],
    )


class RequestLogModel(QAbstractTableModel):
    """The newest ``MAX_ROWS`` requests, oldest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, ...]] = []

    def add(self, record: dict[str, Any]) -> None:
        if len(self._rows) >= MAX_ROWS:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            del self._rows[0]
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(_cells(record))
        self.endInsertRows()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self._rows[index.row()][index.column()]


class LogsPanel(QWidget):
    def __init__(self, model: RequestLogModel, log_file: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableView()
        self.table.setModel(model)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        model.rowsInserted.connect(self.table.scrollToBottom)
        where = QLabel(f"Log file: {log_file}")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(where)
