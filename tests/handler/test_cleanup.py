"""Inbox clean-up and head+tail cutting: what the model sees of a real e-mail, issue or thread.

These pure functions live in the handler file and are imported by training, so training,
evaluation and serving see the same text."""

from __future__ import annotations

from pathlib import Path

import pytest

from handler.feedback_handler import choose_device, clean_inbox, handler_settings, head_tail, looks_english, prepare_text

EMAIL = """Hi team,

Since the 4.2 update the export button crashes the app every single time.

Best regards,
Anna Smith
Head of Operations | Example Ltd
+1 555 0100

CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and intended solely for the use of the addressee. If you have received this e-mail in error please delete it.

On Tue, 3 Mar 2026 at 14:02, Support <help@example.com> wrote:
> Thanks for reaching out! Could you tell us which version you are on?
> Kind regards, the Support team"""


def test_quoted_reply_signature_and_disclaimer_are_removed_and_flagged():
    text, cleaned = clean_inbox(EMAIL)
    assert cleaned
    assert "export button crashes the app" in text
    for gone in ("Anna Smith", "+1 555 0100", "CONFIDENTIALITY", "Could you tell us", "wrote:"):
        assert gone not in text


def test_a_quote_below_the_customers_words_goes_but_their_words_stay():
    text, cleaned = clean_inbox("Still broken, nothing changed.\n\n> Please try reinstalling the app.\n> It usually helps.")
    assert cleaned and text == "Still broken, nothing changed."


def test_issue_template_headings_and_tracking_links_are_dropped_content_kept():
    issue = "### Describe the bug\nThe sync job hangs at 99%\n### Environment\nv2.3.1 on Ubuntu 24.04\nSee https://status.example.com/incidents/42?utm_source=mail&utm_campaign=x"
    text, cleaned = clean_inbox(issue)
    assert cleaned
    assert "Describe the bug" not in text and "###" not in text
    assert "The sync job hangs at 99%" in text and "v2.3.1 on Ubuntu 24.04" in text
    assert "utm_source" not in text and "status.example.com" in text


@pytest.mark.parametrize("text", ["Thanks in advance,\nBob", "Sent from my iPhone", "> only a quote", "love it", "ok"])
def test_a_message_that_is_only_an_envelope_is_kept_as_it_is(text):
    """A sign-off-only mail is `other` under the contract: the model must still see it."""
    assert clean_inbox(text) == (text, False)


def test_plain_feedback_is_untouched():
    text = "Please add a dark mode. Regards to the devs who built the calendar view, it's great."
    assert clean_inbox(text) == (text, False)


def test_head_tail_keeps_both_ends_and_the_special_tokens():
    ids = [101, *range(1000, 1300), 102]
    cut, dropped = head_tail(ids, 16, head_share=0.75)
    assert dropped and len(cut) == 16
    assert cut[0] == 101 and cut[-1] == 102
    assert cut[1:11] == list(range(1000, 1010))  # 10 of the 14 content tokens from the head
    assert cut[11:15] == list(range(1296, 1300))  # the last 4 from the tail
    assert head_tail([101, 5, 6, 102], 16) == ([101, 5, 6, 102], False)


def test_a_megabyte_text_is_bounded_before_cleaning_and_flagged_cut():
    text, _, cut = prepare_text("the app crashes on save. " * 40_000, 128)
    assert cut and len(text) <= 128 * 24 + 1


def test_handler_settings_come_from_the_model_config_yaml(tmp_path: Path):
    settings = {"temperature": 1.5, "needs_review_threshold": 0.6, "max_length": 128, "threads": 1}
    assert handler_settings({"batchSize": 8, "handler": settings}, tmp_path) == settings
    with pytest.raises(RuntimeError, match="no model-config YAML with a handler: section"):
        handler_settings(None, tmp_path)
    with pytest.raises(RuntimeError, match="lacks handler settings \\['threads'\\]"):
        handler_settings({"handler": {k: v for k, v in settings.items() if k != "threads"}}, tmp_path)


def test_the_device_is_the_assigned_gpu_only_when_cuda_is_there():
    assert str(choose_device(None, cuda_available=False)) == "cpu"
    assert str(choose_device(0, cuda_available=False)) == "cpu"
    assert str(choose_device(1, cuda_available=True)) == "cuda:1"


def test_feedback_in_other_languages_is_recognised_as_not_english():
    """Hand-written samples in 15 languages (tests/handler/data/non_english.jsonl)."""
    import json

    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "non_english.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["lang"] for r in rows if looks_english(r["text"])] == []


@pytest.mark.parametrize("text", [
    "ok", "gg ez", "Solid printer. Three years, never jammed.", "Monday again... need coffee",
    "Best banking app I've used. Instant notifications, clear spending charts, zero hassle.",
    "The café menu in the app shows prices in € but charges me in $ since the update",
])
def test_terse_english_is_not_flagged(text):
    assert looks_english(text)


@pytest.mark.parametrize(("text", "kept"), [
    ("Great update.\n\nThanks\nOne more thing: dark mode is broken on iPad.", "dark mode is broken on iPad"),
    ("**URGENT: production is down**\nnothing loads since 9am", "URGENT: production is down"),
    ("Would you be open to a quick, confidential chat this week? We have a partnership idea for your team.", "confidential chat"),
])
def test_customer_words_that_look_like_envelope_are_kept(text, kept):
    assert kept in clean_inbox(text)[0]


def test_english_words_that_are_function_words_elsewhere_do_not_flag_english():
    for text in ("Requirements met, deadline met, client happy. Great tool!", "Jest fails on OS X w/ node 20 when I run the suite",
                 "um so yeah um the um app keeps crashing um when I log in"):
        assert looks_english(text), text
