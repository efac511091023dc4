"""The batch results table: a QAbstractTableModel over classified rows, and its filter proxy.

Built for 100,000 rows. The model keeps its rows in display order itself: a header click
sorts a Python list once (no QSortFilterProxyModel sort, whose C++ ``lessThan`` would call
``data()`` in Python millions of times), and a chunk of new results is inserted where it
belongs by bisection. ``data()`` is O(1) and the proxy only filters, reading the result
objects directly.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QGuiApplication

from client.core.batch import BatchResult
from client.core.review_queue import review_reasons, text_key
from client.ui.palette import label_swatch, review_background
from client.ui.signals import emit
from client.core.stats import confidence_band
from client.ui.table_model import Index, ListTableModel
from client.core.labels import LABEL_NAMES, LABELS

COLUMNS = ("Line", "ID", "Text", "Label", "Confidence", "Band", "Review", "Agent label")
LINE, ID, TEXT, LABEL, CONFIDENCE, BAND, REVIEW, AGENT = range(len(COLUMNS))
TEXT_PREVIEW = 160


SortKey = tuple[Any, int]
# What each column sorts by, with the file line as tie-break so that every key is unique.
SORT_KEYS: dict[int, Callable[[BatchResult], SortKey]] = {
    LINE: lambda r: (0, r.row.line),
    ID: lambda r: (r.row.id or "", r.row.line),
    TEXT: lambda r: (r.folded_text, r.row.line),
    LABEL: lambda r: (r.prediction.label, r.row.line),
    CONFIDENCE: lambda r: (r.prediction.confidence, r.row.line),
    BAND: lambda r: (r.prediction.confidence, r.row.line),
    REVIEW: lambda r: (int(r.flagged), r.row.line),
    AGENT: lambda r: (r.reviewed_label or "", r.row.line),
}


def _position(keys: list[SortKey], key: SortKey, descending: bool) -> int:
    """Where ``key`` goes in ``keys`` (sorted, unique): the first index whose key is not before it."""
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        before = key < keys[mid] if descending else keys[mid] < key
        if before:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _display(result: BatchResult, column: int) -> Any:
    prediction = result.prediction
    if column == LINE:
        return result.row.line
    if column == ID:
        return result.row.id or ""
    if column == TEXT:
        text = " ".join(result.row.text[: TEXT_PREVIEW + 40].split())
        return text if len(text) <= TEXT_PREVIEW else text[:TEXT_PREVIEW] + "…"
    if column == LABEL:
        return LABEL_NAMES[prediction.label]
    if column == CONFIDENCE:
        return f"{prediction.confidence:.2f}"
    if column == BAND:
        return confidence_band(prediction.confidence)
    if column == REVIEW:
        return " · ".join(review_reasons(prediction, result.flagged))
    return LABEL_NAMES[result.reviewed_label] if result.reviewed_label else ""


class ResultsTableModel(ListTableModel[BatchResult]):
    """Classified rows, kept sorted by one column; only the agent-label column is editable."""

    verdict_requested = Signal(object, str)  # BatchResult, label id: saved by the controller, then shown

    def __init__(self, column: int = LINE, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)
        self._keys: list[SortKey] = []
        self._key = SORT_KEYS[column]
        self._descending = order == Qt.SortOrder.DescendingOrder

    def clear(self) -> None:
        self.beginResetModel()
        self._rows, self._keys = [], []
        self.endResetModel()

    def add_results(self, results: list[BatchResult]) -> None:
        """Insert new results where the current order puts them (one block when they all come last)."""
        if not results:
            return
        pairs = sorted(((self._key(r), r) for r in results), key=itemgetter(0), reverse=self._descending)
        if _position(self._keys, pairs[0][0], self._descending) == len(self._keys):
            end = len(self._rows)
            self.beginInsertRows(QModelIndex(), end, end + len(pairs) - 1)
            self._keys.extend(key for key, _ in pairs)
            self._rows.extend(result for _, result in pairs)
            self.endInsertRows()
            return
        for key, result in pairs:
            row = _position(self._keys, key, self._descending)
            self.beginInsertRows(QModelIndex(), row, row)
            self._keys.insert(row, key)
            self._rows.insert(row, result)
            self.endInsertRows()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Re-order every row (a header click); selected and current rows follow their items."""
        self.order_by(SORT_KEYS[column], order == Qt.SortOrder.DescendingOrder)

    def order_by(self, key: Callable[[BatchResult], SortKey], descending: bool = False) -> None:
        """Re-order every row by ``key`` (unique per row); new rows are inserted by it too."""
        emit(self.layoutAboutToBeChanged)
        persistent = self.persistentIndexList()
        followed = [self._rows[index.row()] for index in persistent]
        self._key, self._descending = key, descending
        pairs = sorted(((self._key(r), r) for r in self._rows), key=itemgetter(0), reverse=self._descending)
        self._keys = [key for key, _ in pairs]
        self._rows = [result for _, result in pairs]
        if persistent:
            moved = [self.index(self._locate_key(self._key(r)), index.column()) for r, index in zip(followed, persistent)]
            self.changePersistentIndexList(persistent, moved)
        emit(self.layoutChanged)

    def resort(self) -> None:
        """The results changed in place (a file calibrated): re-order by the current key, repaint."""
        self.order_by(self._key, self._descending)

    def result(self, row: int) -> BatchResult:
        return self._rows[row]

    def results(self) -> list[BatchResult]:
        return list(self._rows)

    def _locate_key(self, key: SortKey) -> int:
        return _position(self._keys, key, self._descending)

    def locate(self, result: BatchResult) -> int | None:
        """The row showing ``result`` (found by bisection on its current key), or None."""
        row = self._locate_key(self._key(result))
        return row if row < len(self._rows) and self._rows[row] is result else None

    def refresh(self, row: int) -> None:
        """Row ``row``'s result changed (its verdict): repaint it, and move it if its key moved."""
        result = self._rows[row]
        if self._key(result) != self._keys[row]:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row], self._keys[row]
            self.endRemoveRows()
            self.add_results([result])
            return
        emit(self.dataChanged, self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsEditable if index.column() == AGENT else base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        result = self.row_at(index)
        if result is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(result, column)
        if role == Qt.ItemDataRole.EditRole and column == AGENT:
            return result.reviewed_label or result.prediction.label
        if role == Qt.ItemDataRole.ToolTipRole and column == TEXT:
            return result.row.text[:2000]
        if role == Qt.ItemDataRole.BackgroundRole and result.flagged and result.reviewed_label is None:
            return review_background(QGuiApplication.palette())
        if role == Qt.ItemDataRole.DecorationRole and column in (LABEL, AGENT):
            label = result.prediction.label if column == LABEL else result.reviewed_label
            return label_swatch(label) if label else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (LINE, CONFIDENCE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """An agent picked a label: ask for it to be saved; the row changes once the store has it."""
        if role != Qt.ItemDataRole.EditRole or index.column() != AGENT or value not in LABELS:
            return False
        emit(self.verdict_requested, self._rows[index.row()], str(value))
        return True


class ResultsFilter(QSortFilterProxyModel):
    """Label, confidence range, needs-review and text filters; ``queue`` adds "not reviewed yet"."""

    def __init__(self, queue: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.label: str | None = None
        self.min_confidence = 0.0
        self.max_confidence = 1.0
        self.review_only = queue
        self.search = ""
        self.judged: frozenset[str] = frozenset()  # text_key of every text in the corrections store
        self.setDynamicSortFilter(True)  # re-filter a row when its verdict changes (it leaves the queue)

    def set_judged(self, judged: frozenset[str]) -> None:
        """Texts agents gave a verdict on, in any session: the queue never shows them again."""
        if judged == self.judged:
            return
        self.beginFilterChange()
        self.judged = judged
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_filters(
        self, label: str | None = None, min_confidence: float = 0.0, max_confidence: float = 1.0, review_only: bool = False, search: str = ""
    ) -> None:
        self.beginFilterChange()
        self.label = label or None
        self.min_confidence, self.max_confidence = min_confidence, max_confidence
        self.review_only = review_only or self.queue
        self.search = search.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts (in one Python pass); this proxy only filters."""
        self.sourceModel().sort(column, order)

    def result(self, proxy_row: int) -> BatchResult:
        return self.sourceModel().result(self.mapToSource(self.index(proxy_row, 0)).row())

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: ARG002 - Qt's signature
        result = self.sourceModel().result(source_row)
        prediction = result.prediction
        if self.queue and (result.reviewed_label is not None or (self.judged and text_key(result.row.text) in self.judged)):
            return False
        if self.review_only and not result.flagged:
            return False
        if self.label is not None and prediction.label != self.label:
            return False
        if not self.min_confidence <= prediction.confidence <= self.max_confidence:
            return False
        return not self.search or self.search in result.folded_text
