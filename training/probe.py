"""Linear probing before fine-tuning (LP-FT): the head starts where a linear model on the
pretrained features would put it, not at random.

Kumar et al. 2022 ("Fine-tuning can distort pretrained features and underperform
out-of-distribution") show that fine-tuning from a random head spends its first steps
pushing large gradients through the encoder to fit that head, and moves the pretrained
features most where the training data says least about other traffic; fitting the head
first on the frozen encoder, then fine-tuning everything, kept in-distribution accuracy
and held better on shifted data. Our model learned our writing rather than the task
(issue #10), which is the failure that paper describes.

The probe is scikit-learn's logistic regression on exactly what the head's linear layer
reads (its input, captured by a hook: the mean of the token vectors by default, the pooled
``[CLS]`` vector with ``--pooling cls``), with the encoder in eval mode (no dropout); its coefficients become the
layer's weights. A head with a hidden layer of its own (RoBERTa's dense + tanh) would be
probed on that layer's random output, so it is refused rather than fitted on noise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PROBE_C = 1.0  # scikit-learn's default L2 strength; not tuned (docs/MODEL_REPORT.md, LP-FT)


def head_inputs(model: Any, head: Any, tokenizer: Any, ids: Sequence[Sequence[int]], batch_size: int = 64) -> np.ndarray:
    """What the linear ``head`` of ``model`` receives for each token sequence in ``ids``
    (n x head.in_features), computed in eval mode, shortest sequences batched together."""
    import torch

    captured: list[torch.Tensor] = []
    hook = head.register_forward_pre_hook(lambda _module, inputs: captured.append(inputs[0].detach()))
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), head.in_features), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            device = next(model.parameters()).device
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                captured.clear()
                model(**tokenizer.pad({"input_ids": [list(ids[i]) for i in idx]}, return_tensors="pt").to(device))
                out[idx] = captured[-1].float().cpu().numpy()
    finally:
        hook.remove()
        model.train(was_training)
    return out


def fit_probe(features: np.ndarray, labels: np.ndarray, n_classes: int, seed: int, intercept: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """A multinomial logistic regression on ``features``: (weights n_classes x d, bias, its
    accuracy on the features it was fitted on). Classes missing from ``labels`` get a zero
    row and a bias far below the others, so the head never predicts a label it never saw.
    ``intercept=False`` for a layer without a bias: the fit must not rely on one."""
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(C=PROBE_C, max_iter=2000, random_state=seed, fit_intercept=intercept).fit(features, labels)
    weight = np.zeros((n_classes, features.shape[1]), dtype=np.float32)
    bias = np.full(n_classes, -10.0 if intercept else 0.0, dtype=np.float32)
    coef, offsets = probe.coef_, probe.intercept_
    if len(probe.classes_) == 2:  # scikit-learn keeps one row for two classes: the second's logit
        coef, offsets = np.vstack([-coef / 2, coef / 2]), np.array([-offsets[0] / 2, offsets[0] / 2])
    weight[probe.classes_] = coef
    bias[probe.classes_] = offsets
    return weight, bias, float(probe.score(features, labels))


def probe_head(model: Any, head: Any, tokenizer: Any, ids: Sequence[Sequence[int]], labels: Sequence[int], seed: int) -> float:
    """Fit the probe on the frozen model's features of the training sequences ``ids`` and
    copy it into ``head``; returns the probe's training accuracy (for the log)."""
    import torch

    from client.core.errors import ModelError
    from training.train import HEAD_ATTRIBUTES

    modules = [module for name in HEAD_ATTRIBUTES if (module := getattr(model, name, None)) is not None]
    if modules and sum(isinstance(m, torch.nn.Linear) for m in modules[0].modules()) > 1:
        raise ModelError(f"{type(model).__name__}: its classification head has a hidden layer, which a linear probe cannot fit",
                         "train it without --probe-first")
    features = head_inputs(model, head, tokenizer, ids)
    weight, bias, accuracy = fit_probe(features, np.asarray(labels), head.out_features, seed, intercept=head.bias is not None)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        if head.bias is not None:
            head.bias.copy_(torch.from_numpy(bias))
    return accuracy
