"""The long-text measurement's channel families (scripts/long_text_windows.py): docs/MODEL_REPORT.md
quotes its accuracy by family. Its windows are the handler's (tests/handler/test_long_text_reading.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("long_text_windows")


@pytest.mark.parametrize("channel, family", [
    ("github_issue", "issue trackers"), ("GitLab_Issue comment", "issue trackers"), ("jira", "issue trackers"),
    ("github_discussion", "developer chat, mailing lists, Q&A"), ("support_email", "e-mail, letters, forms"),
    ("app store review", "reviews, social, surveys"), ("voicemail transcript", "chat, phone, voicemail transcripts"),
    ("fax", "other channels"),
])
def test_channels_fall_into_the_first_family_that_names_them(script, channel, family):
    assert script.channel_family(channel) == family
