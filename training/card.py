"""The model card: ``model_card.json`` beside every trained model.

JSON only (no torch, numpy or scipy), so archiving, serving and the registry can read a
model's version, labels, temperature and metrics cheaply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD = "model_card.json"


def read_card(model_dir: Path) -> dict[str, Any]:
    """The card of ``model_dir``; an empty dict when the folder has none."""
    path = Path(model_dir) / CARD
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def serving_temperature(card: dict[str, Any]) -> float:
    """The temperature still to apply to the saved model's logits: 1 when ``train`` folded
    it into the classifier (the card keeps the fitted value for the record)."""
    return 1.0 if card.get("temperature_folded") else float(card.get("temperature", 1.0))


# How a model reads text, for cards written before each setting existed: no inbox clean-up,
# the head only, no windows. What the card records wins.
OLDER_CARD_READING: dict[str, Any] = {"clean_inbox": False, "head_share": 1.0, "window_step": 0.0}


def card_reading(card: dict[str, Any]) -> dict[str, Any]:
    """``clean_inbox``, ``head_share`` and ``window_step`` as the model behind ``card`` was
    trained and calibrated to read text (``OLDER_CARD_READING`` where the card is silent)."""
    hp = card.get("hyperparameters", {})
    return {key: type(default)(hp.get(key, default)) for key, default in OLDER_CARD_READING.items()}


def write_card(model_dir: Path, card: dict[str, Any]) -> Path:
    path = Path(model_dir) / CARD
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return path
