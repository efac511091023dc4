"""A tiny real fine-tune (the session's) saves a complete, calibrated, loadable model."""

from __future__ import annotations

import json

import pytest

from training import paths
from training.data import load_examples, load_splits, split_examples
from client.core.labels import LABELS


def test_saved_model_loads_with_from_pretrained_and_has_contract_labels(tiny_model):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model.out_dir)
    AutoTokenizer.from_pretrained(tiny_model.out_dir)
    assert [model.config.id2label[i] for i in range(8)] == list(LABELS)
    assert not list(tiny_model.out_dir.glob("checkpoint-*"))
    assert not list(tiny_model.out_dir.parent.glob(".checkpoints-*"))


def test_the_saved_folder_alone_gives_the_calibrated_probabilities(tiny_model):
    """The temperature is folded into the classifier: from_pretrained, the pooling its
    config.json names (the handler's ``use_pooling``) and softmax equal what evaluation (and
    the handler) report; the card still records the fitted T and the pooling."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from handler.feedback_handler import POOLING_KEY, use_pooling
    from training.inference import load_model, predict_proba

    texts = ["The app crashes when I upload a photo", "Please add a dark mode", "Thanks, great support!"]
    model = use_pooling(AutoModelForSequenceClassification.from_pretrained(tiny_model.out_dir).eval())
    enc = AutoTokenizer.from_pretrained(tiny_model.out_dir)(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        plain = torch.softmax(model(**enc).logits, dim=-1).numpy()
    assert plain == pytest.approx(predict_proba(load_model(tiny_model.out_dir), texts), abs=1e-5)
    card = json.loads((tiny_model.out_dir / "model_card.json").read_text())
    assert card["temperature_folded"] is True and card["temperature"] != 1.0
    # The default reads the mean of the token vectors, and says so where every loader looks.
    assert getattr(model.config, POOLING_KEY) == "mean" == card["hyperparameters"]["pooling"]
    assert json.loads((tiny_model.out_dir / "train_config.json").read_text())["pooling"] == "mean"


def test_model_card_records_what_a_reviewer_needs(tiny_model):
    card = json.loads((tiny_model.out_dir / "model_card.json").read_text())
    for key in ("base_model", "data_hash", "split_sizes", "hyperparameters", "validation", "test", "version", "training_seconds", "temperature", "needs_review_threshold"):
        assert key in card, key
    assert card["version"] == 1 and card["split_sizes"]["train"] == 480
    assert 0.05 <= card["temperature"] <= 20 and 0 < card["needs_review_threshold"] <= 1
    assert (tiny_model.out_dir / "train.log").stat().st_size > 0
    # Which test split the model was kept away from: what a student of it checks (training/distill.py).
    from training.data import set_hash

    assert card["test_hash"] == set_hash(split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))["test"])


def test_tiny_fine_tune_beats_the_majority_baseline(tiny_model):
    from training.baselines import majority

    parts = split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))
    base = majority().fit([e.text for e in parts["train"]], [e.label for e in parts["train"]])
    from training.evaluate import evaluate_predictions

    majority_f1 = evaluate_predictions([e.label for e in parts["test"]], base.predict_proba([e.text for e in parts["test"]])).macro_f1
    assert tiny_model.test.macro_f1 > majority_f1 + 0.1


@pytest.mark.slow
def test_same_seed_gives_the_same_metrics(tmp_path):
    from training.config import TrainConfig
    from training.train import train

    runs = [
        # window_step 0: at 32 tokens nearly every evaluation text would be read in many windows (minutes, and not this test's subject)
        train(TrainConfig(out=tmp_path / f"run{i}", epochs=1, max_length=32, max_train_items=64, seed=7, patience=1, window_step=0.0))
        for i in range(2)
    ]
    assert runs[0].test.macro_f1 == runs[1].test.macro_f1
    assert runs[0].temperature == pytest.approx(runs[1].temperature, rel=1e-6)
    assert runs[0].test.confusion_matrix == runs[1].test.confusion_matrix


def test_subset_has_exactly_the_limit_and_keeps_label_shares():
    from collections import Counter

    from training.train import stratified_subset

    train = parts_train()
    subset = stratified_subset(train, 480, seed=3)
    assert len(subset) == 480 and len({e.id for e in subset}) == 480
    full, part = Counter(e.label for e in train), Counter(e.label for e in subset)
    for label in LABELS:
        assert abs(part[label] / 480 - full[label] / len(train)) < 0.01
    assert [e.id for e in stratified_subset(train, 480, seed=3)] == [e.id for e in subset]


def parts_train():
    return split_examples(load_examples(paths.data_file()), load_splits(paths.splits_file()))["train"]


def test_unknown_base_model_fails_fast_with_a_hint(tmp_path, monkeypatch):
    from client.core.errors import ModelError
    from training.train import resolve_base_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not a local folder and not in the Hugging Face cache") as info:
        resolve_base_model("no-such-org/no-such-model")
    assert "pass a local model folder" in info.value.hint
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_base_model(str(tmp_path / "empty"))


def test_mean_pooling_on_an_encoder_it_cannot_read_is_refused_before_anything_is_written(tmp_path):
    """MPNet's head reads its first token through a dense layer of its own: --pooling cls."""
    from transformers import MPNetConfig

    from client.core.errors import ModelError
    from training.config import TrainConfig
    from training.train import train

    MPNetConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(tmp_path / "mpnet")
    out = tmp_path / "models" / "v1"
    with pytest.raises(ModelError, match="mean pooling is built for BERT-family encoders.*not mpnet") as info:
        train(TrainConfig(base_model=str(tmp_path / "mpnet"), out=out, teacher=None, max_train_items=16, threads=1))
    assert info.value.hint == "train it with --pooling cls" and not out.exists() and not out.parent.exists()


def test_default_base_model_resolves_offline_to_the_packaged_weights():
    from pathlib import Path

    from training.train import resolve_base_model

    assert (Path(resolve_base_model("all-MiniLM-L6-v2")) / "config.json").exists()


def test_freezing_stops_gradients_below_the_top_layers_and_nothing_above():
    """The fast retrain's ``freeze_layers``: embeddings and the lowest layers get no gradient,
    the top layer and the classifier still do."""
    from transformers import BertConfig, BertForSequenceClassification

    from training.train import freeze_lower_layers

    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32, num_labels=8))
    assert freeze_lower_layers(model, 0) == 0 and all(p.requires_grad for p in model.parameters())
    assert freeze_lower_layers(model, 2) == 2
    trainable = {name.split(".")[1] if name.startswith("bert.") else name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert all(name.startswith(("bert.embeddings.", "bert.encoder.layer.0.", "bert.encoder.layer.1.")) for name in frozen) and frozen
    assert {"encoder", "pooler", "classifier"} <= trainable
    assert any(name.startswith("bert.encoder.layer.2.") for name, p in model.named_parameters() if p.requires_grad)
    assert freeze_lower_layers(model, 10) == 3  # more than the model has: all of them


def test_a_base_model_without_encoder_layers_cannot_be_frozen_and_says_what_to_do():
    import torch

    from client.core.errors import ModelError
    from training.train import freeze_lower_layers

    class Plain(torch.nn.Module):
        base_model_prefix = "body"

        def __init__(self):
            super().__init__()
            self.body = torch.nn.Linear(2, 2)

    with pytest.raises(ModelError) as caught:
        freeze_lower_layers(Plain(), 2)
    assert "--fast-freeze 0" in caught.value.hint and "--freeze-layers 0" in caught.value.hint
