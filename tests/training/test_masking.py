"""Token masking while training: what is masked, and that only training steps see it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.masking import mask_tokens, masking_trainer  # noqa: E402

MASK, CLS, SEP, PAD = 103, 101, 102, 0


def _batch(rows: int = 64, length: int = 40):
    """Rows of real tokens (ids 1000+) framed by CLS and SEP, then padding of varying length."""
    ids = torch.full((rows, length), PAD)
    attention = torch.zeros((rows, length), dtype=torch.long)
    for row in range(rows):
        used = 5 + row % (length - 5)
        ids[row, 0], ids[row, 1 : used - 1], ids[row, used - 1] = CLS, torch.arange(1000, 1000 + used - 2), SEP
        attention[row, :used] = 1
    return ids, attention


def test_about_the_share_of_real_tokens_is_masked_and_never_padding_or_the_frame():
    ids, attention = _batch()
    before = ids.clone()
    masked = mask_tokens(ids, attention, 0.3, MASK, (CLS, SEP, PAD, MASK), generator=torch.Generator().manual_seed(0))
    assert torch.equal(ids, before)  # a copy: the batch itself is untouched
    hit = masked == MASK
    real = attention.bool() & (ids != CLS) & (ids != SEP)
    assert not (hit & ~real).any()  # padding, CLS and SEP stay
    assert torch.equal(masked[~hit], ids[~hit])  # nothing else changes
    assert 0.25 < hit.sum().item() / real.sum().item() < 0.35


def test_no_share_masks_nothing_and_new_masks_are_drawn_every_time():
    ids, attention = _batch()
    assert torch.equal(mask_tokens(ids, attention, 0.0, MASK, (CLS, SEP)), ids)
    generator = torch.Generator().manual_seed(1)
    first, second = (mask_tokens(ids, attention, 0.2, MASK, (CLS, SEP), generator=generator) for _ in range(2))
    assert not torch.equal(first, second)


def test_only_training_steps_see_masked_text(tiny_model, tmp_path):
    """The model's forward receives masked ids in a training step, and the whole text when
    Trainer evaluates or predicts (which calibration and early stopping rely on)."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model.out_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model.out_dir)
    texts = ["the export button crashes the app every single time I press it", "please add a dark mode for the reading view at night"]
    data = Dataset.from_dict({**tokenizer(texts), "labels": [0, 1]})
    seen = []
    model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["input_ids"].clone()), with_kwargs=True)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, max_steps=1, per_device_train_batch_size=2, per_device_eval_batch_size=2, save_strategy="no", seed=0)
    trainer = masking_trainer(Trainer, 0.5, tokenizer.mask_token_id, tokenizer.all_special_ids)(
        model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer)
    )
    trainer.train()
    whole = torch.tensor(tokenizer(texts, padding=True)["input_ids"])
    trainer.predict(data)
    trained, predicted = seen
    assert (trained == tokenizer.mask_token_id).any()
    assert torch.equal(predicted, whole)
    assert torch.equal(trained[:, 0], whole[:, 0])  # [CLS] is never masked (the head reads it with --pooling cls)


def test_a_share_outside_what_is_useful_is_refused_before_training():
    from training.config import TrainConfig

    for share in (-0.1, 0.6):
        with pytest.raises(ValueError, match="token_mask must be between 0 and 0.5"):
            TrainConfig(token_mask=share)
