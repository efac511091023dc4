"""Session statistics, confidence bands and throughput: Qt-free, no server."""

from __future__ import annotations

import pytest

from client.core.api import Prediction
from client.core.stats import SessionStats, Throughput, confidence_band, format_duration, histogram, label_counts, needs_review
from client.core.labels import LABELS


def prediction(label: str, confidence: float, flagged: bool = False) -> Prediction:
    scores = dict.fromkeys(LABELS, (1 - confidence) / 7)
    scores[label] = confidence
    return Prediction(label, confidence, scores, flagged, "1")


@pytest.mark.parametrize(("confidence", "band"), [(0.95, "High"), (0.80, "High"), (0.79, "Medium"), (0.50, "Medium"), (0.49, "Low"), (0.0, "Low")])
def test_confidence_band_edges(confidence: float, band: str) -> None:
    assert confidence_band(confidence) == band


def test_agent_threshold_overrides_the_model_flag_and_zero_keeps_it() -> None:
    sure, unsure = prediction("bug", 0.9, flagged=True), prediction("bug", 0.3, flagged=False)
    assert needs_review(sure, 0.0) is True and needs_review(unsure, 0.0) is False
    assert needs_review(sure, 0.5) is False and needs_review(unsure, 0.5) is True


def test_histogram_puts_one_in_the_last_bin_and_clamps_below_zero() -> None:
    assert histogram([0.0, 0.05, 0.1, 0.55, 0.999, 1.0, -0.2], bins=10) == [3, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    with pytest.raises(ValueError, match="bins must be at least 1"):
        histogram([0.5], bins=0)


def test_label_counts_lists_all_eight_in_contract_order() -> None:
    counts = label_counts(["praise", "bug", "praise"])
    assert list(counts) == list(LABELS)
    assert counts["praise"] == 2 and counts["bug"] == 1 and counts["other"] == 0


def test_session_stats_mean_review_share_distribution_and_verdicts() -> None:
    stats = SessionStats()
    assert stats.mean_confidence is None and stats.review_share is None
    stats.add_prediction(prediction("bug", 0.9), flagged=False)
    stats.add_prediction(prediction("question", 0.3), flagged=True)
    stats.add_prediction(prediction("bug", 0.6), flagged=False)
    assert stats.classified == 3
    assert stats.mean_confidence == pytest.approx(0.6)
    assert stats.review_share == pytest.approx(1 / 3)
    assert stats.distribution()["bug"] == 2 and stats.distribution()["question"] == 1
    assert sum(stats.confidence_bins) == 3 and stats.confidence_bins[9] == 1 and stats.confidence_bins[3] == 1
    stats.add_verdict("correction")
    stats.add_verdict("confirmation")
    stats.add_verdict("correction", -1)
    assert (stats.corrections, stats.confirmations) == (0, 1)


def test_throughput_rate_and_time_left_from_the_resume_point() -> None:
    meter = Throughput(total=1000, started=100.0, done_at_start=200)
    assert meter.rate(200, 100.0) == 0.0 and meter.seconds_left(200, 100.0) is None
    assert meter.rate(400, 110.0) == pytest.approx(20.0)
    assert meter.seconds_left(400, 110.0) == pytest.approx(30.0)


@pytest.mark.parametrize(("seconds", "text"), [(None, "–"), (0, "0:00"), (65.4, "1:05"), (3723, "1:02:03")])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
