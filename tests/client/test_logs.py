"""The request log panel and the rotating log file: every request listed, the key never written."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from drive import classify

from client.core.instance import read_key
from client.core.logfile import install_file_log

pytestmark = pytest.mark.server


@pytest.fixture
def log_file(tmp_path: Path):
    path = tmp_path / "client.log"
    handler = install_file_log(path)
    yield path
    logging.getLogger().removeHandler(handler)
    handler.close()


def test_requests_are_listed_and_logged_without_key_or_text(qtbot, window, key_file: Path, log_file: Path) -> None:
    text = "My secret order number 4471 never arrived"
    classify(qtbot, window, text)
    log = window.request_log
    rows = [[log.index(row, column).data() for column in range(log.columnCount())] for row in range(log.rowCount())]
    posted = [row for row in rows if row[1] == "POST /predictions/feedback-classifier"]
    assert posted and posted[-1][2] == "1" and posted[-1][4] == "200" and float(posted[-1][3]) > 0
    assert any(row[1] == "GET /ping" for row in rows)  # the start-up health check
    written = log_file.read_text(encoding="utf-8")
    assert "POST /predictions/feedback-classifier items=1" in written
    assert read_key(key_file, "inference") not in written and read_key(key_file, "management") not in written
    assert "4471" not in written


def test_a_bearer_token_in_a_message_is_scrubbed(log_file: Path) -> None:
    logging.getLogger("client.test").warning("refused header Authorization: Bearer %s", "s3cr3tKEY")
    assert "Bearer ***" in log_file.read_text(encoding="utf-8") and "s3cr3tKEY" not in log_file.read_text(encoding="utf-8")
