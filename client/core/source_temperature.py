"""A temperature for one source, fitted on its spot check: honest scores for traffic unlike ours.

The served scores are calibrated on our own development set; on a new kind of traffic the
model stays as sure of itself as it is on ours and is right far less often (the external
set: ECE about 0.3). A spot check (``client.core.spot_check``) is a random sample of that
traffic with the agents' labels, which is what a temperature needs: dividing the log of
every score by one number fitted on those verdicts (maximum likelihood, as
``training.calibration.fit_temperature`` does on our development set) makes the rest of
the same source honest again. Simulated with 100 verdicts on the two large external sources,
it takes the calibration error of the rest from 0.50 to 0.08 and from 0.22 to 0.08
(docs/ADAPT_CURVE.md, "A spot check calibrates a source"). A temperature fitted on the
review queue's verdicts would not: they are the least confident items, not a fair sample.

It changes confidence only, never the predicted label (dividing every log-score by the
same number keeps their order); the review threshold is refitted on the same verdicts
(``SourceCalibration``), since the card's threshold is a confidence level fitted on our writing.
Plain Python: the desktop install has no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from client.core.api import Prediction
from client.core.review_threshold import fit_threshold

MIN_VERDICTS = 50  # fewer spot-check verdicts than this fit a temperature too loosely to apply
# With almost no mistakes the best temperature runs to the bottom of its range (every score
# near 1) and the flag's rule has nothing to catch: 50 right of 50 still leaves 7% of errors
# possible (Wilson). Such a source is left as the model scores it.
MIN_MISTAKES = 5
BOUNDS = (0.05, 20.0)  # as training.calibration.fit_temperature searches
FLOOR = 1e-6  # served scores are rounded to 6 decimals: a 0 would be log(0)
_GOLDEN = (math.sqrt(5) - 1) / 2


def rescale(scores: Mapping[str, float], temperature: float) -> dict[str, float]:
    """``scores`` with every log-score divided by ``temperature``, normalised again."""
    if temperature <= 0:
        raise ValueError(f"a temperature must be above 0. But it was {temperature}")
    logs = {label: math.log(max(score, FLOOR)) / temperature for label, score in scores.items()}
    top = max(logs.values())
    exp = {label: math.exp(value - top) for label, value in logs.items()}
    total = sum(exp.values())
    return {label: value / total for label, value in exp.items()}


def nll(scores: Sequence[Mapping[str, float]], labels: Sequence[str], temperature: float) -> float:
    """Mean negative log-likelihood of ``labels`` under the rescaled scores."""
    return -sum(math.log(max(rescale(s, temperature)[label], 1e-300)) for s, label in zip(scores, labels)) / len(labels)


def fit(scores: Sequence[Mapping[str, float]], labels: Sequence[str], tolerance: float = 1e-4) -> float:
    """The temperature in ``BOUNDS`` that minimises the verdicts' NLL (golden-section search on log T).

    The NLL is convex in 1/T, so it has one minimum on the interval and the search finds it.
    """
    if len(scores) != len(labels):
        raise ValueError(f"scores and labels must pair up. But there were {len(scores)} scores and {len(labels)} labels")
    if not labels:
        return 1.0
    for s, label in zip(scores, labels):
        if label not in s:
            raise ValueError(f"the label {label!r} has no score; every verdict needs the scores of all labels")
    lo, hi = math.log(BOUNDS[0]), math.log(BOUNDS[1])
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = nll(scores, labels, math.exp(a)), nll(scores, labels, math.exp(b))
    while hi - lo > tolerance:
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = nll(scores, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = nll(scores, labels, math.exp(b))
    return math.exp((lo + hi) / 2)


@dataclass(frozen=True)
class SourceCalibration:
    """What a spot check teaches about one source: its temperature and its review threshold.

    The threshold is the model card's rule (``client.core.review_threshold``) fitted on the
    spot check's rescaled scores: the card's own threshold is a confidence level fitted on
    our writing, where the model is right about 95% of the time, and on honest scores of a
    source where it is right half the time it would flag nearly everything.
    """

    temperature: float
    threshold: float
    verdicts: int


def calibrate(scores: Sequence[Mapping[str, float]], labels: Sequence[str], predicted: Sequence[str]) -> SourceCalibration:
    """Fit a source's calibration on its spot check: the served scores and labels, and the agents' labels."""
    if not len(scores) == len(labels) == len(predicted):
        raise ValueError(f"scores, labels and predicted labels must pair up. But there were {len(scores)}, {len(labels)} and {len(predicted)}")
    if len(labels) < MIN_VERDICTS:
        raise ValueError(f"a source needs {MIN_VERDICTS} spot-check verdicts to be calibrated. But it has {len(labels)}")
    right = [p == label for p, label in zip(predicted, labels)]
    if len(right) - sum(right) < MIN_MISTAKES:
        raise ValueError(f"a source needs {MIN_MISTAKES} mistakes in its spot check to be calibrated. But it has {len(right) - sum(right)}")
    temperature = fit(scores, labels)
    confidence = [rescale(s, temperature)[p] for s, p in zip(scores, predicted)]
    return SourceCalibration(temperature, fit_threshold(confidence, right), len(labels))


def apply(prediction: Prediction, calibration: SourceCalibration) -> tuple[Prediction, bool]:
    """``prediction`` as the source's calibration reads it, and whether it needs review.

    The label stays; text in a language the model was not trained on still needs review.
    Always apply to the prediction the server sent, never to one already rescaled.
    """
    scores = rescale(prediction.scores, calibration.temperature)
    confidence = scores.get(prediction.label, prediction.confidence)
    flagged = confidence < calibration.threshold or not prediction.language_supported
    return replace(prediction, scores=scores, confidence=confidence, needs_review=flagged), flagged
