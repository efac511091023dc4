"""The needs-review threshold as a safety net: the rule that fits it, in one place.

Fitted on the development set when a model is trained (``training.calibration``), and on a
source's spot check when the app calibrates that source (``client.core.source_temperature``):
the lowest confidence threshold whose flag (confidence below it) catches at least
``CATCH_MISTAKES`` of the model's mistakes; if that would flag more than ``MAX_FLAGGED`` of
all items, the highest threshold that flags no more than that. Agents then review a bounded
share of traffic that holds as many of the mistakes as it can. With no mistakes at all,
nothing is flagged (0.0).

Plain Python (the desktop install has no numpy): a sort and one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

CATCH_MISTAKES = 0.5
MAX_FLAGGED = 0.2
_ABOVE_ALL = 1.0 + 1e-9  # a threshold that flags every item, even one at confidence 1.0


def fit_threshold(
    confidence: Sequence[float], correct: Sequence[bool], catch: float = CATCH_MISTAKES, max_flagged: float = MAX_FLAGGED
) -> float:
    """The threshold (see the module docstring); an item is flagged when its confidence is below it."""
    if len(confidence) != len(correct):
        raise ValueError(f"confidence and correct must pair up. But there were {len(confidence)} and {len(correct)}")
    n = len(confidence)
    mistakes = sum(not c for c in correct)
    if n == 0 or mistakes == 0:
        return 0.0
    pairs = sorted(zip((float(c) for c in confidence), (not c for c in correct)))
    # Each candidate threshold t (every distinct confidence, then one above them all) with
    # how many items are below it and how many of those are mistakes.
    candidates: list[tuple[float, int, int]] = []
    below = wrong_below = 0
    for i, (value, wrong) in enumerate(pairs):
        if i == 0 or value != pairs[i - 1][0]:
            candidates.append((value, below, wrong_below))
        below += 1
        wrong_below += wrong
    candidates.append((_ABOVE_ALL, below, wrong_below))
    pick, flagged = next(((t, b) for t, b, w in candidates if w / mistakes >= catch), candidates[-1][:2])
    if flagged / n > max_flagged:
        within = [t for t, b, _ in candidates if b / n <= max_flagged]
        pick = within[-1] if within else 0.0
    return min(pick, 1.0)
