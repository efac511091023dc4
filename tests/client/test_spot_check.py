"""The spot check's figures: a uniform random sample, the Wilson interval, and the report a team reads."""

from __future__ import annotations

from collections import Counter

import pytest
from scipy.stats import binomtest

from client.core.corrections import Correction
from client.core.spot_check import Verdict, by_source, draw, size_for, summarize, wilson_interval


@pytest.mark.parametrize(("right", "checked"), [(0, 5), (5, 5), (8, 10), (41, 50), (55, 100), (999, 1000)])
def test_the_interval_is_scipys_wilson_interval(right: int, checked: int) -> None:
    expected = binomtest(right, checked).proportion_ci(0.95, method="wilson")
    assert wilson_interval(right, checked) == pytest.approx((expected.low, expected.high), abs=1e-9)


def test_no_verdict_yet_says_nothing_is_known() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert summarize([]).sentences() == ["No item of the sample has a verdict yet."]
    with pytest.raises(ValueError, match="right must be between 0 and checked"):
        wilson_interval(6, 5)


def test_the_sample_is_distinct_in_range_reproducible_and_uniform() -> None:
    sample = draw(1000, 100, seed=3)
    assert len(set(sample)) == 100 and all(0 <= i < 1000 for i in sample)
    assert draw(1000, 100, seed=3) == sample and draw(1000, 100, seed=4) != sample
    assert sorted(draw(7, 100, seed=1)) == list(range(7))  # a small file: every item
    counts = Counter(i for seed in range(2000) for i in draw(20, 5, seed=seed))
    assert set(counts) == set(range(20))
    assert all(400 < n < 600 for n in counts.values())  # 500 expected each; 5 standard deviations is about ±97
    firsts = Counter(draw(20, 5, seed=seed)[0] for seed in range(2000))
    assert len(firsts) == 20  # the order is random too: any item can come first
    with pytest.raises(ValueError, match="at least one item"):
        draw(10, 0)


def test_the_size_for_an_interval_of_ten_points_is_97() -> None:
    assert size_for(0.10) == 97 and size_for(0.05) == 385
    with pytest.raises(ValueError):
        size_for(0)


def test_an_over_confident_model_is_told_in_plain_words() -> None:
    right = [Verdict("bug", "bug", 0.9, False)] * 30
    wrong = [Verdict("bug", "complaint", 0.9, True)] * 5 + [Verdict("other", "complaint", 0.95, False)] * 15
    report = summarize(right + wrong)
    assert (report.checked, report.right, report.mistakes) == (50, 30, 20)
    assert report.mean_confidence == pytest.approx(0.915)
    assert report.calibration == "over-confident" and report.gap == pytest.approx(0.315)
    assert (report.mistakes_flagged, report.mistakes_flag_known, report.flagged, report.flag_known) == (5, 20, 5, 50)
    text = " ".join(report.sentences())
    assert "30 of 50 right: 60% (95% interval 46% to 72%)" in text and "over-confident on this source by about 32 points" in text
    assert "caught 5 of 20 mistakes, flagging 5 of 50 items" in text and "Check 47 more" in text


def test_a_model_whose_confidence_is_inside_the_interval_is_called_consistent() -> None:
    verdicts = [Verdict("bug", "bug", 0.8, None)] * 80 + [Verdict("bug", "other", 0.8, None)] * 20
    report = summarize(verdicts)
    assert report.calibration == "consistent" and report.more_needed() == 0
    text = " ".join(report.sentences())
    assert "agrees with the spot check" in text and "review flag" not in text  # no flag recorded: no claim about it
    under = summarize([Verdict("bug", "bug", 0.5, None)] * 40)
    assert under.calibration == "under-confident"


def test_reports_come_per_source_and_model_version_from_spot_check_verdicts_only() -> None:
    def verdict(source: str | None, version: str, predicted: str, final: str, spot: bool = True, confidence: float | None = 0.9) -> Correction:
        return Correction("some text", final, predicted, confidence=confidence, model_version=version, source=source, spot_check=spot)

    reports = by_source([
        verdict("tweets.csv", "3", "bug", "bug"),
        verdict("tweets.csv", "3", "bug", "other"),
        verdict("tweets.csv", "4", "bug", "bug"),
        verdict("forum.jsonl", "3", "question", "question"),
        verdict("forum.jsonl", "3", "question", "bug", spot=False),  # chosen by the agent: biased, left out
        verdict("forum.jsonl", "3", "question", "bug", confidence=None),  # imported without a confidence
        verdict(None, "3", "praise", "praise"),
    ])
    assert {key: (r.checked, r.right) for key, r in reports.items()} == {
        ("(unknown source)", "3"): (1, 1), ("forum.jsonl", "3"): (1, 1), ("tweets.csv", "3"): (2, 1), ("tweets.csv", "4"): (1, 1)}
