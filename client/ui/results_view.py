"""Widgets over the results proxies: the filter bar, the table with its label combo delegate."""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import QAbstractItemModel, QEvent, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
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
from client.ui.palette import label_swatch
from client.ui.results_model import AGENT, LINE, TEXT, ResultsFilter
from client.ui.shortcuts import CONFIRM_KEYS, LABEL_KEYS, NEXT_KEYS, NEXT_REVIEW_KEYS, PREVIOUS_KEYS, label_key_sequences, sequences
from client.ui.signals import emit
from client.ui.table_model import Index
from client.core.labels import LABEL_NAMES, LABELS

COPY_COLUMNS = ("line", "id", "label", "confidence", "agent_label", "text")


def copy_text(results: list[BatchResult]) -> str:
    """Rows as tab-separated text with a header: pastes into a spreadsheet or a ticket."""
    lines = ["\t".join(COPY_COLUMNS)]
    for r in results:
        cells = (str(r.row.line), r.row.id or "", r.prediction.label, f"{r.prediction.confidence:.2f}", r.reviewed_label or "", " ".join(r.row.text.split()))
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


class LabelDelegate(QStyledItemDelegate):
    """A combo of the eight labels; picking one commits at once (one click, no Enter)."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:  # noqa: ARG002
        combo = QComboBox(parent)
        for label in LABELS:
            combo.addItem(label_swatch(label), f"{LABEL_KEYS[label]}  {LABEL_NAMES[label]}", label)
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
    """Sortable results; double-click or F2 on "Agent label" opens the label combo.

    Keyboard triage: 1-8 label the current row, Enter confirms the model's label, J/K
    move, N jumps to the next row needing review, Ctrl+C copies. The actions live on the
    table (widget shortcuts), so the results table and the queue each answer only while
    focused, and the right-click menu lists them with their keys.
    """

    verdict_keyed = Signal(object, str)  # BatchResult, label id: the agent pressed a key
    confirm_keyed = Signal(object)  # list of BatchResult: Enter on the selection

    def __init__(self, proxy: ResultsFilter, parent: QWidget | None = None, sortable: bool | None = None) -> None:
        super().__init__(parent)
        self.setModel(proxy)
        # The queue keeps its own order (the agent's choice of review order) and a spot check
        # the random order it was drawn in; only the results table sorts on a header click.
        if not proxy.queue if sortable is None else sortable:
            self.setSortingEnabled(True)
            self.sortByColumn(LINE, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.SelectedClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setItemDelegateForColumn(AGENT, LabelDelegate(self))
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self._fit_rows_to_font()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(TEXT, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(LINE, 56)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for column in range(proxy.columnCount()):
            if column != TEXT:
                self._column_action(column)
        self.setAlternatingRowColors(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.label_actions = {label: self._action(f"{LABEL_NAMES[label]}", label_key_sequences(label), lambda _c=False, chosen=label: self.key_verdict(chosen)) for label in LABELS}
        for label, action in self.label_actions.items():
            action.setIcon(label_swatch(label))
        self._separator()
        self.confirm_action = self._action("Confirm the model's label", sequences(CONFIRM_KEYS), self.key_confirm)
        self._action("Next row", sequences(NEXT_KEYS), lambda: self.move_by(1))
        self._action("Previous row", sequences(PREVIOUS_KEYS), lambda: self.move_by(-1))
        self._action("Next needing review", sequences(NEXT_REVIEW_KEYS), self.next_needing_review)
        self._separator()
        self.copy_action = self._action("Copy rows with labels", QKeySequence.keyBindings(QKeySequence.StandardKey.Copy), self.copy_selected)

    def _action(self, text: str, keys: list[QKeySequence], slot) -> QAction:  # noqa: ANN001 - any slot
        action = QAction(text, self)
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _separator(self) -> None:
        separator = QAction(self)
        separator.setSeparator(True)
        self.addAction(separator)

    def _column_action(self, column: int) -> None:
        """A check in the header's right-click menu that shows or hides ``column``."""
        action = QAction(str(self.model().headerData(column, Qt.Orientation.Horizontal)), self.horizontalHeader())
        action.setCheckable(True)
        action.setChecked(True)
        action.toggled.connect(lambda shown, c=column: self.setColumnHidden(c, not shown))
        self.horizontalHeader().addAction(action)

    def sync_column_actions(self) -> None:
        """Tick the header menu after a saved header state was restored."""
        for action in self.horizontalHeader().actions():
            column = next(c for c in range(self.model().columnCount()) if self.model().headerData(c, Qt.Orientation.Horizontal) == action.text())
            action.setChecked(not self.isColumnHidden(column))

    def _fit_rows_to_font(self) -> None:
        self.verticalHeader().setDefaultSectionSize(max(24, self.fontMetrics().height() + 8))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._fit_rows_to_font()
        super().changeEvent(event)

    @property
    def proxy(self) -> ResultsFilter:
        return cast(ResultsFilter, self.model())

    def selected_results(self) -> list[BatchResult]:
        return [self.proxy.result(index.row()) for index in self.selectionModel().selectedRows()]

    def current_result(self) -> BatchResult | None:
        row = self.currentIndex().row()
        return self.proxy.result(row) if 0 <= row < self.proxy.rowCount() else None

    def key_verdict(self, label: str) -> None:
        """Label the current row; in the results table the next row becomes current (in the
        queue the row leaves once saved, so the next one moves up by itself)."""
        result = self.current_result()
        if result is None:
            return
        emit(self.verdict_keyed, result, label)
        if not self.proxy.queue:
            self.move_by(1)

    def key_confirm(self) -> None:
        chosen = self.selected_results() or [r for r in [self.current_result()] if r is not None]
        if chosen:
            emit(self.confirm_keyed, chosen)

    def move_by(self, step: int) -> None:
        rows = self.proxy.rowCount()
        if rows == 0:
            return
        row = self.currentIndex().row()
        target = 0 if row < 0 else min(max(row + step, 0), rows - 1)
        self.go_to(target)

    def go_to(self, row: int) -> None:
        column = max(self.currentIndex().column(), 0)
        self.setCurrentIndex(self.proxy.index(row, column))
        self.scrollTo(self.currentIndex())

    def next_needing_review(self) -> bool:
        """Make the next row that needs review and has no verdict current (wrapping); False if none."""
        rows = self.proxy.rowCount()
        start = self.currentIndex().row()
        for step in range(1, rows + 1):
            row = (start + step) % rows if start >= 0 else step - 1
            result = self.proxy.result(row)
            if result.flagged and result.reviewed_label is None:
                self.go_to(row)
                return True
        return False

    def copy_selected(self) -> None:
        chosen = self.selected_results() or [r for r in [self.current_result()] if r is not None]
        if chosen:
            QGuiApplication.clipboard().setText(copy_text(chosen))


class QueueBar(QWidget):
    """The review queue's order and search; emits the values, orders nothing itself."""

    order_changed = Signal(str)  # one of client.core.review_queue.ORDERS
    search_changed = Signal(str)

    def __init__(self, orders: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.order = QComboBox()
        self.order.setAccessibleName("Review order")
        for key, title in orders.items():
            self.order.addItem(title, key)
        self.order.currentIndexChanged.connect(lambda _i: emit(self.order_changed, self.order.currentData()))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search text…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda text: emit(self.search_changed, text))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Order"))
        layout.addWidget(self.order)
        layout.addWidget(self.search, 1)

    def set_order(self, key: str) -> None:
        self.order.setCurrentIndex(max(0, self.order.findData(key)))


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
