"""Layer-wise learning-rate decay: which rate each parameter gets, and that Trainer uses it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.layer_decay import layer_decay_trainer, layer_depth, layer_groups  # noqa: E402


def _tiny_bert(layers: int = 3):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                                                    intermediate_size=32, num_labels=8))


def test_depth_counts_from_the_embeddings_to_the_head():
    assert layer_depth("bert.embeddings.word_embeddings.weight", 6) == 0
    assert layer_depth("bert.encoder.layer.0.attention.self.query.weight", 6) == 1
    assert layer_depth("bert.encoder.layer.5.output.dense.bias", 6) == 6
    assert layer_depth("bert.pooler.dense.weight", 6) == 7
    assert layer_depth("classifier.weight", 6) == 7
    assert layer_depth("distilbert.transformer.layers.2.ffn.lin1.weight", 6) == 3


def test_each_layer_learns_at_decay_times_the_rate_above_and_weight_decay_spares_what_trainer_spares():
    model = _tiny_bert()
    model.bert.embeddings.position_embeddings.weight.requires_grad = False
    decayed = {name for name, _ in model.named_parameters() if name.endswith("weight") and "LayerNorm" not in name}
    groups = layer_groups(model.named_parameters(), 1e-3, 0.5, 0.01, decayed, 3)
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    wd = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert rate[id(named["classifier.weight"])] == pytest.approx(1e-3)
    assert rate[id(named["bert.encoder.layer.2.output.dense.weight"])] == pytest.approx(5e-4)
    assert rate[id(named["bert.encoder.layer.0.output.dense.weight"])] == pytest.approx(1.25e-4)
    assert rate[id(named["bert.embeddings.word_embeddings.weight"])] == pytest.approx(6.25e-5)
    assert wd[id(named["classifier.weight"])] == 0.01 and wd[id(named["classifier.bias"])] == 0.0
    assert wd[id(named["bert.encoder.layer.1.output.LayerNorm.weight"])] == 0.0
    # Every trainable parameter in exactly one group; the frozen one in none.
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sorted(map(id, trainable)) == sorted(rate) and id(model.bert.embeddings.position_embeddings.weight) not in rate
    assert layer_groups(model.named_parameters(), 1e-3, 1.0, 0.01, decayed, 3)[0]["lr"] == pytest.approx(1e-3)  # no decay: one rate


def test_trainer_steps_the_lower_layers_less(tmp_path):
    """One real Trainer step with decay 0.1: the optimizer is ours (a group per layer, with
    the scheduler's warm-up applied to each alike) and the embeddings move far less than the
    classifier would let them at one rate."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    model = _tiny_bert(2)
    data = Dataset.from_dict({"input_ids": [[1, 5, 9, 2], [1, 7, 8, 2]] * 4, "attention_mask": [[1, 1, 1, 1]] * 8, "labels": [0, 1] * 4})
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, max_steps=1, per_device_train_batch_size=8,
                             learning_rate=1e-2, lr_scheduler_type="constant", save_strategy="no", seed=0)
    trainer = layer_decay_trainer(Trainer, 0.1, 2)(model=model, args=args, train_dataset=data)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer.train()
    rates = sorted({g["lr"] for g in trainer.optimizer.param_groups})
    assert rates == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2])  # embeddings, layer 0, layer 1, head
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2)  # the rate Trainer logs is the classifier's
    moved = {name: (p.detach() - before[name]).abs().max().item() for name, p in model.named_parameters()}
    # Adam's first step moves each weight by about its rate, whatever its gradient.
    assert moved["classifier.weight"] == pytest.approx(1e-2, rel=0.2)
    assert moved["bert.encoder.layer.1.attention.self.query.weight"] == pytest.approx(1e-3, rel=0.2)
    assert moved["bert.embeddings.word_embeddings.weight"] <= 1.2e-5


def test_a_decay_outside_zero_to_one_is_refused_with_what_it_means(tmp_path):
    from training.config import TrainConfig

    for bad in (0.0, -0.5, 1.2):
        with pytest.raises(ValueError, match=r"layer_lr_decay must be in \(0, 1\] \(1: one rate for every layer\)"):
            TrainConfig(out=tmp_path / "out", layer_lr_decay=bad)
    assert TrainConfig(out=tmp_path / "out").layer_lr_decay == 1.0  # the default trains every layer at one rate
