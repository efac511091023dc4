"""Drift: does today's traffic still look like what the model was checked on?

Pure functions, no Qt and no I/O (reading the reference and the server's counters is
``client.core.drift_sources``; the history of what the app classified is
``client.core.traffic_history``).

The reference is the served model's own card (``model_card.json``, which travels inside
its archive): the **validation split** of the labelled data, which is drawn from the same
data as the training split. From it:

- the label mix: each label's share of the validation split's true labels (``per_class``
  supports). The card keeps no per-label count of the training split itself; the split is
  stratified by label, so the validation mix is the training mix.
- the share needing review: ``validation.review.flagged_share``, measured with the served
  threshold.
- the mean confidence: the card keeps accuracy and expected calibration error (ECE); for
  binned confidences ``|mean confidence - accuracy| <= ECE``, so the validation mean
  confidence lies in ``accuracy ± ECE``. That band is the reference.

Today's traffic is compared on the model's own review flag (``Prediction.needs_review``),
not the agent's threshold from the settings, so changing that setting is not drift.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from client.core.labels import LABELS

CARD_FILE = "model_card.json"  # the name training.card writes (client.core cannot import training)
HOUR, DAY = "hour", "day"
PERIODS = (HOUR, DAY)

MIN_ITEMS = 30
"""No alert on fewer items: the binomial spread of a 15 % review share over 30 items is about
6.5 points, so a doubling (15 points) is over two spreads away; over fewer items one odd
message moves the figures too much to mean anything."""

REVIEW_RATIO = 2.0
"""Alert when the share needing review reaches twice the validation share (the issue's
"the share needing review doubles"): agents would have twice the queue they planned for."""

MIN_REFERENCE_SHARE = 0.02
"""A validation share below 2 % is taken as 2 %: twice zero would alert on the first flag."""

CONFIDENCE_MARGIN = 0.10
"""Alert when the mean confidence falls more than 0.10 below the validation band's lower
edge (accuracy - ECE). Over 30 items the mean of confidences spread by ~0.2 moves by about
0.04, so 0.10 is well beyond chance; for a calibrated model it means roughly ten more wrong
labels in every hundred."""

LABEL_MIX_DISTANCE = 0.35
"""Alert when the total-variation distance between today's predicted label mix and the
reference mix exceeds 0.35 (the share of items that would have to change label to make the
two mixes equal). 30 items drawn from the eight-label reference mix land about 0.19 away by
chance alone, so 0.35 is a real shift (e.g. one label taking a third of the traffic)."""


@dataclass(frozen=True)
class Reference:
    """What the model was checked on: its label mix, review share and confidence band."""

    version: str
    items: int
    label_share: dict[str, float]
    review_share: float
    confidence_low: float
    confidence_high: float
    source: str = "validation split"

    @property
    def confidence(self) -> float:
        """The middle of the band (the validation accuracy)."""
        return (self.confidence_low + self.confidence_high) / 2

    @property
    def review_limit(self) -> float:
        return review_limit(self.review_share)

    @property
    def confidence_floor(self) -> float:
        return max(0.0, self.confidence_low - CONFIDENCE_MARGIN)

    def describe(self) -> str:
        return (
            f"model v{self.version}, {self.source} ({self.items:,} items): {self.review_share:.0%} need review, "
            f"mean confidence {self.confidence_low:.2f}–{self.confidence_high:.2f}"
        )


def reference_from_card(card: dict[str, Any], split: str = "validation") -> Reference | None:
    """The reference kept in a model card, or None when the card lacks the figures (an old
    or foreign card): then nothing is compared, rather than compared with made-up numbers."""
    try:
        part = card[split]
        supports = {label: float(part["per_class"][label]["support"]) for label in LABELS}
        total = sum(supports.values())
        accuracy, ece = float(part["accuracy"]), float(part["ece"])
        review = float(part["review"]["flagged_share"])
    except (KeyError, TypeError, ValueError):
        return None
    if total <= 0:
        return None
    return Reference(
        version=str(card.get("version", "?")),
        items=int(part.get("n", total)),
        label_share={label: supports[label] / total for label in LABELS},
        review_share=review,
        confidence_low=max(0.0, accuracy - ece),
        confidence_high=min(1.0, accuracy + ece),
        source=f"{split} split",
    )


def review_limit(reference_share: float) -> float:
    """The share needing review that raises an alert: twice the reference (at least twice
    ``MIN_REFERENCE_SHARE``), or half-way from the reference to everything when twice is out
    of reach (a reference above 50 %)."""
    share = max(reference_share, MIN_REFERENCE_SHARE)
    return min(REVIEW_RATIO * share, (1.0 + share) / 2)


@dataclass(frozen=True)
class Seen:
    """One prediction the app showed: when, which label, how sure, flagged or not, by which
    model version. Never the customer's text."""

    at: float  # seconds since the epoch (UTC)
    label: str
    confidence: float
    needs_review: bool
    model_version: str = ""


