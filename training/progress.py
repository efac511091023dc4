"""A Trainer callback that logs training progress in the line the app's Retrain tab reads.

The Trainer's own progress bars (tqdm) redraw with carriage returns and mix training with
evaluation bars, so they are no basis for a progress bar elsewhere. This logs one
parseable line (``client.core.training_progress``) at most every ``every`` seconds and at
the last step.
"""

from __future__ import annotations

import logging
import time

from transformers import TrainerCallback

from client.core.training_progress import progress_line

logger = logging.getLogger(__name__)


class ProgressLogger(TrainerCallback):
    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self._started = 0.0
        self._last = 0.0

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201, ARG002 - the Trainer's signature
        self._started = self._last = time.monotonic()
        logger.info(progress_line(0, state.max_steps, 0.0))

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201, ARG002 - the Trainer's signature
        now = time.monotonic()
        if now - self._last >= self.every or state.global_step >= state.max_steps:
            self._last = now
            logger.info(progress_line(state.global_step, state.max_steps, now - self._started))
