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
