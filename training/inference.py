"""Load a trained model folder and predict in-process (evaluate, compare, retrain).

Texts are sorted by length and padded per batch: feedback is short, and padding every
text to ``max_length`` would cost several times the compute on a CPU.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handler.feedback_handler import encode_readings, onnx_logits, pool_logits, prepare_text, use_pooling
from training.calibration import probabilities
from training.card import card_reading, read_card, serving_temperature
from client.core.errors import ModelError
from client.core.labels import LABELS

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    path: Path
    model: Any
    tokenizer: Any
    card: dict[str, Any]

    @property
    def temperature(self) -> float:
        return serving_temperature(self.card)

    @property
    def max_length(self) -> int:
        return int(self.card.get("hyperparameters", {}).get("max_length", 128))

    @property
    def text_settings(self) -> dict[str, Any]:
        """How this model was trained to see text (older cards: no clean-up, head only)."""
        reading = card_reading(self.card)
        return {"clean": reading["clean_inbox"], "head_share": reading["head_share"]}

    @property
    def reading(self) -> dict[str, Any]:
        """How this model reads text when it predicts: ``text_settings`` and the step of the
        windows a long text is read in (older cards: 0, head and tail only)."""
        return {**self.text_settings, "window_step": card_reading(self.card)["window_step"]}


def load_model(model_dir: str | Path) -> LoadedModel:
    """A trained folder -> model + tokenizer + card; checks that its labels are ours."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").exists():
        raise ModelError(
            f"{path}: not a trained model folder (no config.json)",
            "train one with `feedback train`, or pass --model with a folder that `feedback train` wrote",
        )
    try:
        model = use_pooling(AutoModelForSequenceClassification.from_pretrained(path))
    except RuntimeError as exc:  # a config.json whose pooling this code cannot read
        raise ModelError(f"{path}: {exc}", "retrain it with `feedback train`") from None
    tokenizer = AutoTokenizer.from_pretrained(path)
    labels = tuple(model.config.id2label[i] for i in range(model.config.num_labels))
    if labels != LABELS:
        raise ModelError(f"{path}: the model's labels {labels} are not the 8 labels of LABELS.md in contract order", "retrain it with `feedback train`")
    model.eval()
    return LoadedModel(path, model, tokenizer, read_card(path))


def model_inputs(tokenizer: Any, texts: Sequence[str], max_length: int, clean: bool = False, head_share: float = 1.0) -> list[list[int]]:
    """Token ids of what training reads, one sequence per text: inbox clean-up (when the
    model uses it), then head and tail kept within ``max_length`` (``head_share`` 1.0: the
    head only), the first reading the served handler makes of every text (``served_inputs``).
    One implementation, in ``handler/feedback_handler.py``."""
    return served_inputs(tokenizer, texts, max_length, clean, head_share)[0]


def served_inputs(
    tokenizer: Any, texts: Sequence[str], max_length: int, clean: bool = False, head_share: float = 1.0, window_step: float = 0.0
) -> tuple[list[list[int]], list[int]]:
    """Every token sequence the served handler passes through the model for ``texts`` (head
    and tail, and a long text's windows: ``encode_readings``), flat, with the index of the text
    each belongs to: what prediction costs as served (``feedback bench``)."""
    prepared = [prepare_text(t, max_length, clean, head_share)[0] for t in texts]
    sequences, owners, _ = encode_readings(tokenizer, prepared, max_length, head_share, window_step)
    return sequences, owners


def predict_logits(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int = 64, clean: bool = False, head_share: float = 1.0,
    session: Any = None, window_step: float = 0.0,
) -> np.ndarray:
    """Logits for ``texts`` as the served handler computes them (``encode_readings``: head
    and tail, and with ``window_step`` a long text's windows too, pooled), shortest first
    in padded batches; from ``session`` (an exported ONNX graph, ``onnx_session``) instead of
    the PyTorch model when one is given, prepared the same way, so both are scored alike
    (``feedback bench``)."""
    import torch

    ids, owners = served_inputs(tokenizer, texts, max_length, clean, head_share, window_step)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if session is not None:
                out[idx] = onnx_logits(session, tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="np"))
                continue
            enc = tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt").to(device)
            out[idx] = model(**enc).logits.float().cpu().numpy()
    if len(ids) == len(texts):  # one reading per text: nothing to pool
        return out
    return np.asarray(pool_logits(out.tolist(), owners, len(texts)), dtype=np.float32).reshape(len(texts), -1)


def predict_proba(loaded: LoadedModel, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Calibrated probabilities (the model's fitted temperature applied), read as served."""
    logits = predict_logits(loaded.model, loaded.tokenizer, texts, loaded.max_length, batch_size, **loaded.reading)
    return probabilities(logits, loaded.temperature)
