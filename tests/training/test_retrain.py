"""The retraining loop against a real TorchServe with tiny real fine-tunes.

The server tests of this module share one server, and each one starts from a state it asks
for and leaves the loop as it found it (v1 alone), so they pass alone and in any order:
``at_v1`` is v1 served and recorded as the default with no corrections; ``at_v2`` adds a
promoted v2 (the same weights under version 2, so no fine-tune is needed to get there). The
gate's rules have their own table tests (test_gate.py); the promotion test widens the
F1/recall tolerances so that it checks the loop, not the noise of a 320-item fine-tune.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from client.core.api import InferenceClient
from training import paths
from training.archive import build_archive
from training.cli import main
from training.config import ArchiveConfig, ServeConfig
from training.data import load_examples, load_splits, split_examples
from training.datacheck import normalise
from client.core.errors import FeedbackError
from client.core.corrections import Correction, CorrectionsStore
from training.retrain import merge_corrections, retrain_lock
from client.core.api import ManagementClient
from training.registry import archive_name, record_default

TINY_RETRAIN = ["--epochs", "3", "--max-length", "64", "--max-train-items", "320", "--learning-rate", "2e-4"]
KIOSK = "[kiosk 7 relay] "


def parts():
    return split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))


# ------------------------------------------------------------------ pure parts


def test_merge_dedupes_latest_wins_excludes_test_texts_and_holds_out():
    test_text = parts()["test"][0].text
    corrections = [
        ("a.sqlite3", Correction("The app crashes on start", "praise", id=1, created_at="2026-01-01T00:00:00")),
        ("b.jsonl", Correction("the APP crashes on start!", "bug", id=2, created_at="2026-01-02T00:00:00")),
        ("a.sqlite3", Correction(test_text, "other", id=3, created_at="2026-01-01T00:00:00")),
        ("a.sqlite3", Correction("already used by v2", "question", id=4, created_at="2026-01-01T00:00:00", consumed_by="2")),
    ] + [("a.sqlite3", Correction(f"pending correction number {i}", "other", id=10 + i, created_at="2026-01-03T00:00:00")) for i in range(40)]
    merged = merge_corrections(corrections, {normalise(test_text)}, heldout_fraction=0.25)
    trained = {e.text: e.label for e in merged.train}
    assert trained.get("the APP crashes on start!") == "bug" or any(e.text == "the APP crashes on start!" for e in merged.heldout)
    assert "The app crashes on start" not in trained
    assert merged.excluded_test == 1 and test_text not in trained
    assert merged.conflicts and merged.duplicates == 1
    assert trained["already used by v2"] == "question"
    assert 4 <= len(merged.heldout) <= 18
    again = merge_corrections(corrections, {normalise(test_text)}, heldout_fraction=0.25)
    assert [e.text for e in again.heldout] == [e.text for e in merged.heldout]


def test_lock_stops_a_second_retrain(tmp_path):
    with retrain_lock(tmp_path):
        with pytest.raises(FeedbackError, match="another retrain is running"):
            with retrain_lock(tmp_path):
                pass
    with retrain_lock(tmp_path):
        assert (tmp_path / ".retrain.lock").exists()
    assert not (tmp_path / ".retrain.lock").exists()


# ------------------------------------------------------------------ the loop on a real server


@pytest.fixture(scope="module")
def loop(tmp_path_factory, tiny_model, start_server):
    """models/v1 + its archive as the recorded default, a server of its own, an empty store."""
    from training import serve

    root = tmp_path_factory.mktemp("loop")
    models, store, state = root / "models", root / "store", root / "state"
    models.mkdir()
    shutil.copytree(tiny_model.out_dir, models / "v1")
    build_archive(ArchiveConfig(model=models / "v1", model_store=store, archive_format="zip-store"))
    record_default(store, "1")
    config, inst = start_server(lambda base: ServeConfig(state_dir=state, port_base=base, model_store=store, timeout=180))
    env = {"models": models, "store": store, "state": state, "db": root / "corrections.sqlite3", "config": config, "inst": inst}
    yield env
    serve.stop(env["config"])


def reset_to_v1(loop) -> None:
    """Back to what ``loop`` started with, whatever a test (or its failure) left behind."""
    from training import serve

    if not serve.status(loop["config"])["running"]:  # a restart test that failed half-way
        loop["config"], loop["inst"] = start_server(lambda base: replace(loop["config"], port_base=base))
    server = management(loop)
    if "1" not in {v.version for v in server.versions()}:
        server.register(archive_name(1))
    server.set_default("1")
    for version in {v.version for v in server.versions()} - {"1"}:
        server.unregister(version)
    for folder in loop["models"].iterdir():  # v2, v3..., rejected/, reports/ (files such as the retrain lock stay)
        if folder.is_dir() and folder.name != "v1":
            shutil.rmtree(folder)
    for archive in loop["store"].glob("*.mar"):
        if archive.name != archive_name(1):
            archive.unlink()
    record_default(loop["store"], "1")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(loop["db"]) + suffix).unlink(missing_ok=True)


@pytest.fixture
def at_v1(loop):
    reset_to_v1(loop)
    yield loop
    reset_to_v1(loop)


@pytest.fixture
def at_v2(at_v1, as_version):
    """v2 promoted as a retrain leaves it: folder, archive, registered, default on the server and recorded."""
    as_version(at_v1["models"] / "v1", at_v1["models"] / "v2", 2)
    build_archive(ArchiveConfig(model=at_v1["models"] / "v2", model_store=at_v1["store"], archive_format="zip-store"))
    server = management(at_v1)
    server.register(archive_name(2))
    server.set_default("2")
    record_default(at_v1["store"], "2")
    return at_v1


def loop_args(loop, *extra):
    return ["retrain", "--models-dir", str(loop["models"]), "--model-store", str(loop["store"]), "--state-dir", str(loop["state"]),
            "--corrections", str(loop["db"]), *TINY_RETRAIN, *extra]


def model_files(loop) -> list:
    """What a retrain could change in the models folder: not its reports, and not the lock file,
    which filelock leaves in place after release by design (whichever retrain test runs first makes it)."""
    return sorted(str(p) for p in loop["models"].rglob("*") if "reports" not in p.parts and not p.name.startswith(".retrain.lock"))


def client(loop) -> InferenceClient:
    return InferenceClient(loop["inst"]["urls"]["inference"], Path(loop["inst"]["key_file"]))


def management(loop) -> ManagementClient:
    return ManagementClient(loop["inst"]["urls"]["management"], Path(loop["inst"]["key_file"]))


def kiosk_texts() -> list:
    """A group of train texts as they arrive through one kiosk; agents relabel all of them `other`."""
    return [KIOSK + e.text for e in parts()["train"][:110]]


@pytest.mark.slow
@pytest.mark.usefixtures("at_v1")
def test_consistent_corrections_are_promoted_and_served_by_default(loop, capsys):
    store = CorrectionsStore(loop["db"])
    texts = kiosk_texts()
    before = client(loop).classify_many(list(enumerate(texts)))
    for text, pred in zip(texts, before):
        store.add(Correction(text, "other", pred.label, "correction", pred.confidence, pred.model_version, agent="test", source="kiosk.csv"))
    test_text = parts()["test"][0].text
    store.add(Correction(test_text, "other", None, "correction", agent="test", source="single"))
    # Two epochs already move all 110 kiosk texts to `other` (9 before; measured), far past the bar below.
    code = main(loop_args(loop, "--epochs", "2", "--f1-tolerance", "25", "--recall-drop", "50", "--heldout-fraction", "0.3"))
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out)
    checks = {c["name"]: c["status"] for c in report["decision"]["checks"]}
    assert report["new_version"] == 2 and checks["heldout_corrections"] == "pass"
    after = client(loop).classify_many(list(enumerate(texts)))
    assert {p.model_version for p in after} == {"2"}
    assert sum(p.label == "other" for p in after) > sum(p.label == "other" for p in before) + 30
    assert management(loop).default_version() == "2"
    assert {v.version for v in management(loop).versions()} == {"1", "2"}
    assert json.loads((loop["store"] / "default.json").read_text())["version"] == "2"
    card = json.loads((loop["models"] / "v2" / "model_card.json").read_text())
    assert card["corrections"]["excluded_test"] == 1 and card["corrections"]["hash"]
    assert store.pending_count() == 1  # only the test-split text is left unconsumed
    assert {c.consumed_by for c in store.all() if c.text != test_text} == {"2"}
    md = Path(report["paths"]["markdown"]).read_text()
    assert "PROMOTED" in md and "held-out" in md


@pytest.mark.slow
@pytest.mark.usefixtures("at_v2")
def test_harmful_corrections_are_refused_with_exit_3(loop, capsys):
    store = CorrectionsStore(loop["db"])
    sabotage = [e for e in parts()["train"] if e.label == "bug"][:150]
    for e in sabotage:
        store.add(Correction(e.text, "praise", "bug", "correction", agent="saboteur", source="single"))
    archives_before = sorted(p.name for p in loop["store"].glob("*.mar"))
    code = main(loop_args(loop, "--epochs", "2"))  # two epochs of sabotage already drop bug recall far past the gate's bound
    captured = capsys.readouterr()
    assert code == 3, captured.err
    assert "was not promoted" in captured.err and "recall dropped" in captured.err
    assert management(loop).default_version() == "2"
    assert client(loop).classify("is it still v2?").model_version == "2"
    assert sorted(p.name for p in loop["store"].glob("*.mar")) == archives_before
    assert not (loop["models"] / "v3").exists() and list((loop["models"] / "rejected").glob("v3-*"))
    assert store.pending_count() == len(sabotage)  # refused: nothing consumed


@pytest.mark.slow
@pytest.mark.usefixtures("at_v2")
def test_dry_run_changes_nothing(loop, capsys):
    CorrectionsStore(loop["db"]).add(Correction("Where can I download my statements?", "question", agent="test"))
    snapshot = model_files(loop)
    code = main(loop_args(loop, "--dry-run", "--epochs", "1", "--max-train-items", "64", "--f1-tolerance", "100", "--recall-drop", "100"))
    assert code == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True
    assert model_files(loop) == snapshot
    assert management(loop).default_version() == "2" and CorrectionsStore(loop["db"]).pending_count() == 1
    assert json.loads((loop["store"] / "default.json").read_text())["version"] == "2"


@pytest.mark.usefixtures("at_v2")
def test_models_lists_every_version_and_rollback_survives_a_restart(loop, start_server, monkeypatch, capsys):
    from training import serve

    monkeypatch.setenv("FEEDBACK_MODELS_DIR", str(loop["models"]))
    monkeypatch.setenv("FEEDBACK_MODEL_STORE", str(loop["store"]))
    monkeypatch.setenv("FEEDBACK_STATE_DIR", str(loop["state"]))
    assert main(["models", "--json"]) == 0
    rows = {r["version"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["2"]["server_default"] and rows["2"]["recorded_default"] and rows["1"]["served"]
    assert rows["1"]["test_macro_f1"] is not None
    assert main(["rollback"]) == 0
    assert json.loads(capsys.readouterr().out) == {"from": "2", "to": "1", "server_updated": True}
    assert client(loop).classify("after rollback").model_version == "1"
    serve.stop(loop["config"])
    loop["config"], loop["inst"] = start_server(lambda base: replace(loop["config"], port_base=base))  # its ports may be taken meanwhile
    assert client(loop).classify("after restart").model_version == "1"
    assert main(["rollback", "--to", "2"]) == 0
    assert client(loop).classify("forward again").model_version == "2"
