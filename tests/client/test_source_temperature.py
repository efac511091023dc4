"""A source's temperature from its spot check: the same fit as training's, on the scores the server sends."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from client.core.api import Prediction
from client.core.labels import LABELS
from client.core.review_threshold import fit_threshold
from client.core.source_temperature import BOUNDS, MIN_MISTAKES, MIN_VERDICTS, apply, calibrate, fit, nll, rescale
from training.calibration import fit_temperature


def served(logits: np.ndarray) -> list[dict[str, float]]:
    """Softmax scores rounded to 6 decimals, as the handler answers."""
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    return [{label: round(float(p), 6) for label, p in zip(LABELS, row)} for row in probs]


def over_confident_source(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Sharp logits whose top label is right about 60% of the time: traffic unlike ours."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (n, len(LABELS)))
    top = rng.integers(0, len(LABELS), n)
    logits[np.arange(n), top] += 6.0
    truth = [int(t) if rng.random() < 0.6 else int(rng.integers(0, len(LABELS))) for t in top]
    return logits, truth


def test_the_fit_is_trainings_fit_on_the_served_scores() -> None:
    logits, truth = over_confident_source(300, seed=1)
    expected = fit_temperature(logits, np.array(truth))  # scipy's bounded search on the logits
    got = fit(served(logits), [LABELS[t] for t in truth])
    assert got == pytest.approx(expected, rel=2e-3)
    assert got > 1.5  # over-confident traffic: the scores are softened


def test_the_fit_minimises_the_likelihood_it_reports() -> None:
    logits, truth = over_confident_source(200, seed=2)
    scores, labels = served(logits), [LABELS[t] for t in truth]
    best = fit(scores, labels)
    for other in (best * 0.8, best * 1.25, 1.0):
        assert nll(scores, labels, best) < nll(scores, labels, other)


def test_rescaling_keeps_the_label_and_order_and_sums_to_one() -> None:
    rng = random.Random(5)
    for _ in range(50):
        raw = [0.001 + rng.random() ** 4 for _ in LABELS]
        scores = {label: value / sum(raw) for label, value in zip(LABELS, raw)}
        for temperature in (0.5, 1.0, 3.0):
            out = rescale(scores, temperature)
            assert math.isclose(sum(out.values()), 1.0, abs_tol=1e-9)
            assert sorted(out, key=out.get) == sorted(scores, key=scores.get)
        assert rescale(scores, 1.0) == pytest.approx(scores)
        assert max(rescale(scores, 3.0).values()) <= max(scores.values())
    with pytest.raises(ValueError, match="above 0"):
        rescale({"bug": 1.0}, 0)


def test_edge_cases_are_clear() -> None:
    assert fit([], []) == 1.0
    with pytest.raises(ValueError, match="pair up"):
        fit([{"bug": 1.0}], [])
    with pytest.raises(ValueError, match="has no score"):
        fit([{"bug": 1.0}], ["praise"])
    always_right = [{"bug": 0.6, "praise": 0.4}] * 20
    assert fit(always_right, ["bug"] * 20) == pytest.approx(BOUNDS[0], rel=1e-3)  # as sharp as the search allows
    rounded_to_zero = [{"bug": 1.0, "praise": 0.0}] * 5 + [{"bug": 0.0, "praise": 1.0}] * 5
    assert math.isfinite(nll(rounded_to_zero, ["praise"] * 10, fit(rounded_to_zero, ["praise"] * 10)))


def test_a_calibration_needs_enough_verdicts_and_flags_by_the_cards_rule_on_the_sample() -> None:
    logits, truth = over_confident_source(100, seed=3)
    scores, labels = served(logits), [LABELS[t] for t in truth]
    predictions = [Prediction(max(s, key=s.get), max(s.values()), s, False, "3") for s in scores]
    predicted = [p.label for p in predictions]
    with pytest.raises(ValueError, match=f"needs {MIN_VERDICTS} spot-check verdicts"):
        calibrate(scores[: MIN_VERDICTS - 1], labels[: MIN_VERDICTS - 1], predicted[: MIN_VERDICTS - 1])
    with pytest.raises(ValueError, match=f"needs {MIN_MISTAKES} mistakes"):  # nearly always right: left as it is
        calibrate(scores, [*predicted[: 100 - MIN_MISTAKES + 1], *labels[100 - MIN_MISTAKES + 1 :]], predicted)
    with pytest.raises(ValueError, match="pair up"):
        calibrate(scores, labels, predicted[:-1])
    calibration = calibrate(scores, labels, predicted)
    assert calibration.temperature == pytest.approx(fit(scores, labels)) and calibration.verdicts == 100
    applied = [apply(p, calibration) for p in predictions]
    flagged = [f for _, f in applied]
    right = [p.label == label for p, label in zip(predictions, labels)]
    assert sum(flagged) <= 0.2 * len(flagged)  # the card's rule: at most a fifth of the sample
    mistakes_caught = sum(f and not r for f, r in zip(flagged, right))
    assert calibration.threshold == fit_threshold([p.confidence for p, _ in applied], right)
    assert mistakes_caught > 0
    for before, (after, flag) in zip(predictions, applied):
        assert after.label == before.label and after.confidence < before.confidence  # softened, same label
        assert after.needs_review == flag == (after.confidence < calibration.threshold)
    foreign = Prediction("bug", 0.999, {label: (0.999 if label == "bug" else 0.001 / 7) for label in LABELS}, False, "3", language_supported=False)
    assert apply(foreign, calibration)[1]  # not English: still reviewed, however sure
