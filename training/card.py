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


def write_card(model_dir: Path, card: dict[str, Any]) -> Path:
    path = Path(model_dir) / CARD
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return path
