"""`feedback corrections ...`: counts, lists, checks, backs up, purges and deletes on a real store.

Deleting commands only count unless --yes, name ids and never print customers' words, and
reach only the store (an export made earlier keeps its copy, as docs/RELIABILITY.md says).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from client.core.channels import Channel, save_channel
from client.core.corrections import Correction, CorrectionsStore, read_corrections
from client.core.source_temperature import MIN_VERDICTS, calibrate
from training.cli import main

SECRET = "jane.roe@example.com"
SUBCOMMANDS = ["count", "list", "check", "spot-check", "backup", "purge", "delete"]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CorrectionsStore:
    """Five corrections: two from a customer who asks to be forgotten, one old and consumed."""
    path = tmp_path / "corrections.sqlite3"
    monkeypatch.setenv("FEEDBACK_CORRECTIONS_DB", str(path))
    store = CorrectionsStore(path)
    long_ago = (datetime.now(timezone.utc) - timedelta(days=200)).isoformat(timespec="seconds")
    ids = store.add_many([
        Correction("The export button does nothing", "bug", "question", created_at=long_ago),
        Correction(f"Please call me back, {SECRET}", "complaint", "question"),
        Correction("Love the new dashboard", "praise", "praise", "confirmation"),
        Correction("JANE.ROE@EXAMPLE.COM again: still broken", "bug", "complaint", created_at=long_ago),
        Correction("Can I pay yearly?", "question", "question", "confirmation", created_at=long_ago),
    ])
    store.mark_consumed(ids[:4], "2")
    return store


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_corrections_command_has_help_with_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["corrections", name, "--help"])
    assert exit_info.value.code == 0 and f"example: feedback corrections {name}" in capsys.readouterr().out


def test_count_list_and_check(store: CorrectionsStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corrections", "count", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"store": str(store.path), "total": 5, "pending": 1, "consumed": 4}
    assert main(["corrections", "list", "--pending", "--json"]) == 0
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == ["Can I pay yearly?"]
    assert main(["corrections", "list"]) == 0
    assert "Love the new dashboard" in capsys.readouterr().out
    assert main(["corrections", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {store.path} (5 corrections)")


def test_a_deletion_request_counts_first_and_deletes_only_with_yes(store: CorrectionsStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = store.export(tmp_path / "earlier-export.jsonl")
    assert main(["corrections", "delete", "--text-contains", SECRET]) == 0
    out = capsys.readouterr().out
    assert "2 correction(s) match (2 consumed, 0 pending): ids 2, 4" in out and "dry run: nothing deleted" in out
    assert store.counts().total == 5

    assert main(["corrections", "delete", "--text-contains", SECRET, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 matching correction(s)" in out and "delete those by hand" in out
    assert SECRET not in out.lower()  # the command never echoes the customer's words
    assert [c.id for c in store.all()] == [1, 3, 5]
    assert sum(SECRET in c.text.lower() for c in read_corrections(export)) == 2  # exports are the user's to delete

    assert main(["corrections", "delete", "--before", "2000-01-01", "--yes"]) == 0
    assert "deleted 0 matching" in capsys.readouterr().out and store.counts().total == 3
    day_after = (datetime.now(timezone.utc) - timedelta(days=100)).date().isoformat()
    assert main(["corrections", "delete", "--before", day_after, "--yes"]) == 0
    assert "deleted 2 matching" in capsys.readouterr().out and [c.id for c in store.all()] == [3]


def test_spot_check_reports_each_source_without_customer_text(store: CorrectionsStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corrections", "spot-check"]) == 0
    assert "no spot-check verdicts in" in capsys.readouterr().out  # the fixture's five were chosen by agents, not drawn
    right = [Correction(f"{SECRET} item {i}", "bug", "bug", "confirmation", confidence=0.9, model_version="3", source="tweets.csv",
                        spot_check=True, needs_review=False) for i in range(6)]
    wrong = [Correction(f"{SECRET} wrong {i}", "complaint", "other", confidence=0.95, model_version="3", source="tweets.csv",
                        spot_check=True, needs_review=i == 0) for i in range(4)]
    store.add_many([*right, *wrong, Correction("a forum post", "question", "question", "confirmation", confidence=0.7,
                                               model_version="3", source="forum.jsonl", spot_check=True)])
    assert main(["corrections", "spot-check", "--source", "tweets.csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tweets.csv, model v3:\n") and "forum.jsonl" not in out and SECRET not in out
    assert "6 of 10 right: 60% (95% interval 31% to 83%)" in out and "over-confident on this source by about 32 points" in out
    assert "The review flag caught 1 of 4 mistakes, flagging 1 of 10 items." in out
    assert main(["corrections", "spot-check", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["source"], r["checked"], r["right"], r["calibration"]) for r in rows] == [
        ("forum.jsonl", 1, 1, "consistent"), ("tweets.csv", 10, 6, "over-confident")]
    assert main(["corrections", "spot-check", "--source", "chat.csv"]) == 0
    assert "no spot-check verdicts from chat.csv" in capsys.readouterr().out


def test_spot_check_prints_the_calibration_the_app_would_fit_when_the_verdicts_allow_it(store: CorrectionsStore, capsys: pytest.CaptureFixture[str]) -> None:
    sure = {"bug": 0.95, "complaint": 0.05}
    verdicts = [Correction(f"item {i}", "bug" if i % 2 else "complaint", "bug", confidence=0.95, model_version="3", source="tweets.csv",
                           spot_check=True, scores=sure) for i in range(MIN_VERDICTS)]  # right half the time at 95%: over-confident
    old = [Correction(f"old {i}", "bug", "bug", "confirmation", confidence=0.95, model_version="2", source="tweets.csv", spot_check=True)
           for i in range(MIN_VERDICTS)]  # saved before the scores were kept
    store.add_many([*verdicts, *old])
    assert main(["corrections", "spot-check", "--json"]) == 0
    rows = {r["model_version"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    expected = calibrate([sure] * MIN_VERDICTS, [c.final_label for c in verdicts], ["bug"] * MIN_VERDICTS)
    assert rows["3"]["temperature"] == round(expected.temperature, 4) and expected.temperature > 1
    assert rows["3"]["review_threshold"] == round(expected.threshold, 4)
    assert rows["2"]["temperature"] is None and rows["2"]["review_threshold"] is None
    assert main(["corrections", "spot-check"]) == 0
    out = capsys.readouterr().out
    assert f"Calibrated on these verdicts: temperature {expected.temperature:.2f}" in out and out.count("Calibrated on") == 1


def test_spot_check_of_a_channel_pools_its_files_and_says_what_saving_again_would_fit(
    store: CorrectionsStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    channels = tmp_path / "channels.json"
    monkeypatch.setenv("FEEDBACK_CHANNELS", str(channels))
    sure = {"bug": 0.9, "complaint": 0.1}

    def day(source: str, n: int, version: str = "3") -> list[Correction]:
        return [Correction(f"{SECRET} {source} {i}", "bug" if i % 3 else "complaint", "bug", confidence=0.9, model_version=version,
                           source=source, spot_check=True, scores=sure) for i in range(n)]

    pooled = [*day("mon.csv", 40), *day("tue.csv", 30)]
    store.add_many([*pooled, *day("forum.csv", 60), *day("wed.csv", 20, version="2")])
    files = ("mon.csv", "tue.csv", "wed.csv")  # saved before fingerprints were kept, as the verdicts above: matched by name
    save_channel(channels, Channel("Complaint tweets", 2.5, 0.4, 60, "3", "2026-11-30T01:00:00+00:00", files, (), files))
    assert main(["corrections", "spot-check", "--channel", "Complaint tweets"]) == 0
    out = capsys.readouterr().out
    expected = calibrate([sure] * len(pooled), [c.final_label for c in pooled], ["bug"] * len(pooled))
    assert out.startswith("Complaint tweets, model v3: mon.csv, tue.csv, wed.csv (3 files saved before fingerprints (by name))\n") and SECRET not in out
    assert "Saved 2026-11-30T01:00:00+00:00: temperature 2.50, a row needs review below 0.40, fitted on 60 verdicts." in out
    assert "46 of 70 right" in out  # the two files' verdicts for v3; Wednesday's were for v2, the forum is another channel
    assert f"Saved again now, on these 70 verdicts: temperature {expected.temperature:.2f}, review below {expected.threshold:.2f}." in out
    assert main(["corrections", "spot-check", "--channel", "Complaint tweets", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["checked"], row["right"], row["sources"]) == (70, 46, ["mon.csv", "tue.csv", "wed.csv"])
    assert row["refit"]["temperature"] == round(expected.temperature, 4) and row["saved"]["verdicts"] == 60
    assert main(["corrections", "spot-check", "--channel", "Forums"]) == 1
    err = capsys.readouterr().err
    assert "no channel named 'Forums'" in err and "(saved: Complaint tweets)" in err
    with pytest.raises(SystemExit):  # one or the other
        main(["corrections", "spot-check", "--channel", "Complaint tweets", "--source", "mon.csv"])
    capsys.readouterr()

    save_channel(channels, Channel("Forums", 1.7, 0.6, 60, "3", "2026-11-01T00:00:00+00:00"))  # as a format-1 file held it: no files
    assert main(["corrections", "spot-check", "--channel", "  Forums "]) == 0  # spaced as typed, found as the app saved it
    out = capsys.readouterr().out
    assert out.startswith("Forums, model v3: files not named") and "It names no files" in out and "right" not in out


def test_spot_check_of_a_channel_counts_its_own_file_of_a_shared_name_only(
    store: CorrectionsStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    channels = tmp_path / "channels.json"
    monkeypatch.setenv("FEEDBACK_CHANNELS", str(channels))
    ours, theirs = "a" * 16, "b" * 16  # two files named export.csv: this channel's, and another tool's

    def day(n: int, digest: str) -> list[Correction]:
        return [Correction(f"{SECRET} {digest} {i}", "bug" if i % 3 else "complaint", "bug", confidence=0.9, model_version="3",
                           source="export.csv", spot_check=True, scores={"bug": 0.9, "complaint": 0.1}, source_digest=digest) for i in range(n)]

    store.add_many([*day(30, ours), *day(25, theirs)])
    save_channel(channels, Channel("Exports", 2.5, 0.4, 60, "3", "2026-11-30T01:00:00+00:00", ("export.csv",), (ours,)))
    assert main(["corrections", "spot-check", "--channel", "Exports", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["checked"], row["right"], row["sources"], row["files"]) == (30, 20, ["export.csv"], [ours])
    assert main(["corrections", "spot-check", "--channel", "Exports"]) == 0
    assert capsys.readouterr().out.startswith("Exports, model v3: export.csv (1 file)\n")


def test_spot_check_skips_the_fit_for_scores_without_the_labels_it_reads(store: CorrectionsStore, capsys: pytest.CaptureFixture[str]) -> None:
    partial = {"complaint": 0.6, "other": 0.4}  # a hand import: no score for the model's label
    store.add_many([Correction(f"item {i}", "complaint" if i % 2 else "other", "bug", confidence=0.9, model_version="3",
                               source="import.csv", spot_check=True, scores=partial) for i in range(MIN_VERDICTS)])
    assert main(["corrections", "spot-check", "--source", "import.csv"]) == 0
    out = capsys.readouterr().out
    assert "0 of 50 right" in out and "Calibrated on" not in out


def test_purge_applies_retention_to_consumed_corrections_only(store: CorrectionsStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corrections", "purge", "--older-than-days", "90"]) == 0
    assert "2 consumed correction(s) saved over 90 day(s) ago: ids 1, 4" in capsys.readouterr().out
    assert store.counts().total == 5
    assert main(["corrections", "purge", "--older-than-days", "90", "--yes"]) == 0
    assert "deleted 2 consumed" in capsys.readouterr().out
    assert [c.id for c in store.all()] == [2, 3, 5]  # 5 is as old, but no version has learnt from it yet


def test_backup_writes_a_new_file_and_never_overwrites(store: CorrectionsStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "backups" / "c.sqlite3"
    out.parent.mkdir()
    assert main(["corrections", "backup", str(out)]) == 0
    assert "backed up 5 correction(s)" in capsys.readouterr().out
    assert [c.text for c in read_corrections(out)] == [c.text for c in store.all()]
    before = out.read_bytes()
    assert main(["corrections", "backup", str(out)]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "hint: choose a new file name" in err and out.read_bytes() == before


def test_errors_are_messages_with_hints_and_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo.sqlite3"
    monkeypatch.setenv("FEEDBACK_CORRECTIONS_DB", str(missing))
    assert main(["corrections", "delete", "--text-contains", SECRET, "--yes"]) == 1
    assert "no corrections store here" in capsys.readouterr().err and not missing.exists()  # no empty store that "matches nothing"

    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not a database at all" * 100)
    assert main(["corrections", "count", "--db", str(damaged)]) == 1
    err = capsys.readouterr().err
    assert "damaged or is not a corrections store" in err and "hint: leave the file where it is" in err and "Traceback" not in err

    for argv in (["delete"], ["delete", "--text-contains", " "], ["delete", "--before", "31/01/2025"], ["purge"], ["purge", "--older-than-days", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["corrections", *argv])
        assert exit_info.value.code == 2, argv
    assert "pass --text-contains or --before" in capsys.readouterr().err


def test_the_installed_command_runs_as_a_process(store: CorrectionsStore) -> None:
    done = subprocess.run([sys.executable, "-m", "training.cli", "corrections", "count"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("5 correction(s)")
