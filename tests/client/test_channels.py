"""Saved channel calibrations: a round trip through the file, clear errors, the model-version rule,
and a channel fitted on the spot checks of every file saved under its name."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from pathlib import Path

import pytest
from filelock import FileLock

from client.core import channels as channels_module
from client.core.channels import Channel, channel_name, channel_verdicts, grow_channel, load_channels, refit, refusal, save_channel
from client.core.corrections import Correction
from client.core.errors import DataError
from client.core.labels import LABELS
from client.core.source_temperature import calibrate


def channel(name: str = "Complaint tweets", version: str = "3", temperature: float = 3.1) -> Channel:
    return Channel(name, temperature, 0.35, 100, version, "2026-11-29T23:00:00+00:00")


def test_channels_round_trip_and_a_name_saved_again_replaces_the_old(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "channels.json"
    assert load_channels(path) == {}
    save_channel(path, channel("forums", temperature=1.7))
    save_channel(path, channel())
    saved = save_channel(path, channel(temperature=2.9))
    assert load_channels(path) == saved == {"Complaint tweets": channel(temperature=2.9), "forums": channel("forums", temperature=1.7)}
    assert [c["name"] for c in json.loads(path.read_text(encoding="utf-8"))["channels"]] == ["Complaint tweets", "forums"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no partial file left behind
    assert channel().calibration.temperature == 3.1 and channel().calibration.verdicts == 100


@pytest.mark.parametrize("content", ["{not json", '{"format": 99, "channels": []}', '{"format": 1}', '{"format": 1, "channels": [{"name": "x"}]}', "[]"])
def test_an_unreadable_file_is_named_and_left_as_it_is(tmp_path: Path, content: str) -> None:
    path = tmp_path / "channels.json"
    path.write_text(content, encoding="utf-8")
    for attempt in (lambda: load_channels(path), lambda: save_channel(path, channel())):
        with pytest.raises(DataError, match="the saved channels cannot be read") as error:
            attempt()
        assert "move it aside" in error.value.hint
    assert path.read_text(encoding="utf-8") == content


@pytest.mark.parametrize(("field", "value", "says"), [
    ("temperature", 0, "temperature must be a number from"), ("temperature", "1.7", "temperature must be"),
    ("temperature", float("nan"), "temperature must be"), ("temperature", 50.0, "temperature must be"),
    ("threshold", 2, "threshold must be a number from 0 to 1"), ("verdicts", 3, "verdicts must be a whole number of at least"),
    ("verdicts", 60.5, "verdicts must be"), ("model_version", 3, "must be text"), ("name", "  spaced  ", "not a channel name"),
])
def test_a_hand_edited_value_that_would_rescale_wrongly_is_refused(tmp_path: Path, field: str, value: object, says: str) -> None:
    path = tmp_path / "channels.json"
    save_channel(path, channel())
    data = json.loads(path.read_text(encoding="utf-8"))
    data["channels"][0][field] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError, match=says):
        load_channels(path)


def test_a_write_that_fails_is_a_clear_error_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "channels.json"
    save_channel(path, channel("forums"))
    before = path.read_bytes()
    blocker = tmp_path / f".channels.json.partial-{os.getpid()}"
    blocker.mkdir()  # where the new file would be written first: the write fails, as on a full or read-only disk
    with pytest.raises(DataError, match="could not be saved") as error:
        save_channel(path, channel())
    assert "writable" in error.value.hint
    assert path.read_bytes() == before and blocker.is_dir()


def test_names_are_trimmed_and_must_exist() -> None:
    assert channel_name("  Complaint   tweets ") == "Complaint tweets"
    for bad in ("", "   ", "x" * 81):
        with pytest.raises(DataError):
            channel_name(bad)


def test_a_channel_calibrates_only_files_of_its_model_version() -> None:
    assert refusal(channel(version="3"), "3") is None
    reason = refusal(channel(version="3"), "4")
    assert reason is not None and "calibrated for model v3" in reason and "classified by v4" in reason


# ------------------------------------------------------------------ a channel fitted on several files' spot checks

def digest_of(source: str) -> str:
    """A fingerprint for the tests' files: one file per name unless a test says otherwise."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def spot_verdict(text: str, source: str, right: bool, version: str = "3", confidence: float = 0.9, spot_check: bool = True,
                 digest: str | None = "of its name") -> Correction:
    """A spot-check verdict as the app stores it: the served scores, the model's label and the agent's, and its file's fingerprint."""
    others = (1 - confidence) / (len(LABELS) - 1)
    scores = {label: (confidence if label == "bug" else others) for label in LABELS}
    final = "bug" if right else "complaint"
    return Correction(text, final, "bug", "confirmation" if right else "correction", confidence, version,
                      "2026-11-30T01:00:00+00:00", None, source, spot_check=spot_check, scores=scores,
                      source_digest=digest_of(source) if digest == "of its name" else digest)


