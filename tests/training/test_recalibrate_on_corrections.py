"""The recalibration measurement's arguments (scripts/recalibrate_on_corrections.py): a source
name may itself hold a colon, k comes after the last one, and a bad pair says what is wrong."""

from __future__ import annotations

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
