"""Temperature scaling and the needs-review threshold: pure functions of arrays.

A fine-tuned classifier's softmax is usually over-confident. Dividing the logits by one
temperature fitted on validation data (Guo et al. 2017) makes "80% confident" mean right
about 80% of the time, without changing which label wins.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

CATCH_MISTAKES = 0.5
MAX_FLAGGED = 0.2


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
    """The needs-review threshold as a safety net, fitted on the selection (development) set.

    The lowest confidence threshold whose flag (confidence below it) catches at least
    ``catch`` of the model's mistakes; if that would flag more than ``max_flagged`` of all
    items, the highest threshold that flags no more than that. Agents then review a bounded
    share of traffic that holds as many of the mistakes as it can. With no mistakes at all,
    nothing is flagged (0.0).
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    wrong = np.asarray(correct, dtype=np.float64) == 0
    if len(confidence) == 0 or not wrong.any():
        return 0.0
    candidates = np.unique(np.r_[confidence, 1.0 + 1e-9])  # a threshold t flags confidence < t
    flagged = np.array([(confidence < t).mean() for t in candidates])
    caught = np.array([(wrong & (confidence < t)).sum() / wrong.sum() for t in candidates])
    enough = np.flatnonzero(caught >= catch)
    pick = candidates[enough[0]] if len(enough) else candidates[-1]
    if (confidence < pick).mean() > max_flagged:
        within = np.flatnonzero(flagged <= max_flagged)
        pick = candidates[within[-1]] if len(within) else 0.0
    return float(min(pick, 1.0))


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
