"""Every retry resends the same request: body, Content-Type and the current key.

A loopback HTTP server that records what it receives stands in front of the client here,
because TorchServe cannot be told to answer 503 or refuse a key on the first attempt only.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from client.core.api import InferenceClient
from client.core.errors import KeyRefusedError

PREDICTION = {"label": "bug", "confidence": 0.9, "scores": {"bug": 0.9, "other": 0.1}, "needs_review": False, "model_version": "1"}
REFUSAL = {"code": 400, "type": "InvalidKeyException", "message": "Token Authorization failed."}


class Recorder(ThreadingHTTPServer):
    """Answers the scripted (status, body) pairs in turn, then 200 with a prediction."""

    def __init__(self, script: list[tuple[int, dict]], on_request=None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script, self.seen, self.on_request = list(script), [], on_request


def _answer(body: bytes) -> object:
    """A prediction for a text, a list of them (ids echoed) for a list request."""
    try:
        items = json.loads(body)["items"]
    except (ValueError, KeyError, TypeError):
        return PREDICTION
    return [{**PREDICTION, "id": item["id"]} for item in items]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: Recorder = self.server  # type: ignore[assignment]
        server.seen.append({"content_type": self.headers.get("Content-Type"), "auth": self.headers.get("Authorization"), "body": body})
        if server.on_request:
            server.on_request(len(server.seen))
        status, answer = server.script.pop(0) if server.script else (200, _answer(body))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def recorder_factory():
    servers = []

    def make(script, on_request=None) -> Recorder:
        server = Recorder(script, on_request)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def _key_file(tmp_path: Path, key: str) -> Path:
    path = tmp_path / "key_file.json"
    path.write_text(json.dumps({"inference": {"key": key}, "management": {"key": "m"}, "API": {"key": "a"}}))
    return path


def test_a_retry_after_503_resends_body_content_type_and_key(recorder_factory, tmp_path):
    server = recorder_factory([(503, {"message": "queue full"}), (503, {"message": "queue full"})])
    client = InferenceClient(f"http://127.0.0.1:{server.server_port}", _key_file(tmp_path, "k1"), retries=3)
    client.session.backoff = 0.01
    assert client.classify("the export crashes").label == "bug"
    assert len(server.seen) == 3
    assert {s["content_type"] for s in server.seen} == {"text/plain; charset=utf-8"}
    assert {s["auth"] for s in server.seen} == {"Bearer k1"}
    assert {s["body"] for s in server.seen} == {"the export crashes".encode()}


def test_a_retry_after_a_refused_key_sends_the_new_key_with_the_same_headers(recorder_factory, tmp_path):
    key_file = _key_file(tmp_path, "old")
    # The server restarted and wrote a new key file just before refusing the old key.
    server = recorder_factory([(400, REFUSAL)], on_request=lambda n: n == 1 and _key_file(tmp_path, "new"))
    client = InferenceClient(f"http://127.0.0.1:{server.server_port}", key_file)
    results = client.classify_chunk([(1, "the export crashes"), (2, "love it")])
    assert [(r.id, r.label) for r in results] == [(1, "bug"), (2, "bug")]
    assert [s["auth"] for s in server.seen] == ["Bearer old", "Bearer new"]
    assert [s["content_type"] for s in server.seen] == ["application/json"] * 2
    assert server.seen[0]["body"] == server.seen[1]["body"]
    assert json.loads(server.seen[1]["body"])["items"][1] == {"id": 2, "text": "love it"}


def test_a_key_refused_twice_says_what_to_do(recorder_factory, tmp_path):
    server = recorder_factory([(400, REFUSAL), (400, REFUSAL)])
    client = InferenceClient(f"http://127.0.0.1:{server.server_port}", _key_file(tmp_path, "old"))
    with pytest.raises(KeyRefusedError) as refused:
        client.classify("hello")
    # The file holds the same key and this key file has no server of ours to renew it: no resend.
    assert "key file" in refused.value.hint and len(server.seen) == 1
