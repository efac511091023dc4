"""The one line `feedback retrain` and `feedback train` print to say how far training is.

``training`` writes it (a Trainer callback, through its logger, to stderr) and the app's
Retrain tab reads it to drive a progress bar, so the format lives here, where both can
import it. A line looks like ``training progress: step 40/120, 31.5 s`` and may carry the
log formatter's prefix in front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"training progress: step (\d+)/(\d+), (\d+(?:\.\d+)?) s")


@dataclass(frozen=True)
class TrainingProgress:
    step: int
    total: int
    elapsed: float  # seconds since training started

    @property
    def seconds_left(self) -> float | None:
        """Time left at the pace so far; None before the first step."""
        if self.step >= self.total:
            return 0.0
        if self.step <= 0 or self.elapsed <= 0:
            return None
        return self.elapsed / self.step * max(self.total - self.step, 0)


def progress_line(step: int, total: int, elapsed: float) -> str:
    return f"training progress: step {step}/{total}, {elapsed:.1f} s"


def parse_progress(line: str) -> TrainingProgress | None:
    """The progress a log line reports, or None for any other line."""
    found = _LINE.search(line)
    if found is None:
        return None
    return TrainingProgress(int(found.group(1)), int(found.group(2)), float(found.group(3)))
