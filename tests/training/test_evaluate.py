"""Evaluation metrics agree with scikit-learn, with all eight labels always present."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from training.evaluate import evaluate_predictions, save_plots
from client.core.labels import LABEL2ID, LABELS


def one_hot(labels: list[str], confidence: float = 0.9) -> np.ndarray:
    out = np.full((len(labels), 8), (1 - confidence) / 7)
    for i, label in enumerate(labels):
        out[i, LABEL2ID[label]] = confidence
    return out


def test_metrics_agree_with_sklearn_with_a_label_missing_from_the_data():
    y_true = ["bug", "bug", "praise", "question", "question", "complaint", "other", "usage_tip"]
    y_pred = ["bug", "praise", "praise", "question", "complaint", "complaint", "other", "bug"]
    report = evaluate_predictions(y_true, one_hot(y_pred), ["short text"] * 8)
    ids = list(range(8))
    t = [LABEL2ID[y] for y in y_true]
    p = [LABEL2ID[y] for y in y_pred]
    assert report.accuracy == pytest.approx(accuracy_score(t, p))
    assert report.macro_f1 == pytest.approx(f1_score(t, p, labels=ids, average="macro", zero_division=0))
    assert report.weighted_f1 == pytest.approx(f1_score(t, p, labels=ids, average="weighted", zero_division=0))
    assert report.labels == list(LABELS)
    assert report.per_class["documentation"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0.0}
    assert report.per_class["bug"]["recall"] == pytest.approx(0.5)
    assert np.array(report.confusion_matrix).shape == (8, 8) and np.array(report.confusion_matrix).sum() == 8
    assert report.confusion_matrix[LABEL2ID["bug"]][LABEL2ID["praise"]] == 1


def test_json_keys_mistakes_length_buckets_and_sources(tmp_path):
    y_true = ["bug", "praise", "other"]
    proba = one_hot(["bug", "bug", "other"], 0.8)
    texts = ["crash", "I really love how fast the new editor opens " * 3, "hi"]
    report = evaluate_predictions(y_true, proba, texts, ["a", "b", "a"])
    data = report.to_dict()
    for key in ("accuracy", "macro_f1", "weighted_f1", "per_class", "confusion_matrix", "labels", "ece", "n"):
        assert key in data
    assert data["n"] == 3
    assert report.confident_mistakes == [{"text": texts[1], "true": "praise", "predicted": "bug", "confidence": pytest.approx(0.8)}]
    assert report.by_source["a"]["accuracy"] == 1.0 and report.by_source["b"]["accuracy"] == 0.0
    assert set(report.by_length) == {"1-10", "11-30"}
    assert "macro-F1" in report.table()
    for png in save_plots(report, tmp_path):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_sources_group_by_dataset_and_judge_only_their_labels():
    y_true = ["documentation", "documentation", "bug", "bug"]
    report = evaluate_predictions(
        y_true, one_hot(["documentation", "bug", "bug", "bug"]), None,
        ["github_doc_issues:https://example/1", "github_doc_issues:https://example/2", "reviews", "reviews"],
    )
    assert set(report.by_source) == {"github_doc_issues", "reviews"}
    assert report.by_source["github_doc_issues"]["accuracy"] == 0.5
    assert report.by_source["reviews"]["macro_f1"] == 1.0  # only `bug` is judged for that source
