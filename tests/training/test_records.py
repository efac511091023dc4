"""Reading feedback files: malformed rows are listed with line numbers, the rest is read."""

from __future__ import annotations

import json

import pytest

from client.core.errors import DataError
from client.core.corrections import Correction, CorrectionsStore, read_corrections
from client.core.records import read_records, write_records


def test_csv_with_bad_rows_keeps_the_good_ones(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"ticket_id,channel,message\n"
        b"1,email,The invoice PDF is blank\n"
        b"2,chat,\n"
        b'3,chat,"He said ""hi"" and left"\n'
        b"4,email,caf\xc3\xa9 \xe9 is broken\n"  # UTF-8 (the \xc3\xa9 says so) with one bad byte
        b'5,chat,"unterminated quote, then junk"x\n'
        b"6,email,too,many,columns\n"
        b'7,chat,"multi\nline text"\n'
    )
    result = read_records(path)
    assert result.text_column == "message" and result.id_column == "ticket_id"
    assert [r.id for r in result.rows] == ["1", "3", "7"]
    assert result.rows[1].text == 'He said "hi" and left' and result.rows[2].text == "multi\nline text"
    assert result.rows[0].fields["channel"] == "email"
    errors = {e.line: e.message for e in result.errors}
    assert errors[3] == "empty text"
    assert "UTF-8" in errors[5]
    assert "malformed CSV row" in errors[6] or "columns" in errors[6]
    assert "expected 3 columns, got 5" in errors[7]


def test_jsonl_and_txt(tmp_path):
    jl = tmp_path / "in.jsonl"
    jl.write_text('{"id": 1, "text": "good"}\n{broken\n{"text": 3}\n[1, 2]\n{"id": 5}\n', encoding="utf-8")
    result = read_records(jl)
    assert [r.text for r in result.rows] == ["good"]
    assert [e.line for e in result.errors] == [2, 3, 4, 5]
    txt = tmp_path / "in.txt"
    txt.write_text("first text\n\n  \nsecond text\n", encoding="utf-8")
    assert [(r.line, r.text) for r in read_records(txt).rows] == [(1, "first text"), (4, "second text")]


def test_unknown_csv_column_and_type_give_clear_errors(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no text column found") as info:
        read_records(path)
    assert "a, b" in info.value.hint
    with pytest.raises(DataError, match="unsupported file type"):
        read_records(tmp_path / "x.docx")


def test_write_records_round_trip(tmp_path):
    rows = [{"id": "1", "text": "a, \"quoted\" text", "label": "bug", "scores": {"bug": 0.9}}]
    back = read_records(write_records(tmp_path / "out.csv", rows))
    assert back.rows[0].text == 'a, "quoted" text' and json.loads(back.rows[0].fields["scores"]) == {"bug": 0.9}
    assert read_records(write_records(tmp_path / "out.jsonl", rows)).rows[0].fields["scores"] == {"bug": 0.9}


def test_corrections_store_round_trip_undo_and_consumed(tmp_path):
    store = CorrectionsStore(tmp_path / "c.sqlite3")
    first = store.add(Correction("The app crashes", "bug", "praise", "correction", 0.55, "1", agent="ana", source="single"))
    store.add(Correction("Thanks!", "praise", "praise", "confirmation", 0.97, "1", agent="ana", source="file.csv"))
    assert store.pending_count() == 2
    store.mark_consumed([first], "2")
    assert store.pending_count() == 1 and store.undo(first) is False
    read = read_corrections(tmp_path / "c.sqlite3")
    assert [(c.final_label, c.kind, c.consumed_by) for c in read] == [("bug", "correction", "2"), ("praise", "confirmation", None)]
    exported = store.export(tmp_path / "c.jsonl")
    assert [c.text for c in read_corrections(exported)] == ["The app crashes", "Thanks!"]
    with pytest.raises(DataError, match="unknown label"):
        Correction("x", "nonsense")
