"""Checkpoint averaging: the served weights are the mean of the best epoch's and its neighbours'.

Early stopping picks one epoch on the development set after a single dip (patience 1), and
keeps one point of a still-noisy trajectory. Averaging the weights of the best epoch with the
epoch before and the epoch after it (Izmailov et al. 2018, stochastic weight averaging;
Wortsman et al. 2022, model soups: weights fine-tuned from one start lie in one basin, so
their mean is a model too) gave a higher macro-F1 on every set for both seeds tried, the
development set that chooses included (docs/MODEL_REPORT.md). Costs no training time; memory
for at most ``patience + 2`` copies of the weights (90 MB each for MiniLM), plus the mean
while it is loaded.
"""

from __future__ import annotations

from typing import Any, Sequence

from transformers import TrainerCallback


def neighbours_of_best(scores: Sequence[float]) -> list[int]:
    """Indexes of the best score (the first of equal ones, as the Trainer keeps it) and of
    the scores on each side of it that exist."""
    if not scores:
        return []
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return [i for i in (best - 1, best, best + 1) if 0 <= i < len(scores)]


def average_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The element-wise mean of state dicts with the same keys; tensors that are not floating
    point (position ids, token-type buffers) are the same in every epoch and kept from the first."""
    first = states[0]
    if len(states) == 1:
        return dict(first)
    averaged = {}
    for key, tensor in first.items():
        if tensor.is_floating_point():
            averaged[key] = sum(state[key].float() for state in states).div_(len(states)).to(tensor.dtype)
        else:
            averaged[key] = tensor
    return averaged


class EpochWeights(TrainerCallback):
    """Keeps a CPU copy of the weights at every evaluation with its selection score, and
    drops copies that can no longer be beside the best (more than one evaluation before it)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.epochs: list[float] = []
        self.scores: list[float] = []
        self._states: dict[int, dict[str, Any]] = {}

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):  # noqa: ANN001, ANN201, ARG002 - the Trainer's signature
        if model is None or not metrics or self.metric not in metrics:
            return
        self.epochs.append(float(state.epoch or 0))
        self.scores.append(float(metrics[self.metric]))
        self._states[len(self.scores) - 1] = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        keep_from = neighbours_of_best(self.scores)[0]
        for index in [i for i in self._states if i < keep_from]:
            del self._states[index]

    def averaged(self) -> tuple[dict[str, Any] | None, list[float]]:
        """The mean of the best evaluation's weights and its neighbours', and their epochs;
        (None, []) when nothing was evaluated."""
        window = neighbours_of_best(self.scores)
        if not window:
            return None, []
        return average_states([self._states[i] for i in window]), [self.epochs[i] for i in window]
