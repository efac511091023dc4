"""LP-FT's first step: the head becomes a logistic regression fitted on exactly what the head
reads, and the model then predicts what that regression predicts."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from training.probe import fit_probe, head_inputs, probe_head


def _blobs(labels: list[int], per_label: int = 30, dim: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(max(labels) + 1, dim))
    x = np.vstack([centres[label] + rng.normal(0, 1, size=(per_label, dim)) for label in labels])
    y = np.repeat(labels, per_label)
    return x.astype(np.float32), y


@pytest.mark.parametrize("present", [[0, 2, 5], [1, 3], list(range(8))])
def test_the_head_weights_predict_what_the_regression_predicts_and_never_a_label_it_never_saw(present):
    x, y = _blobs(present)
    weight, bias, accuracy = fit_probe(x, y, n_classes=8, seed=0)
    assert weight.shape == (8, x.shape[1]) and bias.shape == (8,)
    predicted = (x @ weight.T + bias).argmax(axis=1)
    assert set(predicted.tolist()) <= set(present)
    assert accuracy == pytest.approx(float((predicted == y).mean()))
    assert accuracy > 0.9  # well-separated blobs: the rows are in the right places, not shuffled
    missing = [c for c in range(8) if c not in present]
    assert not weight[missing].any()


def test_the_probe_is_fitted_on_the_heads_real_input_and_copied_into_the_head(tiny_model):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.train import classification_head

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model.out_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model.out_dir)
    texts = ["The export button crashes the app", "Please add a dark mode", "Love it, thanks!", "How do I reset my password?",
             "Charged twice this month, refund please", "Tip: hold shift to select many", "Your support never answers", "ok"] * 3
    labels = [0, 1, 2, 3, 4, 5, 6, 7] * 3
    ids = tokenizer(texts, truncation=True, max_length=32)["input_ids"]
    head = classification_head(model)
    model.train()
    features = head_inputs(model, head, tokenizer, ids)
    assert model.training  # the mode it was in comes back
    expected_weight, expected_bias, expected_accuracy = fit_probe(features, np.array(labels), head.out_features, seed=3)

    accuracy = probe_head(model, head, tokenizer, ids, labels, seed=3)

    assert accuracy == pytest.approx(expected_accuracy)
    assert torch.allclose(head.weight, torch.from_numpy(expected_weight)) and torch.allclose(head.bias, torch.from_numpy(expected_bias))
    model.eval()
    with torch.inference_mode():
        logits = model(**tokenizer(texts, truncation=True, max_length=32, padding=True, return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(logits, features @ expected_weight.T + expected_bias, rtol=1e-4, atol=1e-4)


def test_a_layer_without_a_bias_gets_a_probe_without_an_intercept():
    x, y = _blobs([0, 1, 2])
    x = x - x.mean(axis=0)  # centred: the blobs stay separable through the origin
    weight, bias, accuracy = fit_probe(x, y, n_classes=8, seed=0, intercept=False)
    assert not bias.any()
    assert accuracy == pytest.approx(float(((x @ weight.T).argmax(axis=1) == y).mean()))


def test_a_head_with_a_hidden_layer_is_refused_rather_than_fitted_on_random_features():
    from client.core.errors import ModelError

    class TwoLayerHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.classifier = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 8))

    model = TwoLayerHead()
    with pytest.raises(ModelError, match="hidden layer"):
        probe_head(model, model.classifier[-1], tokenizer=None, ids=[[1, 2]], labels=[0], seed=0)


@pytest.mark.slow
def test_training_with_probe_first_fits_the_head_before_fine_tuning_and_the_card_says_so(tmp_path, caplog):
    from training.config import TrainConfig
    from training.train import train

    settings = {"epochs": 1, "max_length": 32, "max_train_items": 64, "seed": 7, "teacher": None, "window_step": 0.0, "average_epochs": False}
    with caplog.at_level(logging.INFO, logger="training.train"):
        result = train(TrainConfig(out=tmp_path / "lpft", probe_first=True, **settings))
    assert result.card["hyperparameters"]["probe_first"] is True
    assert any("linear probe" in record.getMessage() for record in caplog.records)


@pytest.mark.slow
def test_a_model_continued_from_a_trained_version_keeps_its_trained_head(tmp_path, caplog, tiny_model):
    """The fast retrain continues from the current version: probing would throw its head away,
    and reading [CLS] would feed its head what it was never trained on."""
    import json

    from handler.feedback_handler import POOLING_KEY
    from training.config import TrainConfig
    from training.train import train

    settings = {"epochs": 1, "max_length": 32, "max_train_items": 64, "seed": 7, "teacher": None, "window_step": 0.0, "average_epochs": False}
    with caplog.at_level(logging.INFO, logger="training.train"):
        result = train(TrainConfig(out=tmp_path / "continued", probe_first=True, pooling="cls", **settings), init_from=str(tiny_model.out_dir))
    assert not any("linear probe" in record.getMessage() for record in caplog.records)
    assert any("training v" in record.getMessage() for record in caplog.records)  # the log was captured at all
    assert result.card["hyperparameters"]["probe_first"] is False  # the card says what was done, not what was asked
    assert any("the head reads the mean of the token vectors" in record.getMessage() for record in caplog.records)
    assert result.card["hyperparameters"]["pooling"] == "mean" == json.loads((result.out_dir / "config.json").read_text())[POOLING_KEY]
    assert json.loads((result.out_dir / "train_config.json").read_text())["pooling"] == "mean"
