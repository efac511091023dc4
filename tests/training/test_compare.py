"""`feedback compare` end to end on a small file: every system, every dataset, the report."""

from __future__ import annotations

import json

from training import paths
from training.cli import main
from training.data import load_examples, make_splits, save_splits
from client.core.labels import LABELS


def small_files(tmp_path):
    by_label = {label: [] for label in LABELS}
    for ex in load_examples(paths.data_file()):
        if len(by_label[ex.label]) < 8:
            by_label[ex.label].append(ex)
    picked = [e for group in by_label.values() for e in group]
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps({"id": e.id, "text": e.text, "label": e.label}) + "\n" for e in picked), encoding="utf-8")
    splits = tmp_path / "splits.json"
    save_splits(splits, make_splits(load_examples(data)))
    external = tmp_path / "external.jsonl"
    external.write_text(
        "".join(json.dumps({"text": e.text + " (forwarded)", "label": e.label, "source": "forum" if i % 2 else "tweets"}) + "\n" for i, e in enumerate(picked[::3])),
        encoding="utf-8",
    )
    return data, splits, external


def test_compare_writes_table_json_and_report(tiny_model, tmp_path, capsys):
    data, splits, external = small_files(tmp_path)
    report = tmp_path / "docs" / "MODEL_REPORT.md"
    out_json = tmp_path / "compare.json"
    holdout = tmp_path / "holdout.jsonl"
    holdout.write_text("".join(line for i, line in enumerate(external.read_text(encoding="utf-8").splitlines(keepends=True)) if i % 2), encoding="utf-8")
    long_dev = tmp_path / "dev_long.jsonl"
    long_dev.write_text("".join(json.dumps({"id": f"l{i}", "text": " ".join([e.text] * 12), "label": e.label}) + "\n"
                                for i, e in enumerate(load_examples(data)[::4])), encoding="utf-8")
    code = main(["compare", "--model", str(tiny_model.out_dir), "--data", str(data), "--splits", str(splits), "--external", str(external),
                 "--holdout", str(holdout), "--long-dev", str(long_dev), "--report", str(report), "--json", str(out_json)])
    assert code == 0
    table = capsys.readouterr().out
    for system in ("majority class", "TF-IDF + logistic regression", "frozen encoder + linear probe", "fine-tuned v1"):
        assert system in table
    rows = json.loads(out_json.read_text())
    assert {(r["system"].split(" v")[0], r["dataset"]) for r in rows} >= {("fine-tuned", "our test split"), ("fine-tuned", "external eval"), ("fine-tuned", "our held-back messy set")}
    assert next(r for r in rows if r["dataset"] == "our held-back messy set")["n"] == len(holdout.read_text().splitlines())
    assert next(r for r in rows if r["dataset"] == "our long-text development set")["n"] == len(long_dev.read_text().splitlines())
    external_row = next(r for r in rows if r["dataset"] == "external eval" and r["system"].startswith("fine-tuned"))
    assert set(external_row["by_source"]) == {"forum", "tweets"} and external_row["items_per_second"] > 0
    text = report.read_text()
    assert "| system | dataset |" in text and "per source" in text
    assert (report.parent / "img" / "test" / "confusion_matrix.png").exists()
    assert (report.parent / "img" / "external" / "reliability.png").exists()
    assert (report.parent / "img" / "holdout" / "reliability.png").exists()
    assert (report.parent / "img" / "long_dev" / "reliability.png").exists()


def test_the_hand_written_tail_of_the_report_survives_a_rewrite(tmp_path):
    from training.compare import HAND_WRITTEN, kept_by_hand

    report = tmp_path / "MODEL_REPORT.md"
    assert kept_by_hand(report) == ""
    report.write_text("# Model report\n\n| old table |\n\n" + HAND_WRITTEN + "\n## Experiments\n\n| run | dev |\n", encoding="utf-8")
    assert kept_by_hand(report) == "\n" + HAND_WRITTEN + "\n## Experiments\n\n| run | dev |\n"
    report.write_text("# Model report without a marker\n", encoding="utf-8")
    assert kept_by_hand(report) == ""
