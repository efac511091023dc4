"""Knowledge distillation: a small student learns from a larger fine-tuned teacher.

A teacher's probabilities say more than its labels: that a request "reads a bit like a
complaint" is information a one-hot label throws away (Hinton et al. 2015). The student is
trained on a mix of the usual cross-entropy and the KL divergence to the teacher's
probabilities softened by a temperature, so a model that is too slow to serve here (MPNet,
docs/MODEL_REPORT.md) can pass on part of what it learned to the one that is served.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from client.core.errors import ModelError
from client.core.labels import LABELS
from training import paths
from training.data import Example

logger = logging.getLogger(__name__)


def distillation_loss(student_logits: Any, teacher_logits: Any, temperature: float) -> Any:
    """Per item: KL(teacher || student) on logits divided by ``temperature``, times
    temperature² (which keeps its gradients on the same scale as the cross-entropy's; Hinton
    et al.)."""
    import torch.nn.functional as F

    return F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        reduction="none",
        log_target=True,
    ).sum(dim=-1) * temperature**2


@dataclass
class Teacher:
    """The teacher's logits for the training texts, and what the student's card says of it."""

    logits: np.ndarray
    card: dict[str, Any]


def text_key(text: str) -> str:
    """A short fingerprint of a text: a saved target is used only for the text it was made from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_teacher(teacher: Path, examples: Sequence[Example], device: str = "cpu", data_hash: str | None = None, required: bool = True,
                 test_hash: str | None = None) -> Teacher | None:
    """The teacher's calibrated logits for ``examples`` (row i for item i), and its identity
    for the student's card.

    ``teacher`` is a trained model folder, run on the texts as it was trained to read them
    (its own clean-up, head share and token budget), or a targets file that
    ``write_targets`` made from one, looked up by item id. An item the file does not hold
    with the same text and label (an item added, reworded or relabelled since, an agent's
    correction, an augmented copy) gets NaN logits and is trained on its label alone: a
    target made for the old label would pull the item back to it. A teacher kept away from
    another test split than ours (another ``test_hash``; for a card that does not record one,
    another ``data_hash``) may have seen our test items: that is logged, since it would flatter
    the student's test figures. Items added to the training or validation split since do not
    set it off: the test split never moves.

    A targets file that holds none of the items is refused when it was asked for
    (``required``); the saved default, made for our data, simply has nothing to teach a
    model trained on other data (None: it learns from the labels, and that is logged).
    """
    teacher = Path(teacher)
    if teacher.is_file():
        saved, items = read_targets(teacher)
        logits = np.full((len(examples), len(LABELS)), np.nan)
        for row, e in enumerate(examples):
            target = items.get(e.id)
            if target is not None and target[0] == text_key(e.text) and target[1] in (None, e.label):
                logits[row] = target[2]
        matched = int(np.isfinite(logits).all(axis=1).sum())
        if matched == 0 and not required:
            logger.warning("%s holds no target for these %d training items: training from the labels alone", teacher, len(examples))
            return None
        if matched == 0:
            raise ModelError(f"{teacher}: none of the {len(examples)} training items has a target (ids or texts differ)",
                             "write the file again from this data with `feedback data teacher-targets --teacher DIR`, or train with --teacher none")
        if matched < len(examples):
            logger.warning("teacher targets for %d of %d training items; the rest learn from their labels alone", matched, len(examples))
        card = dict(saved.get("teacher") if isinstance(saved.get("teacher"), dict) else {}, path=teacher_name(teacher), items_with_target=matched)
    else:
        from training.inference import load_model, predict_logits

        loaded = load_model(teacher)
        loaded.model.to(device)
        logits = predict_logits(loaded.model, loaded.tokenizer, [e.text for e in examples], loaded.max_length, **loaded.text_settings) / loaded.temperature
        card = {
            "path": teacher_name(teacher),
            "version": loaded.card.get("version"),
            "base_model": loaded.card.get("base_model"),
            "data_hash": loaded.card.get("data_hash"),
            "test_hash": loaded.card.get("test_hash"),
            "test_macro_f1": loaded.card.get("test", {}).get("macro_f1"),
        }
    if saw_other_test_split(card, data_hash, test_hash):
        logger.warning("the teacher %s was kept away from another test split than ours (or its data differs and its card does not say which test "
                       "split it kept away from; its test split %s, data %s; ours %s, %s): it may have seen our test items",
                       teacher, card.get("test_hash"), card.get("data_hash"), test_hash, data_hash)
    return Teacher(logits, card)


def saw_other_test_split(card: dict[str, Any], data_hash: str | None, test_hash: str | None) -> bool:
    """Whether a teacher's card says it was trained beside another test split than ours. A card
    that records its test split is compared on that alone; an older one only on its whole data,
    which also differs when nothing but training items were added."""
    if test_hash is not None and card.get("test_hash") is not None:
        return card["test_hash"] != test_hash
    return data_hash is not None and card.get("data_hash") not in (None, data_hash)


