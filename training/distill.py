"""Knowledge distillation: a small student learns from a larger fine-tuned teacher.

A teacher's probabilities say more than its labels: that a request "reads a bit like a
complaint" is information a one-hot label throws away (Hinton et al. 2015). The student is
trained on a mix of the usual cross-entropy and the KL divergence to the teacher's
probabilities softened by a temperature, so a model that is too slow to serve here (MPNet,
docs/MODEL_REPORT.md) can pass on part of what it learned to the one that is served.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def distillation_loss(student_logits: Any, teacher_logits: Any, temperature: float) -> Any:
    """KL(teacher || student) on logits divided by ``temperature``, times temperature²
    (which keeps its gradients on the same scale as the cross-entropy's; Hinton et al.)."""
    import torch.nn.functional as F

    return F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    ) * temperature**2


@dataclass
class Teacher:
    """The teacher's logits for the training texts, and what the student's card says of it."""

    logits: np.ndarray
    card: dict[str, Any]


def load_teacher(teacher_dir: Path, texts: Sequence[str], device: str = "cpu", data_hash: str | None = None) -> Teacher:
    """The teacher's calibrated logits for ``texts`` (row i for text i), read as the teacher
    was trained to read them (its own clean-up, head share and token budget), and its
    identity for the student's card. A teacher trained on other data than ours (another
    ``data_hash``) may have seen our test items: that is logged, since it would flatter the
    student's test figures."""
    from training.inference import load_model, predict_logits

    teacher = load_model(teacher_dir)
    teacher.model.to(device)
    logits = predict_logits(teacher.model, teacher.tokenizer, texts, teacher.max_length, **teacher.text_settings) / teacher.temperature
    card = teacher.card
    if data_hash is not None and card.get("data_hash") not in (None, data_hash):
        logger.warning("the teacher %s was trained on other data (hash %s, ours %s): it may have seen our test items", teacher_dir, card.get("data_hash"), data_hash)
    return Teacher(logits, {
        "path": str(Path(teacher_dir).resolve()),
        "version": card.get("version"),
        "base_model": card.get("base_model"),
        "data_hash": card.get("data_hash"),
        "test_macro_f1": card.get("test", {}).get("macro_f1"),
    })


def distillation_trainer(weight: float, temperature: float) -> type:
    """A ``transformers.Trainer`` whose training loss is ``(1 - weight)`` × its usual loss
    plus ``weight`` × the distillation loss, on batches that carry ``teacher_logits``.
    Evaluation batches carry none and get the usual loss, so the logged training loss is the
    mix while ``eval_loss`` is the labels' alone. Each term is a mean over its batch (there
    is no gradient accumulation in ``feedback train``)."""
    from transformers import Trainer

    class DistillationTrainer(Trainer):
        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            teacher = inputs.pop("teacher_logits", None)
            if teacher is None and model.training:
                # Trainer drops dataset columns the model's forward does not name unless told
                # not to; distilling from nothing must fail, not quietly train on labels alone.
                raise RuntimeError("a training batch arrived without teacher_logits: build TrainingArguments with remove_unused_columns=False")
            # num_items_in_batch=None: the label loss is a mean over this batch, like the teacher's.
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=None)
            if teacher is not None:
                loss = (1 - weight) * loss + weight * distillation_loss(outputs.logits, teacher.to(outputs.logits.dtype), temperature)
            return (loss, outputs) if return_outputs else loss

    return DistillationTrainer
