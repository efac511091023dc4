"""Temperature scaling, the review threshold and ECE on fixed examples."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import expected_calibration_error, fit_temperature, nll, probabilities, review_threshold


def overconfident_logits() -> tuple[np.ndarray, np.ndarray]:
    """Logits that are right 70% of the time but claim ~99.9%."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, size=400)
    pred = labels.copy()
    wrong = rng.random(400) < 0.3
    pred[wrong] = (labels[wrong] + 1) % 8
    logits = rng.normal(0, 0.5, size=(400, 8))
    logits[np.arange(400), pred] += 8.0
    return logits, labels


def test_temperature_scaling_lowers_nll_and_keeps_the_argmax():
    logits, labels = overconfident_logits()
    t = fit_temperature(logits, labels)
    assert t > 1.5
    assert nll(logits, labels, t) < nll(logits, labels, 1.0)
    assert (probabilities(logits, t).argmax(1) == probabilities(logits, 1.0).argmax(1)).all()


def test_temperature_scaling_lowers_ece():
    logits, labels = overconfident_logits()
    before, after = probabilities(logits, 1.0), probabilities(logits, fit_temperature(logits, labels))
    ece = lambda p: expected_calibration_error(p.max(1), p.argmax(1) == labels)  # noqa: E731
    assert ece(after) < ece(before) / 3


def test_review_threshold_catches_half_the_mistakes_with_the_fewest_flags():
    conf = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.6, 0.5])
    correct = np.array([1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1])
    # the mistakes sit at 0.98, 0.93 and 0.6: flagging below 0.93 catches 1 of 3, below 0.94 catches 2 of 3
    assert review_threshold(conf, correct, catch=0.5, max_flagged=1.0) == pytest.approx(0.94)


def test_review_threshold_never_flags_more_than_the_cap():
    conf = np.linspace(0.5, 0.99, 100)
    correct = np.r_[np.ones(50), np.zeros(50)]  # every mistake is among the confident half
    t = review_threshold(conf, correct, catch=0.5, max_flagged=0.2)
    assert (conf < t).mean() <= 0.2 and (conf < t).mean() >= 0.19


def test_review_threshold_flags_nothing_for_a_model_without_mistakes():
    assert review_threshold(np.array([0.9, 0.8]), np.array([1, 1])) == 0.0


def test_ece_of_perfect_calibration_is_zero_and_of_overconfidence_is_the_gap():
    assert expected_calibration_error(np.full(10, 1.0), np.ones(10)) == pytest.approx(0.0)
    assert expected_calibration_error(np.full(10, 0.9), np.r_[np.ones(5), np.zeros(5)]) == pytest.approx(0.4)
