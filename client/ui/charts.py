"""Charts drawn with QPainter (Qt Charts is deprecated): labelled bars and a histogram."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from client.core.labels import LABEL_NAMES, LABELS
from client.ui.palette import LABEL_COLORS, NEUTRAL, alert_color


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
    """Horizontal bars, one per row; ``highlight`` draws one bar bold (the predicted label).

    Painted by hand, so screen readers see nothing unless told: the accessible name says
    what the chart is, the accessible description reads out every bar.
    """

    MIN_ROW = 22

    def __init__(self, name: str = "Bar chart", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars: list[Bar] = []
        self._maximum = 1.0
        self._highlight: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(name)
        self.setAccessibleDescription("No data yet.")

    @property
    def row(self) -> int:
        """Row height: grows with the font, never below the original 22 px."""
        return max(self.MIN_ROW, self.fontMetrics().height() + 8)

    def set_bars(self, bars: list[Bar], maximum: float | None = None, highlight: str | None = None) -> None:
        self._bars = list(bars)
        self._maximum = maximum if maximum is not None else max([b.value for b in bars] + [1e-9])
        self._highlight = highlight
        described = "; ".join(f"{b.name} {b.text}" + (" (predicted)" if b.key == highlight else "") for b in self._bars)
        self.setAccessibleDescription(described or "No data yet.")
        self.updateGeometry()
        self.update()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self.updateGeometry()
        super().changeEvent(event)

    def bars(self) -> list[Bar]:
        return list(self._bars)

    def sizeHint(self) -> QSize:
        return QSize(360, max(1, len(self._bars)) * self.row + 8)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, max(1, len(self._bars)) * self.row + 8)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002 - Qt's signature
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        name_width = max([metrics.horizontalAdvance(b.name) for b in self._bars] + [0]) + 10
        text_width = max([metrics.horizontalAdvance(b.text) for b in self._bars] + [0]) + 10
        track = max(10.0, self.width() - name_width - text_width - 8)
        row = self.row
        for i, bar in enumerate(self._bars):
            top = 4 + i * row
            font = painter.font()
            font.setBold(bar.key == self._highlight)
            painter.setFont(font)
            text_color = self.palette().windowText().color()
            painter.setPen(text_color)
            painter.drawText(QRectF(0, top, name_width - 6, row), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, bar.name)
            length = track * (bar.value / self._maximum if self._maximum > 0 else 0.0)
            color = QColor(LABEL_COLORS.get(bar.key, NEUTRAL))
            if self._highlight is not None and bar.key != self._highlight:
                color.setAlpha(110)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(name_width, top + 4, max(length, 1.0), row - 8), 3, 3)
            painter.setPen(text_color)
            painter.drawText(QRectF(name_width + length + 6, top, text_width, row), Qt.AlignmentFlag.AlignVCenter, bar.text)
        painter.end()


class HistogramChart(QWidget):
    """Vertical bars of counts over [0, 1] (the confidence histogram), with its axis ticks."""

    def __init__(self, name: str = "Confidence histogram", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts: list[int] = []
        self.setMinimumSize(240, 140)
        self.setAccessibleName(name)
        self.setAccessibleDescription("No data yet.")

    def set_counts(self, counts: list[int]) -> None:
        self._counts = list(counts)
        width = 1 / len(self._counts) if self._counts else 1.0
        described = "; ".join(f"{i * width:.1f} to {(i + 1) * width:.1f}: {count}" for i, count in enumerate(self._counts))
        self.setAccessibleDescription(described or "No data yet.")
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


@dataclass(frozen=True)
class Point:
    name: str  # the bucket on the axis ("14:00", "Mar 10")
    value: float
    text: str  # what the accessible description reads out ("31%", "0.74")


class SeriesChart(QWidget):
    """One bar per time bucket over [0, ``maximum``], against a reference: the band seen on
    validation (shaded) and the alert limit (a dashed line). Bars past the limit are drawn in
    the palette's alert colour; everything else follows the system palette.

    ``above`` says which side of the limit alerts: True for the share needing review, False
    for the mean confidence."""

    def __init__(self, name: str, above: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: list[Point] = []
        self._band: tuple[float, float] | None = None
        self._limit: float | None = None
        self._maximum = 1.0
        self._above = above
        self.setMinimumSize(240, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(name)
        self.setAccessibleDescription("No data yet.")

    def set_series(self, points: list[Point], band: tuple[float, float] | None = None, limit: float | None = None, maximum: float = 1.0) -> None:
        self._points, self._band, self._limit, self._maximum = list(points), band, limit, maximum
        parts = [f"{p.name}: {p.text}" + (" (past the alert limit)" if self.past_limit(p.value) else "") for p in self._points]
        if band is not None:
            parts.append(f"validation band {band[0]:.2f} to {band[1]:.2f}")
        if limit is not None:
            parts.append(f"alert limit {limit:.2f}")
        self.setAccessibleDescription("; ".join(parts) if self._points else "No data yet.")
        self.update()

    def points(self) -> list[Point]:
        return list(self._points)

    def past_limit(self, value: float) -> bool:
        if self._limit is None:
            return False
        return value >= self._limit if self._above else value < self._limit

    def sizeHint(self) -> QSize:
        return QSize(360, 8 * self.fontMetrics().height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002 - Qt's signature
        painter = QPainter(self)
        palette = self.palette()
        metrics = painter.fontMetrics()
        text_color = palette.windowText().color()
        axis_h = metrics.height() + 4
        left = metrics.horizontalAdvance(f"{self._maximum:.1f}") + 8
        plot = QRectF(left, 6, max(10, self.width() - left - 6), max(10, self.height() - axis_h - 10))

        def y(value: float) -> float:
            return plot.bottom() - plot.height() * min(max(value / self._maximum, 0.0), 1.0)

        if self._band is not None:
            band = QColor(palette.mid().color())
            band.setAlpha(90)
            painter.fillRect(QRectF(plot.left(), y(self._band[1]), plot.width(), max(1.0, y(self._band[0]) - y(self._band[1]))), band)
        if self._points:
            width = plot.width() / len(self._points)
            painter.setPen(Qt.PenStyle.NoPen)
            for i, point in enumerate(self._points):
                painter.setBrush(alert_color(palette) if self.past_limit(point.value) else palette.highlight().color())
                top = y(point.value)
                painter.drawRect(QRectF(plot.left() + i * width + 1, top, max(1.0, width - 2), plot.bottom() - top))
        if self._limit is not None:
            pen = painter.pen()
            pen.setStyle(Qt.PenStyle.DashLine)
            pen.setColor(alert_color(palette))
            painter.setPen(pen)
            painter.drawLine(plot.left(), y(self._limit), plot.right(), y(self._limit))
        painter.setPen(text_color)
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        for value in (0.0, self._maximum):
            painter.drawText(QRectF(0, y(value) - metrics.height() / 2, left - 4, metrics.height()), Qt.AlignmentFlag.AlignRight, f"{value:.1f}")
        if self._points:  # first and last bucket names under the axis
            painter.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), axis_h), Qt.AlignmentFlag.AlignLeft, self._points[0].name)
            if len(self._points) > 1:
                painter.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), axis_h), Qt.AlignmentFlag.AlignRight, self._points[-1].name)
        painter.end()
