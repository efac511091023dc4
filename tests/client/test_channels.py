"""Saved channel calibrations: a round trip through the file, clear errors, and the model-version rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from client.core.channels import Channel, channel_name, load_channels, refusal, save_channel
from client.core.errors import DataError


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