@dataclass
class Traffic:
    """Counts of one stretch of traffic. ``confidence_sum`` is None when the source does not
    know confidences (the server's Prometheus counters)."""

    start: datetime | None = None
    items: int = 0
    needing_review: int = 0
    confidence_sum: float | None = 0.0
    by_label: Counter[str] = field(default_factory=Counter)

    def add(self, seen: Seen) -> None:
        self.items += 1
        self.needing_review += int(seen.needs_review)
        if self.confidence_sum is not None:
            self.confidence_sum += seen.confidence
        self.by_label[seen.label] += 1

    @property
    def review_share(self) -> float | None:
        return self.needing_review / self.items if self.items else None

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.items if self.items and self.confidence_sum is not None else None

    @property
    def label_share(self) -> dict[str, float]:
        """Each label's share, all eight in the contract's order (zeros when empty)."""
        total = sum(self.by_label[label] for label in LABELS)
        return {label: (self.by_label[label] / total if total else 0.0) for label in LABELS}


def bucket_start(at: float, period: str, tz: tzinfo | None = None) -> datetime:
    """The local hour or day ``at`` falls in (``tz`` None: the machine's zone)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}. But it was: {period!r}")
    local = datetime.fromtimestamp(at, tz) if tz else datetime.fromtimestamp(at).astimezone()
    if period == HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def summarise(seen: Iterable[Seen], start: datetime | None = None) -> Traffic:
    traffic = Traffic(start=start)
    for item in seen:
        traffic.add(item)
    return traffic


def buckets(seen: Iterable[Seen], period: str, tz: tzinfo | None = None) -> list[Traffic]:
    """The traffic per local hour or day, oldest first; hours or days without traffic are absent."""
    by_start: dict[datetime, Traffic] = {}
    for item in seen:
        start = bucket_start(item.at, period, tz)
        by_start.setdefault(start, Traffic(start=start)).add(item)
    return [by_start[start] for start in sorted(by_start)]


def window_start(now: float, period: str, count: int, tz: tzinfo | None = None) -> float:
    """Seconds since the epoch at the start of the ``count``-th last hour or day (the current one included)."""
    current = bucket_start(now, period, tz)
    if period == HOUR:
        return (current - timedelta(hours=count - 1)).timestamp()
    # A day is a calendar day, whatever daylight saving did to its length: local midnight.
    day = current.date() - timedelta(days=count - 1)
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz) if tz else datetime(day.year, day.month, day.day).astimezone()
    return midnight.timestamp()


def label_distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Total-variation distance between two label mixes: half the sum of the differences,
    0 (same) to 1 (no label in common); the share of items that would have to change label."""
    return 0.5 * sum(abs(a.get(label, 0.0) - b.get(label, 0.0)) for label in LABELS)


@dataclass(frozen=True)
class Alert:
    kind: str  # "review", "confidence" or "labels"
    message: str
    value: float
    limit: float


