"""Envelope augmentation keeps labels, never touches the originals and is reproducible."""

from __future__ import annotations

import random

import pytest

from training import augment
from training.config import TrainConfig
from training.data import Example

ITEMS = [
    Example("a1", "The export button crashes the app every time I press it", "bug"),
    Example("a2", "Please add a dark mode to the reader", "feature_request"),
    Example("a3", "How do I change the e-mail address on my account?", "question"),
    Example("a4", "Third late delivery this month, I am done with you", "complaint"),
]


def test_copies_keep_label_and_the_message_and_get_their_own_ids():
    copies = augment.augment_examples(ITEMS, 1.0, seed=3)
    assert len(copies) == len(ITEMS) and {c.id for c in copies} == {f"{e.id}~aug" for e in ITEMS}
    by_id = {e.id: e for e in ITEMS}
    for copy in copies:
        original = by_id[copy.id.removesuffix("~aug")]
        assert copy.label == original.label and copy.text != original.text
        # Envelope and noise change at most a few letters of the message itself.
        kept = sum(word in copy.text.lower() for word in original.text.lower().split())
        assert kept >= len(original.text.split()) - 3
    assert [e.text for e in ITEMS][0] == "The export button crashes the app every time I press it"


def test_same_seed_same_copies_and_share_sets_the_count():
    assert augment.augment_examples(ITEMS, 0.5, seed=7) == augment.augment_examples(ITEMS, 0.5, seed=7)
    assert len(augment.augment_examples(ITEMS, 0.5, seed=7)) == 2
    assert augment.augment_examples(ITEMS, 0.0, seed=7) == []
    with pytest.raises(ValueError, match="share must be between 0 and 1"):
        augment.augment_examples(ITEMS, 1.5, seed=7)


def test_each_envelope_keeps_the_text_and_a_quoted_reply_is_quoted():
    rng = random.Random(0)
    text = ITEMS[0].text
    for wrap in augment.ENVELOPES:
        assert text in wrap(text, rng), wrap.__name__
    reply = augment.quoted_reply(text, rng, "line one\n\nline two")
    assert reply.startswith(text) and "> line one\n>\n> line two" in reply
    typo = augment.typos(text, random.Random(1))
    assert typo != text and sorted(typo) == sorted(text)  # letters swapped, none lost


def test_train_config_refuses_a_share_outside_zero_to_one():
    with pytest.raises(ValueError, match="augment must be between 0 and 1"):
        TrainConfig(augment=2.0)
