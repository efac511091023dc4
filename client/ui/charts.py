"""Charts drawn with QPainter (Qt Charts is deprecated): labelled bars and a histogram."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from client.core.labels import LABEL_NAMES, LABELS

# One colour per label, the same in every chart (colour-blind-safe Okabe-Ito palette).
LABEL_COLORS: dict[str, QColor] = {
    label: QColor(code)
    for label, code in zip(LABELS, ("#D55E00", "#0072B2", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#8C6D31", "#999999"))
}
NEUTRAL = QColor("#7F8C9B")


@dataclass(frozen=True)
class Bar:
    key: str  # a label id, for its colour
    name: str  # what the axis shows
    value: float
    text: str  # what the end of the bar shows


def label_bars(values: dict[str, float], fmt: str) -> list[Bar]:
    """One bar per label in the contract's order, its value printed with ``fmt`` (".2f", "d")."""
    return [Bar(label, LABEL_NAMES[label], values.get(label, 0), format(values.get(label, 0), fmt)) for label in LABELS]


class BarChart(QWidget):
    """Horizontal bars, one per row; ``highlight`` draws one bar bold (the predicted label)."""

    ROW = 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars: list[Bar] = []
        self._maximum = 1.0
        self._highlight: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_bars(self, bars: list[Bar], maximum: float | None = None, highlight: str | None = None) -> None:
        self._bars = list(bars)
        self._maximum = maximum if maximum is not None else max([b.value for b in bars] + [1e-9])
        self._highlight = highlight
        self.updateGeometry()
        self.update()

    def bars(self) -> list[Bar]:
        return list(self._bars)

    def sizeHint(self) -> QSize:
        return QSize(360, max(1, len(self._bars)) * self.ROW + 8)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, max(1, len(self._bars)) * self.ROW + 8)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002 - Qt's signature
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        name_width = max([metrics.horizontalAdvance(b.name) for b in self._bars] + [0]) + 10
        text_width = max([metrics.horizontalAdvance(b.text) for b in self._bars] + [0]) + 10
        track = max(10.0, self.width() - name_width - text_width - 8)
        for i, bar in enumerate(self._bars):
            top = 4 + i * self.ROW
            font = painter.font()
            font.setBold(bar.key == self._highlight)
            painter.setFont(font)
            text_color = self.palette().windowText().color()
            painter.setPen(text_color)
            painter.drawText(QRectF(0, top, name_width - 6, self.ROW), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, bar.name)
            length = track * (bar.value / self._maximum if self._maximum > 0 else 0.0)
            color = QColor(LABEL_COLORS.get(bar.key, NEUTRAL))
            if self._highlight is not None and bar.key != self._highlight:
                color.setAlpha(110)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(name_width, top + 4, max(length, 1.0), self.ROW - 8), 3, 3)
            painter.setPen(text_color)
            painter.drawText(QRectF(name_width + length + 6, top, text_width, self.ROW), Qt.AlignmentFlag.AlignVCenter, bar.text)
        painter.end()


class HistogramChart(QWidget):
    """Vertical bars of counts over [0, 1] (the confidence histogram), with its axis ticks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts: list[int] = []
        self.setMinimumSize(240, 140)

    def set_counts(self, counts: list[int]) -> None:
        self._counts = list(counts)
        self.update()

    def counts(self) -> list[int]:
        return list(self._counts)

    def sizeHint(self) -> QSize:
        return QSize(360, 180)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002 - Qt's signature
        painter = QPainter(self)
        metrics = painter.fontMetrics()
        text_color = self.palette().windowText().color()
        axis_h = metrics.height() + 4
        left = metrics.horizontalAdvance(str(max(self._counts + [0]))) + 8
        right = metrics.horizontalAdvance("1.0") // 2 + 4  # room for the last tick's text
        plot = QRectF(left, 6, max(10, self.width() - left - right), max(10, self.height() - axis_h - 10))
        painter.setPen(text_color)
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        top = max(self._counts + [0])
        painter.drawText(QRectF(0, plot.top() - 2, left - 4, metrics.height()), Qt.AlignmentFlag.AlignRight, str(top))
        if self._counts:
            width = plot.width() / len(self._counts)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#0072B2"))
            for i, count in enumerate(self._counts):
                height = plot.height() * (count / top) if top else 0.0
                painter.drawRect(QRectF(plot.left() + i * width + 1, plot.bottom() - height, width - 2, height))
        painter.setPen(text_color)
        for tick in (0.0, 0.5, 1.0):
            x = plot.left() + tick * plot.width()
            painter.drawText(QRectF(x - 20, plot.bottom() + 2, 40, axis_h), Qt.AlignmentFlag.AlignHCenter, f"{tick:.1f}")
        painter.end()
