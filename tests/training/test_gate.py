"""The promotion gate, rule by rule (table-driven)."""

from __future__ import annotations

import pytest

from training.gate import FAIL, PASS, SKIPPED, GateThresholds, ModelScores, decide

RECALL = {"bug": 0.90, "praise": 0.80}
SUPPORT = {"bug": 30.0, "praise": 30.0}


def scores(f1: float, recall: dict | None = None, held: float | None = None, n: int = 0) -> ModelScores:
    return ModelScores(f1, recall or RECALL, SUPPORT, held, n)


@pytest.mark.parametrize(
    ("name", "new", "promote", "statuses"),
    [
        ("better everywhere", scores(0.86, held=0.9, n=25), True, (PASS, PASS, PASS)),
        ("f1 within tolerance", scores(0.846, held=0.9, n=25), True, (PASS, PASS, PASS)),
        ("f1 drops too much", scores(0.84, held=0.9, n=25), False, (FAIL, PASS, PASS)),
        ("one recall drops 4 points", scores(0.86, {"bug": 0.86, "praise": 0.8}, 0.9, 25), False, (PASS, FAIL, PASS)),
        ("recall drop of 2 points is allowed", scores(0.86, {"bug": 0.88, "praise": 0.8}, 0.9, 25), True, (PASS, PASS, PASS)),
        ("held-out accuracy not better", scores(0.86, held=0.5, n=25), False, (PASS, PASS, FAIL)),
        ("too few held-out: skipped", scores(0.86, held=0.1, n=19), True, (PASS, PASS, SKIPPED)),
    ],
)
def test_gate_rules(name, new, promote, statuses):
    current = scores(0.85, held=0.5, n=25 if new.heldout_n >= 20 else new.heldout_n)
    decision = decide(current, new, GateThresholds(f1_tolerance=0.5, recall_drop=3.0, min_heldout=20))
    assert decision.promote is promote, name
    assert tuple(c.status for c in decision.checks) == statuses, name
    assert (decision.reasons == []) is promote


def test_class_absent_from_test_split_is_not_judged():
    current = ModelScores(0.8, {"bug": 0.9, "documentation": 0.0}, {"bug": 10.0, "documentation": 0.0})
    new = ModelScores(0.8, {"bug": 0.9, "documentation": 0.0}, {"bug": 10.0, "documentation": 0.0})
    assert decide(current, new).promote


def test_thresholds_reject_negative_values():
    with pytest.raises(ValueError, match="thresholds"):
        GateThresholds(f1_tolerance=-1)
