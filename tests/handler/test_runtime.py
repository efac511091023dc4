"""The runtime chosen at archive time (``feedback archive --runtime fp32|int8|onnx|onnx-int8``): recorded
in the archive's model-config YAML, applied by the handler when the worker loads the model,
with the same contract (per-item errors, calibrated scores, metrics)."""

from __future__ import annotations

import json
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
QUANTISED = {"int8", "onnx-int8"}


def test_the_config_and_the_handler_know_the_same_runtimes():
    assert cfg.RUNTIMES == fh.RUNTIMES
    assert cfg.POOLINGS == fh.POOLINGS


def test_an_unknown_runtime_is_a_usage_error_and_a_load_error():
    from training.cli import main

    with pytest.raises(ValueError, match="runtime must be one of fp32, int8"):
        cfg.ArchiveConfig(runtime="fp16")
    with pytest.raises(SystemExit) as exc:
        main(["archive", "--runtime", "fp16"])
    assert exc.value.code == 2
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="runtime is 'fp16'.*feedback archive --runtime"):
        fh.apply_runtime(torch.nn.Linear(2, 2), "fp16", torch.device("cpu"))


def test_int8_quantises_the_linear_layers_on_the_cpu_and_leaves_the_original():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    quantized, used = fh.apply_runtime(model, "int8", torch.device("cpu"))
    assert used == "int8"
    assert {type(m).__module__ for m in quantized if "Linear" in type(m).__name__} == {"torch.ao.nn.quantized.dynamic.modules.linear"}
    assert all(type(m) is torch.nn.Linear for m in model if "Linear" in type(m).__name__)
    same, used = fh.apply_runtime(model, "fp32", torch.device("cpu"))
    assert same is model and used == "fp32"


def test_int8_keeps_each_feed_forward_output_projection_in_fp32_and_quantises_the_rest(tiny_model):
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model.out_dir)
    quantized, used = fh.apply_runtime(model, "int8", torch.device("cpu"))
    assert used == "int8"
    linear = {name: type(m) for name, m in quantized.named_modules() if "Linear" in type(m).__name__}
    kept = {name for name, kind in linear.items() if kind is torch.nn.Linear}
    layers = model.config.num_hidden_layers
    assert kept == {f"bert.encoder.layer.{i}.output.dense" for i in range(layers)}
    assert "bert.encoder.layer.0.attention.output.dense" in set(linear) - kept
    assert "classifier" in set(linear) - kept


