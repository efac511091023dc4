"""The batch summary: counts per predicted label and the confidence histogram."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from client.ui.charts import BarChart, HistogramChart, label_bars
from client.core.stats import SessionStats


def stats_text(stats: SessionStats, skipped: int | None = None, calibrated_by: str = "") -> str:
    """One line of totals: classified, mean confidence, share needing review (and skipped rows,
    and what calibrated the scores, when something did)."""
    if not stats.classified:
        parts = ["nothing classified yet"]
    else:
        parts = [f"{stats.classified:,} classified", f"mean confidence {stats.mean_confidence:.2f}", f"{stats.review_share:.0%} need review"]
    if skipped is not None:
        parts.append(f"{skipped:,} rows skipped")
    if calibrated_by:
        parts.append(f"scores calibrated by {calibrated_by}")
    return "  ·  ".join(parts)


class StatsCharts(QWidget):
    """Totals, label counts and the confidence histogram of a SessionStats."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.totals = QLabel()
        self.labels = BarChart("Items per label")
        self.histogram = HistogramChart("Confidence histogram")
        labels_box = QGroupBox("Items per label")
        QVBoxLayout(labels_box).addWidget(self.labels)
        histogram_box = QGroupBox("Confidence histogram")
        QVBoxLayout(histogram_box).addWidget(self.histogram)
        charts = QHBoxLayout()
        charts.addWidget(labels_box, 1)
        charts.addWidget(histogram_box, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.totals)
        layout.addLayout(charts)
        layout.addStretch(1)
        self.show_stats(SessionStats())

    def show_stats(self, stats: SessionStats, skipped: int | None = None, calibrated_by: str = "") -> None:
        self.totals.setText(stats_text(stats, skipped, calibrated_by))
        self.labels.set_bars(label_bars(stats.distribution(), "d"))
        self.histogram.set_counts(stats.confidence_bins)
