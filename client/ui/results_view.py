"""Widgets over the results proxies: the filter bar, the table with its label combo delegate."""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import QAbstractItemModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from client.core.batch import BatchResult
from client.ui.results_model import AGENT, LINE, TEXT, ResultsFilter
from client.ui.signals import emit
from client.ui.table_model import Index
from client.core.labels import LABEL_NAMES, LABELS


class LabelDelegate(QStyledItemDelegate):
    """A combo of the eight labels; picking one commits at once (one click, no Enter)."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:  # noqa: ARG002
        combo = QComboBox(parent)
        for label in LABELS:
            combo.addItem(LABEL_NAMES[label], label)
        combo.activated.connect(lambda _i: self._commit(combo))
        return combo

    def _commit(self, combo: QComboBox) -> None:
        emit(self.commitData, combo)
        emit(self.closeEditor, combo, QStyledItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        combo = cast(QComboBox, editor)  # createEditor made it
        combo.setCurrentIndex(max(0, combo.findData(index.data(Qt.ItemDataRole.EditRole))))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        model.setData(index, cast(QComboBox, editor).currentData(), Qt.ItemDataRole.EditRole)


class ResultsTable(QTableView):
    """Sortable results; double-click or F2 on "Agent label" opens the label combo."""

    def __init__(self, proxy: ResultsFilter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(proxy)
        if not proxy.queue:  # the queue keeps its own order: lowest confidence first
            self.setSortingEnabled(True)
            self.sortByColumn(LINE, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.SelectedClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setItemDelegateForColumn(AGENT, LabelDelegate(self))
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(24)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(TEXT, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(LINE, 56)
        self.setAlternatingRowColors(True)

    def selected_results(self) -> list[BatchResult]:
        proxy = cast(ResultsFilter, self.model())
        return [proxy.result(index.row()) for index in self.selectionModel().selectedRows()]


class FilterBar(QWidget):
    """Label, confidence range, needs-review and text search; emits the values, filters nothing itself."""

    changed = Signal(object, float, float, bool, str)  # label or None, min, max, review only, search

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QComboBox()
        self.label.addItem("All labels", None)
        for label in LABELS:
            self.label.addItem(LABEL_NAMES[label], label)
        self.minimum, self.maximum = QDoubleSpinBox(), QDoubleSpinBox()
        for box, value in ((self.minimum, 0.0), (self.maximum, 1.0)):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setDecimals(2)
            box.setValue(value)
            box.valueChanged.connect(self._emit)
        self.review_only = QCheckBox("Needs review only")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search text…")
        self.search.setClearButtonEnabled(True)
        self.label.currentIndexChanged.connect(self._emit)
        self.review_only.toggled.connect(self._emit)
        self.search.textChanged.connect(self._emit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(QLabel("Confidence"))
        layout.addWidget(self.minimum)
        layout.addWidget(QLabel("to"))
        layout.addWidget(self.maximum)
        layout.addWidget(self.review_only)
        layout.addWidget(self.search, 1)

    def _emit(self) -> None:
        emit(self.changed, self.label.currentData(), self.minimum.value(), self.maximum.value(), self.review_only.isChecked(), self.search.text())
