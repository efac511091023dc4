"""Properties of the retrain merge (``training.retrain.merge_corrections``).

Corrections come from several stores, repeat texts with other spellings, change their
verdicts over time, and sometimes correct a text of the test split. Whatever the mix:

- the latest verdict on a text is the one trained on or held out, and nothing else of it;
- no text of the test split is trained on or held out;
- whether a text is held out depends on the text alone: the same across runs, whatever
  the order the stores are read in, and across rounds that add corrections;
- every correction is accounted for: kept, excluded as a test text, or a duplicate.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from client.core.corrections import Correction
from client.core.labels import LABELS
from training.retrain import correction_key, in_heldout, merge_corrections

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A small vocabulary, so texts repeat; spelled with other cases and punctuation, so
# repeats are only equal once normalised; in other scripts and emoji, as customers write.
WORDS = ["export", "crash", "dark", "mode", "invoice", "login", "fails", "love", "it", "stürzt", "ab", "не", "работает", "应用崩溃", "😡", "!!!", "…"]
TEXTS = st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3), st.sampled_from([str, str.upper, str.title]), st.sampled_from(["", "!", "?", " ", "\n"])).map(
    lambda t: t[1](" ".join(t[0])) + t[2]
)
SOURCES = ["/stores/agent-a/corrections.sqlite3", "/stores/agent-b/corrections.sqlite3", "/exports/team.jsonl"]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def correction_sets(min_size=0, year=2026):
    """(source, Correction) pairs; distinct timestamps make "latest" a total order."""
    one = st.tuples(TEXTS, st.sampled_from(LABELS), st.integers(1, 40), st.sampled_from([None, None, "2", "3"]), st.sampled_from(SOURCES), st.integers(0, 10**7))
    return st.lists(one, min_size=min_size, max_size=10, unique_by=lambda t: t[5]).map(
        lambda drawn: [
            (source, Correction(text, label, created_at=(START.replace(year=year) + timedelta(seconds=stamp)).isoformat(), id=cid, consumed_by=consumed))
            for text, label, cid, consumed, source, stamp in drawn
        ]
    )


def latest_by_key(corrections):
    latest = {}
    for source, c in corrections:
        key = correction_key(c.text)
        if key not in latest or (c.created_at, c.id) > (latest[key][1].created_at, latest[key][1].id):
            latest[key] = (source, c)
    return latest


def sides(merged):
    return {correction_key(e.text): "heldout" for e in merged.heldout} | {correction_key(e.text): "train" for e in merged.train}


@PROPERTY
@given(corrections=correction_sets(), test_texts=st.lists(TEXTS, max_size=4), fraction=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), order=st.randoms(use_true_random=False))
@example(
    corrections=[("/s/a.sqlite3", Correction("Приложение не работает", "bug", created_at="2026-01-01T00:00:00+00:00", id=1))],
    test_texts=["приложение НЕ работает!"],
    fraction=0.25,
    order=None,
)
def test_latest_verdict_wins_test_texts_excluded_and_nothing_lost(corrections, test_texts, fraction, order):
    merged = merge_corrections(corrections, set(test_texts), fraction)
    examples = merged.train + merged.heldout
    test_keys = {correction_key(t) for t in test_texts}
    latest = latest_by_key(corrections)

    keys = [correction_key(e.text) for e in examples]
    assert len(keys) == len(set(keys)), "one text trained on twice"
    assert not set(keys) & test_keys, "a test-split text was trained on or held out"
    assert set(keys) == set(latest) - test_keys, "a correction went missing"
    for example_ in examples:
        source, winner = latest[correction_key(example_.text)]
        assert (example_.text, example_.label) == (winner.text, winner.final_label)
    assert merged.excluded_test == len(set(latest) & test_keys)
    assert merged.duplicates == len(corrections) - len(latest)
    assert len(examples) + merged.excluded_test + merged.duplicates == len(corrections)
    assert sorted(merged.used) == sorted((s, c.id) for k, (s, c) in latest.items() if k not in test_keys)
    for example_ in merged.heldout:
        assert latest[correction_key(example_.text)][1].consumed_by is None and in_heldout(correction_key(example_.text), fraction)
    conflicting = defaultdict(set)
    for _, c in corrections:
        conflicting[correction_key(c.text)].add(c.final_label)
    assert len(merged.conflicts) == sum(len(v) > 1 for v in conflicting.values())

    if order is not None:  # the stores read in another order: the same merge
        shuffled = list(corrections)
        order.shuffle(shuffled)
        again = merge_corrections(shuffled, set(test_texts), fraction)
        assert sides(again) == sides(merged)
        assert {(e.text, e.label) for e in again.train + again.heldout} == {(e.text, e.label) for e in examples}


@PROPERTY
@given(first=correction_sets(min_size=1), added=correction_sets(year=2027), fraction=st.sampled_from([0.1, 0.25, 0.5]))
def test_held_out_choice_is_stable_across_rounds_that_add_corrections(first, added, fraction):
    """Round two sees round one's corrections plus later ones (new verdicts, new texts):
    a text still pending is on the same side as before."""
    before = merge_corrections(first, set(), fraction)
    after = merge_corrections(first + added, set(), fraction)
    was, now = sides(before), sides(after)
    latest_after = latest_by_key(first + added)
    for key in set(was) & set(now):
        if latest_after[key][1].consumed_by is None and latest_by_key(first)[key][1].consumed_by is None:
            assert was[key] == now[key], key
    assert all(in_heldout(key, fraction) == (side == "heldout") for key, side in now.items() if latest_after[key][1].consumed_by is None)
