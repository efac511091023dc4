"""`feedback serve start|stop|status`: clear errors, its own instance, the recorded default."""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

import pytest

from client.core.api import InferenceClient
from training.cli import main
from training import paths
from training.config import ServeConfig
from client.core.errors import ServerError
from training.serve import Ports, render_config, start
from training.registry import record_default


def test_rendered_config_is_loopback_only_with_restricted_urls(tmp_path):
    template = paths.config_template().read_text()
    text = render_config(template, Ports.from_base(9080), tmp_path / "my store", "feedback-classifier-v3.mar")
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert props["inference_address"] == "http://127.0.0.1:9080" and props["management_address"] == "http://127.0.0.1:9081"
    assert props["metrics_address"] == "http://127.0.0.1:9082"
    assert props["grpc_inference_port"] == "8070" and props["grpc_management_port"] == "8071"
    assert props["grpc_inference_address"] == props["grpc_management_address"] == "127.0.0.1"
    assert "0.0.0.0" not in text
    allowed = props["allowed_urls"].replace("\\\\", "\\")  # properties escaping
    store = re.escape(str((tmp_path / "my store").resolve()))
    assert re.fullmatch(allowed, f"file://{(tmp_path / 'my store').resolve()}/feedback-classifier-v3.mar"), allowed
    assert not re.fullmatch(allowed, f"file://{(tmp_path / 'my store').resolve()}/../elsewhere/evil.mar")
    assert not re.fullmatch(allowed, "https://example.com/evil.mar") and store in allowed
    assert props["enable_model_api"] == "true" and props["token_expiration_min"] == "480"
    assert props["max_request_size"] == "4194304" and props["metrics_mode"] == "prometheus"
    assert props["load_models"] == "feedback-classifier-v3.mar" and props["model_store"] == str((tmp_path / "my store").resolve())
    assert "models" not in props  # workers and batching travel in the archive's model-config YAML


def test_key_lifetimes_go_down_to_half_a_minute(tmp_path):
    """TorchServe reads ``token_expiration_min`` as a Double and keeps whole seconds, so the
    security tests can watch a key expire in 30 s. NaN and infinity would be replaced by 60
    minutes with only a log line, so they are refused here."""
    template = paths.config_template().read_text()
    text = render_config(template, Ports.from_base(9080), tmp_path, "feedback-classifier-v1.mar", key_minutes=0.5)
    assert "token_expiration_min=0.5\n" in text
    assert ServeConfig(state_dir=tmp_path, key_minutes=0.5).key_minutes == 0.5
    assert "token_expiration_min=525600\n" in render_config(template, Ports.from_base(9080), tmp_path, "x.mar", key_minutes=525_600.0)
    for bad in (0.4, 0.0, -1.0, float("nan"), float("inf"), 525_601.0):
        with pytest.raises(ValueError, match="key_minutes must be between 0.5"):
            ServeConfig(state_dir=tmp_path, key_minutes=bad)


def test_no_archive_says_which_command_makes_one(tmp_path, capsys):
    store = tmp_path / "store"
    store.mkdir()
    assert main(["serve", "start", "--state-dir", str(tmp_path / "s"), "--model-store", str(store)]) == 1
    err = capsys.readouterr().err
    assert "no feedback-classifier-v<N>.mar archive" in err and "feedback archive" in err


def test_port_taken_is_named(tmp_path, model_store):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} \\(inference\\) is already in use"):
            start(ServeConfig(state_dir=tmp_path / "s", port_base=port, model_store=model_store))


def test_java_missing_is_explained(tmp_path, model_store, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="Java was not found") as info:
        start(ServeConfig(state_dir=tmp_path / "s", port_base=9300, model_store=model_store))
    assert "openjdk-17" in info.value.hint


def test_status_and_stop_without_a_server(tmp_path, capsys):
    assert main(["serve", "status", "--state-dir", str(tmp_path)]) == 1
    assert json.loads(capsys.readouterr().out)["running"] is False
    assert main(["serve", "stop", "--state-dir", str(tmp_path)]) == 0
    assert "no server running" in capsys.readouterr().out


def test_start_prints_key_file_and_serves_the_recorded_default_after_restart(tmp_path, model_store, tiny_model, as_version, port_base, capsys):
    from training.archive import build_archive
    from training.config import ArchiveConfig

    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(model_store / "feedback-classifier-v1.mar", store)
    build_archive(ArchiveConfig(model=as_version(tiny_model.out_dir, tmp_path / "v2", 2), model_store=store, archive_format="zip-store"))
    record_default(store, "1")
    args = ["--state-dir", str(tmp_path / "state"), "--model-store", str(store), "--port-base", str(port_base)]
    try:
        assert main(["serve", "start", *args]) == 0
        out = capsys.readouterr().out
        key_line = next(line for line in out.splitlines() if line.startswith("key file: "))
        key_file = Path(key_line.removeprefix("key file: "))
        assert key_file.is_absolute() and key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
        client = InferenceClient(f"http://127.0.0.1:{port_base}", key_file)
        assert client.classify("first start").model_version == "1"
        assert main(["serve", "start", *args]) == 1
        assert "already running" in capsys.readouterr().err
        assert main(["serve", "stop", *args]) == 0
        record_default(store, "2")
        assert main(["serve", "start", *args]) == 0
        assert InferenceClient(f"http://127.0.0.1:{port_base}", key_file).classify("after restart").model_version == "2"
        assert main(["serve", "status", *args]) == 0
        status = json.loads(capsys.readouterr().out.split("key file: ")[-1].split("\n", 1)[1])
        assert status["running"] and [v["version"] for v in status["versions"]] == ["2"]
    finally:
        main(["serve", "stop", *args])
