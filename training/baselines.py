"""Baselines with the same ``EvalReport`` out: majority class, TF-IDF + logistic regression,
and a linear probe on the frozen base encoder.

Each is a ``fit(texts, labels) -> predict_proba(texts)`` pair built from scikit-learn, so
``compare`` treats them and the fine-tuned model alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from client.core.labels import LABEL2ID, LABELS


def _full_proba(model: Any, proba: np.ndarray) -> np.ndarray:
    """Columns for all eight labels, even those the training data lacked."""
    out = np.zeros((proba.shape[0], len(LABELS)))
    out[:, model.classes_] = proba
    return out


class SklearnBaseline:
    def __init__(self, name: str, estimator: Any) -> None:
        self.name = name
        self.estimator = estimator

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> SklearnBaseline:
        self.estimator.fit(list(texts), [LABEL2ID[y] for y in labels])
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return _full_proba(self.estimator, self.estimator.predict_proba(list(texts)))


def majority() -> SklearnBaseline:
    return SklearnBaseline("majority class", DummyClassifier(strategy="most_frequent"))


def tfidf_logreg() -> SklearnBaseline:
    """Word 1-2-grams plus character 2-5-grams, sublinear tf, C=10."""
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    return SklearnBaseline("TF-IDF + logistic regression", make_pipeline(features, LogisticRegression(C=10, max_iter=3000)))


class LinearProbe:
    """Mean-pooled embeddings of the frozen base encoder + logistic regression."""

    name = "frozen encoder + linear probe"

    def __init__(self, base_model_path: str, max_length: int = 128) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(base_model_path)
        self.encoder = AutoModel.from_pretrained(base_model_path).eval()
        self.max_length = max_length
        self.classifier = LogisticRegression(C=1.0, max_iter=3000)

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.encoder.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                enc = self.tokenizer([texts[i] for i in idx], truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
                hidden = self.encoder(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                out[idx] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> LinearProbe:
        self.classifier.fit(self.embed(texts), [LABEL2ID[y] for y in labels])
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return _full_proba(self.classifier, self.classifier.predict_proba(self.embed(texts)))
