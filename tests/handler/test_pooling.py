"""What the classification head reads (``use_pooling``): the attention-masked mean of the last
hidden states for models trained so, BERT's pooled [CLS] for models from before; the same
in training, the archive's ONNX export and the handler, since all of them load through it."""

from __future__ import annotations

from pathlib import Path

import pytest

from handler import feedback_handler as fh

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def small_bert(pooling: str | None) -> object:
    """A small random BERT classifier (no download): what matters here is the arithmetic."""
    config = transformers.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_labels=8)
    if pooling is not None:
        setattr(config, fh.POOLING_KEY, pooling)
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config).eval()


IDS = torch.tensor([[101, 7, 8, 9, 102], [101, 11, 102, 0, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])


def test_a_model_from_before_the_setting_reads_the_pooled_cls_as_it_always_did() -> None:
    model = small_bert(None)
    before = model(input_ids=IDS, attention_mask=MASK).logits
    assert fh.use_pooling(model) is model
    with torch.inference_mode():
        assert torch.equal(model(input_ids=IDS, attention_mask=MASK).logits, before)
        hidden = model.bert(input_ids=IDS, attention_mask=MASK).pooler_output
        assert torch.allclose(before, model.classifier(hidden), atol=1e-6)


def test_mean_pooling_reads_the_mean_of_the_real_tokens_only() -> None:
    model = fh.use_pooling(small_bert("mean"))
    with torch.inference_mode():
        logits = model(input_ids=IDS, attention_mask=MASK).logits
        hidden = model.bert(input_ids=IDS, attention_mask=MASK).last_hidden_state
        expected = torch.stack([model.classifier(hidden[0].mean(dim=0)), model.classifier(hidden[1, :3].mean(dim=0))])
        assert torch.allclose(logits, expected, atol=1e-5)
        alone = model(input_ids=IDS[1:, :3], attention_mask=MASK[1:, :3]).logits  # padding does not move a text's answer
        assert torch.allclose(logits[1], alone[0], atol=1e-5)
        cls = small_bert(None)(input_ids=IDS, attention_mask=MASK).logits  # the same weights read as before
        assert not torch.allclose(logits, cls, atol=1e-3)


def test_the_loss_is_the_cross_entropy_of_the_mean_pooled_logits() -> None:
    model = fh.use_pooling(small_bert("mean"))
    labels = torch.tensor([3, 5])
    out = model(input_ids=IDS, attention_mask=MASK, labels=labels)
    assert torch.allclose(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))
    out.loss.backward()  # training reaches the encoder through the mean, and not the unused pooler
    assert model.bert.encoder.layer[0].attention.self.query.weight.grad is not None
    assert model.bert.pooler.dense.weight.grad is None


def test_the_setting_is_saved_with_the_model_and_read_back(tmp_path: Path) -> None:
    model = fh.use_pooling(small_bert("mean"))
    model.save_pretrained(tmp_path)
    loaded = fh.use_pooling(transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path).eval())
    assert getattr(loaded.config, fh.POOLING_KEY) == "mean"
    with torch.inference_mode():
        assert torch.allclose(loaded(input_ids=IDS, attention_mask=MASK).logits, model(input_ids=IDS, attention_mask=MASK).logits, atol=1e-6)


@pytest.mark.parametrize("order", ["quantise, then pool (the handler)", "pool, then quantise (load_model, then the bench)"])
def test_the_int8_runtime_serves_its_own_quantised_head(order: str) -> None:
    model = small_bert("mean")
    if order.startswith("pool"):
        model = fh.use_pooling(model)
    quantized, used = fh.apply_runtime(model, "int8", torch.device("cpu"))  # a deep copy, its linear layers in int8
    served = fh.use_pooling(quantized)
    calls = []
    served.classifier.register_forward_hook(lambda *_: calls.append("int8"))
    model.classifier.register_forward_hook(lambda *_: calls.append("fp32"))
    with torch.inference_mode():
        served(input_ids=IDS, attention_mask=MASK)
    assert used == "int8" and calls == ["int8"] and "quantized" in type(served.classifier).__module__


def test_pooling_once_is_enough_and_the_saved_class_name_is_the_models_own(tmp_path: Path) -> None:
    import json

    model = fh.use_pooling(small_bert("mean"))
    assert fh.use_pooling(model) is model and type(model).__mro__[1] is transformers.BertForSequenceClassification
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == ["BertForSequenceClassification"]


def test_dropout_applies_to_the_mean_in_training_only() -> None:
    model = fh.use_pooling(small_bert("mean"))
    model.config.hidden_dropout_prob = 0.5
    model.dropout.p = 0.5
    model.train()
    first, second = (model(input_ids=IDS, attention_mask=MASK).logits for _ in range(2))
    assert not torch.allclose(first, second)
    model.eval()
    with torch.inference_mode():
        assert torch.equal(model(input_ids=IDS, attention_mask=MASK).logits, model(input_ids=IDS, attention_mask=MASK).logits)


def test_an_unknown_pooling_or_a_head_it_cannot_read_is_a_clear_load_error() -> None:
    with pytest.raises(RuntimeError, match="feedback_pooling='max', expected one of cls, mean"):
        fh.use_pooling(small_bert("max"))
    config = transformers.DistilBertConfig(vocab_size=120, dim=32, n_layers=1, n_heads=2, hidden_dim=64, num_labels=8)
    setattr(config, fh.POOLING_KEY, "mean")
    with pytest.raises(RuntimeError, match="mean pooling needs a single linear `classifier` on the hidden states after `dropout`.*--pooling cls"):
        fh.use_pooling(transformers.DistilBertForSequenceClassification(config))
