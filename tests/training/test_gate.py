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
        ("all held-out right before and after: skipped", scores(0.86, held=1.0, n=23), True, (PASS, PASS, SKIPPED)),
        ("all held-out right before, one lost after", scores(0.86, held=22 / 23, n=23), False, (PASS, PASS, FAIL)),
        ("all held-out right after only: judged, and better", scores(0.86, held=1.0, n=25), True, (PASS, PASS, PASS)),
    ],
)
def test_gate_rules(name, new, promote, statuses):
    held_before = 1.0 if name.startswith("all held-out right before") else 0.5
    current = scores(0.85, held=held_before, n=25 if new.heldout_n >= 20 else new.heldout_n)
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


def outcomes(wrong: dict[str, int], per_class: int = 52) -> tuple[tuple[str, bool], ...]:
    """Per test item (true label, answered right): the first ``wrong[label]`` items of a class wrong."""
    return tuple((label, i >= wrong.get(label, 0)) for label in ("bug", "praise") for i in range(per_class))


def paired(f1: float, recall: dict, wrong: dict[str, int]) -> ModelScores:
    return ModelScores(f1, recall, {"bug": 52.0, "praise": 52.0}, outcomes=outcomes(wrong))


CURRENT = paired(0.90, {"bug": 50 / 52, "praise": 50 / 52}, {"bug": 2, "praise": 2})


@pytest.mark.parametrize(
    ("name", "new", "promote", "statuses", "evidence"),
    [
        # two more bugs wrong: 3.8 points of recall, beyond the 3-point tolerance; 2 lost, 0 gained is p=0.25
        ("two flipped items are within chance", paired(0.885, {"bug": 48 / 52, "praise": 50 / 52}, {"bug": 4, "praise": 2}), True,
         (PASS, PASS, SKIPPED), "lost 2 of 52 test items, gained 0; chance of a loss this large between equally good models p=0.25"),
        # six more bugs wrong: p = 0.5**6 = 0.016, beyond chance
        ("six lost bugs are not chance", paired(0.885, {"bug": 44 / 52, "praise": 50 / 52}, {"bug": 8, "praise": 2}), False,
         (FAIL, FAIL, SKIPPED), "lost 6 of 52 test items, gained 0; chance of a loss this large between equally good models p=0.02, at most 0.05: a real loss"),
    ],
)
def test_a_drop_beyond_a_tolerance_fails_only_beyond_chance(name, new, promote, statuses, evidence):
    decision = decide(CURRENT, new, GateThresholds(alpha=0.05))
    assert decision.promote is promote, name
    assert tuple(c.status for c in decision.checks) == statuses, name
    assert evidence in decision.checks[1].detail, decision.checks[1].detail


def test_macro_f1_drop_is_judged_on_all_paired_items():
    # 3 bugs and 1 praise lost, 1 bug gained: P(X >= 4 | n=5) = 6/32 = 0.188, within chance at 0.05
    new = paired(0.88, {"bug": 47 / 52, "praise": 49 / 52}, {"bug": 5, "praise": 3})
    new = ModelScores(new.macro_f1, new.recall, new.support, outcomes=tuple((t, ok or (t, i) == ("bug", 0)) for i, (t, ok) in enumerate(new.outcomes)))
    f1_check = decide(CURRENT, new, GateThresholds(alpha=0.05, recall_drop=100)).checks[0]
    assert f1_check.status == PASS and "lost 4 of 104 test items, gained 1" in f1_check.detail and "p=0.19" in f1_check.detail
    assert "small enough to be chance, so allowed" in f1_check.detail


def test_a_macro_f1_drop_with_no_item_changing_right_or_wrong_gets_the_fixed_limit():
    # wrong answers moved to other wrong labels: macro-F1 falls, right/wrong per item does not change
    new = ModelScores(0.80, CURRENT.recall, CURRENT.support, outcomes=CURRENT.outcomes)
    f1_check = decide(CURRENT, new).checks[0]
    assert f1_check.status == FAIL and "no item changed between right and wrong" in f1_check.detail


def test_classes_allowed_as_chance_are_named_beside_a_class_that_fails():
    new = paired(0.885, {"bug": 44 / 52, "praise": 48 / 52}, {"bug": 8, "praise": 4})
    recall = decide(CURRENT, new, GateThresholds(alpha=0.05, f1_tolerance=100)).checks[1]
    assert recall.status == FAIL
    assert "bug recall -11.5 points" in recall.detail.split("; allowed")[0]
    assert "praise recall -3.8 points" in recall.detail.split("; allowed")[1]


def test_alpha_one_restores_the_fixed_rule():
    new = paired(0.885, {"bug": 48 / 52, "praise": 50 / 52}, {"bug": 4, "praise": 2})
    decision = decide(CURRENT, new, GateThresholds(alpha=1.0))
    assert not decision.promote and decision.checks[1].status == FAIL


def test_without_matching_outcomes_the_fixed_rule_applies():
    new = paired(0.885, {"bug": 48 / 52, "praise": 50 / 52}, {"bug": 4, "praise": 2})
    unpaired = ModelScores(new.macro_f1, new.recall, new.support, outcomes=new.outcomes[:-1])
    assert decide(CURRENT, unpaired).checks[1].status == FAIL
    assert decide(ModelScores(CURRENT.macro_f1, CURRENT.recall, CURRENT.support), new).checks[1].status == FAIL


def test_alpha_must_be_a_probability():
    for alpha in (0.0, 1.5):
        with pytest.raises(ValueError, match="alpha"):
            GateThresholds(alpha=alpha)
