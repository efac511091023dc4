"""The app's colours: one colour per label (charts and tables alike), and colours derived from
the system palette so that a dark theme stays readable.

Fixed colours under palette text break in dark mode: a light yellow row behind the
palette's light text is unreadable. Everything here is mixed from the current palette and
checked against WCAG 2.x contrast (4.5:1 for normal text).
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap

from client.core.labels import LABELS

# One colour per label, the same in every chart and table (colour-blind-safe Okabe-Ito palette).
LABEL_COLORS: dict[str, QColor] = {
    label: QColor(code)
    for label, code in zip(LABELS, ("#D55E00", "#0072B2", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#8C6D31", "#999999"))
}
NEUTRAL = QColor("#7F8C9B")
REVIEW_TINT = QColor("#FFC107")  # amber: "look at me", mixed into the palette's base colour
TEXT_CONTRAST = 4.5  # WCAG AA for normal text
ALERT_TINT = QColor("#D32F2F")  # red: "something changed", mixed into the palette's text colour
OK_TINT = QColor("#2E7D32")  # green: "all is well", mixed in the same way


def relative_luminance(color: QColor) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (0 black .. 1 white)."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 (same) to 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mix(base: QColor, tint: QColor, share: float) -> QColor:
    """``share`` of ``tint`` over ``base``."""
    return QColor.fromRgbF(*(b + (t - b) * share for b, t in zip(base.getRgbF()[:3], tint.getRgbF()[:3])))


def review_background(palette: QPalette) -> QColor:
    """The needs-review row colour: amber mixed into the palette's base, as strong as the
    palette's text colour allows while keeping 4.5:1 contrast."""
    return _review_background(palette.color(QPalette.ColorRole.Base).rgb(), palette.color(QPalette.ColorRole.Text).rgb())


@lru_cache(maxsize=8)
def _review_background(base_rgb: int, text_rgb: int) -> QColor:
    base, text = QColor.fromRgb(base_rgb), QColor.fromRgb(text_rgb)
    for share in (0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05):
        color = mix(base, REVIEW_TINT, share)
        if contrast_ratio(color, text) >= TEXT_CONTRAST:
            return color
    return base


def alert_color(palette: QPalette) -> QColor:
    """Alert text (drift warnings, errors): as red as the window's colour allows while keeping
    4.5:1 contrast, else the palette's own text colour."""
    return _tinted_text(palette.color(QPalette.ColorRole.Window).rgb(), palette.color(QPalette.ColorRole.WindowText).rgb(), ALERT_TINT.rgb())


def ok_color(palette: QPalette) -> QColor:
    """"All is well" text (a healthy server): green, under the same contrast rule."""
    return _tinted_text(palette.color(QPalette.ColorRole.Window).rgb(), palette.color(QPalette.ColorRole.WindowText).rgb(), OK_TINT.rgb())


@lru_cache(maxsize=16)
def _tinted_text(window_rgb: int, text_rgb: int, tint_rgb: int) -> QColor:
    window, text, tint = QColor.fromRgb(window_rgb), QColor.fromRgb(text_rgb), QColor.fromRgb(tint_rgb)
    for share in (1.0, 0.85, 0.7, 0.55, 0.4, 0.25):
        color = mix(text, tint, share)
        if contrast_ratio(color, window) >= TEXT_CONTRAST:
            return color
    return text


@lru_cache(maxsize=len(LABELS) + 1)
def label_swatch(label: str, size: int = 12) -> QIcon:
    """A small round swatch of the label's colour, shown beside label names in tables."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(LABEL_COLORS.get(label, NEUTRAL))
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)