def check_drift(traffic: Traffic, reference: Reference, when: str = "today") -> list[Alert]:
    """Alerts for ``traffic`` (``when`` names it in the messages) against ``reference``;
    none below ``MIN_ITEMS`` items."""
    if traffic.items < MIN_ITEMS:
        return []
    alerts: list[Alert] = []
    share = traffic.review_share or 0.0
    if share >= reference.review_limit:
        times = share / max(reference.review_share, MIN_REFERENCE_SHARE)
        alerts.append(Alert(
            "review",
            f"Share needing review {share:.0%} {when}, {_times(times)} the {reference.review_share:.0%} seen on validation.",
            share, reference.review_limit,
        ))
    mean = traffic.mean_confidence
    if mean is not None and mean < reference.confidence_floor:
        alerts.append(Alert(
            "confidence",
            f"Mean confidence {mean:.2f} {when}, below the {reference.confidence_low:.2f}–{reference.confidence_high:.2f} seen on validation.",
            mean, reference.confidence_floor,
        ))
    today = traffic.label_share
    distance = label_distance(today, reference.label_share)
    if distance > LABEL_MIX_DISTANCE:
        label = max(LABELS, key=lambda lab: today[lab] - reference.label_share[lab])
        alerts.append(Alert(
            "labels",
            f"Label mix {when} differs from training by {distance:.0%} of items: "
            f"'{label}' is {today[label]:.0%} of the traffic against {reference.label_share[label]:.0%} in training.",
            distance, LABEL_MIX_DISTANCE,
        ))
    return alerts


def _times(ratio: float) -> str:
    if 1.9 <= ratio < 2.1:
        return "twice"
    return f"{ratio:.1f} times"


# ---------------------------------------------------------------- predicted vs final


@dataclass(frozen=True)
class Confusion:
    """Agents' final label against the model's predicted label, from the corrections store.

    ``counts[predicted][final]``; items without a predicted label (imported corrections) are
    left out."""

    counts: dict[str, dict[str, int]]

    def total(self, predicted: str) -> int:
        return sum(self.counts[predicted].values())

    def wrong(self, predicted: str) -> int:
        return self.total(predicted) - self.counts[predicted][predicted]

    def error_rate(self, predicted: str) -> float | None:
        total = self.total(predicted)
        return self.wrong(predicted) / total if total else None

    def worst(self, count: int = 3) -> list[tuple[str, str, int]]:
        """The most frequent (predicted, final, items) mistakes, most first."""
        pairs = [(p, f, n) for p, row in self.counts.items() for f, n in row.items() if p != f and n]
        return sorted(pairs, key=lambda t: (-t[2], LABELS.index(t[0]), LABELS.index(t[1])))[:count]


def confusion(corrections: Iterable[Any]) -> Confusion:
    """Count ``Correction`` rows (``predicted_label`` -> ``final_label``; confirmations are
    the diagonal)."""
    counts = {p: {f: 0 for f in LABELS} for p in LABELS}
    for row in corrections:
        if row.predicted_label in counts and row.final_label in counts:
            counts[row.predicted_label][row.final_label] += 1
    return Confusion(counts)


# ---------------------------------------------------------------- the server's counters


def parse_prometheus(text: str) -> Traffic | None:
    """The handler's ``FeedbackPredictions`` (per label) and ``FeedbackLowConfidence`` counters
    from TorchServe's Prometheus text, summed over workers and hosts, as traffic since the
    server started (without confidences); None when the server has not counted any yet."""
    by_label: Counter[str] = Counter()
    flagged = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, rest = line.partition("{")
        if name not in ("FeedbackPredictions", "FeedbackLowConfidence"):
            continue
        labels, _, value_text = rest.rpartition("}")
        try:
            value = float(value_text.split()[0])
        except (IndexError, ValueError):
            continue
        found = True
        if name == "FeedbackLowConfidence":
            flagged += value
        else:
            dims = dict(part.split("=", 1) for part in _split_labels(labels))
            by_label[dims.get("label", "").strip('"')] += int(value)
    if not found:
        return None
    items = sum(by_label.values())
    return Traffic(items=items, needing_review=int(flagged), confidence_sum=None, by_label=by_label)


def _split_labels(labels: str) -> list[str]:
    """``a="x",b="y"`` -> ``['a="x"', 'b="y"']`` (our label values hold no commas or quotes)."""
    return [part for part in labels.split(",") if "=" in part]
