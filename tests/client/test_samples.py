"""The files in ``samples/`` load as docs/CLIENT.md says, through the core, the app and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drive import open_and_run

from client.core.batch import load_file
from client.core.labels import LABELS
from training.cli import main

SAMPLES = Path(__file__).parents[2] / "samples"
# (rows classified, rows refused with a line number), as docs/CLIENT.md "Sample files" says.
DOCUMENTED = {
    "support_export.csv": (36, 0),
    "app_reviews.jsonl": (20, 0),
    "survey_comments.txt": (18, 0),
    "messy_export.csv": (8, 5),
}


def test_every_sample_is_documented():
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(DOCUMENTED)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_each_sample_loads_with_the_documented_result(name):
    read = load_file(SAMPLES / name)
    rows, errors = DOCUMENTED[name]
    assert (len(read.rows), len(read.errors)) == (rows, errors)
    assert all(row.text.strip() for row in read.rows)
    assert all(error.line >= 1 and error.message for error in read.errors)


@pytest.mark.parametrize("name", ["app_reviews.jsonl", "survey_comments.txt", "messy_export.csv"])
def test_jsonl_txt_and_messy_csv_through_the_app(qtbot, window, name):
    open_and_run(qtbot, window, SAMPLES / name)
    rows, errors = DOCUMENTED[name]
    assert window.batch_controller.model.rowCount() == rows
    assert window.batch.errors.rowCount() == errors
    assert window.batch.note.text().startswith(f"Done: {rows} classified")


def test_feedback_classify_texts_and_a_file(server, tmp_path, capsys):
    url, key_file = server["urls"]["inference"], server["key_file"]
    assert main(["classify", "--url", url, "--key-file", key_file, "The export button crashes the app", "Please add a dark mode"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in printed] == ["The export button crashes the app", "Please add a dark mode"]
    assert all(r["label"] in LABELS and 0 < r["confidence"] <= 1 for r in printed)

    out = tmp_path / "reviews.jsonl"
    assert main(["classify", "--url", url, "--key-file", key_file, "--file", str(SAMPLES / "app_reviews.jsonl"), "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    source = [json.loads(line) for line in (SAMPLES / "app_reviews.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [s["id"] for s in source]
    assert all(r["label"] in LABELS for r in records)
    assert "wrote 20 results" in capsys.readouterr().err

    assert main(["classify", "--url", url, "--key-file", key_file, "--file", str(SAMPLES / "messy_export.csv"), "--out", str(tmp_path / "messy.csv")]) == 0
    err = capsys.readouterr().err
    assert err.count("skipped:") == 5 and "wrote 8 results" in err


def test_feedback_classify_without_a_server_says_how_to_start_one(tmp_path, capsys):
    from drive import closed_port

    code = main(["classify", "--url", f"http://127.0.0.1:{closed_port()}", "--key-file", str(tmp_path / "none.json"), "--timeout", "2", "hello"])
    err = capsys.readouterr().err
    assert code == 1 and "not reachable" in err and "feedback serve start" in err
