"""What the locked-down TorchServe refuses, over REST and gRPC, and how keys are renewed.

One server of its own (keys that expire after 30 seconds, so a real expiry is seen in a
test), started from the session's tiny archive in a store of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from client.core import instance
from client.core.api import InferenceClient, ManagementClient, Session
from client.core.instance import key_expiry, read_key
from training import serve
from training.config import ServeConfig

MODEL = "feedback-classifier"
MARKER = "zebracorn-7781 the invoice page shows the wrong total"
REFUSED = "InvalidKeyException"


@pytest.fixture(scope="module")
def secured(tmp_path_factory, model_store, new_port_base):
    root = tmp_path_factory.mktemp("secured")
    store = root / "store"
    shutil.copytree(model_store, store)
    config = ServeConfig(state_dir=root / "state", port_base=new_port_base(), model_store=store, timeout=180, key_minutes=0.5)
    inst = serve.start(config)
    inst["config"] = config
    inst["root"] = root
    yield inst
    serve.stop(config)


def _key_file(secured) -> Path:
    return Path(secured["key_file"])


def _fresh(secured, kind: str) -> str:
    """A key of ``kind`` with time left (renewed through the token API when close to expiry)."""
    session = Session(secured["urls"]["management"], kind, _key_file(secured), renew_margin=20)
    if session._expires_soon():
        assert session.renew_key()
    return read_key(_key_file(secured), kind)


def _bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key is not None else {}


# -- REST ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["none", "wrong", "other"])
def test_rest_refuses_missing_wrong_and_other_keys(secured, who):
    urls = secured["urls"]
    keys = {"none": (None, None), "wrong": ("not-a-key", "not-a-key"), "other": (_fresh(secured, "management"), _fresh(secured, "inference"))}
    inference_key, management_key = keys[who]
    calls = [
        ("POST", f"{urls['inference']}/predictions/{MODEL}", inference_key, {"data": b"the app crashes"}),
        ("GET", f"{urls['inference']}/ping", inference_key, {}),
        ("GET", f"{urls['management']}/models", management_key, {}),
        ("POST", f"{urls['management']}/models?url=x.mar", management_key, {}),
    ]
    for method, url, key, kwargs in calls:
        response = requests.request(method, url, headers=_bearer(key), timeout=30, **kwargs)
        assert response.status_code == 400 and REFUSED in response.text, (method, url, response.status_code)


def test_rest_accepts_the_right_keys(secured):
    urls = secured["urls"]
    ping = requests.get(f"{urls['inference']}/ping", headers=_bearer(_fresh(secured, "inference")), timeout=30)
    models = requests.get(f"{urls['management']}/models", headers=_bearer(_fresh(secured, "management")), timeout=30)
    assert ping.status_code == 200 and models.status_code == 200 and models.json()["models"][0]["modelName"] == MODEL


def test_api_key_renews_keys_but_opens_nothing_else(secured):
    urls, api_key = secured["urls"], read_key(_key_file(secured), "API")
    assert requests.get(f"{urls['management']}/models", headers=_bearer(api_key), timeout=30).status_code == 400
    assert requests.post(f"{urls['inference']}/predictions/{MODEL}", data=b"hello", headers=_bearer(api_key), timeout=30).status_code == 400
    wrong = requests.post(f"{urls['management']}/token", params={"type": "inference"}, headers=_bearer(_fresh(secured, "management")), timeout=30)
    assert wrong.status_code == 400 and REFUSED in wrong.text


def test_body_over_4_mib_gets_413(secured):
    url = f"{secured['urls']['inference']}/predictions/{MODEL}"
    big = b"a" * (4 * 1024 * 1024 + 1)
    response = requests.post(url, data=big, headers=_bearer(_fresh(secured, "inference")), timeout=60)
    assert response.status_code == 413
    # and the server goes on answering
    ok = InferenceClient(secured["urls"]["inference"], _key_file(secured), timeout=60).classify("the export crashes")
    assert ok.label


# -- where it listens ------------------------------------------------------------------


def _listening(port: int) -> set[str]:
    """Local addresses listening on ``port`` (IPv4 and IPv6), from /proc/net."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    raw = bytes.fromhex(address)
                    found.add(socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")
def test_every_port_listens_on_loopback_only(secured):
    for name, port in secured["ports"].items():
        addresses = _listening(port)
        assert addresses, f"{name} port {port} is not listening"
        assert addresses <= {"127.0.0.1", "::ffff:127.0.0.1"}, f"{name} port {port} listens on {addresses}"


# -- registering archives --------------------------------------------------------------


def _store_listing(secured) -> list[str]:
    return sorted(p.name for p in Path(secured["config"].model_store).iterdir())


@pytest.mark.parametrize("where", ["http", "https", "dotdot", "outside", "bare_outside"])
def test_register_refuses_archives_from_outside_the_store(secured, where):
    outside = secured["root"] / "elsewhere"
    outside.mkdir(exist_ok=True)
    archive = next(Path(secured["config"].model_store).glob("*.mar"))
    evil = outside / "evil.mar"
    shutil.copy(archive, evil)
    store = Path(secured["config"].model_store).resolve()
    url = {
        "http": "http://127.0.0.1:9/evil.mar",
        "https": "https://example.invalid/evil.mar",
        "dotdot": f"file://{store}/../elsewhere/evil.mar",
        "outside": f"file://{evil.resolve()}",
        "bare_outside": "../elsewhere/evil.mar",
    }[where]
    before = _store_listing(secured)
    management = ManagementClient(secured["urls"]["management"], _key_file(secured), timeout=60, retries=0)
    response = management.session.request("POST", "/models", params={"url": url, "synchronous": "true"})
    assert 400 <= response.status_code < 500, (where, response.status_code, response.text)
    assert _store_listing(secured) == before
    assert management.models() == [MODEL]
    assert [v.version for v in management.versions()] == ["1"]


# -- keys ------------------------------------------------------------------------------


def test_key_file_is_private(secured):
    _fresh(secured, "inference")
    assert _key_file(secured).stat().st_mode & 0o777 == 0o600


def test_expired_keys_are_renewed_by_the_clients(secured):
    """Keys live 30 seconds here: wait for a real expiry, then both clients carry on."""
    key_file = _key_file(secured)
    _fresh(secured, "inference"), _fresh(secured, "management")
    inference = InferenceClient(secured["urls"]["inference"], key_file, timeout=60)
    management = ManagementClient(secured["urls"]["management"], key_file, timeout=60)
    # Renew only on refusal here (no early renewal), so the expired key is really sent.
    inference.session.renew_margin = management.session.renew_margin = float("-inf")
    assert inference.classify("the app crashes on start").label and management.models() == [MODEL]
    old = read_key(key_file, "inference"), read_key(key_file, "management")
    expiry = max(key_expiry(key_file, "inference"), key_expiry(key_file, "management"))
    time.sleep(max(0.0, (expiry - datetime.now(timezone.utc)).total_seconds()) + 1.5)
    stale = requests.get(f"{secured['urls']['management']}/models", headers=_bearer(old[1]), timeout=30)
    assert stale.status_code == 400 and REFUSED in stale.text  # it really expired
    assert inference.classify("please add an export to PDF").label
    assert management.models() == [MODEL]
    assert (read_key(key_file, "inference"), read_key(key_file, "management")) != old
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_key_renewed_by_another_process_is_picked_up(secured):
    key_file = _key_file(secured)
    client = InferenceClient(secured["urls"]["inference"], key_file, timeout=60)
    # With the default margin (60 s) a client of 30-second keys renews before every request and
    # would never need another process's key; 5 s lets this one keep its key until it is refused.
    client.session.renew_margin = 5.0
    assert client.classify("the checkout button does nothing").label
    other = Session(secured["urls"]["management"], "inference", key_file)
    assert other.renew_key(refused=read_key(key_file, "inference"))  # as if refused: a real renewal through the token API
    assert client.session._key != other._key  # the client still holds the key the renewal replaced
    assert client.classify("how do I change my billing address?").label
    assert client.session._key == other._key == read_key(key_file, "inference")  # taken from the file, not renewed again


def test_clients_of_short_keys_do_not_renew_before_every_request(secured, caplog):
    """Keys shorter than the renewal margin (60 s) once made every request renew first, so
    each new client made the key of every other client stale. The margin is at most half the
    lifetime that ``serve start`` records beside the key file."""
    key_file = _key_file(secured)
    assert instance.key_lifetime(key_file) == 30
    assert Session(secured["urls"]["management"], "inference", key_file).renew_key(refused=read_key(key_file, "inference"))  # a full 30 s
    caplog.set_level("INFO", logger="client.core.api")
    caplog.clear()
    first, second = (InferenceClient(secured["urls"]["inference"], key_file, timeout=60) for _ in range(2))
    for text in ("the app crashes", "please add dark mode", "how do I log out?"):
        assert first.classify(text).label and second.classify(text).label
    assert not [r for r in caplog.records if "renewed the" in r.getMessage()]
    assert first.session._key == second.session._key == read_key(key_file, "inference")


def test_threads_that_all_want_a_renewal_renew_the_key_at_most_once(secured, caplog):
    """Threads of one client that ask for a renewal together wait for one another at the
    renewal: at most the first renews, the others take the file's key instead of replacing it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    caplog.set_level("INFO", logger="client.core.api")
    client = InferenceClient(secured["urls"]["inference"], _key_file(secured), timeout=60)
    together = threading.Barrier(4)

    def renew(_: int) -> bool:
        together.wait()
        return client.session.renew_key()

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(renew, range(4)))
    # None when the file's key has time left (taken as it is), one when it was near expiry.
    assert sum("renewed the inference key" in r.getMessage() for r in caplog.records) <= 1
    assert client.session._key == read_key(_key_file(secured), "inference")
    assert client.classify("order 4411 arrived late and support never answered").label


# -- logs ------------------------------------------------------------------------------


def test_no_key_and_no_feedback_text_in_logs(secured, caplog):
    caplog.set_level("DEBUG")
    client = InferenceClient(secured["urls"]["inference"], _key_file(secured), timeout=60)
    client.classify(MARKER)
    client.classify_chunk([(1, MARKER + " again"), (2, "fine")])
    keys = [read_key(_key_file(secured), kind) for kind in ("inference", "management", "API")]
    time.sleep(1.0)  # TorchServe's log appenders flush asynchronously
    logs = secured["config"].state_dir / "logs"
    server_text = "\n".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())
    assert server_text, "no server logs found"
    for text in (server_text, caplog.text):
        assert "zebracorn" not in text
        for key in keys:
            assert key and key not in text


# -- gRPC ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grpc_stubs(tmp_path_factory):
    """Python stubs compiled from the protos that ship inside TorchServe's frontend jar."""
    grpc = pytest.importorskip("grpc")
    protoc = pytest.importorskip("grpc_tools.protoc")
    import ts

    out = tmp_path_factory.mktemp("grpc")
    with zipfile.ZipFile(Path(ts.__file__).parent / "frontend" / "model-server.jar") as jar:
        for name in ("inference.proto", "management.proto", "google/rpc/status.proto"):
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(jar.read(name))
    include = Path(protoc.__file__).parent / "_proto"
    rc = protoc.main(["protoc", f"-I{out}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", "inference.proto", "management.proto", "google/rpc/status.proto"])
    assert rc == 0
    sys.path.insert(0, str(out))
    try:
        import inference_pb2, inference_pb2_grpc, management_pb2, management_pb2_grpc  # noqa: E401
    finally:
        sys.path.remove(str(out))
    return grpc, inference_pb2, inference_pb2_grpc, management_pb2, management_pb2_grpc


def _grpc_calls(secured, grpc_stubs):
    grpc, inference_pb2, inference_grpc, management_pb2, management_grpc = grpc_stubs
    from google.protobuf import empty_pb2

    ports = secured["ports"]
    inference = inference_grpc.InferenceAPIsServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports['grpc_inference']}"))
    management = management_grpc.ManagementAPIsServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports['grpc_management']}"))
    return {
        "ping": ("inference", lambda md: inference.Ping(empty_pb2.Empty(), metadata=md, timeout=30)),
        "predict": ("inference", lambda md: inference.Predictions(inference_pb2.PredictionsRequest(model_name=MODEL, input={"data": b"the app crashes"}), metadata=md, timeout=60)),
        "list": ("management", lambda md: management.ListModels(management_pb2.ListModelsRequest(), metadata=md, timeout=30)),
    }


@pytest.mark.parametrize("who", ["none", "wrong", "other"])
def test_grpc_refuses_missing_wrong_and_other_keys(secured, grpc_stubs, who):
    grpc = grpc_stubs[0]
    for name, (kind, call) in _grpc_calls(secured, grpc_stubs).items():
        other = "management" if kind == "inference" else "inference"
        metadata = {"none": (), "wrong": (("authorization", "Bearer not-a-key"),), "other": (("authorization", f"Bearer {_fresh(secured, other)}"),)}[who]
        with pytest.raises(grpc.RpcError) as refused:
            call(metadata)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, name


def test_grpc_accepts_the_right_keys(secured, grpc_stubs):
    calls = _grpc_calls(secured, grpc_stubs)
    for name, (kind, call) in calls.items():
        answer = call((("authorization", f"Bearer {_fresh(secured, kind)}"),))
        assert answer is not None, name
    prediction = calls["predict"][1]((("authorization", f"Bearer {_fresh(secured, 'inference')}"),))
    assert re.search(rb'"label"', prediction.prediction)
