"""Faults during a file batch, on a real TorchServe of this module's own (never the session's).

The batch goes through the client core's batch path (``classify_chunks`` feeding a
``BatchRun``), the same code the desktop app's batch and ``feedback classify --file`` use.
The server serves the tiny model's archive with one worker and a job queue of four, so a
killed worker is surely the one holding the request and a burst surely fills the queue.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from drive import feedback_texts, write_csv

from client.core.api import InferenceClient, ItemError, Prediction
from client.core.batch import BatchRun, load_file
from client.core.classify import classify_chunks
from client.core.errors import ServerDownError
from client.core.labels import LABELS

pytestmark = pytest.mark.server

QUEUE = 4
# Rows 5 and 40 are unreadable (not UTF-8): their line numbers must survive every fault.
# Row 2 holds UTF-8 beyond ASCII, so the file reads as UTF-8 and rows 5 and 40 are errors
# (bytes that are not UTF-8 in an otherwise ASCII file would be read as Windows-1252).
BAD_LINES = {2: "C-00002,chat,The caf\u00e9 menu shows old prices\n".encode("utf-8"), 5: b"C-00005,chat,\xff\xfe not utf-8\n", 40: b"C-00040,email,\xc3\x28\n"}
INVALID = (5, 40)


def with_model_config(source: Path, target: Path, **changes: object) -> Path:
    """A copy of a real archive whose model-config YAML has ``changes`` (workers, queue size)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "model-config.yaml":
                data = yaml.safe_dump({**yaml.safe_load(data), **changes}, sort_keys=False).encode("utf-8")
            out.writestr(info, data)
    return target


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory, model_store: Path, new_port_base):
    from training import serve
    from training.config import ServeConfig

    root = tmp_path_factory.mktemp("faults")
    store = root / "store"
    store.mkdir()
    name = serve.choose_archive(model_store)
    with_model_config(model_store / name, store / name, minWorkers=1, maxWorkers=1, jobQueueSize=QUEUE)
    config = ServeConfig(state_dir=root / "state", port_base=new_port_base(), model_store=store, timeout=180)
    inst = serve.start(config)
    yield {**inst, "config": config}
    serve.stop(config)


def client_for(server: dict, **kwargs: object) -> InferenceClient:
    return InferenceClient(server["urls"]["inference"], Path(server["key_file"]), **kwargs)


def worker_pids(server: dict) -> list[int]:
    """The live Python worker processes whose parent is this server's frontend (from /proc)."""
    from training import serve

    frontend = serve.status(server["config"])["pid"]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
            parent, state = int(status["PPid"]), status["State"].split()[0]
        except (OSError, KeyError, ValueError):
            continue
        if parent == frontend and state != "Z" and b"model_service_worker" in cmdline:
            found.append(int(entry.name))
    return found


def wait_for_worker(server: dict, other_than: int | None = None, seconds: float = 120) -> int:
    """The pid of the server's one READY worker (a new one when ``other_than`` is given)."""
    from training import serve

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = [pid for pid in worker_pids(server) if pid != other_than]
        versions = serve.management_client(server["config"]).versions()
        if len(pids) == 1 and versions and versions[0].ready_workers == 1:
            return pids[0]
        time.sleep(0.5)
    raise AssertionError(f"no READY worker within {seconds} s (pids {worker_pids(server)})")


def exactly_once(run: BatchRun, seen: Counter) -> None:
    """Every readable row was answered once, kept once, and the unreadable ones kept their lines."""
    assert run.finished and run.pending() == []
    assert sorted(seen) == list(range(run.total)) and set(seen.values()) == {1}
    lines = [result.row.line for result in run.results]
    assert len(lines) == len(set(lines)) and sorted(lines) == [row.line for row in run.read.rows]
    assert [(e.line, e.message.split(";")[0]) for e in run.errors()] == [(i + 2, "text is not valid UTF-8") for i in INVALID]
    assert all(result.prediction.label in LABELS for result in run.results)


