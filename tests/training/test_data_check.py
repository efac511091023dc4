"""`feedback data check`: each kind of problem is reported with its line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import paths
from training.cli import main
from training.data import load_splits
from training.datacheck import LeakIndex, check_file


def write_jsonl(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = [
    {"id": "a1", "text": "The upload button freezes the whole page on Safari", "label": "bug"},
    {"id": "a2", "text": "Could you add a way to pin important chats?", "label": "feature_request"},
]


def problems_for(tmp_path: Path, extra: list, eval_texts: list[str] | None = None) -> list[str]:
    path = write_jsonl(tmp_path / "data.jsonl", GOOD + extra)
    eval_dir = None
    if eval_texts is not None:
        eval_dir = tmp_path / "eval"
        eval_dir.mkdir()
        write_jsonl(eval_dir / "external.jsonl", [{"text": t, "label": "bug"} for t in eval_texts])
    return [str(p) for p in check_file(path, eval_dir, None)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('{"id": "x", "text": "broken', "broken JSON"),
        ({"id": "x", "text": "no label here at all"}, "missing field(s): label"),
        ({"id": "x", "text": "fine text", "label": "Bug"}, "unknown label 'Bug'"),
        ({"id": "x", "text": "   ", "label": "bug"}, "empty or whitespace-only text"),
        ({"id": "x", "text": "y" * 5001, "label": "bug"}, "5001 characters"),
        ({"id": "a1", "text": "A completely different sentence about invoices", "label": "question"}, "duplicate id 'a1'"),
        ({"id": "x", "text": "the UPLOAD button freezes the whole page on safari!!", "label": "bug"}, "exact duplicate of line 1"),
        ({"id": "x", "text": "The upload button freezes the whole page on Safari today", "label": "bug"}, "near-duplicate of line 1"),
    ],
)
def test_each_problem_is_reported_on_its_line(tmp_path, row, message):
    found = problems_for(tmp_path, [row])
    assert any(p.endswith(message) or message in p for p in found), found
    assert any(p.startswith(f"{tmp_path / 'data.jsonl'}:3: ") for p in found), found


def test_invalid_utf8_line_is_reported(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(json.dumps(GOOD[0]).encode() + b'\n{"id": "b", "text": "caf\xe9", "label": "bug"}\n')
    found = [str(p) for p in check_file(path, None, None)]
    assert len(found) == 1 and found[0].startswith(f"{path}:2: line is not valid UTF-8; re-save the file as UTF-8")


def test_leak_by_equal_text_and_by_shared_eight_words(tmp_path):
    eval_texts = ["My order #5512 never arrived and nobody answers the phone", "completely unrelated words that share nothing with ours at all here"]
    found = problems_for(
        tmp_path,
        [
            {"id": "x1", "text": "my order 5512 never arrived, and nobody answers the phone!", "label": "complaint"},
            {"id": "x2", "text": "Honestly: nobody answers the phone and nothing happens ever since", "label": "complaint"},
            {"id": "x3", "text": "Support insists parcel 5512 never arrived and nobody answers the phone calls either", "label": "complaint"},
        ],
        eval_texts,
    )
    assert any(":3: leak from ../shared/eval: text equals an evaluation item" in p for p in found)
    assert not any(":4: leak" in p for p in found)
    assert any(":5: leak from ../shared/eval: shares an 8-word sequence" in p for p in found)


def test_boilerplate_eight_grams_common_in_eval_are_not_leaks():
    template = "steps to reproduce expected behaviour actual behaviour environment details"
    index = LeakIndex([f"{template} crash {i}" for i in range(3)])
    assert index.leak(f"{template} my own issue text") is None


def test_near_duplicates_across_splits_name_the_splits(tmp_path):
    rows = GOOD + [{"id": "a3", "text": "The upload button freezes the whole page on Safari now", "label": "bug"}]
    path = write_jsonl(tmp_path / "data.jsonl", rows)
    found = [str(p) for p in check_file(path, None, {"train": ["a1", "a2"], "validation": [], "test": ["a3"]})]
    assert any("across splits (test / train)" in p for p in found)


def test_the_real_dataset_is_clean():
    problems = check_file(paths.data_file(), paths.eval_dir(), load_splits(paths.splits_file()))
    assert [str(p) for p in problems] == []


def test_cli_exit_codes(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "missing.jsonl")]) == 1
    assert "file not found" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", GOOD + [{"id": "z", "text": "some text", "label": "bogus"}])
    assert main(["data", "check", "--no-eval", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3: unknown label 'bogus'; expected one of: bug, feature_request" in out
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    assert main(["data", "check", "--no-eval", str(good)]) == 0


def test_development_items_that_repeat_training_items_are_reported(tmp_path: Path) -> None:
    """Picking a model on items it trained on would hide exactly the over-fit the dev set is for."""
    train = write_jsonl(tmp_path / "train.jsonl", GOOD)
    dev = write_jsonl(tmp_path / "dev.jsonl", [
        {"id": "d1", "text": "the upload button freezes the whole page on safari!", "label": "bug"},
        {"id": "d2", "text": "Could you add a way to pin important chats, please?", "label": "feature_request"},
        {"id": "d3", "text": "Invoices show last month's total after the currency switch", "label": "bug"},
    ])
    found = [str(p) for p in check_file(dev, None, None, others=[train])]
    assert found == [f"{dev}:1: exact duplicate of {train}:1", f"{dev}:2: near-duplicate of {train}:2 (Jaccard 0.88)"]


def test_the_development_set_is_clean_balanced_and_apart_from_the_training_data() -> None:
    dev = paths.dev_file()
    assert check_file(dev, paths.eval_dir(), None, others=[paths.data_file()]) == []
    labels = [json.loads(line)["label"] for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(labels) >= 400 and min(labels.count(label) for label in set(labels)) >= 40 and len(set(labels)) == 8


def test_the_long_development_set_is_clean_long_balanced_and_apart_from_the_other_sets() -> None:
    """It picks how long texts are read, so it must be long, and share nothing with the
    training data or the other development set."""
    long_dev = paths.long_dev_file()
    assert check_file(long_dev, paths.eval_dir(), None, others=[paths.data_file(), paths.dev_file()]) == []
    rows = [json.loads(line) for line in long_dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = [row["label"] for row in rows]
    assert len(rows) >= 250 and len(set(labels)) == 8 and min(labels.count(label) for label in set(labels)) >= 30
    assert min(len(row["text"].split()) for row in rows) > 80 and all(row["channel"] for row in rows)


def test_the_held_back_set_is_clean_balanced_and_apart_from_training_and_development_data() -> None:
    """It judges models that were chosen on the development sets, so it may share nothing with them."""
    holdout = paths.holdout_file()
    assert check_file(holdout, paths.eval_dir(), None, others=[paths.data_file(), paths.dev_file(), paths.long_dev_file()]) == []
    rows = [json.loads(line) for line in holdout.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = [row["label"] for row in rows]
    assert len(rows) >= 400 and len(set(labels)) == 8 and min(labels.count(label) for label in set(labels)) >= 45
    assert all(row["id"].startswith("hold-") for row in rows)