def is_saved_default(teacher: Path) -> bool:
    """Whether ``teacher`` is the targets file that ships with our data (``feedback train``'s
    default teacher): training on other data falls back to the labels rather than failing."""
    return Path(teacher).resolve() == paths.teacher_targets_file().resolve()


def teacher_name(teacher: Path) -> str:
    """How a model card names its teacher: the saved targets by their place among our packages
    (``training/data/teacher_logits.json``), so that the card's teacher (and the test suite's
    cached model) reads the same in every checkout and install; any other teacher by its
    absolute path."""
    if is_saved_default(teacher):
        return paths.teacher_targets_file().relative_to(paths.package_file("training").parent).as_posix()
    return str(Path(teacher).resolve())


def read_targets(path: Path) -> tuple[dict[str, Any], dict[str, tuple[str, str | None, list[float]]]]:
    """A targets file and its items as {id: (text fingerprint, label when written, 8 finite
    logits)}; anything else is refused with the item that is wrong: one NaN in a target would
    quietly turn the student's weights into NaN. (Files written before labels were recorded
    have none; their targets are matched on the text alone.)"""
    again = "write it again with `feedback data teacher-targets --teacher DIR`"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        labels, raw = tuple(saved["labels"]), saved["items"]
        if not isinstance(raw, dict):
            raise TypeError("items is not an object")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ModelError(f"{path}: not a teacher-targets file ({type(error).__name__}: {error})", again) from error
    if labels != LABELS:
        raise ModelError(f"{path}: its labels {list(labels)} are not the 8 labels of LABELS.md in contract order", again)
    items = {}
    for item_id, target in raw.items():
        ok = isinstance(target, dict) and isinstance(target.get("text"), str) and isinstance(target.get("logits"), list) and target.get("label") in (None, *LABELS)
        values = target["logits"] if ok else []
        if not ok or len(values) != len(LABELS) or not all(isinstance(x, (int, float)) and np.isfinite(x) for x in values):
            raise ModelError(f"{path}: item {item_id!r} is not a text fingerprint with {len(LABELS)} finite logits (and one of our labels, if any)", again)
        items[item_id] = (target["text"], target.get("label"), [float(x) for x in values])
    return saved, items


def write_targets(teacher_dir: Path, examples: Sequence[Example], out: Path) -> dict[str, Any]:
    """Save the teacher's logits for ``examples`` (our items outside the test split) as a
    small JSON file, so that training can distil from a teacher that is not on the machine:
    a few hundred kB of numbers stand in for a 438 MB model and its half-hour fine-tune."""
    if not (Path(teacher_dir) / "config.json").exists():
        raise ModelError(f"{teacher_dir}: not a trained model folder (no config.json)", "pass --teacher with a folder that `feedback train` wrote")
    if not Path(out).parent.is_dir():
        raise ModelError(f"{out}: its folder does not exist", "create it, or pass --out with a path in an existing folder")
    teacher = load_teacher(teacher_dir, examples)
    saved = {
        "about": "Logits of a fine-tuned teacher for our training items (feedback data teacher-targets); feedback train learns from them by default.",
        "teacher": {key: value for key, value in teacher.card.items() if key not in ("path", "items_with_target")},
        "labels": list(LABELS),
        "items": {e.id: {"text": text_key(e.text), "label": e.label, "logits": [round(float(x), 3) for x in row]} for e, row in zip(examples, teacher.logits)},
    }
    out.write_text(json.dumps(saved, separators=(",", ":")) + "\n", encoding="utf-8")
    return {"items": len(examples), "out": str(out), "teacher": saved["teacher"]}


def distillation_trainer(weight: float, temperature: float) -> type:
    """A ``transformers.Trainer`` whose training loss is, per item, ``(1 - weight)`` × the
    cross-entropy with its label (label-smoothed when the arguments say so) plus ``weight`` ×
    the distillation loss, averaged over the batch. An item without a teacher's target (NaN
    logits) learns from its label alone, at full weight. Evaluation batches carry no
    teacher and get Trainer's usual loss, so ``eval_loss`` is the labels' alone."""
    import torch
    import torch.nn.functional as F
    from transformers import Trainer

    class DistillationTrainer(Trainer):
        loss_is_scaled_for_ga = False  # a batch mean of our own: Trainer scales it for gradient accumulation

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            teacher = inputs.pop("teacher_logits", None)
            if teacher is None:
                if model.training:
                    # Trainer drops dataset columns the model's forward does not name unless told
                    # not to; distilling from nothing must fail, not quietly train on labels alone.
                    raise RuntimeError("a training batch arrived without teacher_logits: build TrainingArguments with remove_unused_columns=False")
                return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            per_item = F.cross_entropy(outputs.logits, labels, reduction="none", label_smoothing=self.args.label_smoothing_factor)
            known = torch.isfinite(teacher).all(dim=1)
            if known.any():
                mixed = (1 - weight) * per_item[known] + weight * distillation_loss(outputs.logits[known], teacher[known].to(outputs.logits.dtype), temperature)
                per_item = per_item.masked_scatter(known, mixed)
            loss = per_item.mean()
            return (loss, outputs) if return_outputs else loss

    return DistillationTrainer
