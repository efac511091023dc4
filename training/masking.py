"""Token masking while training: hide a random share of each text's word pieces at every step.

A model that can sort our texts by a few give-away phrases ("please add", "crashes",
"love it") has less reason to read the rest, and real customers often do not use those
phrases (docs/MODEL_REPORT.md). Replacing a random share of the word pieces with the
tokenizer's mask token at each training step (token cutoff, Shen et al. 2020; the input
noise of masked-language-model pre-training) makes every item teach the model from more
of its words. New masks are drawn at every step, so the training set itself is unchanged;
evaluation, calibration and serving always see the whole text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def mask_tokens(input_ids: Any, attention_mask: Any, share: float, mask_id: int, keep_ids: Iterable[int], generator: Any = None) -> Any:
    """A copy of ``input_ids`` (a batch, as a torch tensor) with about ``share`` of the real
    tokens replaced by ``mask_id``; padding and the ids in ``keep_ids`` (the special tokens
    that open and close a text) are never masked."""
    import torch

    keep = torch.tensor(sorted(set(keep_ids)), dtype=input_ids.dtype, device=input_ids.device)
    maskable = attention_mask.bool() & ~torch.isin(input_ids, keep)
    draw = torch.rand(input_ids.shape, generator=generator, device=input_ids.device) < share
    return input_ids.masked_fill(maskable & draw, mask_id)


def masking_trainer(base: type, share: float, mask_id: int, keep_ids: Iterable[int]) -> type:
    """``base`` (a ``transformers.Trainer`` class) whose training steps see masked inputs;
    only ``training_step`` changes, so evaluation and prediction see the texts whole."""
    keep = tuple(sorted(set(keep_ids)))

    class MaskingTrainer(base):  # type: ignore[valid-type,misc]
        def training_step(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            inputs = dict(inputs, input_ids=mask_tokens(inputs["input_ids"], inputs["attention_mask"], share, mask_id, keep))
            return super().training_step(model, inputs, *args, **kwargs)

    return MaskingTrainer
