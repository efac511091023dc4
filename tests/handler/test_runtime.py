"""The runtime chosen at archive time (``feedback archive --runtime fp32|int8``): recorded in
the archive's model-config YAML, applied by the handler when the worker loads the model,
with the same contract (per-item errors, calibrated scores, metrics)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from client.core.instance import read_key
from client.core.labels import LABELS
from handler import feedback_handler as fh
from training import config as cfg

MODEL = "feedback-classifier"


def test_the_config_and_the_handler_know_the_same_runtimes():
    assert cfg.RUNTIMES == fh.RUNTIMES


def test_an_unknown_runtime_is_a_usage_error_and_a_load_error():
    from training.cli import main

    with pytest.raises(ValueError, match="runtime must be one of fp32, int8"):
        cfg.ArchiveConfig(runtime="fp16")
    with pytest.raises(SystemExit) as exc:
        main(["archive", "--runtime", "onnx"])
    assert exc.value.code == 2
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="runtime is 'fp16'.*feedback archive --runtime"):
        fh.apply_runtime(torch.nn.Linear(2, 2), "fp16", torch.device("cpu"))


def test_int8_quantises_every_linear_layer_on_the_cpu_and_leaves_the_original():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    quantized, used = fh.apply_runtime(model, "int8", torch.device("cpu"))
    assert used == "int8"
    assert {type(m).__module__ for m in quantized if "Linear" in type(m).__name__} == {"torch.ao.nn.quantized.dynamic.modules.linear"}
    assert all(type(m) is torch.nn.Linear for m in model if "Linear" in type(m).__name__)
    same, used = fh.apply_runtime(model, "fp32", torch.device("cpu"))
    assert same is model and used == "fp32"


def test_the_archive_yaml_carries_the_runtime(tiny_model):
    from training.archive import model_config

    assert model_config(tiny_model.card, cfg.ArchiveConfig(runtime="int8"))["handler"]["runtime"] == "int8"
    assert model_config(tiny_model.card, cfg.ArchiveConfig())["handler"]["runtime"] == cfg.ArchiveConfig.runtime


@pytest.fixture(scope="module")
def int8_server(tiny_model, tmp_path_factory, start_server):
    """A TorchServe of its own serving the tiny model archived with ``--runtime int8``."""
    from training import serve
    from training.archive import build_archive

    root = tmp_path_factory.mktemp("int8")
    store = root / "store"
    build_archive(cfg.ArchiveConfig(model=tiny_model.out_dir, model_store=store, archive_format="zip-store", runtime="int8"))
    config, instance = start_server(lambda base: cfg.ServeConfig(state_dir=root / "state", port_base=base, model_store=store, timeout=240))
    instance["config"] = config
    yield instance
    serve.stop(config)


def _dev_texts(n: int) -> list[str]:
    from training import paths
    from training.data import load_examples

    return [e.text for e in load_examples(paths.dev_file())[:n]]


def _served_predictions(total: float, metrics_url: str, seconds: float = 30) -> float:
    """TorchServe's FeedbackPredictions counter (all labels), once it reaches ``total``
    (it is updated from the workers' log lines a moment after the response)."""
    deadline = time.monotonic() + seconds
    while True:
        text = requests.get(f"{metrics_url}/metrics", timeout=30).text
        found = sum(float(v) for v in re.findall(r"^FeedbackPredictions\{[^}]*\} (\S+)$", text, re.MULTILINE))
        if found >= total or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_an_int8_archive_serves_the_same_contract_and_mostly_the_same_labels(int8_server, tiny_model):
    from training.inference import load_model, predict_proba

    texts = _dev_texts(96)
    key = read_key(Path(int8_server["key_file"]), "inference")
    items = [{"id": i, "text": t} for i, t in enumerate(texts)]
    items.insert(5, {"id": "bad", "text": ""})
    response = requests.post(f"{int8_server['urls']['inference']}/predictions/{MODEL}", json={"items": items}, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert answers[5] == {"id": "bad", "error": "text is empty"}
    served = [a for a in answers if "error" not in a]
    assert [a["id"] for a in served] == list(range(len(texts)))
    for answer in served:
        assert answer["label"] in LABELS and set(answer["scores"]) == set(LABELS)
        assert sum(answer["scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert answer["confidence"] == max(answer["scores"].values())
    fp32 = predict_proba(load_model(tiny_model.out_dir), texts).argmax(axis=1)
    agree = sum(answer["label"] == LABELS[i] for answer, i in zip(served, fp32)) / len(texts)
    assert agree >= 0.8, f"int8 and fp32 agree on only {agree:.0%} of {len(texts)} dev texts"
    assert _served_predictions(len(texts), int8_server["urls"]["metrics"]) == len(texts)
    log = (int8_server["config"].state_dir / "logs" / "model_log.log").read_text(errors="replace")
    assert re.search(r"feedback model v1 loaded from .* on cpu, int8", log), "the worker did not report the int8 runtime"
