"""The request log: one row per HTTP request the app made (never the key, never the text)."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from client.ui.table_model import Index, ListTableModel

COLUMNS = ("Time", "Request", "Items", "Latency (ms)", "Outcome")
MAX_ROWS = 10_000


def _cells(record: dict[str, Any]) -> tuple[str, ...]:
    return (
        time.strftime("%H:%M:%S", time.localtime(record["time"])),
        f"{record['method']} {record['path'].split('?')[0]}",
        str(record["items"]),
        f"{record['ms']:.0f}",
        record["outcome"],
    )


class RequestLogModel(ListTableModel[tuple[str, ...]]):
    """The newest ``MAX_ROWS`` requests, oldest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)

    def add(self, record: dict[str, Any]) -> None:
        if len(self._rows) >= MAX_ROWS:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            del self._rows[0]
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(_cells(record))
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        cells = self.row_at(index)
        return cells[index.column()] if cells is not None and role == Qt.ItemDataRole.DisplayRole else None


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