def a_day(source: str, n: int, wrong_every: int, version: str = "3", confidence: float = 0.9, digest: str | None = "of its name") -> list[Correction]:
    return [spot_verdict(f"{source} item {i}", source, i % wrong_every != 0, version, confidence, digest=digest) for i in range(n)]


def fitted(corrections: list[Correction]) -> tuple[float, float, int]:
    c = calibrate([v.scores or {} for v in corrections], [v.final_label for v in corrections], [v.predicted_label or "" for v in corrections])
    return c.temperature, c.threshold, c.verdicts


def test_every_spot_check_with_scores_of_the_channels_files_and_version_counts() -> None:
    first = spot_verdict("Thanks!", "mon.csv", True)
    second = spot_verdict("Thanks!", "mon.csv", False)  # another row with the same words, or the same row judged again later
    same_text_other_file = spot_verdict("Thanks!", "tue.csv", True)
    scoreless = Correction("no scores kept (an older store)", "bug", "bug", "confirmation", 0.9, "3", "", None, "mon.csv", spot_check=True)
    left_out = [
        spot_verdict("picked by the agent", "mon.csv", True, spot_check=False),
        scoreless,
        dataclasses.replace(first, scores={"bug": 0.9, "other": 0.1}, final_label="complaint"),  # a hand import without the agent's label's score
        dataclasses.replace(first, confidence=None),
        spot_verdict("another model version", "mon.csv", True, version="2"),
        spot_verdict("another channel's file", "forum.csv", True),
        spot_verdict("another file of the same name", "mon.csv", True, digest="0" * 16),
        spot_verdict("a file of the channel's name, saved before fingerprints were kept", "forum.csv", True, digest=None),
    ]
    older = spot_verdict("saved before fingerprints were kept", "mon.csv", True, digest=None)  # matched by its name
    files = [digest_of("mon.csv"), digest_of("tue.csv")]
    everything = [first, *left_out, second, older, same_text_other_file]
    assert channel_verdicts(everything, "3", files, named_only=["mon.csv"]) == [first, second, older, same_text_other_file]
    assert channel_verdicts(everything, "3", files) == [first, second, same_text_other_file]  # saved since: by fingerprint only
    assert channel_verdicts([first, older], "3", [], ["mon.csv"]) == [older]  # a channel saved before fingerprints: names only


def test_a_new_channel_is_fitted_on_its_file_and_grows_with_each_files_spot_check() -> None:
    monday, tuesday = a_day("mon.csv", 30, 4), a_day("tue.csv", 30, 3)
    with pytest.raises(DataError, match=r"Tweets has 30 spot-check verdicts with 8 mistakes from 1 file for model v3; .* at least 50") as error:
        refit("Tweets", None, "mon.csv", digest_of("mon.csv"), "3", monday, "now")  # one small sample alone is too few: nothing to save
    assert "give more verdicts" in error.value.hint

    first = refit("Tweets", None, "mon.csv", digest_of("mon.csv"), "3", [*monday, *a_day("mon.csv", 60, 4)[30:]], "t1")
    assert (first.temperature, first.threshold, first.verdicts) == fitted([*monday, *a_day("mon.csv", 60, 4)[30:]])
    assert first.sources == ("mon.csv",) and first.files == (digest_of("mon.csv"),) and first.model_version == "3" and first.saved_at == "t1"

    store = [*monday, *a_day("mon.csv", 60, 4)[30:], *tuesday, *a_day("forum.csv", 80, 2)]
    second = refit("Tweets", first, "tue.csv", digest_of("tue.csv"), "3", store, "t2")  # Tuesday's 30 verdicts refine Monday's 60
    assert second.sources == ("mon.csv", "tue.csv") and second.files == tuple(sorted(digest_of(f) for f in ("mon.csv", "tue.csv")))
    assert second.verdicts == 90 and second.file_count == 2
    assert (second.temperature, second.threshold, second.verdicts) == fitted(store[:90])
    assert second.temperature != first.temperature


