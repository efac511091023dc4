"""Temperature scaling and the needs-review threshold: pure functions of arrays.

A fine-tuned classifier's softmax is usually over-confident. Dividing the logits by one
temperature fitted on validation data (Guo et al. 2017) makes "80% confident" mean right
about 80% of the time, without changing which label wins.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from client.core.review_threshold import CATCH_MISTAKES, MAX_FLAGGED, fit_threshold



def probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), np.asarray(labels)].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises validation NLL (searched on log scale)."""
    if len(labels) == 0:
        return 1.0
    result = minimize_scalar(lambda log_t: nll(logits, labels, float(np.exp(log_t))), bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def review_threshold(
    confidence: np.ndarray, correct: np.ndarray, catch: float = CATCH_MISTAKES, max_flagged: float = MAX_FLAGGED
) -> float:
    """The needs-review threshold as a safety net, fitted on the selection (development) set:
    the rule of ``client.core.review_threshold``, where the app also fits it on a source's spot check."""
    return fit_threshold(np.asarray(confidence, dtype=np.float64).tolist(), (np.asarray(correct) != 0).tolist(), catch, max_flagged)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width bins: sum over bins of |accuracy - mean confidence| x bin share."""
    table = reliability_bins(confidence, correct, bins)
    total = sum(b["count"] for b in table)
    if total == 0:
        return 0.0
    return float(sum(abs(b["accuracy"] - b["confidence"]) * b["count"] / total for b in table))


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> list[dict[str, float]]:
    """Per-bin mean confidence, accuracy and count, for the reliability diagram."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        out.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": int(mask.sum()),
                "confidence": float(confidence[mask].mean()) if mask.any() else 0.0,
                "accuracy": float(correct[mask].mean()) if mask.any() else 0.0,
            }
        )
    return out
