"""A remote server (a team's TorchServe, a cluster's gateway) named by the environment:
the app's defaults and `feedback classify` follow FEEDBACK_INFERENCE_URL / _MANAGEMENT_URL /
_METRICS_URL and FEEDBACK_KEY_FILE; an explicitly named local instance does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.core import instance
from client.core.settings import ClientSettings
from training.cli import main


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user whose own state directory has no server at all."""
    state = tmp_path / "empty-state"
    state.mkdir()
    monkeypatch.setenv("FEEDBACK_STATE_DIR", str(state))
    return state


def test_environment_names_the_remote_server_for_the_app(elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_INFERENCE_URL", "https://feedback.example.com/")
    monkeypatch.setenv("FEEDBACK_MANAGEMENT_URL", "https://feedback-admin.example.com")
    monkeypatch.setenv("FEEDBACK_KEY_FILE", str(tmp_path / "gateway-key.json"))
    defaults = ClientSettings.defaults()
    assert (defaults.inference_url, defaults.management_url) == ("https://feedback.example.com", "https://feedback-admin.example.com")
    assert defaults.key_file == tmp_path / "gateway-key.json"
    # A local instance named by its state directory keeps its own URLs and key file.
    local = tmp_path / "local"
    local.mkdir()
    instance.write_instance(local, {"urls": {"inference": "http://127.0.0.1:9180"}})
    assert instance.server_urls(local)["inference"] == "http://127.0.0.1:9180" and instance.key_file(local) == local / "key_file.json"


@pytest.mark.server
def test_classify_reaches_a_server_known_only_from_the_environment(server, elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("FEEDBACK_INFERENCE_URL", server["urls"]["inference"])
    assert main(["classify", "The export button does nothing when I click it"]) == 1  # no key: refused
    assert "refused the inference key" in capsys.readouterr().err
    key = tmp_path / "team-key.json"
    key.write_text(json.dumps({"inference": {"key": instance.read_key(Path(server["key_file"]), "inference")}}))
    monkeypatch.setenv("FEEDBACK_KEY_FILE", str(key))
    assert main(["classify", "The export button does nothing when I click it"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert result["model_version"] == "1" and 0.0 <= result["confidence"] <= 1.0