def test_a_channel_of_another_model_version_starts_again_from_this_file() -> None:
    old = Channel("Tweets", 2.0, 0.5, 120, "2", "t0", ("mon.csv", "tue.csv"))
    store = [*a_day("mon.csv", 60, 4, version="2"), *a_day("mon.csv", 60, 4, version="3")[:10], *a_day("wed.csv", 55, 5, version="3")]
    again = refit("Tweets", old, "wed.csv", digest_of("wed.csv"), "3", store, "t3")
    assert again.sources == ("wed.csv",) and again.model_version == "3" and again.verdicts == 55
    assert (again.temperature, again.threshold) == fitted(store[70:])[:2]
    with pytest.raises(DataError, match=r"from 1 file for model v3 \(its earlier files were for model v2, so this file starts it again\)"):
        refit("Tweets", old, "thu.csv", digest_of("thu.csv"), "3", store, "t4")


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_file_is_read_and_saving_writes_the_sources_and_files(tmp_path: Path, version: int) -> None:
    path = tmp_path / "channels.json"
    old = {"name": "Forums", "temperature": 1.7, "threshold": 0.6, "verdicts": 100, "model_version": "3", "saved_at": "t0"}
    if version == 2:
        old["sources"] = ["forum.csv"]
    path.write_text(json.dumps({"format": version, "channels": [old]}), encoding="utf-8")
    assert load_channels(path) == {"Forums": Channel("Forums", 1.7, 0.6, 100, "3", "t0", tuple(old.get("sources", ())), (), tuple(old.get("sources", ())))}
    save_channel(path, Channel("Tweets", 3.0, 0.3, 90, "3", "t1", ("mon.csv", "tue.csv"), ("a" * 16, "b" * 16)))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == 3 and data["channels"][1]["sources"] == ["mon.csv", "tue.csv"] and data["channels"][1]["files"] == ["a" * 16, "b" * 16]
    assert load_channels(path)["Tweets"].files == ("a" * 16, "b" * 16) and load_channels(path)["Forums"].files == ()


def test_two_files_of_one_name_are_two_files() -> None:
    """Two tools export export.csv for two channels, or a channel's daily file keeps its name:
    each channel is fitted on the files saved under it, told apart by their fingerprints."""
    tweets_export, forums_export = "1" * 16, "2" * 16
    store = [*a_day("export.csv", 60, 4, digest=tweets_export), *a_day("export.csv", 60, 2, digest=forums_export, confidence=0.6)]
    tweets = refit("Tweets", None, "export.csv", tweets_export, "3", store, "t1")
    forums = refit("Forums", None, "export.csv", forums_export, "3", store, "t1")
    assert (tweets.verdicts, tweets.files) == (60, (tweets_export,)) and (forums.verdicts, forums.files) == (60, (forums_export,))
    assert (tweets.temperature, tweets.threshold) == fitted(store[:60])[:2] and (forums.temperature, forums.threshold) == fitted(store[60:])[:2]
    next_day = a_day("export.csv", 30, 3, digest="3" * 16)
    grown = refit("Tweets", tweets, "export.csv", "3" * 16, "3", [*store, *next_day], "t2")  # the same name the next day: one more file
    assert grown.verdicts == 90 and grown.sources == ("export.csv",) and grown.file_count == 2
    before_fingerprints = a_day("export.csv", 70, 2, digest=None)  # another team's export.csv, judged by an older app
    assert refit("Forums", None, "export.csv", forums_export, "3", [*store, *before_fingerprints], "t3").verdicts == 60


def test_a_channel_saved_before_fingerprints_keeps_its_files_verdicts_by_name(tmp_path: Path) -> None:
    path = tmp_path / "channels.json"
    old = {"name": "Tweets", "temperature": 2.0, "threshold": 0.5, "verdicts": 60, "model_version": "3", "saved_at": "t0", "sources": ["mon.csv"]}
    path.write_text(json.dumps({"format": 2, "channels": [old]}), encoding="utf-8")
    monday = a_day("mon.csv", 60, 4, digest=None)  # saved by the app before fingerprints
    store = [*monday, *a_day("tue.csv", 30, 3), *a_day("wed.csv", 40, 2, digest=None)]
    grown = grow_channel(path, "Tweets", "tue.csv", digest_of("tue.csv"), "3", lambda: store, "t1")
    assert (grown.verdicts, grown.named_only, grown.files, grown.file_count) == (90, ("mon.csv",), (digest_of("tue.csv"),), 2)
    assert grown.files_text == "1 file and 1 file saved before fingerprints (by name)"
    assert Channel("Old", 2.0, 0.5, 60, "3", "t0", ("a.csv", "b.csv"), (), ("a.csv", "b.csv")).files_text == "2 files saved before fingerprints (by name)"
    assert load_channels(path)["Tweets"].named_only == ("mon.csv",)  # format 3 keeps which files match by name