def test_a_worker_killed_mid_batch_is_restarted_and_every_row_is_classified_exactly_once(own_server: dict, tmp_path: Path) -> None:
    read = load_file(write_csv(tmp_path / "export.csv", 400, BAD_LINES))
    run = BatchRun(tmp_path / "export.csv", read, 0.5)
    outcomes: list[str] = []
    # The retried request waits in the queue while the new worker loads the model: allow for
    # a slow start on a busy machine.
    client = client_for(own_server, chunk_size=16, timeout=120.0, on_request=lambda record: outcomes.append(record["outcome"]))
    victim = wait_for_worker(own_server)
    seen: Counter = Counter()
    first_answer = threading.Event()

    def kill_while_busy() -> None:
        first_answer.wait(60)
        # Stopped first, so the next request is surely handed to this worker; then killed.
        os.kill(victim, signal.SIGSTOP)
        time.sleep(1.0)
        os.kill(victim, signal.SIGKILL)

    def report(indices: list[int], answers: list) -> None:
        seen.update(indices)
        run.add(answers, indices)
        first_answer.set()

    killer = threading.Thread(target=kill_while_busy)
    killer.start()
    try:
        classify_chunks(client, run.pending(), report, in_flight=2)
    finally:
        first_answer.set()
        killer.join()
    replacement = wait_for_worker(own_server, other_than=victim)

    assert replacement != victim and victim not in worker_pids(own_server)
    assert {"500", "507"} & set(outcomes), f"no request saw the worker die: {Counter(outcomes)}"
    exactly_once(run, seen)


def test_server_stopped_mid_batch_keeps_results_and_resumes_after_start_without_repeats(own_server: dict, tmp_path: Path) -> None:
    from training import serve

    config = own_server["config"]
    read = load_file(write_csv(tmp_path / "export.csv", 300, BAD_LINES))
    run = BatchRun(tmp_path / "export.csv", read, 0.5)
    client = client_for(own_server, chunk_size=10)
    seen: Counter = Counter()
    stopped: list[bool] = []

    def report(indices: list[int], answers: list) -> None:
        assert [a.id for a in answers] == indices  # the server echoes the row ids it was sent
        seen.update(indices)
        run.add(answers, indices)
        if run.done >= 40 and not stopped:
            stopped.append(serve.stop(config))  # the user stops the server while the batch runs

    try:
        with pytest.raises(ServerDownError) as raised:
            classify_chunks(client, run.pending(), report, in_flight=3)
        kept = run.done
        assert 40 <= kept < run.total and len(run.results) == kept
        assert "not reachable" in raised.value.message and "feedback serve start" in raised.value.hint
        unfinished = [index for index, _ in run.pending()]
        assert set(unfinished) == set(range(run.total)) - set(seen) and len(unfinished) == run.total - kept
    finally:
        if not serve.status(config)["running"]:
            serve.start(config)  # what `feedback serve start` does: new keys, same ports

    classify_chunks(client, run.pending(), report, in_flight=3)  # Resume
    exactly_once(run, seen)


def test_a_full_queue_answers_503_and_the_client_retries_until_nothing_is_lost(own_server: dict) -> None:
    outcomes: Counter = Counter()
    lock = threading.Lock()
    first_503 = threading.Event()

    def count(record: dict) -> None:
        with lock:
            outcomes[record["outcome"]] += 1
        if record["outcome"] == "503":
            first_503.set()

    texts = feedback_texts(16)  # one batch of 8 held by the worker + a queue of 4 + 4 more
    clients = [client_for(own_server, on_request=count) for _ in texts]
    barrier = threading.Barrier(len(clients))

    def send(index: int) -> list[Prediction | ItemError]:
        barrier.wait(30)  # every request leaves at once
        return clients[index].classify_chunk([(index, texts[index])])

    worker = wait_for_worker(own_server)
    os.kill(worker, signal.SIGSTOP)  # the worker holds its batch, so the queue surely fills
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            sent = [pool.submit(send, index) for index in range(len(texts))]
            first_503.wait(60)
            os.kill(worker, signal.SIGCONT)
            answers = [a for future in sent for a in future.result()]
    finally:
        os.kill(worker, signal.SIGCONT)

    assert outcomes["503"] > 0, f"the queue of {QUEUE} never filled: {outcomes}"
    assert [a.id for a in answers] == list(range(len(texts)))
    assert all(isinstance(a, Prediction) and a.label in LABELS for a in answers)
    assert outcomes["200"] == len(texts) and set(outcomes) <= {"200", "503"}


def test_a_hung_worker_gives_a_timeout_error_with_a_hint_and_the_next_request_is_answered(own_server: dict) -> None:
    worker = wait_for_worker(own_server)
    outcomes: list[str] = []
    client = client_for(own_server, timeout=2.0, on_request=lambda record: outcomes.append(record["outcome"]))
    os.kill(worker, signal.SIGSTOP)
    try:
        with pytest.raises(ServerDownError) as raised:
            client.classify("The export button does nothing")
    finally:
        os.kill(worker, signal.SIGCONT)
    assert "did not answer within 2 s" in raised.value.message and "raise the timeout" in raised.value.hint
    assert outcomes == ["timeout"]  # not retried: the agent hears at once, the batch offers Resume
    assert client_for(own_server, timeout=60.0).classify("The export button does nothing").label in LABELS
