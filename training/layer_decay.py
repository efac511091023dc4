"""Layer-wise learning-rate decay: the lower an encoder layer, the smaller its steps.

The pre-trained encoder's lower layers hold what it knows about English in general, its
upper layers what is closer to a task; fine-tuning all of them at one rate lets a few
thousand of our own items rewrite both. Scaling each layer's rate by ``decay`` per layer
below the classifier (Howard and Ruder 2018, "discriminative fine-tuning"; the layer-wise
decay of ELECTRA and of Sun et al. 2019, "How to fine-tune BERT") moves the lower layers
less, which is meant to keep more of what the encoder learned from text that is not ours.
Whether it does here is measured on the development set (docs/MODEL_REPORT.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_LAYER = re.compile(r"\.layers?\.(\d+)\.")  # BERT, MPNet: encoder.layer.N; DistilBERT-like: transformer.layers.N


def layer_depth(name: str, n_layers: int) -> int:
    """How far a parameter sits from the input: 0 for the embeddings, ``i + 1`` for encoder
    layer ``i``, ``n_layers + 1`` for everything else (pooler, classifier, and encoder-wide
    tensors such as MPNet's relative attention bias, which every layer reads)."""
    if "embeddings" in name:
        return 0
    found = _LAYER.search(name)
    return int(found.group(1)) + 1 if found else n_layers + 1


def layer_groups(named: Iterable[tuple[str, Any]], lr: float, decay: float, weight_decay: float, decayed: set[str], n_layers: int) -> list[dict[str, Any]]:
    """Optimizer parameter groups: a parameter at ``layer_depth`` d learns at
    ``lr * decay ** (n_layers + 1 - d)``; those named in ``decayed`` get ``weight_decay``
    (Trainer leaves biases and LayerNorm weights out), the rest none. Frozen parameters are
    left out, as Trainer does."""
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, parameter in named:
        if not parameter.requires_grad:
            continue
        depth = layer_depth(name, n_layers)
        key = (depth, name in decayed)
        if key not in groups:
            groups[key] = {"params": [], "lr": lr * decay ** (n_layers + 1 - depth), "weight_decay": weight_decay if key[1] else 0.0}
        groups[key]["params"].append(parameter)
    # The classifier's group first: Trainer logs the first group's rate as "learning_rate".
    return [groups[key] for key in sorted(groups, reverse=True)]


def layer_decay_trainer(base: type, decay: float, n_layers: int) -> type:
    """``base`` (a ``transformers.Trainer`` class) whose optimizer gives each layer its own
    learning rate; the optimizer class and its other settings are Trainer's own, and its
    scheduler scales every group's rate alike (warm-up, linear decay)."""

    class LayerDecayTrainer(base):  # type: ignore[valid-type,misc]
        def create_optimizer(self, model: Any = None) -> Any:
            model = self.model if model is None else model
            if self.optimizer is None:
                if self.optimizer_cls_and_kwargs is not None or self.args.optim not in ("adamw_torch", "adamw_torch_fused"):
                    raise ValueError("layer-wise learning-rate decay builds AdamW's parameter groups itself; "
                                     f"train with the default optimizer (it was {self.args.optim})")
                optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
                groups = layer_groups(model.named_parameters(), self.args.learning_rate, decay, self.args.weight_decay,
                                      set(self.get_decay_parameter_names(model)), n_layers)
                self.optimizer = optimizer_cls(groups, **kwargs)
            return self.optimizer

    return LayerDecayTrainer
