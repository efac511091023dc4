"""Checkpoint averaging: which epochs are averaged, that the mean is exact, that only the
copies that can still be averaged are kept, and that training serves the averaged weights."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from training.averaging import EpochWeights, average_states, neighbours_of_best


@pytest.mark.parametrize(
    ("scores", "window"),
    [
        ([0.79, 0.89, 0.925, 0.917], [1, 2, 3]),  # the default run: the best epoch is the third of four
        ([0.9, 0.8], [0, 1]),  # the first is the best: no epoch before it
        ([0.7, 0.8, 0.9], [1, 2]),  # the last is the best (the run hit its epoch limit)
        ([0.9, 0.7, 0.9, 0.6], [0, 1]),  # equal scores: the first, as the Trainer keeps it
        ([0.5], [0]),
        ([], []),
    ],
)
def test_the_best_epoch_is_averaged_with_the_epochs_on_each_side(scores, window):
    assert neighbours_of_best(scores) == window


def test_floating_weights_are_averaged_exactly_and_integer_buffers_kept_from_the_first():
    states = [
        {"w": torch.tensor([1.0, 2.0]), "half": torch.tensor([40000.0], dtype=torch.float16), "ids": torch.tensor([0, 1, 2])},
        {"w": torch.tensor([2.0, 4.0]), "half": torch.tensor([40000.0], dtype=torch.float16), "ids": torch.tensor([5, 5, 5])},
        {"w": torch.tensor([6.0, 0.0]), "half": torch.tensor([40000.0], dtype=torch.float16), "ids": torch.tensor([7, 7, 7])},
    ]
    mean = average_states(states)
    assert mean["w"].dtype == torch.float32 and mean["w"].tolist() == [3.0, 2.0]
    assert mean["half"].dtype == torch.float16 and mean["half"].tolist() == [40000.0]  # summed in fp32: 120000 overflows fp16
    assert mean["ids"].tolist() == [0, 1, 2]
    assert states[0]["w"].tolist() == [1.0, 2.0]  # the inputs are not changed in place


def test_the_callback_keeps_only_the_copies_the_average_can_still_use():
    layer = torch.nn.Linear(2, 1, bias=False)
    callback = EpochWeights("eval_macro_f1")
    for epoch, (value, score) in enumerate([(1.0, 0.5), (2.0, 0.6), (3.0, 0.9), (5.0, 0.8)], start=1):
        with torch.no_grad():
            layer.weight.fill_(value)
        callback.on_evaluate(None, SimpleNamespace(epoch=float(epoch)), None, metrics={"eval_macro_f1": score}, model=layer)
    assert sorted(callback._states) == [1, 2, 3]  # the first epoch can no longer be beside the best
    weights, epochs = callback.averaged()
    assert epochs == [2.0, 3.0, 4.0]
    assert weights["weight"].flatten().tolist() == pytest.approx([10 / 3, 10 / 3])
    assert layer.weight.tolist() == [[5.0, 5.0]]  # copies, not views of the live weights


def test_a_later_best_epoch_moves_the_window_and_drops_the_copies_before_it():
    layer = torch.nn.Linear(1, 1, bias=False)
    callback = EpochWeights("eval_macro_f1")
    for epoch, score in enumerate([0.5, 0.9, 0.6, 0.95, 0.7], start=1):  # patience 2: a dip, then a new best
        with torch.no_grad():
            layer.weight.fill_(float(epoch))
        callback.on_evaluate(None, SimpleNamespace(epoch=float(epoch)), None, metrics={"eval_macro_f1": score}, model=layer)
    assert sorted(callback._states) == [2, 3, 4]
    weights, epochs = callback.averaged()
    assert epochs == [3.0, 4.0, 5.0] and weights["weight"].item() == pytest.approx(4.0)


@pytest.mark.slow
def test_training_serves_the_averaged_weights_and_the_card_says_which_epochs(tmp_path):
    from safetensors.torch import load_file

    from training.config import TrainConfig
    from training.train import train

    # window_step 0: at 32 tokens nearly every evaluation text would be read in many windows,
    # which costs minutes and is not what this test is about (tests/handler/test_long_text_reading.py).
    settings = {"epochs": 2, "max_length": 32, "max_train_items": 64, "seed": 7, "patience": 2, "teacher": None, "window_step": 0.0}
    averaged = train(TrainConfig(out=tmp_path / "averaged", **settings))
    single = train(TrainConfig(out=tmp_path / "single", average_epochs=False, **settings))
    assert averaged.card["hyperparameters"]["averaged_epochs"] == [1.0, 2.0]
    assert single.card["hyperparameters"]["averaged_epochs"] == []
    key = "bert.encoder.layer.0.attention.self.query.weight"  # below the head, so the folded temperature does not touch it
    a, s = load_file(str(tmp_path / "averaged" / "model.safetensors"))[key], load_file(str(tmp_path / "single" / "model.safetensors"))[key]
    assert not torch.equal(a, s)