def test_int8_keeps_the_feed_forward_output_of_distilbert_and_mpnet_too():
    torch = pytest.importorskip("torch")
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, MPNetConfig, MPNetForSequenceClassification

    tiny = {"vocab_size": 64, "num_labels": 8}
    for model, layer in (
        (DistilBertForSequenceClassification(DistilBertConfig(n_layers=2, dim=32, hidden_dim=64, n_heads=2, **tiny)), "distilbert.transformer.layer.{}.ffn.lin2"),
        (MPNetForSequenceClassification(MPNetConfig(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2, **tiny)), "mpnet.encoder.layer.{}.output.dense"),
    ):
        linear = {name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
        assert linear - fh.int8_layers(model) == {layer.format(i) for i in range(2)}


def test_the_archive_yaml_carries_the_runtime(tiny_model):
    from training.archive import model_config

    assert model_config(tiny_model.card, cfg.ArchiveConfig(runtime="int8"))["handler"]["runtime"] == "int8"
    assert model_config(tiny_model.card, cfg.ArchiveConfig())["handler"]["runtime"] == cfg.ArchiveConfig.runtime


def test_an_onnx_int8_archive_packs_only_the_quantised_graph_with_every_linear_layer_in_int8_per_channel(tiny_model, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper
    from training.archive import build_archive

    build_archive(cfg.ArchiveConfig(model=tiny_model.out_dir, model_store=tmp_path, archive_format="no-archive", runtime="onnx-int8"))
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (folder / fh.ONNX_INT8_FILE).is_file() and not (folder / fh.ONNX_FILE).exists()
    graph = onnx.load(str(folder / fh.ONNX_INT8_FILE)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    assert not [node.name for node in graph.node if node.op_type == "MatMul" and any(i in weights and weights[i].ndim == 2 for i in node.input)]
    ops = [node.op_type for node in graph.node]
    config = json.loads((tiny_model.out_dir / "config.json").read_text())
    layers, heads = config["num_hidden_layers"], 1 + (config.get(fh.POOLING_KEY, "cls") == "cls")
    assert config[fh.POOLING_KEY] == "mean"  # the default: the graph reads the mean and leaves BERT's pooler out
    # Each layer's fused attention (query, key and value in one int8 QAttention); its attention
    # output, intermediate and output projections; the classifier (and the pooler, for a model that reads [CLS]).
    assert ops.count("QAttention") == layers and "Attention" not in ops
    assert ops.count("MatMulInteger") == 3 * layers + heads
    assert "Gemm" not in ops
    # One scale per output channel: each quantised weight's scale is a vector, not one number.
    scales = [weight for name, weight in weights.items() if name.endswith("_scale")]
    assert len(scales) == 4 * layers + heads and all(scale.ndim == 1 and scale.size > 1 for scale in scales)

    # Scored as `feedback bench` scores it: close to PyTorch's answers, not the same numbers.
    # "Close" is the archive's own bound (INT8_TOLERANCE, which it enforces on its parity
    # texts): on these 64 texts the largest difference of the tiny model was 0.81 to 1.17
    # across runs of the same recipe, too near any tighter number to be a stable test.
    from training.inference import load_model, predict_logits
    from training.onnx_export import INT8_TOLERANCE

    loaded = load_model(tiny_model.out_dir)
    texts = _dev_texts(64)
    fp32 = predict_logits(loaded.model, loaded.tokenizer, texts, loaded.max_length, **loaded.text_settings)
    int8 = predict_logits(loaded.model, loaded.tokenizer, texts, loaded.max_length, session=fh.onnx_session(folder / fh.ONNX_INT8_FILE, threads=1), **loaded.text_settings)
    assert int8.shape == fp32.shape and (int8 != fp32).any() and bool(abs(int8 - fp32).max() < INT8_TOLERANCE)
    assert (int8.argmax(axis=1) == fp32.argmax(axis=1)).mean() >= 0.8


def test_the_onnx_export_fuses_each_layers_attention_and_answers_as_pytorch(tiny_model, tmp_path):
    """ONNX Runtime's transformer fusions (docs/PERFORMANCE.md, "Fused attention"): one
    ``Attention`` operator per layer, and the same logits as PyTorch, padded or not."""
    onnx = pytest.importorskip("onnx")
    from training.onnx_export import export_onnx

    target = tmp_path / fh.ONNX_FILE
    difference = export_onnx(tiny_model.out_dir, target, max_length=64)
    ops = [node.op_type for node in onnx.load(str(target)).graph.node]
    layers = json.loads((tiny_model.out_dir / "config.json").read_text())["num_hidden_layers"]
    assert ops.count("Attention") == layers and ops.count("SkipLayerNormalization") == 2 * layers
    assert "Softmax" not in ops  # no unfused attention left
    assert difference < 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == [fh.ONNX_FILE]  # the traced graph is not left behind


def test_a_model_whose_attention_does_not_fuse_is_exported_unfused_and_still_exact(tiny_model, tmp_path):
    """MPNet's attention adds a relative position bias that ONNX Runtime's BERT fusions do not
    recognise: the export packs the traced graph whole rather than a half-fused one (measured
    slower), and the parity check still holds it to PyTorch."""
    onnx = pytest.importorskip("onnx")
    from transformers import AutoTokenizer, MPNetConfig, MPNetForSequenceClassification

    from training.onnx_export import export_onnx

    tokenizer = AutoTokenizer.from_pretrained(tiny_model.out_dir)
    model_dir = tmp_path / "mpnet"
    config = MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_labels=8)
    MPNetForSequenceClassification(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    target = tmp_path / "graph" / fh.ONNX_FILE
    target.parent.mkdir()
    assert export_onnx(model_dir, target, max_length=64) < 1e-4
    ops = [node.op_type for node in onnx.load(str(target)).graph.node]
    assert "Attention" not in ops and "SkipLayerNormalization" not in ops and "Softmax" in ops
    assert [p.name for p in target.parent.iterdir()] == [fh.ONNX_FILE]


@pytest.fixture(scope="module", params=cfg.RUNTIMES)
def runtime_server(request, tiny_model, tmp_path_factory, start_server):
    """A TorchServe of its own serving the tiny model archived with each ``--runtime``: fp32
    too, which no other test serves since onnx became the default, and onnx, which only this
    module compares with PyTorch."""
    from training import serve
    from training.archive import build_archive

    root = tmp_path_factory.mktemp(request.param)
    store = root / "store"
    build_archive(cfg.ArchiveConfig(model=tiny_model.out_dir, model_store=store, archive_format="zip-store", runtime=request.param))
    config, instance = start_server(lambda base: cfg.ServeConfig(state_dir=root / "state", port_base=base, model_store=store, timeout=240))
    instance["config"], instance["runtime"] = config, request.param
    instance["predicted"] = 0  # texts this server has classified so far: the tests share it, in any order
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


def test_each_runtime_serves_the_same_contract_and_the_same_labels(runtime_server, tiny_model):
    """int8 and onnx-int8 may move a few labels (quantised weights); onnx is the same fp32 model
    in another runtime, so its calibrated scores match PyTorch's to the third decimal, as fp32's do."""
    from training.inference import load_model, predict_proba

    runtime = runtime_server["runtime"]
    texts = _dev_texts(96)
    key = read_key(Path(runtime_server["key_file"]), "inference")
    items = [{"id": i, "text": t} for i, t in enumerate(texts)]
    items.insert(5, {"id": "bad", "text": ""})
    response = requests.post(f"{runtime_server['urls']['inference']}/predictions/{MODEL}", json={"items": items}, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert answers[5] == {"id": "bad", "error": "text is empty"}
    served = [a for a in answers if "error" not in a]
    assert [a["id"] for a in served] == list(range(len(texts)))
    for answer in served:
        assert answer["label"] in LABELS and set(answer["scores"]) == set(LABELS)
        assert sum(answer["scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert answer["confidence"] == max(answer["scores"].values())
    proba = predict_proba(load_model(tiny_model.out_dir), texts)
    agree = sum(answer["label"] == LABELS[i] for answer, i in zip(served, proba.argmax(axis=1))) / len(texts)
    assert agree >= (0.8 if runtime in QUANTISED else 1.0), f"{runtime} and fp32 agree on only {agree:.0%} of {len(texts)} dev texts"
    if runtime not in QUANTISED:
        worst = max(abs(answer["scores"][label] - row[LABELS.index(label)]) for answer, row in zip(served, proba) for label in LABELS)
        assert worst < 1e-3, f"{runtime} scores differ from PyTorch's by up to {worst:.2g}"
    runtime_server["predicted"] += len(texts)
    assert _served_predictions(runtime_server["predicted"], runtime_server["urls"]["metrics"]) == runtime_server["predicted"]
    log = (runtime_server["config"].state_dir / "logs" / "model_log.log").read_text(errors="replace")
    assert re.search(rf"feedback model v1 loaded from .* on cpu, {runtime}", log), f"the worker did not report the {runtime} runtime"


def test_a_single_text_scores_the_same_whatever_other_agents_send_at_the_same_time(runtime_server):
    """One request per handler call (``ArchiveConfig.batch_size`` 1, docs/PERFORMANCE.md "Again
    with onnx-int8"): a single text is never batched with other agents' texts, so its scores are
    the same to the last digit while others arrive, even where the int8 runtimes quantise
    activations per forward pass."""
    from concurrent.futures import ThreadPoolExecutor

    assert cfg.ArchiveConfig.batch_size == 1
    key = read_key(Path(runtime_server["key_file"]), "inference")
    url = f"{runtime_server['urls']['inference']}/predictions/{MODEL}"
    texts = _dev_texts(25)
    mine, others = texts[0], texts[1:]

    def scores(text: str) -> dict[str, float]:
        response = requests.post(url, data=text.encode(), headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"}, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()["scores"]

    alone = scores(mine)
    sent = [text for other in others for text in (other, mine)]  # mine between every two others
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(scores, sent))
    runtime_server["predicted"] += 1 + len(sent)
    assert [answer for text, answer in zip(sent, answers) if text == mine] == [alone] * len(others)


def test_each_runtime_explains_with_the_label_it_predicts(runtime_server):
    """Explanations re-score occluded texts through the same forward pass as predictions,
    so they work whichever runtime the archive chose."""
    key = read_key(Path(runtime_server["key_file"]), "inference")
    text = "The app crashes every time I open settings"
    answers = {route: requests.post(f"{runtime_server['urls']['inference']}/{route}/{MODEL}", data=text.encode(),
                                    headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"}, timeout=120) for route in ("explanations", "predictions")}
    runtime_server["predicted"] += 1  # the prediction above (an explanation is not counted)
    assert all(r.status_code == 200 for r in answers.values()), {k: r.text for k, r in answers.items()}
    explained, predicted = answers["explanations"].json(), answers["predictions"].json()
    # The int8 runtimes quantise activations per forward pass, so a text batched with its
    # occluded copies scores a little differently from the same text alone; onnx is exact.
    tolerance = 0.02 if runtime_server["runtime"] in QUANTISED else 1e-4
    assert explained["label"] == predicted["label"] and explained["confidence"] == pytest.approx(predicted["confidence"], abs=tolerance)
    assert sorted(w["word"] for w in explained["words"]) == sorted(text.split())


def test_every_onnx_runtime_has_its_graph_file():
    assert set(fh.ONNX_FILES) == {runtime for runtime in cfg.RUNTIMES if runtime.startswith("onnx")}
    assert len(set(fh.ONNX_FILES.values())) == len(fh.ONNX_FILES)


def test_an_onnx_archive_without_its_graph_is_a_load_error_that_says_how_to_fix_it(tmp_path):
    pytest.importorskip("onnxruntime")
    with pytest.raises(RuntimeError, match=r"runtime is onnx but model\.onnx is missing.*feedback archive --runtime onnx`"):
        fh.onnx_session(tmp_path / fh.ONNX_FILE, threads=1)
    with pytest.raises(RuntimeError, match=r"runtime is onnx-int8 but model-int8\.onnx is missing.*feedback archive --runtime onnx-int8`"):
        fh.onnx_session(tmp_path / fh.ONNX_INT8_FILE, threads=1)


def test_the_graph_is_fed_int64_ids_and_mask_whatever_the_tokenizer_returned():
    """``onnx_logits`` is the one feed of the graph (handler, parity check, bench): the
    tokenizer may hand over int32 arrays or torch tensors, and extra keys such as
    ``token_type_ids`` that the exported graph does not take."""
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    fed = []

    class Graph:  # what ``InferenceSession.run`` is given, recorded
        def run(self, outputs, feed):
            fed.append((outputs, feed))
            return [np.zeros((len(feed["input_ids"]), 8), dtype=np.float32)]

    ids = [[101, 7, 102], [101, 102, 0]]
    for batch in ({"input_ids": np.array(ids, dtype=np.int32), "attention_mask": np.array([[1, 1, 1], [1, 1, 0]], dtype=np.int32), "token_type_ids": np.zeros((2, 3))},
                  {"input_ids": torch.tensor(ids, dtype=torch.int32), "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.int32)}):
        assert fh.onnx_logits(Graph(), batch).shape == (2, 8)
    for outputs, feed in fed:
        assert outputs == [fh.ONNX_OUTPUT] and set(feed) == set(fh.ONNX_INPUTS) == {"input_ids", "attention_mask"}
        assert all(value.dtype == np.int64 for value in feed.values()) and feed["input_ids"].tolist() == ids
