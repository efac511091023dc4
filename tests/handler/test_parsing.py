"""The handler's pure functions: request parsing, validation and response building."""

from __future__ import annotations

import json

import pytest

from handler.feedback_handler import (
    DEFAULT_MAX_ITEMS,
    Item,
    build_error,
    build_prediction,
    cut_text,
    parse_request,
    softmax,
)

LABELS = ["bug", "feature_request", "praise", "complaint", "question", "usage_tip", "documentation", "other"]


def test_raw_bytes_without_content_type_is_one_text():
    parsed = parse_request({"body": bytearray("L'appli plante 😡".encode())}, None)
    assert parsed.error is None and not parsed.is_list
    assert parsed.items[0].text == "L'appli plante 😡"


def test_text_plain_string_is_one_text():
    parsed = parse_request({"body": "hello there"}, "text/plain")
    assert parsed.items[0].text == "hello there"


def test_json_single_item_keeps_its_id():
    parsed = parse_request({"body": {"id": "T-17", "text": "crash"}}, "application/json")
    assert parsed.items[0].id == "T-17" and parsed.items[0].has_id


def test_json_texts_and_items_keep_order_and_flag_bad_items():
    parsed = parse_request({"body": {"items": [{"id": 1, "text": "a"}, {"id": 2, "text": " "}, {"id": 3, "text": 5}, "x"]}}, "application/json")
    assert parsed.is_list and [i.id for i in parsed.items] == [1, 2, 3, None]
    assert [i.error is None for i in parsed.items] == [True, False, False, False]
    assert parsed.items[1].error == "text is empty"
    texts = parse_request({"body": {"texts": ["one", "two"]}}, "application/json")
    assert [i.text for i in texts.items] == ["one", "two"]


@pytest.mark.parametrize(
    ("row", "ctype", "fragment"),
    [
        ({"body": bytearray(b"")}, None, "empty"),
        ({"body": "   \n"}, "text/plain", "empty"),
        ({"body": bytearray(b"\xff\xfebad")}, None, "not valid UTF-8"),
        ({"body": bytearray(b'{"text": "unterminated')}, "application/json", "broken JSON"),
        ({"body": {"text": 42}}, "application/json", "must be a string"),
        ({"body": {"message": "hi"}}, "application/json", 'no "text" field'),
        ({"body": {"texts": []}}, "application/json", "empty"),
        ({"body": {"texts": "abc"}}, "application/json", "must be a JSON array"),
        ({"body": {"texts": ["x"] * (DEFAULT_MAX_ITEMS + 1)}}, "application/json", "too many items"),
        ({"some text": ""}, None, "Content-Type: text/plain"),
    ],
)
def test_bad_requests_get_a_one_line_message(row, ctype, fragment):
    parsed = parse_request(row, ctype)
    assert parsed.error is not None and fragment in parsed.error
    assert "\n" not in parsed.error


def test_form_post_with_a_text_field_works():
    parsed = parse_request({"text": bytearray(b"from a form")}, None)
    assert parsed.error is None and parsed.items[0].text == "from a form"


def test_item_limit_is_configurable():
    assert parse_request({"body": {"texts": ["a", "b", "c"]}}, "application/json", max_items=2).error.startswith("too many items")


def test_softmax_applies_temperature():
    sharp, flat = softmax([2.0, 0.0], 1.0), softmax([2.0, 0.0], 4.0)
    assert sharp[0] > flat[0] > 0.5
    assert sum(flat) == pytest.approx(1.0)


def test_prediction_has_every_label_and_review_flag():
    probs = [0.05, 0.6, 0.05, 0.05, 0.05, 0.1, 0.05, 0.05]
    out = build_prediction(probs, LABELS, threshold=0.7, version="3", truncated=False, item=Item("x", "a1", True))
    assert out["label"] == "feature_request" and out["id"] == "a1"
    assert set(out["scores"]) == set(LABELS) and out["needs_review"] is True and out["model_version"] == "3"
    assert json.loads(json.dumps(out)) == out
    assert "id" not in build_prediction(probs, LABELS, 0.5, "3", False, Item("x"))


def test_error_entry_keeps_the_id():
    assert build_error(Item(None, 9, True, "text is empty")) == {"id": 9, "error": "text is empty"}


def test_one_megabyte_text_is_cut_before_tokenizing():
    text, cut = cut_text("a" * 1_000_000, max_length=128)
    assert cut and len(text) < 10_000
    assert cut_text("short", 128) == ("short", False)
