"""A spot check: how often the model is really right on one source, from a random sample.

The model's confidence is fitted on our own writing; on a new kind of traffic it claims far
more than it delivers (on the external set's complaint tweets its scores are off by 0.50 on
average: docs/ADAPT_CURVE.md, "A spot check calibrates a source"). Everyday
verdicts cannot tell a team how far off it is: the review queue shows the least confident
items first, so the agents' verdicts are a biased sample (docs/ADAPT_CURVE.md, "a random
spot check"). A spot check is the unbiased one: items drawn at random from everything the
model classified in one file, each given a verdict, compared with what the model claimed.

Plain Python and a function of its arguments only (the desktop install has no scipy), so
the same figures come from the app and from ``feedback corrections spot-check``.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from client.core.corrections import Correction

DEFAULT_SIZE = 100  # a 95% interval of about ±10 points at worst (see ``size_for``)
MAX_SIZE = 1000
Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile
WANTED_HALF_WIDTH = 0.10  # the report suggests more items while the interval is wider than ±10 points


def draw(population: int, size: int, seed: int | None = None) -> list[int]:
    """``size`` distinct indices out of ``range(population)``, uniformly at random, in a random order.

    The order is random too, so an agent who stops half-way has still checked a random sample.
    """
    if size < 1:
        raise ValueError(f"a spot check needs at least one item. But the size was {size}")
    return random.Random(seed).sample(range(population), min(size, population))


def wilson_interval(right: int, checked: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a share ``right / checked`` (95% by default).

    Wilson rather than the normal approximation: it stays inside [0, 1] and keeps its
    coverage at the small samples and extreme shares a spot check has (Brown, Cai and
    DasGupta 2001).
    """
    if checked <= 0:
        return 0.0, 1.0
    if not 0 <= right <= checked:
        raise ValueError(f"right must be between 0 and checked ({checked}). But it was {right}")
    share = right / checked
    denominator = 1 + z * z / checked
    centre = (share + z * z / (2 * checked)) / denominator
    half = z * math.sqrt(share * (1 - share) / checked + z * z / (4 * checked * checked)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def size_for(half_width: float, z: float = Z_95) -> int:
    """Items to check for a 95% interval no wider than ±``half_width`` whatever the accuracy (p = 0.5)."""
    if not 0 < half_width < 1:
        raise ValueError(f"half_width must be between 0 and 1. But it was {half_width}")
    return math.ceil(z * z * 0.25 / (half_width * half_width))


@dataclass(frozen=True)
class Verdict:
    """One spot-checked item: what the model said, with what confidence, and what the agent said."""

    predicted: str
    final: str
    confidence: float
    flagged: bool | None = None  # the review flag at the time; None when not recorded

    @property
    def right(self) -> bool:
        return self.predicted == self.final


@dataclass(frozen=True)
class SpotCheckReport:
    checked: int
    right: int
    mean_confidence: float
    low: float
    high: float
    flagged: int  # items the review flag had raised, among those whose flag is known
    flag_known: int
    mistakes_flagged: int
    mistakes_flag_known: int

    @property
    def accuracy(self) -> float:
        return self.right / self.checked if self.checked else 0.0

    @property
    def mistakes(self) -> int:
        return self.checked - self.right

    @property
    def gap(self) -> float:
        """Mean confidence minus accuracy: above 0 the model claims more than it delivers."""
        return self.mean_confidence - self.accuracy

    @property
    def calibration(self) -> str:
        """``over-confident`` / ``under-confident`` when the mean confidence is outside the interval."""
        if not self.checked:
            return "unknown"
        if self.mean_confidence > self.high:
            return "over-confident"
        if self.mean_confidence < self.low:
            return "under-confident"
        return "consistent"

    def more_needed(self, half_width: float = WANTED_HALF_WIDTH) -> int:
        """How many more items would bring the interval to ±``half_width`` at worst (0: enough)."""
        return max(0, size_for(half_width) - self.checked)

    def sentences(self) -> list[str]:
        """The report as an agent or a team lead reads it; no customer text."""
        if not self.checked:
            return ["No item of the sample has a verdict yet."]
        lines = [
            f"{self.right} of {self.checked} right: {self.accuracy:.0%} (95% interval {self.low:.0%} to {self.high:.0%}); "
            f"the model's mean confidence {self.mean_confidence:.0%}."
        ]
        if self.calibration == "over-confident":
            lines.append(
                f"The model is over-confident on this source by about {self.gap * 100:.0f} points: "
                "read its scores here as lower than they say, and review more."
            )
        elif self.calibration == "under-confident":
            lines.append(f"The model is under-confident on this source by about {-self.gap * 100:.0f} points.")
        else:
            lines.append("Its confidence agrees with the spot check, within the interval.")
        if self.mistakes_flag_known:
            lines.append(
                f"The review flag caught {self.mistakes_flagged} of {self.mistakes_flag_known} mistakes, "
                f"flagging {self.flagged} of {self.flag_known} items."
            )
        more = self.more_needed()
        if more:
            lines.append(f"Check {more} more for an interval of ±{WANTED_HALF_WIDTH:.0%} at worst.")
        return lines


def summarize(verdicts: Iterable[Verdict]) -> SpotCheckReport:
    items = list(verdicts)
    right = sum(v.right for v in items)
    low, high = wilson_interval(right, len(items))
    known = [v for v in items if v.flagged is not None]
    wrong_known = [v for v in known if not v.right]
    return SpotCheckReport(
        checked=len(items),
        right=right,
        mean_confidence=sum(v.confidence for v in items) / len(items) if items else 0.0,
        low=low,
        high=high,
        flagged=sum(bool(v.flagged) for v in known),
        flag_known=len(known),
        mistakes_flagged=sum(bool(v.flagged) for v in wrong_known),
        mistakes_flag_known=len(wrong_known),
    )


def spot_check_groups(corrections: Sequence[Correction]) -> dict[tuple[str, str], list[Correction]]:
    """The store's spot-check verdicts per (source, model version), in source order.

    Per model version because a retrained model is right on different items; verdicts
    without the model's label or confidence (imported by hand) cannot be compared and are
    left out.
    """
    groups: dict[tuple[str, str], list[Correction]] = defaultdict(list)
    for c in corrections:
        if c.spot_check and c.predicted_label is not None and c.confidence is not None:
            groups[(c.source or "(unknown source)", c.model_version or "(unknown version)")].append(c)
    return dict(sorted(groups.items()))


def report_of(corrections: Iterable[Correction]) -> SpotCheckReport:
    """The report of stored spot-check verdicts (each with the model's label and confidence)."""
    return summarize(Verdict(c.predicted_label or "", c.final_label, c.confidence or 0.0, c.needs_review) for c in corrections)


def by_source(corrections: Sequence[Correction]) -> dict[tuple[str, str], SpotCheckReport]:
    """A report per (source, model version) from the store's spot-check verdicts."""
    return {key: report_of(items) for key, items in spot_check_groups(corrections).items()}
