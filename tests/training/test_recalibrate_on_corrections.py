"""The recalibration measurement's arguments (scripts/recalibrate_on_corrections.py): a source
name may itself hold a colon, k comes after the last one, and a bad pair says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("recalibrate_on_corrections")


def test_sources_are_read_as_name_and_k_pairs(script):
    assert script.parse_sources("tweets:100, forums:50,") == [("tweets", 100), ("forums", 50)]
    assert script.parse_sources("github:issues:25") == [("github:issues", 25)]


@pytest.mark.parametrize("bad", ["tweets", "tweets:", ":100", "tweets:ten", "tweets:1"])
def test_a_pair_without_a_name_or_a_usable_k_is_refused_by_name(script, bad):
    with pytest.raises(SystemExit, match="is not name:k"):
        script.parse_sources(bad)


def test_the_least_confident_pick_takes_the_lowest_top_scores_and_leaves_the_rest_in_order(script):
    from training.data import Example

    items = [Example(f"x-{i}", f"text {i}", "bug") for i in range(5)]
    scores = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.2, 0.8], [0.5, 0.5]])  # top scores 0.9, 0.6, 0.55, 0.8, 0.5
    picked, rest = script.least_confident(items, scores, 2)
    assert [e.id for e in picked] == ["x-4", "x-2"]
    assert [e.id for e in rest] == ["x-0", "x-1", "x-3"]


def test_label_shift_recovers_the_traffics_label_shares_from_scores_alone(script):
    # Two labels learnt at 50/50; feature A is seen in 90% of label 0 and 20% of label 1. Traffic
    # of 80% label 0 shows A in 76% of items: EM must find 80/20 from the scores alone.
    at_a, at_b = [0.9 / 1.1, 0.2 / 1.1], [0.1 / 0.9, 0.8 / 0.9]
    probs = np.array([at_a] * 76 + [at_b] * 24)
    adjusted = script.label_shift(probs, np.array([0.5, 0.5]))
    assert adjusted.mean(axis=0) == pytest.approx([0.8, 0.2], abs=1e-4)
    assert np.allclose(adjusted.sum(axis=1), 1.0)
    assert (adjusted[:76, 0] > probs[:76, 0]).all()  # label 0 is commoner here than learnt: its scores rise
    same = script.label_shift(probs, probs.mean(axis=0))  # traffic shaped as learnt: nothing moves
    assert np.allclose(same, probs)
