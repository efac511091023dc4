"""The review threshold's rule, fitted in plain Python: the same threshold as its definition, on any input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.core.review_threshold import fit_threshold


def by_definition(confidence: list[float], correct: list[bool], catch: float, max_flagged: float) -> float:
    """The rule as written: every candidate threshold tried, each counted in full (quadratic)."""
    conf = np.asarray(confidence, dtype=np.float64)
    wrong = ~np.asarray(correct, dtype=bool)
    if len(conf) == 0 or not wrong.any():
        return 0.0
    candidates = np.unique(np.r_[conf, 1.0 + 1e-9])
    flagged = np.array([(conf < t).mean() for t in candidates])
    caught = np.array([(wrong & (conf < t)).sum() / wrong.sum() for t in candidates])
    enough = np.flatnonzero(caught >= catch)
    pick = candidates[enough[0]] if len(enough) else candidates[-1]
    if (conf < pick).mean() > max_flagged:
        within = np.flatnonzero(flagged <= max_flagged)
        pick = candidates[within[-1]] if len(within) else 0.0
    return float(min(pick, 1.0))


# Confidences on a coarse grid, so ties (several items at one confidence) are common.
items = st.lists(st.tuples(st.integers(0, 20).map(lambda i: i / 20), st.booleans()), max_size=60)


@settings(max_examples=300, deadline=None)
@given(items, st.sampled_from([0.3, 0.5, 0.7, 1.0]), st.sampled_from([0.05, 0.2, 0.5, 1.0]))
def test_the_fast_rule_is_the_rule(pairs: list[tuple[float, bool]], catch: float, max_flagged: float) -> None:
    confidence, correct = [c for c, _ in pairs], [r for _, r in pairs]
    assert fit_threshold(confidence, correct, catch, max_flagged) == by_definition(confidence, correct, catch, max_flagged)


def test_the_flag_catches_half_the_mistakes_within_a_fifth_of_the_items() -> None:
    confidence = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99]
    correct = [False, True, False, True, True, True, False, True, True, True]
    threshold = fit_threshold(confidence, correct)
    # Half the three mistakes needs 0.6 (flags 0.3, 0.4, 0.5: two mistakes), which flags 30%:
    # over a fifth, so the highest threshold within it, 0.5 (flags 0.3 and 0.4: one mistake).
    assert threshold == 0.5
    assert fit_threshold(confidence, correct, max_flagged=0.5) == 0.6  # with room for more, the first that catches half
    assert fit_threshold(confidence, [True] * 10) == 0.0
    assert fit_threshold([], []) == 0.0
    with pytest.raises(ValueError, match="pair up"):
        fit_threshold([0.5], [])
