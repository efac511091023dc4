"""A batch's state without Qt or a server: resume point, server-refused rows, export columns."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from client.core.api import ItemError, Prediction
from client.core import batch
from client.core.batch import BatchRun, export_records, file_digest, load_file, open_file
from client.core.errors import DataError
from client.core.labels import LABELS
from client.core.records import ReadResult, Row, RowError


def answer(label: str = "bug", confidence: float = 0.7) -> Prediction:
    return Prediction(label, confidence, dict.fromkeys(LABELS, 0.01) | {label: confidence}, False, "3")


def make_run(count: int, threshold: float = 0.5) -> BatchRun:
    rows = [Row(i + 2, f"text {i}", f"T{i}", {"ticket": f"T{i}", "message": f"text {i}", "channel": "email"}) for i in range(count)]
    return BatchRun(Path("export.csv"), ReadResult(rows, [RowError(1, "empty row")], ["ticket", "message", "channel"], "message", "ticket"), threshold)


def test_resume_starts_at_the_first_unfinished_row_and_refused_rows_are_listed() -> None:
    run = make_run(5)
    assert [index for index, _ in run.pending()] == [0, 1, 2, 3, 4]
    added = run.add([answer(confidence=0.9), ItemError("text is empty"), answer(confidence=0.2)])
    assert [r.row.line for r in added] == [2, 4]
    assert run.done == 3 and not run.finished
    assert run.pending() == [(3, "text 3"), (4, "text 4")]
    assert [(e.line, e.message) for e in run.errors()] == [(1, "empty row"), (3, "the server refused this row: text is empty")]
    assert [r.flagged for r in run.results] == [False, True]
    run.add([answer(), answer()])
    assert run.finished and run.pending() == [] and run.stats.classified == 4


def test_export_keeps_original_columns_and_adds_label_confidence_scores_and_review() -> None:
    run = make_run(2)
    run.add([answer("praise", 0.8), answer("bug", 0.3)])
    records = export_records(run.results)
    assert list(records[0])[:3] == ["ticket", "message", "channel"]
    assert records[0]["label"] == "praise" and records[0]["confidence"] == 0.8
    assert {f"score_{label}" for label in LABELS} <= set(records[0])
    assert [r["needs_review"] for r in records] == [False, True]
    assert records[1]["reviewed_label"] == ""


def test_a_csv_without_a_guessable_text_column_offers_its_header(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("ticket,what_they_said\n1,The app crashes\n", encoding="utf-8")
    read = load_file(path)
    assert read.rows == [] and read.text_column is None and read.columns == ["ticket", "what_they_said"]
    chosen = load_file(path, text_column="what_they_said")
    assert [row.text for row in chosen.rows] == ["The app crashes"]


def test_a_file_is_known_by_its_bytes_not_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verdicts carry the digest, so two files named export.csv are two files for a channel."""
    monday, tuesday, copy = tmp_path / "mon" / "export.csv", tmp_path / "tue" / "export.csv", tmp_path / "copy.csv"
    for path, text in ((monday, "text\nthe app crashes\n"), (tuesday, "text\nplease add a dark mode\n"), (copy, "text\nthe app crashes\n")):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert file_digest(monday) == file_digest(copy) == hashlib.sha256(monday.read_bytes()).hexdigest()[:16]
    assert file_digest(tuesday) != file_digest(monday)
    read, digest = open_file(tuesday)
    assert [r.text for r in read.rows] == ["please add a dark mode"] and digest == file_digest(tuesday)

    def gone(path: Path) -> str:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(batch, "file_digest", gone)  # deleted between the read and the fingerprint
    with pytest.raises(DataError, match="could not be read again") as error:
        open_file(tuesday)
    assert "still there" in error.value.hint
    monkeypatch.undo()

    def written_meanwhile(path: Path, *args: object):  # noqa: ANN202 - a tool still writing the export
        read = load_file(path, *args)
        with open(path, "a", encoding="utf-8") as more:
            more.write("another row\n")
        return read

    monkeypatch.setattr(batch, "load_file", written_meanwhile)
    with pytest.raises(DataError, match="changed while it was being read") as error:
        open_file(tuesday)
    assert "open it again" in error.value.hint

    def copied_over_meanwhile(path: Path, *args: object):  # noqa: ANN202 - `cp -p` of a file of the same size and time
        read = load_file(path, *args)
        stat = path.stat()
        path.write_text(path.read_text(encoding="utf-8").upper(), encoding="utf-8")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
        return read

    monkeypatch.setattr(batch, "load_file", copied_over_meanwhile)
    with pytest.raises(DataError, match="changed while it was being read"):
        open_file(tuesday)