@pytest.mark.parametrize(("field", "value"), [("sources", "mon.csv"), ("sources", [""]), ("sources", [3]), ("sources", None), ("files", "ab"), ("files", [""]),
                                            ("files", None), ("named_only", "mon.csv"), ("named_only", [4])])
def test_hand_edited_files_that_are_not_file_names_or_fingerprints_are_refused(tmp_path: Path, field: str, value: object) -> None:
    path = tmp_path / "channels.json"
    save_channel(path, channel())
    data = json.loads(path.read_text(encoding="utf-8"))
    data["channels"][0][field] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError, match=f"{field} must be a list of file"):
        load_channels(path)


# ------------------------------------------------------------------ two windows saving one channel at once

def test_two_saves_of_one_channel_at_once_both_land(tmp_path: Path) -> None:
    """Window A holds the channel from reading it to writing it back; window B, saving another
    file under the same name meanwhile, waits and then fits on A's file too. Before the lock,
    B read the channel before A wrote it and its later rename dropped A's file from the channel."""
    path = tmp_path / "channels.json"
    store = [*a_day("mon.csv", 60, 4), *a_day("tue.csv", 60, 3), *a_day("wed.csv", 60, 5)]
    save_channel(path, refit("Tweets", None, "mon.csv", digest_of("mon.csv"), "3", store, "t1"))
    a_is_reading, b_may_go = threading.Event(), threading.Event()
    saved: dict[str, Channel] = {}

    def a_reads() -> list[Correction]:  # window A is inside the lock, reading the store
        a_is_reading.set()
        assert b_may_go.wait(10)
        return store

    def save(window: str, source: str, read) -> None:  # noqa: ANN001
        saved[window] = grow_channel(path, "Tweets", source, digest_of(source), "3", read, "t2")

    a = threading.Thread(target=save, args=("A", "tue.csv", a_reads))
    a.start()
    assert a_is_reading.wait(10)
    b = threading.Thread(target=save, args=("B", "wed.csv", lambda: store))
    b.start()
    b.join(0.5)
    assert b.is_alive() and "B" not in saved  # B waits for A's write
    b_may_go.set()
    a.join(10)
    b.join(10)
    assert saved["A"].sources == ("mon.csv", "tue.csv")
    assert saved["B"].sources == ("mon.csv", "tue.csv", "wed.csv") and saved["B"].verdicts == 180
    assert load_channels(path) == {"Tweets": saved["B"]}


def test_a_save_that_cannot_get_the_lock_says_so_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "channels.json"
    save_channel(path, channel("forums"))
    before = path.read_bytes()
    monkeypatch.setattr(channels_module, "LOCK_WAIT", 0.2)
    store = a_day("mon.csv", 60, 4)
    with FileLock(str(path) + ".lock"):  # another process (here another lock object, its own file handle) is saving
        for attempt in (lambda: save_channel(path, channel()), lambda: grow_channel(path, "Tweets", "mon.csv", digest_of("mon.csv"), "3", lambda: store, "t")):
            with pytest.raises(DataError, match="another window or process has been saving channels") as error:
                attempt()
            assert "save again in a moment" in error.value.hint
    assert path.read_bytes() == before
    assert grow_channel(path, "Tweets", "mon.csv", digest_of("mon.csv"), "3", lambda: store, "t").sources == ("mon.csv",)  # once it is free


def test_a_channel_that_cannot_be_fitted_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "channels.json"
    save_channel(path, channel("forums"))
    before = path.read_bytes()
    with pytest.raises(DataError, match="at least 50"):
        grow_channel(path, "Tweets", "mon.csv", digest_of("mon.csv"), "3", lambda: a_day("mon.csv", 30, 4), "t")
    assert path.read_bytes() == before
