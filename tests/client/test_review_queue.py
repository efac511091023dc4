"""The review queue's orders and reasons: pure functions, no window, no server."""

from __future__ import annotations

import math

import pytest

from client.core.api import Prediction
from client.core.labels import LABELS
from client.core.review_queue import (
    entropy,
    margin,
    near_duplicate_groups,
    review_reasons,
    text_key,
    useful_order,
)


def prediction(**scores: float) -> Prediction:
    full = {label: scores.get(label, 0.0) for label in LABELS}
    rest = (1.0 - sum(full.values())) / sum(1 for v in full.values() if v == 0.0)
    full = {k: (v if v else rest) for k, v in full.items()}
    label = max(full, key=full.get)
    return Prediction(label, full[label], full, True, "1")


def test_margin_and_entropy_tell_a_close_call_from_a_sure_one() -> None:
    close, sure = prediction(bug=0.45, question=0.40), prediction(praise=0.93)
    assert margin(close.scores) == pytest.approx(0.05) and margin(sure.scores) == pytest.approx(0.92)
    assert entropy({label: 1 / 8 for label in LABELS}) == pytest.approx(1.0)
    assert entropy({"bug": 1.0, "praise": 0.0}) == 0.0
    assert 0 < entropy(sure.scores) < entropy(close.scores) < 1
    assert not math.isnan(entropy({}))


def test_reasons_say_why_an_item_needs_review() -> None:
    close = prediction(bug=0.45, question=0.40)
    assert review_reasons(close, flagged=False) == []
    assert review_reasons(close, flagged=True) == ["low confidence 0.45", "close to Question"]
    foreign = Prediction("bug", 0.9, prediction(bug=0.9).scores, True, "1", truncated=True, cleaned=True, language_supported=False)
    assert review_reasons(foreign, flagged=True) == ["not English", "cut to the model's length", "quotes or signature removed"]


def test_near_duplicates_share_a_group_and_different_texts_do_not() -> None:
    texts = [
        "The export button crashes every time I open it, error 500 (#1)",
        "the export button crashes every time I open it error 500 (#9)",
        "Please add a dark mode to the calendar",
        "please add a dark mode to the calendar!!",
        "How do I reset my password?",
    ]
    groups = near_duplicate_groups(texts)
    assert groups[0] == groups[1] and groups[2] == groups[3]
    assert len({groups[0], groups[2], groups[4]}) == 3
    assert text_key("  Hello   World ") == text_key("hello world")


def test_most_useful_covers_every_label_and_each_near_duplicate_group_before_repeating() -> None:
    texts, predictions = [], []
    for copy in range(5):  # five copies of one uncertain bug report, all less sure than anything else
        texts.append(f"the sync crashes on my phone every morning since the update, copy {copy}")
        predictions.append(prediction(bug=0.30 + copy * 0.001, complaint=0.29))
    for i, label in enumerate(("praise", "question", "feature_request")):
        texts.append(f"{label} item number {i} about something quite different {'x' * i}")
        predictions.append(prediction(**{label: 0.5, "other": 0.3}))
    order = useful_order(texts, predictions)
    assert sorted(order) == list(range(len(texts)))
    first = order[:4]
    assert {predictions[i].label for i in first} == {"bug", "praise", "question", "feature_request"}
    assert first[0] == 0  # the most uncertain copy leads its group
    assert set(order[4:]) == {1, 2, 3, 4}
    with pytest.raises(ValueError, match="pair up"):
        useful_order(texts, predictions[:2])
