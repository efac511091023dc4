"""Session statistics, confidence bands and throughput: plain Python, no Qt.

Everything here is a function of its arguments (the clock is passed in), so the app's
numbers are unit-tested without a window or a server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from client.core.api import Prediction
from client.core.labels import LABELS

HIGH_CONFIDENCE = 0.80
MEDIUM_CONFIDENCE = 0.50
BANDS = ("High", "Medium", "Low")
CONFIDENCE_BINS = 10


def confidence_band(confidence: float) -> str:
    """High (>= 0.80), Medium (>= 0.50) or Low: the words an agent sees beside the value."""
    if confidence >= HIGH_CONFIDENCE:
        return "High"
    if confidence >= MEDIUM_CONFIDENCE:
        return "Medium"
    return "Low"


def needs_review(prediction: Prediction, threshold: float) -> bool:
    """The agent's threshold when one is set (> 0), else the model's own calibrated flag;
    text in a language the model was not trained on always needs review."""
    if threshold > 0:
        return prediction.confidence < threshold or not prediction.language_supported
    return prediction.needs_review


def bin_index(value: float, bins: int = CONFIDENCE_BINS) -> int:
    """The slice of [0, 1] cut in ``bins`` equal parts that ``value`` falls in; 1.0 is in the last."""
    return min(int(max(value, 0.0) * bins), bins - 1)


def histogram(values: Iterable[float], bins: int = CONFIDENCE_BINS) -> list[int]:
    """Counts of confidences per slice of [0, 1]."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1. But it was: {bins}")
    counts = [0] * bins
    for value in values:
        counts[bin_index(value, bins)] += 1
    return counts


def label_counts(labels: Iterable[str]) -> dict[str, int]:
    """Counts for all eight labels in the contract's order, zeros included."""
    counted = Counter(labels)
    return {label: counted.get(label, 0) for label in LABELS}


@dataclass
class Throughput:
    """Items per second and time left of one running batch, from clock readings passed in."""

    total: int
    started: float
    done_at_start: int = 0

    def rate(self, done: int, now: float) -> float:
        elapsed = now - self.started
        return (done - self.done_at_start) / elapsed if elapsed > 0 else 0.0

    def seconds_left(self, done: int, now: float) -> float | None:
        rate = self.rate(done, now)
        return (self.total - done) / rate if rate > 0 else None


def format_duration(seconds: float | None) -> str:
    """``1:05`` / ``1:02:03`` for a time left; a dash while unknown."""
    if seconds is None:
        return "–"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class SessionStats:
    """What this app session did: items classified, labels, confidence, review share, verdicts."""

    classified: int = 0
    needing_review: int = 0
    corrections: int = 0
    confirmations: int = 0
    confidence_sum: float = 0.0
    by_label: Counter[str] = field(default_factory=Counter)
    confidence_bins: list[int] = field(default_factory=lambda: [0] * CONFIDENCE_BINS)

    def add_prediction(self, prediction: Prediction, flagged: bool) -> None:
        self.classified += 1
        self.needing_review += int(flagged)
        self.confidence_sum += prediction.confidence
        self.by_label[prediction.label] += 1
        self.confidence_bins[bin_index(prediction.confidence, len(self.confidence_bins))] += 1

    def add_verdict(self, kind: str, sign: int = 1) -> None:
        """Count a saved correction or confirmation; ``sign=-1`` when one is undone."""
        if kind == "correction":
            self.corrections += sign
        else:
            self.confirmations += sign

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.classified if self.classified else None

    @property
    def review_share(self) -> float | None:
        return self.needing_review / self.classified if self.classified else None

    def distribution(self) -> dict[str, int]:
        return label_counts(self.by_label.elements())
